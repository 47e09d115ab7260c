// `petrelctl feed list` / `feed add`: every catalogue feed renders to Bot resources that local mode's
// loader (what `petrelctl up` runs) accepts, feeds whose modules Petrel lacks are refused clearly, and a
// rendered feed runs under `petrelctl up` end to end.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { z } from "zod";
import { type BotModule, defineCollector, defineParser } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { natsServerBinary } from "../../../bot-runtime/test-support/nats-server.ts";
import { feedStatus, findFeed, loadCatalogue } from "../../../bots/feeds/catalogue.ts";
import { loadLocalConfig } from "../local/config.ts";
import { FeedCommandError, listFeeds, renderFeed } from "./feed.ts";
import { collectKeyValue, paramValue } from "./key-value.ts";

const PETRELCTL = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));

function petrelctl(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [PETRELCTL, ...args],
      { encoding: "utf8", env: { ...process.env, ...env }, timeout: 120_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const catalogue = loadCatalogue();

/**
 * Modules the catalogue names that Petrel does not have yet, as test modules that accept any parameter
 * (their parameters are checked against IntelMQ's bots in bots/feeds/catalogue.test.ts), so that every
 * feed's rendering can be checked now.
 */
function pendingModule(name: string, kind: "collector" | "parser", parameters: readonly string[]): BotModule {
  const base = {
    id: `pending.${name.replace(/^intelmq\.bots\./, "").replaceAll("_", "-")}`,
    intelmqModules: [name],
    description: `stands for ${name} in this test`,
    parameters: z.object(Object.fromEntries(parameters.map((p) => [p, z.unknown().optional()]))),
  };
  return kind === "collector"
    ? defineCollector({ ...base, kind, mode: "interval", create: () => ({ collect: async () => {} }) })
    : defineParser({ ...base, kind, create: () => ({ records: () => [], parse: () => undefined }) });
}

const pendingUses = new Map<string, { kind: "collector" | "parser"; parameters: Set<string> }>();
for (const provider of catalogue.providers) {
  for (const feed of provider.feeds) {
    for (const [kind, use] of [
      ["collector", feed.collector],
      ["parser", feed.parser],
    ] as const) {
      if (findModule(use.module)) continue;
      const entry = pendingUses.get(use.module) ?? { kind, parameters: new Set<string>() };
      for (const p of [...Object.keys(use.parameters), ...use.inputs.map((i) => i.parameter)])
        entry.parameters.add(p);
      for (const secret of use.secrets) entry.parameters.add(secret.parameter);
      pendingUses.set(use.module, entry);
    }
  }
}
const pending = new Map<string, BotModule>(
  [...pendingUses].map(([name, { kind, parameters }]) => [name, pendingModule(name, kind, [...parameters])]),
);
const lookup = (name: string) => findModule(name) ?? pending.get(name);

function secretsDirFor(yaml: string, root: string): string {
  const dir = join(root, "secrets");
  for (const match of yaml.matchAll(/secretKeyRef:\n\s+name: (\S+)\n\s+key: (\S+)/g)) {
    mkdirSync(join(dir, match[1] as string), { recursive: true });
    writeFileSync(join(dir, match[1] as string, match[2] as string), "secret-value");
  }
  return dir;
}

describe("petrelctl feed add: rendering", () => {
  it("renders every catalogue feed into resources petrelctl up accepts, wired collector → parser → --to", () => {
    const root = mkdtempSync(join(tmpdir(), "petrel-feed-"));
    const sink = `apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: sink
spec:
  pipeline: feeds
  module: outputs.file
  parameters: {file: ${JSON.stringify(join(root, "events.jsonl"))}}
`;
    for (const provider of catalogue.providers) {
      for (const feed of provider.feeds) {
        const spec = `${provider.slug}/${feed.slug}`;
        const params = Object.fromEntries(
          [...feed.collector.inputs, ...feed.parser.inputs].map((i) => [i.parameter, i.example ?? "x"]),
        );
        const rendered = renderFeed(
          { provider, feed },
          { pipeline: "feeds", to: ["sink"], params, withPipeline: true, lookup },
        );
        const config = loadLocalConfig(
          [
            { path: `${spec}.yaml`, text: rendered.yaml },
            { path: "sink.yaml", text: sink },
          ],
          { extraModules: [...pending.values()], secretsDir: secretsDirFor(rendered.yaml, root) },
        );
        const names = config.bots.map((b) => b.resource.metadata.name);
        expect(names, spec).toEqual([
          `${provider.slug}-${feed.slug}-collector`,
          `${provider.slug}-${feed.slug}-parser`,
          "sink",
        ]);
        const [collector, parser] = config.bots;
        expect(collector?.resource.spec.destinations, spec).toEqual({ _default: [rendered.parser] });
        expect(parser?.resource.spec.destinations, spec).toEqual({ _default: ["sink"] });
        expect(collector?.resource.spec.interval, spec).toBe(feed.collector.interval);
        expect(collector?.resource.spec.parameters, spec).toMatchObject({
          name: feed.name,
          provider: provider.name,
        });
        // Secrets are referenced, never written.
        for (const secret of feed.collector.secrets) {
          expect(rendered.yaml).toContain(`parameter: ${secret.parameter}`);
          expect(collector?.resource.spec.parameters[secret.parameter]).toBe("secret-value");
        }
        expect(rendered.yaml).not.toContain("secret-value");
        expect(config.warnings, spec).toEqual([]);
        if (feed.collector.secrets.length > 0)
          expect(rendered.hints.join("\n")).toMatch(/kubectl create secret generic/);
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  it("refuses a feed whose modules Petrel lacks, naming them, and renders nothing", () => {
    for (const provider of catalogue.providers) {
      for (const feed of provider.feeds) {
        const status = feedStatus(feed);
        if (status.runnable) continue;
        let error: unknown;
        try {
          renderFeed({ provider, feed });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(FeedCommandError);
        expect((error as FeedCommandError).exitCode).toBe(2);
        for (const missing of status.missing) expect((error as Error).message).toContain(missing);
      }
    }
  });

  it("asks for missing inputs, refuses unknown ones, bad names and values the module refuses", () => {
    const urlhaus = findFeed(catalogue, "abusech/urlhaus");
    expect(() => renderFeed(urlhaus, { lookup })).toThrow(
      /abusech\/urlhaus needs:\n {2}--param http_url=https:\/\/urlhaus/,
    );
    expect(() => renderFeed(urlhaus, { lookup, params: { http_url: "x", colour: "red" } })).toThrow(
      /no input colour; its inputs: http_url/,
    );
    expect(() => renderFeed(urlhaus, { lookup, params: { http_url: "x" }, name: "Not_A_Name" })).toThrow(
      /not a valid name/,
    );
    const feodo = findFeed(catalogue, "abusech/feodotracker");
    expect(() => renderFeed(feodo, { lookup, params: { http_url: "x" } })).toThrow(/it takes no --param/);
    expect(paramValue("true")).toBe(true);
    expect(paramValue('["a","b"]')).toEqual(["a", "b"]);
    expect(paramValue("https://x.example/")).toBe("https://x.example/");
    expect(collectKeyValue("a=b=c", { x: 1 })).toEqual({ x: 1, a: "b=c" });
    expect(() => collectKeyValue("novalue")).toThrow(/NAME=VALUE/);
  });

  it("lists every feed with its modules and whether it runs now", () => {
    const listed = listFeeds(catalogue);
    expect(listed.map((f) => f.feed)).toContain("shadowserver/reports-api");
    for (const f of listed) expect(f.runnable).toBe(f.missing.length === 0);
    expect(listed.find((f) => f.feed === "shadowserver/imap")?.parser).toBe("parsers.shadowserver");
  });
});

describe("petrelctl feed (CLI)", () => {
  let dir: string;
  let catalogueFile: string;
  beforeAll(() => {
    process.env.PETREL_NATS_SERVER ??= natsServerBinary();
    dir = mkdtempSync(join(tmpdir(), "petrel-feed-cli-"));
    catalogueFile = join(dir, "catalogue.yaml");
    // A local catalogue: a feed of blocklist.de files read from a directory (collectors.file), and one
    // whose collector no Petrel will have.
    writeFileSync(
      catalogueFile,
      stringify({
        providers: [
          {
            slug: "local",
            name: "Local",
            feeds: [
              {
                slug: "ssh",
                name: "SSH list",
                description: "blocklist.de's SSH list, dropped into a directory.",
                documentation: "http://www.blocklist.de/en/export.html",
                public: true,
                collector: {
                  module: "intelmq.bots.collectors.file.collector_file",
                  interval: "1h",
                  parameters: { delete_file: false },
                  inputs: [{ parameter: "path", description: "The directory.", example: "/srv/feeds" }],
                  secrets: [{ parameter: "postfix", description: "Which files (a secret, for the test)." }],
                },
                parser: { module: "intelmq.bots.parsers.blocklistde.parser" },
              },
              {
                slug: "future",
                name: "Future",
                description: "Needs a collector Petrel does not have.",
                public: true,
                collector: { module: "intelmq.bots.collectors.nowhere.collector", interval: "1d" },
                parser: { module: "intelmq.bots.parsers.blocklistde.parser" },
              },
            ],
          },
        ],
      }),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("lists the shipped catalogue as a table and as JSON", async () => {
    const table = await petrelctl(["feed", "list"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^FEED\s+RUNNABLE\s+COLLECTOR\s+PARSER\s+NEEDS$/);
    expect(table.stdout).toMatch(/^blocklistde\/ssh\s+(yes|no)\s+/m);
    expect(table.stdout).toMatch(/^\d+ feeds, \d+ runnable now/m);
    const json = await petrelctl(["feed", "list", "--json"]);
    const feeds = JSON.parse(json.stdout) as Array<{ feed: string; runnable: boolean }>;
    expect(feeds).toHaveLength(catalogue.providers.reduce((n, p) => n + p.feeds.length, 0));
  });

  it("exits 2 naming the missing module, and 1 for unknown feeds and missing inputs", async () => {
    const future = await petrelctl(["feed", "add", "local/future", "--catalogue", catalogueFile]);
    expect(future.code).toBe(2);
    expect(future.stdout).toBe("");
    expect(future.stderr).toMatch(
      /local\/future cannot run yet: Petrel has no bot for intelmq\.bots\.collectors\.nowhere\.collector \(collector\)/,
    );
    const unknown = await petrelctl(["feed", "add", "nobody/nothing"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no provider "nobody"; providers: abusech, /);
    const inputs = await petrelctl(["feed", "add", "local/ssh", "--catalogue", catalogueFile]);
    expect(inputs.code).toBe(1);
    expect(inputs.stderr).toMatch(/local\/ssh needs:\n {2}--param path=\/srv\/feeds {3}The directory\./);
    const badValue = await petrelctl([
      "feed",
      "add",
      "local/ssh",
      "--catalogue",
      catalogueFile,
      "--param",
      "path=42",
    ]);
    expect(badValue.code).toBe(1);
    expect(badValue.stderr).toMatch(
      /the collector's parameters do not fit module collectors\.file:\n {2}path: /,
    );
  });

  it("renders a feed that petrelctl up runs: collected, parsed, delivered", async () => {
    const feeds = join(dir, "feeds");
    mkdirSync(feeds);
    writeFileSync(join(feeds, "ssh.txt"), "192.0.2.1\n198.51.100.7\n");
    const r = await petrelctl([
      "feed",
      "add",
      "local/ssh",
      "--catalogue",
      catalogueFile,
      "--pipeline",
      "feeds",
      "--name",
      "ssh",
      "--to",
      "sink",
      "--param",
      `path=${feeds}`,
    ]);
    expect(r.stderr).toMatch(/kubectl create secret generic ssh-credentials --from-literal=postfix='…'/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^# Local \/ SSH list \(petrelctl feed add local\/ssh\): collector\n/);
    const feedYaml = join(dir, "feed.yaml");
    writeFileSync(feedYaml, r.stdout);
    const output = join(dir, "events.jsonl");
    const rest = join(dir, "rest.yaml");
    writeFileSync(
      rest,
      `apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata:
  name: feeds
spec:
  stream: {storage: memory, maxBytes: 64Mi}
  deadLetter: {maxBytes: 16Mi}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: sink
spec:
  pipeline: feeds
  module: outputs.file
  parameters: {file: ${JSON.stringify(output)}}
`,
    );
    const dataDir = join(dir, "data");
    mkdirSync(join(dataDir, "secrets", "ssh-credentials"), { recursive: true });
    writeFileSync(join(dataDir, "secrets", "ssh-credentials", "postfix"), "ssh.txt\n");
    const up = await petrelctl([
      "up",
      "-f",
      feedYaml,
      "-f",
      rest,
      "--until-drained",
      "--timeout",
      "90s",
      "--data-dir",
      dataDir,
    ]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const events = readFileSync(output, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e["source.ip"]).sort()).toEqual(["192.0.2.1", "198.51.100.7"]);
    expect(events[0]).toMatchObject({
      "feed.name": "SSH list",
      "feed.provider": "Local",
      "protocol.application": "ssh",
    });
  });
});
