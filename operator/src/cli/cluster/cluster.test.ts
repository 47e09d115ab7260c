// petrelctl's cluster verbs against a real kube-apiserver (with the generated CRDs installed) and a real
// nats-server. No operator runs here: where a verb reads what the operator reports (status), the test
// writes that status through the status subresource, as the operator would.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botSubject, pipelineNames } from "../../../../bot-runtime/src/config/render.ts";
import { Pipeline } from "../../../../bot-runtime/src/config/resources.ts";
import { connectNats, ensurePipelineStreams } from "../../../../bot-runtime/src/runtime/jetstream.ts";
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

function petrelctl(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PETRELCTL, ...args, "--kubeconfig", cp.kubeconfigPath, "-n", NS],
      { encoding: "utf8", cwd: ROOT },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
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
      const pipeline = Pipeline.parse({
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Pipeline",
        metadata: { name: "demo" },
        spec: { stream: { storage: "memory", maxBytes: "16Mi" } },
      });
      await ensurePipelineStreams(await jetstreamManager(nc), pipeline);
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
});
