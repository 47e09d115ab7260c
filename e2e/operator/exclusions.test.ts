// Exclusions end to end: the real operator process, the real kube-apiserver and nats-server, and the
// kubelet stand-in running the bot pods as processes. While events flow through a small pipeline
// (taxonomy expert → file output; events published straight into the expert's queue), Exclusions are
// created, edited, left to expire and deleted with kubectl: exactly the matching events are dropped or
// marked, each change reaches the running bots within 2 seconds without a restart, and what the bots
// matched shows in the Exclusions' status.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botSubject } from "../../bot-runtime/src/config/render.ts";
import { exclusionBuckets } from "../../bot-runtime/src/exclusions/distribution.ts";
import { connectNats } from "../../bot-runtime/src/runtime/jetstream.ts";
import {
  freePort,
  startNatsServer,
  type TestNatsServer,
} from "../../bot-runtime/test-support/nats-server.ts";
import { type ControlPlane, startControlPlane } from "../../operator/test-support/control-plane.ts";
import { KubeletAgent } from "../kubelet/agent.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NS = "csirt";
const P = "flow";
/** The issue's bound: a change applies at the bots within this long. */
const PROPAGATION_MS = 2_000;

async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pipeline(natsUrl: string, output: string): string {
  return `apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata: {name: ${P}}
spec:
  nats: {url: "${natsUrl}"}
  stream: {storage: memory, maxBytes: 64Mi}
  deadLetter: {maxBytes: 16Mi}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: tax, labels: {stage: enrich}}
spec:
  pipeline: ${P}
  module: experts.taxonomy
  destinations: {_default: [out]}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: out}
spec:
  pipeline: ${P}
  module: outputs.file
  parameters: {file: "${output}"}
`;
}

function exclusion(name: string, spec: string): string {
  return `apiVersion: petrel.dev/v1alpha1
kind: Exclusion
metadata: {name: ${name}}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

interface Out {
  n: number;
  ip: string;
  excludedBy: string | undefined;
}

describe("exclusions end to end", () => {
  let cp: ControlPlane;
  let nats: TestNatsServer;
  let agent: KubeletAgent;
  let operator: ChildProcess;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let dir: string;
  let n = 0;
  const output = () => join(dir, "out.jsonl");

  const kubectl = (args: string[], input?: string) =>
    cp.kubectl([...args, "-n", NS], input === undefined ? {} : { input });
  const apply = (yaml: string) => kubectl(["apply", "--server-side", "-f", "-"], yaml);
  const get = async (name: string) => JSON.parse(await kubectl(["get", "exclusion", name, "-o", "json"]));
  const condition = (o: { status?: { conditions?: Array<{ type: string }> } }, type: string) =>
    o.status?.conditions?.find((c) => c.type === type) as
      | { status: string; reason: string; message: string }
      | undefined;

  /** What reached the output, by event number. */
  const delivered = (): Map<number, Out> => {
    const out = new Map<number, Out>();
    if (!existsSync(output())) return out;
    for (const line of readFileSync(output(), "utf8").split("\n")) {
      if (!line) continue;
      const e = JSON.parse(line) as Record<string, unknown>;
      const number = Number(e["extra.n"]);
      out.set(number, {
        n: number,
        ip: e["source.ip"] as string,
        excludedBy: e["extra.excluded_by"] as string | undefined,
      });
    }
    return out;
  };

  /** Publishes events into the expert's queue; returns their numbers. */
  const send = async (ips: readonly string[], extra: Record<string, string> = {}): Promise<number[]> => {
    const numbers: number[] = [];
    for (const ip of ips) {
      const number = ++n;
      numbers.push(number);
      await js.publish(
        botSubject(P, "tax"),
        JSON.stringify({
          __type: "Event",
          "feed.name": "e2e",
          "source.ip": ip,
          "classification.type": "scanner",
          "extra.n": number,
          ...extra,
        }),
      );
    }
    return numbers;
  };

  /**
   * Sends `passing` and `excluded` events, then a last passing one, and waits for every passing one:
   * the output holds all that pass and none that were dropped (the pipeline keeps their order).
   */
  const round = async (passing: readonly string[], dropped: readonly string[] = []) => {
    const pass = await send(passing);
    const drop = await send(dropped);
    const [last] = await send(["203.0.113.250"]);
    const all = [...pass, last as number];
    const seen = await until("the passing events", () => {
      const out = delivered();
      return all.every((x) => out.has(x)) ? out : undefined;
    });
    for (const x of drop) expect(seen.has(x), `event ${x} was dropped`).toBe(false);
    return { pass, drop, seen };
  };

  /** When the bot's process logged the exclusions in force including (or without) `name`. */
  const appliedAt = (pod: string, name: string, present: boolean, after: number): number | undefined => {
    const file = join(dir, "pods", `${pod}.log`);
    if (!existsSync(file)) return undefined;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (!line.includes("Exclusions in force.")) continue;
      const entry = JSON.parse(line) as { time: number; exclusions: string[] };
      if (entry.time >= after && entry.exclusions.includes(name) === present) return entry.time;
    }
    return undefined;
  };
  const outPod = () => agent.pods(`${P}-out`)[0]?.name as string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "petrel-e2e-exclusions-"));
    [cp, nats] = await Promise.all([startControlPlane(), startNatsServer()]);
    await cp.kubectl(["apply", "--server-side", "-f", `${ROOT}crds/`]);
    await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
    await cp.kubectl(["create", "namespace", NS]);
    operator = spawn(
      process.execPath,
      [
        `${ROOT}operator/src/controller/main.ts`,
        "--kubeconfig",
        cp.kubeconfigPath,
        "--namespace",
        NS,
        "--bot-image",
        "registry.example/petrel:e2e",
        "--metrics-port",
        String(await freePort()),
        "--resync",
        "1m",
        "--leader-elect",
        "false",
        "--log-level",
        "warn",
      ],
      { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] },
    );
    agent = new KubeletAgent({
      kubeConfig: cp.kubeConfig,
      namespace: NS,
      root: ROOT,
      logDir: join(dir, "pods"),
    });
    agent.start();
    nc = await connectNats({ servers: [nats.url] });
    js = jetstream(nc);
    await apply(pipeline(nats.url, output()));
    await kubectl(["wait", "--for=condition=Ready", "--timeout=120s", "pipeline", P]);
  }, 240_000);

  afterAll(async () => {
    operator?.kill("SIGTERM");
    await nc?.close();
    await agent?.stop();
    await cp?.stop();
    await nats?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("drops exactly the matching events within 2 s of kubectl apply, and counts them in status", async () => {
    await round(["198.51.100.1", "192.0.2.1"]); // before: everything passes
    const pod = outPod();
    const kv = await new Kvm(nc).open(exclusionBuckets(P).rules);
    const watch = await kv.watch({ key: "customers" });
    let writtenAt: number | undefined;
    void (async () => {
      for await (const e of watch) if (e.operation === "PUT") writtenAt ??= Date.now();
    })();
    const t0 = Date.now();
    await apply(
      exclusion(
        "customers",
        `
scope: {pipelines: [${P}]}
match: {all: [{field: source.ip, cidr: [192.0.2.0/24, "2001:db8::/32"]}]}
reason: protected constituents`,
      ),
    );
    await sleep(PROPAGATION_MS - (Date.now() - t0));
    const { drop } = await round(
      ["198.51.100.2", "198.51.100.3", "2001:db9::1", "203.0.113.7"],
      ["192.0.2.10", "192.0.2.255", "2001:db8::1", "2001:db8:ffff::2"],
    );
    watch.stop();
    const applied = appliedAt(pod, "customers", true, t0) as number;
    expect(applied, "the output bot logged the exclusion in force").toBeDefined();
    console.log(
      `propagation: kubectl apply → KV entry ${(writtenAt as number) - t0} ms → applied by the output bot ${applied - t0} ms (the kubectl process itself included)`,
    );
    expect(applied - t0).toBeLessThan(PROPAGATION_MS);
    expect(agent.pods(`${P}-out`)[0]?.restarts).toBe(0); // no restart

    const status = await until(
      "the matches in status",
      async () => {
        const o = await get("customers");
        return o.status?.matchedEvents === drop.length && condition(o, "Active")?.status === "True"
          ? o
          : undefined;
      },
      30_000,
    );
    expect(status.status).toMatchObject({ pipelines: [P], bots: 1, matchedEvents: 4 });
    expect(Date.parse(status.status.lastMatchTime)).toBeGreaterThan(t0);
    expect(condition(status, "Active")).toMatchObject({
      reason: "Applied",
      message: `1 bot(s) apply it in ${P}`,
    });
    // kubectl get shows it in the columns.
    expect(await kubectl(["get", "exclusion", "customers"])).toMatch(/^customers +drop +True +4 +\d+s$/m);
  }, 120_000);

  it("applies an edit live: a narrower network, marking instead of dropping", async () => {
    const t0 = Date.now();
    await apply(
      exclusion(
        "customers",
        `
scope: {pipelines: [${P}]}
match: {all: [{field: source.ip, cidr: [192.0.2.0/25]}]}
action: {type: mark, set: [{field: extra.excluded_by, value: customers}]}
reason: protected constituents, reported but flagged`,
      ),
    );
    await sleep(PROPAGATION_MS - (Date.now() - t0));
    const { pass, seen } = await round(["192.0.2.20", "192.0.2.200", "198.51.100.4", "2001:db8::5"]);
    expect(pass.map((x) => [seen.get(x)?.ip, seen.get(x)?.excludedBy])).toEqual([
      ["192.0.2.20", "customers"],
      ["192.0.2.200", undefined],
      ["198.51.100.4", undefined],
      ["2001:db8::5", undefined],
    ]);
    await until("5 matches", async () => (await get("customers")).status?.matchedEvents === 5, 30_000);
    const x = await get("customers");
    expect(x.status.observedGeneration).toBe(2);
    expect(condition(x, "Active")?.status).toBe("True");
  }, 120_000);

  it("stops applying an exclusion at its expiry by itself, and reports it Expired", async () => {
    const expiresAt = new Date(Date.now() + 6_000).toISOString().replace(/\.\d+Z$/, "Z");
    await apply(
      exclusion(
        "customers",
        `
scope: {pipelines: [${P}]}
match: {all: [{field: source.ip, cidr: [192.0.2.0/25]}]}
action: {type: mark, set: [{field: extra.excluded_by, value: customers}]}
reason: protected constituents, reported but flagged
expiresAt: "${expiresAt}"`,
      ),
    );
    await sleep(PROPAGATION_MS);
    const before = await round(["192.0.2.30"]);
    expect(before.seen.get(before.pass[0] as number)?.excludedBy).toBe("customers");
    await sleep(Date.parse(expiresAt) - Date.now() + 100);
    const after = await round(["192.0.2.31"]);
    expect(after.seen.get(after.pass[0] as number)?.excludedBy).toBeUndefined();
    const x = await until(
      "Expired",
      async () => {
        const o = await get("customers");
        return condition(o, "Expired")?.status === "True" ? o : undefined;
      },
      15_000,
    );
    expect(condition(x, "Active")).toMatchObject({ status: "False", reason: "Expired" });
    await until("6 matches", async () => (await get("customers")).status?.matchedEvents === 6, 30_000);
  }, 120_000);

  it("takes a deleted exclusion off the bots before the resource goes", async () => {
    await apply(
      exclusion(
        "noisy",
        `
scope: {pipelines: [${P}], botSelector: {matchLabels: {stage: enrich}}}
match: {any: [{field: feed.name, equals: noisy}]}
reason: a feed that floods the output`,
      ),
    );
    const tax = agent.pods(`${P}-tax`)[0]?.name as string;
    const t0 = Date.now();
    await until("the expert applying it", () => appliedAt(tax, "noisy", true, t0 - 5_000), 10_000);
    const [dropped] = await send(["198.51.100.50"], { "feed.name": "noisy" });
    const [last] = await send(["198.51.100.51"]);
    await until("the last event", () => delivered().has(last as number));
    expect(delivered().has(dropped as number)).toBe(false);

    const t1 = Date.now();
    await kubectl(["delete", "exclusion", "noisy", "--wait=true", "--timeout=30s"]);
    expect((await kubectl(["get", "exclusions", "-o", "name"])).trim()).toBe(
      "exclusion.petrel.dev/customers",
    );
    const removed = await until("the expert without it", () => appliedAt(tax, "noisy", false, t1), 10_000);
    console.log(`deletion: kubectl delete → off the expert after ${removed - t1} ms`);
    const [passes] = await send(["198.51.100.52"], { "feed.name": "noisy" });
    await until("the noisy event", () => delivered().has(passes as number));
    expect(agent.lastError).toBeUndefined();
  }, 120_000);
});
