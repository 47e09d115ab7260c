// Leader election on a real API server: of two operators only the lease holder reconciles; when it
// stops it hands the lease over and the other takes over at once; a holder that vanishes without
// handing it over is replaced once the lease runs out.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoordinationV1Api, KubeConfig, V1MicroTime } from "@kubernetes/client-node";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../../bot-runtime/test-support/nats-server.ts";
import { LeaderElector } from "./leader.ts";
import type { Operator } from "./operator.ts";
import { startEnv, type TestEnv, waitFor } from "./test-support/harness.ts";

const FAST = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 250 };

const YAML = `apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata: {name: le}
spec: {stream: {storage: memory, maxBytes: 16Mi}, deadLetter: {maxBytes: 8Mi}}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: tax}
spec: {pipeline: le, module: experts.taxonomy}
`;

async function reconciles(operator: Operator): Promise<number> {
  return (await operator.metrics.reconciles.get()).values.reduce((n, v) => n + v.value, 0);
}

describe("operator: leader election", () => {
  let env: TestEnv;
  let a: Operator;
  let b: Operator;
  const lease = () =>
    env.plane.kubeConfig
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: env.namespace, name: "petrel-operator" });

  beforeAll(async () => {
    env = await startEnv();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("only the operator holding the lease reconciles", async () => {
    const election = { namespace: env.namespace, name: "petrel-operator", ...FAST };
    a = await env.operator({ leaderElection: { ...election, identity: "operator-a" } });
    await waitFor("a leads", () => a.isLeader);
    b = await env.operator({ leaderElection: { ...election, identity: "operator-b" } });
    await env.apply(YAML);
    await waitFor("the Deployment", () => env.exists("deployment", "le-tax"));
    await new Promise((resolve) => setTimeout(resolve, 4 * FAST.retryPeriodMs));
    expect(b.isLeader).toBe(false);
    expect(await reconciles(b)).toBe(0);
    expect(await reconciles(a)).toBeGreaterThan(0);
    expect((await b.metrics.leader.get()).values[0]?.value).toBe(0);
    expect((await a.metrics.leader.get()).values[0]?.value).toBe(1);
    expect((await lease()).spec).toMatchObject({ holderIdentity: "operator-a", leaseDurationSeconds: 3 });
  });

  it("the other operator takes over at once when the leader stops, and reconciles", async () => {
    const transitions = (await lease()).spec?.leaseTransitions ?? 0;
    const stoppedAt = Date.now();
    await a.stop();
    await waitFor("b leads", () => b.isLeader);
    expect(Date.now() - stoppedAt).toBeLessThan(FAST.leaseDurationMs);
    const spec = (await lease()).spec;
    expect(spec?.holderIdentity).toBe("operator-b");
    expect(spec?.leaseTransitions).toBe(transitions + 1);
    await env.kubectl(["scale", "-n", env.namespace, "bot/tax", "--replicas=2"]);
    await waitFor(
      "b scales the Deployment",
      async () => (await env.get("deployment", "le-tax")).spec.replicas === 2,
    );
    expect(await reconciles(b)).toBeGreaterThan(0);
    await b.stop();
  });

  it("a leader that vanishes without handing the lease over is replaced when the lease runs out", async () => {
    const log = pino({ level: "silent" });
    const election = { namespace: env.namespace, name: "crash-test", ...FAST };
    let xLeads = false;
    const x = new LeaderElector(env.plane.kubeConfig, { ...election, identity: "x" }, log, {
      onStartedLeading: () => {
        xLeads = true;
      },
      onStoppedLeading: () => {},
    });
    x.start();
    await waitFor("x leads", () => xLeads);
    await x.stop(false);
    const vanishedAt = Date.now();
    let yLedAt = 0;
    const y = new LeaderElector(env.plane.kubeConfig, { ...election, identity: "y" }, log, {
      onStartedLeading: () => {
        yLedAt = Date.now();
      },
      onStoppedLeading: () => {},
    });
    y.start();
    await waitFor("y leads", () => yLedAt > 0, 10_000);
    expect(yLedAt - vanishedAt).toBeGreaterThanOrEqual(FAST.leaseDurationMs);
    await y.stop();
  });
  it("a leader whose lease is taken from it stops reconciling once it cannot renew for the renew deadline", async () => {
    let lost = 0;
    const c = await env.operator({
      leaderElection: { namespace: env.namespace, name: "stolen", identity: "operator-c", ...FAST },
      onLostLeadership: () => {
        lost = Date.now();
      },
    });
    await waitFor("c leads", () => c.isLeader);
    // Someone else keeps the lease renewed: c's renewals fail from now on.
    const api = env.plane.kubeConfig.makeApiClient(CoordinationV1Api);
    const steal = async () => {
      const current = await api.readNamespacedLease({ namespace: env.namespace, name: "stolen" });
      const now = new V1MicroTime();
      await api.replaceNamespacedLease({
        namespace: env.namespace,
        name: "stolen",
        body: {
          metadata: {
            name: "stolen",
            namespace: env.namespace,
            resourceVersion: current.metadata?.resourceVersion,
          },
          spec: {
            holderIdentity: "intruder",
            leaseDurationSeconds: 3,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 9,
          },
        },
      });
    };
    const stolenAt = Date.now();
    const thief = setInterval(() => void steal().catch(() => undefined), 200);
    try {
      await steal();
      await waitFor("c steps down", () => lost > 0, 10_000);
    } finally {
      clearInterval(thief);
    }
    expect(lost - stolenAt).toBeGreaterThanOrEqual(FAST.renewDeadlineMs - FAST.retryPeriodMs);
    expect(c.isLeader).toBe(false);
    expect((await c.metrics.leader.get()).values[0]?.value).toBe(0);
    await c.stop();
  });
  it("the operator process, with only the RBAC of docs/operator.md, reconciles and hands the lease over on SIGTERM", async () => {
    // The service account, roles and bindings exactly as the docs give them.
    const docs = readFileSync(fileURLToPath(new URL("../../../docs/operator.md", import.meta.url)), "utf8");
    const rbac = /## RBAC[\s\S]*?```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    expect(rbac).toContain("kind: ClusterRole");
    await env.kubectl(["create", "namespace", "petrel-system"]);
    await env.kubectl(["apply", "-f", "-"], rbac);
    const token = (await env.kubectl(["create", "token", "petrel-operator", "-n", "petrel-system"])).trim();
    const restricted = new KubeConfig();
    restricted.loadFromOptions({
      clusters: env.plane.kubeConfig.clusters,
      users: [{ name: "petrel-operator", token }],
      contexts: [
        { name: "operator", cluster: env.plane.kubeConfig.clusters[0]?.name ?? "", user: "petrel-operator" },
      ],
      currentContext: "operator",
    });
    const dir = mkdtempSync(join(tmpdir(), "petrel-operator-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(kubeconfig, restricted.exportConfig(), { mode: 0o600 });

    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL("./main.ts", import.meta.url)),
        `--kubeconfig=${kubeconfig}`,
        `--nats-url=${env.nats.url}`,
        "--bot-image=registry.example/petrel:test",
        `--metrics-port=${port}`,
        "--leader-election-namespace=petrel-system",
        "--log-level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const processLease = () =>
      env.plane.kubeConfig
        .makeApiClient(CoordinationV1Api)
        .readNamespacedLease({ namespace: "petrel-system", name: "petrel-operator" });
    try {
      await waitFor("/readyz", async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200);
      await waitFor("the lease", async () => ((await processLease()).spec?.holderIdentity ?? "") !== "");
      await env.apply(
        YAML.replace("{name: le}", "{name: rbac}")
          .replace("{name: tax}", "{name: rbac-tax}")
          .replace("pipeline: le,", "pipeline: rbac,"),
      );
      await waitFor("the Deployment", () => env.exists("deployment", "rbac-rbac-tax"));
      await waitFor("status written", async () => (await env.get("bot", "rbac-tax")).status?.backlog === 0);
      await waitFor(
        "the pipeline's status",
        async () => (await env.get("pipeline", "rbac")).status?.bots?.total === 1,
      );
      await env.apply(`apiVersion: petrel.dev/v1alpha1
kind: Exclusion
metadata: {name: rbac}
spec: {scope: {pipelines: [rbac]}, match: {all: [{field: source.ip, cidr: [192.0.2.0/24]}]}, reason: r}
`);
      const exclusion = await waitFor("the exclusion's status", async () => {
        const x = await env.get("exclusion", "rbac");
        return x.status?.pipelines?.[0] === "rbac" ? x : undefined;
      });
      expect(exclusion.metadata.finalizers).toEqual(["petrel.dev/cleanup"]);
      await env.kubectl(["delete", "-n", env.namespace, "exclusion", "rbac", "--wait=true", "--timeout=30s"]);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      expect((await processLease()).spec?.holderIdentity).toBe("");
      // Nothing was refused or retried.
      expect(output).toBe("");
    } finally {
      child.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
