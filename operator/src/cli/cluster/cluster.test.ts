// petrelctl's cluster verbs against a real kube-apiserver (with the generated CRDs installed) and a real
// nats-server. No operator runs here: where a verb reads what the operator reports (status), the test
// writes that status through the status subresource, as the operator would.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botSubject, pipelineNames } from "../../../../bot-runtime/src/config/render.ts";
import { connectNats } from "../../../../bot-runtime/src/runtime/jetstream.ts";
import { memoryPipeline } from "../../../../bot-runtime/test-support/jetstream-fixture.ts";
import { startNatsServer, type TestNatsServer } from "../../../../bot-runtime/test-support/nats-server.ts";
import { type ControlPlane, startControlPlane } from "../../../test-support/control-plane.ts";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const PETRELCTL = `${ROOT}operator/bin/petrelctl.js`;
const NS = "csirt";

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let cp: ControlPlane;
let nats: TestNatsServer;

function petrelctl(args: string[], input?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [PETRELCTL, ...args, "--kubeconfig", cp.kubeconfigPath, "-n", NS],
      { encoding: "utf8", cwd: ROOT },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? "");
  });
}

async function botSpec(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await cp.kubectl(["get", "bot", name, "-n", NS, "-o", "jsonpath={.spec}"]));
}

describe("petrelctl against a cluster", () => {
  beforeAll(async () => {
    [cp, nats] = await Promise.all([startControlPlane(), startNatsServer()]);
    await cp.kubectl(["apply", "--server-side", "-f", `${ROOT}crds/`]);
    await cp.kubectl([
      "wait",
      "--for=condition=Established",
      "crd/bots.petrel.dev",
      "crd/pipelines.petrel.dev",
      "crd/exclusions.petrel.dev",
    ]);
    await cp.kubectl(["create", "namespace", NS]);
    // The demo, pointed at the test's nats-server.
    const demo = readFileSync(`${ROOT}examples/demo.yaml`, "utf8").replace(
      "spec:\n  stream:",
      `spec:\n  nats:\n    url: ${nats.url}\n  stream:`,
    );
    await cp.kubectl(["apply", "-n", NS, "-f", "-"], { input: demo });
  }, 120_000);
  afterAll(async () => {
    await cp?.stop();
    await nats?.dispose();
  });

  it("lists bots with their kind, and queues", async () => {
    const bots = await petrelctl(["list", "bots"]);
    expect(bots.code, bots.stderr).toBe(0);
    const lines = bots.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^BOT +PIPELINE +KIND +MODULE +ENABLED$/);
    expect(bots.stdout).toMatch(/^deduplicator +demo +expert +experts\.deduplicator +true$/m);
    expect(bots.stdout).toMatch(/^feed-urlhaus +demo +collector +collectors\.file +true$/m);
    const json = JSON.parse((await petrelctl(["list", "queues", "--json"])).stdout) as Array<{
      queue: string;
    }>;
    expect(json.map((q) => q.queue)).not.toContain("feed-urlhaus"); // collectors have no queue
    expect(json.map((q) => q.queue)).toContain("deduplicator");
    const unknown = await petrelctl(["list", "things"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("unknown list things: use bots, queues, queues-and-status");
  });

  it("stops and starts bots by name, by group and all of them, through spec.enabled", async () => {
    const stopped = await petrelctl(["stop", "--group", "collectors"]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout.trim().split("\n").sort()).toEqual([
      "feed-blocklistde-ssh: stopped",
      "feed-feodotracker: stopped",
      "feed-urlhaus: stopped",
    ]);
    expect(await botSpec("feed-urlhaus")).toMatchObject({ enabled: false });
    expect(await botSpec("deduplicator")).toMatchObject({ enabled: true });
    const started = await petrelctl(["start", "feed-urlhaus", "deduplicator"]);
    expect(started.stdout).toBe("deduplicator: already started\nfeed-urlhaus: started\n");
    expect(await botSpec("feed-urlhaus")).toMatchObject({ enabled: true });
    const all = await petrelctl(["start"]);
    expect(all.stdout).toContain("feed-feodotracker: started");
    const missing = await petrelctl(["stop", "no-such-bot"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no Bot no-such-bot");
  });

  it("shows status from what the operator reported, and names problems", async () => {
    await cp.kubectl([
      "patch",
      "bot",
      "deduplicator",
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          state: "Running",
          replicas: 1,
          readyReplicas: 1,
          backlog: 42,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Running",
              message: "1/1 ready",
              lastTransitionTime: "2026-12-04T00:00:00Z",
            },
          ],
        },
      }),
    ]);
    await cp.kubectl([
      "patch",
      "bot",
      "taxonomy",
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          conditions: [
            {
              type: "Degraded",
              status: "True",
              reason: "InvalidParameters",
              message: "spec.parameters.x: unknown parameter",
              lastTransitionTime: "2026-12-04T00:00:00Z",
            },
          ],
        },
      }),
    ]);
    const status = await petrelctl(["status"]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^deduplicator +demo +expert +running +1\/1 +42$/m);
    expect(status.stdout).toMatch(
      /^taxonomy +demo +expert +failed +0\/1 +- +InvalidParameters: spec\.parameters\.x: unknown parameter$/m,
    );
    const one = JSON.parse((await petrelctl(["status", "deduplicator", "--json"])).stdout);
    expect(one).toEqual([
      {
        bot: "deduplicator",
        pipeline: "demo",
        kind: "expert",
        module: "experts.deduplicator",
        state: "running",
        ready: "1/1",
        backlog: 42,
        problem: "",
      },
    ]);
  });

  it("restarts a bot's pods through its Deployment, found by owner reference", async () => {
    const none = await petrelctl(["restart", "file-output"]);
    expect(none.stdout).toBe("file-output: no Deployment yet (is the operator running?)\n");
    const uid = await cp.kubectl(["get", "bot", "file-output", "-n", NS, "-o", "jsonpath={.metadata.uid}"]);
    const deployment = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: "demo-output-by-operator",
        namespace: NS,
        ownerReferences: [
          { apiVersion: "petrel.dev/v1alpha1", kind: "Bot", name: "file-output", uid, controller: true },
        ],
      },
      spec: {
        selector: { matchLabels: { app: "x" } },
        template: {
          metadata: { labels: { app: "x" } },
          spec: { containers: [{ name: "bot", image: "petrel" }] },
        },
      },
    };
    await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(deployment) });
    const before = Date.now();
    const restarted = await petrelctl(["reload", "file-output"]);
    expect(restarted.stdout).toBe("file-output: reloaded\n");
    const at = await cp.kubectl([
      "get",
      "deployment",
      "demo-output-by-operator",
      "-n",
      NS,
      "-o",
      "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
    ]);
    expect(Date.parse(at)).toBeGreaterThanOrEqual(before - 1000);
  });

  it("checks the namespace's resources as local mode checks YAML, and fails on problems", async () => {
    const ok = await petrelctl(["check"]);
    expect(ok.stdout, ok.stderr).toContain(
      "ERROR Bot taxonomy: InvalidParameters: spec.parameters.x: unknown parameter",
    );
    // Clear the condition set by the status test, then the demo is clean.
    await cp.kubectl([
      "patch",
      "bot",
      "taxonomy",
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"conditions":[]}}',
    ]);
    const clean = await petrelctl(["check"]);
    expect(clean.code, clean.stdout).toBe(0);
    expect(clean.stdout).toMatch(/No problems found \(1 pipeline\(s\), 9 bot\(s\) in namespace csirt\)/);
    await cp.kubectl([
      "patch",
      "bot",
      "deduplicator",
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"parameters":{"redis_cache_ttl":"soon"}}}',
    ]);
    const bad = await petrelctl(["check"]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/ERROR .*spec\.parameters\.redis_cache_ttl: .*experts\.deduplicator/);
    await cp.kubectl([
      "patch",
      "bot",
      "deduplicator",
      "-n",
      NS,
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/spec/parameters/redis_cache_ttl"}]',
    ]);
  });

  it("clears a bot's queue on the pipeline's stream", async () => {
    const nc = await connectNats({ servers: [nats.url] });
    try {
      await memoryPipeline(nc, "demo");
      const js = jetstream(nc);
      for (let i = 0; i < 5; i++) await js.publish(botSubject("demo", "deduplicator"), "{}");
      await js.publish(botSubject("demo", "taxonomy"), "{}");
      const cleared = await petrelctl(["clear", "deduplicator"]);
      expect(cleared.stdout, cleared.stderr).toBe("deduplicator: cleared 5 message(s) from its queue.\n");
      const info = await (await jetstreamManager(nc)).streams.info(pipelineNames("demo").stream);
      expect(info.state.messages).toBe(1); // the other queue is untouched
    } finally {
      await nc.close();
    }
  });

  it("says why it cannot show logs of a bot without pods", async () => {
    const noSelector = await petrelctl(["log", "feed-urlhaus"]);
    expect(noSelector.code).toBe(1);
    expect(noSelector.stderr).toContain("Bot feed-urlhaus has no pods yet: its status has no selector");
    await cp.kubectl([
      "patch",
      "bot",
      "feed-urlhaus",
      "-n",
      NS,
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"selector":"petrel.dev/bot=feed-urlhaus"}}',
    ]);
    const noPods = await petrelctl(["log", "feed-urlhaus"]);
    expect(noPods.code).toBe(1);
    expect(noPods.stderr).toContain("Bot feed-urlhaus has no pods (selector petrel.dev/bot=feed-urlhaus)");
  });

  describe("exclusion", () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "petrel-exclusion-cli-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    const spec = async (name: string) =>
      JSON.parse(await cp.kubectl(["get", "exclusion", name, "-n", NS, "-o", "jsonpath={.spec}"]));

    it("add creates the Exclusion the flags describe, checked first, naming the flag at fault", async () => {
      const before = Date.now();
      const added = await petrelctl([
        "exclusion",
        "add",
        "customers",
        "--pipeline",
        "demo",
        "--cidr",
        "192.0.2.0/24,2001:db8::/32",
        "--cidr",
        "198.51.100.7",
        "--reason",
        "protected constituents",
        "--owner",
        "cert@example.org",
        "--ticket",
        "RT#4711",
        "--expires",
        "7d",
      ]);
      expect(added.code, added.stderr).toBe(0);
      expect(added.stdout).toContain(
        "Exclusion customers created in namespace csirt: drop at the output bots of pipeline(s) demo.",
      );
      const created = await spec("customers");
      expect(created).toMatchObject({
        scope: { pipelines: ["demo"] },
        match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"] }] },
        action: { type: "drop" },
        reason: "protected constituents",
        owner: "cert@example.org",
        ticket: "RT#4711",
        enabled: true,
      });
      const expires = Date.parse(created.expiresAt);
      expect(expires - before).toBeGreaterThan(7 * 86_400_000 - 60_000);
      expect(expires - before).toBeLessThan(7 * 86_400_000 + 60_000);

      const marked = await petrelctl([
        "exclusion",
        "add",
        "scanners",
        "--pipeline-selector",
        "team=cert,tier in (gold,silver),!legacy",
        "--bot-selector",
        "stage=enrich",
        "--field",
        "classification.type",
        "--equals",
        "scanner",
        "--equals",
        "brute-force",
        "--action",
        "mark",
        "--set",
        "extra.excluded_by=scanners",
        "--reason",
        "research scanners",
        "--expires",
        "2030-01-01T00:00:00Z",
      ]);
      expect(marked.code, marked.stderr).toBe(0);
      expect(await spec("scanners")).toMatchObject({
        scope: {
          pipelineSelector: {
            matchLabels: { team: "cert" },
            matchExpressions: [
              { key: "tier", operator: "In", values: ["gold", "silver"] },
              { key: "legacy", operator: "DoesNotExist" },
            ],
          },
          botSelector: { matchLabels: { stage: "enrich" } },
        },
        match: { all: [{ field: "classification.type", oneOf: ["scanner", "brute-force"] }] },
        action: { type: "mark", set: [{ field: "extra.excluded_by", value: "scanners" }] },
        expiresAt: "2030-01-01T00:00:00Z",
      });

      const badCidr = await petrelctl([
        "exclusion",
        "add",
        "x",
        "--pipeline",
        "demo",
        "--cidr",
        "192.0.2.0/33",
        "--reason",
        "r",
      ]);
      expect(badCidr.code).toBe(1);
      expect(badCidr.stderr).toContain("--cidr: not an IP address or CIDR network");
      const badRegex = await petrelctl([
        "exclusion",
        "add",
        "x",
        "--pipeline",
        "demo",
        "--field",
        "source.fqdn",
        "--regex",
        "(open",
        "--reason",
        "r",
      ]);
      expect(badRegex.stderr).toContain("--regex: not a valid regular expression");
      const badSet = await petrelctl([
        "exclusion",
        "add",
        "x",
        "--pipeline",
        "demo",
        "--field",
        "feed.name",
        "--equals",
        "y",
        "--action",
        "mark",
        "--set",
        "source.asn=lots",
        "--reason",
        "r",
      ]);
      expect(badSet.stderr).toMatch(/x: action\.set\[0\]: source\.asn: value "lots"/);
      const noReason = await petrelctl([
        "exclusion",
        "add",
        "x",
        "--pipeline",
        "demo",
        "--cidr",
        "192.0.2.1",
      ]);
      expect(noReason.stderr).toContain("--reason is required");
      const again = await petrelctl([
        "exclusion",
        "add",
        "customers",
        "--pipeline",
        "demo",
        "--cidr",
        "192.0.2.1",
        "--reason",
        "r",
      ]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain("Exclusion customers exists already in namespace csirt");
      const dry = await petrelctl([
        "exclusion",
        "add",
        "dry",
        "--pipeline",
        "demo",
        "--domain",
        "example.org",
        "--reason",
        "r",
        "--dry-run",
      ]);
      expect(dry.stdout).toContain("kind: Exclusion");
      expect(dry.stdout).toContain("domainSuffix:");
      expect(await cp.kubectl(["get", "exclusions", "-n", NS, "-o", "name"])).not.toContain("dry");
    });

    it("list shows action, state, matches, last match, expiry and reason from status", async () => {
      await cp.kubectl([
        "patch",
        "exclusion",
        "customers",
        "-n",
        NS,
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({
          status: {
            observedGeneration: 1,
            bots: 2,
            matchedEvents: 7,
            lastMatchTime: "2026-12-04T10:00:00.000Z",
            conditions: [
              {
                type: "Active",
                status: "True",
                reason: "Applied",
                message: "2 bot(s) apply it in demo",
                lastTransitionTime: "2026-12-04T00:00:00Z",
              },
            ],
          },
        }),
      ]);
      const listed = await petrelctl(["exclusion", "list"]);
      expect(listed.code, listed.stderr).toBe(0);
      const lines = listed.stdout.trim().split("\n");
      expect(lines[0]).toMatch(/^NAME +ACTION +STATE +MATCHES +LAST MATCH +EXPIRES +REASON$/);
      expect(listed.stdout).toMatch(
        /^customers +drop +active +7 +2026-12-04T10:00:00\.000Z +\d{4}-\d\d-\d\dT[\d:]+Z +protected constituents$/m,
      );
      expect(listed.stdout).toMatch(
        /^scanners +mark:extra\.excluded_by=scanners +pending +0 +- +2030-01-01T00:00:00Z +research scanners$/m,
      );
      const json = JSON.parse((await petrelctl(["exclusion", "list", "--json"])).stdout);
      expect(json[0]).toMatchObject({ name: "customers", state: "active", matches: 7, bots: 2 });
    });

    it("test says which exclusions an event matches and why, with exit code 0, 1 or 2", async () => {
      const hit = file(
        "hit.json",
        JSON.stringify({ "source.ip": "192.0.2.10", "classification.type": "scanner" }),
      );
      const matched = await petrelctl(["exclusion", "test", "-f", hit]);
      expect(matched.code, matched.stderr).toBe(0);
      expect(matched.stdout).toBe(
        [
          "MATCH customers (drop)",
          "  source.ip 192.0.2.10 is in 192.0.2.0/24",
          "MATCH scanners (mark:extra.excluded_by=scanners)",
          '  classification.type "scanner" is one of the listed values',
          "Result: dropped (by customers; a drop wins over route and mark); 2 of 2 exclusion(s) match.",
          "",
        ].join("\n"),
      );
      // The scope: scanners covers pipelines labelled team=cert; demo is not.
      const inDemo = await petrelctl(["exclusion", "test", "-f", hit, "--pipeline", "demo", "--json"]);
      expect(JSON.parse(inDemo.stdout)).toMatchObject({
        matched: true,
        verdict: { kind: "drop", by: ["customers"] },
        matches: [{ name: "customers" }],
        checked: 1,
      });
      const miss = await petrelctl(
        ["exclusion", "test"],
        JSON.stringify({ "source.ip": "203.0.113.9", "classification.type": "phishing" }),
      );
      expect(miss.code).toBe(1);
      expect(miss.stdout).toBe("No exclusion matches (2 checked).\n");
      const broken = await petrelctl(["exclusion", "test", "-f", "-"], "{not json");
      expect(broken.code).toBe(2);
      expect(broken.stderr).toContain("stdin: not an event");

      // Local YAML instead of the cluster: an expired exclusion is reported, and does not count.
      const yaml = file(
        "exclusions.yaml",
        `apiVersion: petrel.dev/v1alpha1
kind: Exclusion
metadata: {name: old}
spec:
  scope: {pipelines: [demo]}
  match: {any: [{field: source.fqdn, domainSuffix: [example.org]}]}
  reason: r
  expiresAt: "2020-01-01T00:00:00Z"
`,
      );
      const local = await petrelctl(
        ["exclusion", "test", "--file", yaml],
        JSON.stringify({ "source.fqdn": "www.example.org" }),
      );
      expect(local.code).toBe(1);
      expect(local.stdout).toBe(
        [
          "would match old, but it is expired at 2020-01-01T00:00:00Z",
          "  source.fqdn host www.example.org is example.org or below it",
          "No exclusion matches (1 checked).",
          "",
        ].join("\n"),
      );
    });

    it("remove deletes Exclusions, and names the ones that do not exist", async () => {
      const removed = await petrelctl(["exclusion", "remove", "customers", "scanners"]);
      expect(removed.code, removed.stderr).toBe(0);
      expect(removed.stdout).toBe(
        "Exclusion customers removed; the operator takes it off the bots.\nExclusion scanners removed; the operator takes it off the bots.\n",
      );
      expect((await cp.kubectl(["get", "exclusions", "-n", NS, "-o", "name"])).trim()).toBe("");
      const missing = await petrelctl(["exclusion", "remove", "customers"]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("no Exclusion customers in namespace csirt");
    });
  });
});
