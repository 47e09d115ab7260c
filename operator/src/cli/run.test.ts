// `petrelctl run`: one bot once, offline — parsers on a report body (a file or stdin), experts and
// outputs on JSON lines, collectors for one collection; stdout, stderr and exit codes as users see them.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Event } from "../../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../../bot-runtime/src/sdk/bot.ts";
import { petrelParse, testReport } from "../../../bot-runtime/test-support/parser-oracle.ts";
import blocklistde from "../../../bots/parsers/blocklistde.ts";
import { TEST_SCHEMA_FILE } from "../../../bots/parsers/shadowserver/test-support/test-schema.ts";
import { memoryState, RunError, runBot } from "./run.ts";

const PETRELCTL = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));

function petrelctl(args: string[], input?: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      [PETRELCTL, ...args],
      { encoding: "utf8" },
      (error, stdout, stderr) =>
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(input ?? "");
  });
}

function lines(text: string): Record<string, unknown>[] {
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const SSH = "192.0.2.1\nnot-an-ip\n2001:db8::5\n";
const SSH_URL = "https://lists.blocklist.de/lists/ssh.txt";

describe("petrelctl run", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "petrel-run-"));
    writeFileSync(join(dir, "ssh.txt"), SSH);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("runs a parser (by IntelMQ module path) on a report body: events on stdout, dead letters on stderr, exit 2", async () => {
    const r = await petrelctl([
      "run",
      "intelmq.bots.parsers.blocklistde.parser",
      "--input",
      join(dir, "ssh.txt"),
      "--field",
      `feed.url=${SSH_URL}`,
    ]);
    expect(r.code).toBe(2);
    // The events the runtime's parser processing gives for the same report.
    const [expected] = await petrelParse(blocklistde, {}, [testReport(SSH, { "feed.url": SSH_URL })]);
    const comparable = (events: Record<string, unknown>[]) =>
      events.map(
        ({ "time.observation": _t, "feed.accuracy": _a, "feed.name": _n, __type: _type, ...rest }) => rest,
      );
    expect(comparable(lines(r.stdout))).toEqual(comparable(expected?.events ?? []));
    expect(lines(r.stdout)).toHaveLength(2);
    const stderr = r.stderr.trimEnd().split("\n");
    expect(stderr[0]).toMatch(
      /^dead letter \(record rejected\): source\.ip: value "not-an-ip" .* "not-an-ip"$/,
    );
    expect(stderr.at(-1)).toBe(
      "petrelctl run parsers.blocklistde: emitted 2 event(s) on _default; 1 dead letter(s)",
    );
  });

  it("reads stdin with -, and chains parser → expert through a pipe", async () => {
    const parsed = await petrelctl(
      ["run", "parsers.blocklistde", "-i", "-", "--field", `feed.url=${SSH_URL}`],
      SSH,
    );
    expect(lines(parsed.stdout)).toHaveLength(2);
    const classified = await petrelctl(["run", "experts.taxonomy", "--input", "-"], parsed.stdout);
    expect(classified.code).toBe(0);
    expect(lines(classified.stdout).map((e) => e["classification.taxonomy"])).toEqual([
      "intrusion-attempts",
      "intrusion-attempts",
    ]);
    expect(classified.stderr).toBe(
      "petrelctl run experts.taxonomy: emitted 2 event(s) on _default; 0 dead letter(s)\n",
    );
  });

  it("runs the Shadowserver parser with parameters and report fields", async () => {
    const csv = join(dir, "smb.csv");
    writeFileSync(
      csv,
      "timestamp,ip,port,hostname,tag,asn,geo\n2024-05-01 10:00:00,192.0.2.9,445,h.example,smb,64500,DE\n",
    );
    const r = await petrelctl([
      "run",
      "intelmq.bots.parsers.shadowserver.parser",
      "--input",
      csv,
      "--params",
      '{"overwrite": false}',
      "--param",
      "feedname=Open-Gadget-Service",
      "--param",
      "overwrite=true",
      "--param",
      `schema_file=${TEST_SCHEMA_FILE}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual([
      expect.objectContaining({
        "feed.name": "Open-Gadget-Service",
        "source.ip": "192.0.2.9",
        "classification.identifier": "open-gadget",
        "extra.tag": "smb",
      }),
    ]);
  });

  it("gives a deduplicator memory state for the run: repeats are dropped", async () => {
    const event = '{"__type":"Event","source.ip":"192.0.2.1","classification.type":"scanner"}';
    const other = '{"source.ip":"192.0.2.2","classification.type":"scanner"}';
    const r = await petrelctl(
      ["run", "experts.deduplicator", "--input", "-"],
      [event, other, event, ""].join("\n"),
    );
    expect(r.code).toBe(0);
    expect(lines(r.stdout).map((e) => e["source.ip"])).toEqual(["192.0.2.1", "192.0.2.2"]);
  });

  it("writes with an output to its sink and says so on stderr", async () => {
    const file = join(dir, "out", "events.jsonl");
    const input = join(dir, "events.jsonl");
    writeFileSync(input, '{"source.ip":"192.0.2.1"}\n{"source.ip":"192.0.2.2"}\n');
    const r = await petrelctl(["run", "outputs.file", "--input", input, "--param", `file=${file}`]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `petrelctl run outputs.file: 2 event(s) written to its sink (parameters ${JSON.stringify({ file })}); 0 dead letter(s)\n`,
    );
    expect(lines(readFileSync(file, "utf8")).map((e) => e["source.ip"])).toEqual(["192.0.2.1", "192.0.2.2"]);
  });

  it("dead-letters input lines that are no valid events and goes on (exit 2)", async () => {
    const input = [
      '{"source.ip":"192.0.2.1"}',
      "not json",
      '{"__type":"Report","raw":"YQ=="}',
      '{"source.ip":"bad"}',
    ];
    const r = await petrelctl(["run", "experts.taxonomy", "--input", "-"], input.join("\n"));
    expect(r.code).toBe(2);
    expect(lines(r.stdout)).toHaveLength(1);
    const errors = r.stderr.trimEnd().split("\n");
    expect(errors[0]).toMatch(/^dead letter \(input line 2 is no valid event\): .*not valid JSON/);
    expect(errors[1]).toMatch(
      /^dead letter \(input line 3 is no valid event\): expected an Event, got a Report/,
    );
    expect(errors[2]).toMatch(/^dead letter \(input line 4 is no valid event\): source\.ip: value "bad"/);
  });

  it("exits 1 when the bot cannot run: module, parameters, input, options", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["run", "experts.nothing", "--input", "-"], /no bot module "experts\.nothing"/],
      [
        ["run", "parsers.generic_csv", "--input", "-"],
        /invalid parameters for parsers\.generic_csv:\n {2}columns: /,
      ],
      [
        ["run", "experts.taxonomy", "--input", "-", "--param", "colour=red"],
        /has no parameter colour; its parameters: none/,
      ],
      [["run", "experts.taxonomy", "--input", "-", "--params", "[1]"], /--params must be a JSON object/],
      [["run", "experts.taxonomy", "--input", "-", "--params", "{"], /--params is not JSON/],
      [["run", "parsers.blocklistde"], /parsers\.blocklistde is a parser: give --input FILE/],
      [
        ["run", "parsers.blocklistde", "--input", join(dir, "missing.txt")],
        /missing\.txt: cannot read the input/,
      ],
      [
        ["run", "experts.taxonomy", "--input", join(dir, "missing.jsonl")],
        /missing\.jsonl: cannot read the input/,
      ],
      [
        ["run", "experts.taxonomy", "--input", "-", "--field", "feed.url=x"],
        /--field sets report fields, for parsers only/,
      ],
      [
        ["run", "parsers.blocklistde", "--input", "-", "--field", "source.nothing=1"],
        /--field source\.nothing: /,
      ],
      [["run", "collectors.file", "--input", "x"], /collectors\.file is a collector: it takes no --input/],
      [["run", "parsers.blocklistde", "--input", "-", "--param", "novalue"], /expected NAME=VALUE/],
    ];
    const results = await Promise.all(cases.map(([args]) => petrelctl(args, "")));
    for (const [i, [args, message]] of cases.entries()) {
      const r = results[i] as Awaited<ReturnType<typeof petrelctl>>;
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stdout, args.join(" ")).toBe("");
    }
  });

  it("runs a collector once and prints its reports", async () => {
    const feeds = join(dir, "feeds");
    mkdirSync(feeds);
    writeFileSync(join(feeds, "a.csv"), "x\n");
    const r = await petrelctl([
      "run",
      "collectors.file",
      "--params",
      JSON.stringify({ path: feeds, postfix: ".csv", name: "Local", provider: "Me" }),
    ]);
    expect(r.code).toBe(0);
    const [report] = lines(r.stdout);
    expect(report).toMatchObject({
      __type: "Report",
      "feed.name": "Local",
      "feed.provider": "Me",
      raw: "eAo=",
    });
    expect(r.stderr).toBe(
      "petrelctl run collectors.file: emitted 1 report(s) on _default; 0 dead letter(s)\n",
    );
  });

  it("prints every path with --all-paths, each line tagged with its path", async () => {
    const router = defineExpert({
      id: "test.router",
      intelmqModules: [],
      kind: "expert",
      description: "Sends scanners to _default and everything else to filter_no_match.",
      paths: ["filter_no_match"],
      parameters: z.object({}),
      create: () => ({
        process: (event: Event) =>
          event.get("classification.type") === "scanner"
            ? event
            : { path: "filter_no_match", message: event },
      }),
    });
    for (const allPaths of [false, true]) {
      const stdin = new PassThrough();
      stdin.end('{"source.ip":"192.0.2.1","classification.type":"scanner"}\n{"source.ip":"192.0.2.2"}\n');
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      let text = "";
      stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
      });
      const summary = await runBot(router, { input: "-", stdin, stdout, stderr, allPaths });
      expect(summary.emitted).toEqual({ _default: 1, filter_no_match: 1 });
      const printed = lines(text);
      if (!allPaths) expect(printed.map((e) => e["source.ip"])).toEqual(["192.0.2.1"]);
      else {
        expect(printed.map((l) => l.path)).toEqual(["_default", "filter_no_match"]);
        expect(printed[1]).toMatchObject({ message: { "source.ip": "192.0.2.2" } });
      }
    }
    await expect(runBot("experts.taxonomy", {})).rejects.toBeInstanceOf(RunError);
  });

  it("keeps state in memory per bucket, with the bucket's TTL", async () => {
    const state = memoryState();
    const bucket = await state("seen", { ttlMs: 40 });
    expect(await bucket.create("a", "1")).toBe(true);
    expect(await bucket.create("a", "2")).toBe(false);
    expect(await bucket.get("a")).toBe("1");
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await bucket.get("a")).toBeUndefined();
    expect(await bucket.create("a", "3")).toBe(true);
    await bucket.delete("a");
    expect(await (await state("seen")).get("a")).toBeUndefined();
    await (await state("other")).put("k", "v");
    expect(await (await state("other")).get("k")).toBe("v");
  });
});
