// The whole stack on one machine: the real operator process, the real kube-apiserver and a real
// nats-server, with the kubelet stand-in running the pods the operator's Deployments describe. The demo
// pipeline is applied with kubectl; its events flow from the file collectors to the file output, every
// Bot and the Pipeline become Ready, petrelctl's stop and start show in status and in the running
// processes, deleting a Bot stops its process, and at rest the operator does next to nothing.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  freePort,
  startNatsServer,
  type TestNatsServer,
} from "../../bot-runtime/test-support/nats-server.ts";
import { type ControlPlane, startControlPlane } from "../../operator/test-support/control-plane.ts";
import { KubeletAgent } from "../kubelet/agent.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NS = "csirt";
/** Events the demo's sample feeds produce (see examples/README.md). */
const DEMO_EVENTS = 88;

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function lines(file: string): number {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

describe("operator end to end", () => {
  let cp: ControlPlane;
  let nats: TestNatsServer;
  let agent: KubeletAgent;
  let operator: ChildProcess;
  let metricsPort: number;
  let dir: string;
  const output = () => join(dir, "demo-output.jsonl");

  const petrelctl = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [`${ROOT}operator/bin/petrelctl.js`, ...args, "--kubeconfig", cp.kubeconfigPath, "-n", NS],
        { encoding: "utf8", cwd: ROOT },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const reconciles = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    let sum = 0;
    for (const line of text.split("\n"))
      if (line.startsWith("petrel_operator_reconcile_total{"))
        sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    return sum;
  };
  const condition = async (kind: string, name: string, type: string) =>
    (
      await cp.kubectl([
        "get",
        kind,
        name,
        "-n",
        NS,
        "-o",
        `jsonpath={.status.conditions[?(@.type=="${type}")].status}`,
      ])
    ).trim();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "petrel-e2e-operator-"));
    [cp, nats] = await Promise.all([startControlPlane(), startNatsServer()]);
    await cp.kubectl(["apply", "--server-side", "-f", `${ROOT}crds/`]);
    await cp.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
    await cp.kubectl(["create", "namespace", NS]);
    metricsPort = await freePort();
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
        String(metricsPort),
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
  }, 180_000);

  afterAll(async () => {
    operator?.kill("SIGTERM");
    await agent?.stop();
    await cp?.stop();
    await nats?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs the demo pipeline applied with kubectl: events reach the output, everything becomes Ready", async () => {
    const demo = readFileSync(`${ROOT}examples/demo.yaml`, "utf8")
      .replace("spec:\n  stream:", `spec:\n  nats:\n    url: ${nats.url}\n  stream:`)
      .replace("file: .petrel/demo-output.jsonl", `file: ${output()}`);
    expect(demo).toContain(output());
    await cp.kubectl(["apply", "-n", NS, "-f", "-"], { input: demo });
    await until(`${DEMO_EVENTS} events in the output`, () => lines(output()) >= DEMO_EVENTS, 120_000);
    await cp.kubectl(["wait", "-n", NS, "--for=condition=Ready", "--timeout=60s", "bot", "--all"]);
    await cp.kubectl(["wait", "-n", NS, "--for=condition=Ready", "--timeout=60s", "pipeline/demo"]);
    const status = await petrelctl(["status", "--json"]);
    const rows = JSON.parse(status.stdout) as Array<{ bot: string; state: string; ready: string }>;
    expect(rows).toHaveLength(9);
    for (const row of rows) expect(row, row.bot).toMatchObject({ state: "running", ready: "1/1" });
    expect(lines(output())).toBe(DEMO_EVENTS); // nothing doubled while the pipeline settles
    expect(agent.lastError).toBeUndefined();
  }, 240_000);

  it("stops and starts a bot through petrelctl, visibly in status and in its processes", async () => {
    const stopped = await petrelctl(["stop", "taxonomy"]);
    expect(stopped.stdout).toBe("taxonomy: stopped\n");
    await until("taxonomy's process stopped", async () => {
      const deployments = JSON.parse(await cp.kubectl(["get", "deployments", "-n", NS, "-o", "json"])) as {
        items: Array<{ metadata: { name: string; ownerReferences?: Array<{ name: string }> } }>;
      };
      const name = deployments.items.find((d) =>
        d.metadata.ownerReferences?.some((o) => o.name === "taxonomy"),
      )?.metadata.name;
      return name !== undefined && agent.pods(name).length === 0;
    });
    await until("taxonomy reported stopped", async () => {
      const row = (
        JSON.parse((await petrelctl(["status", "taxonomy", "--json"])).stdout) as Array<{ state: string }>
      )[0];
      return row?.state === "stopped";
    });
    const started = await petrelctl(["start", "taxonomy"]);
    expect(started.stdout).toBe("taxonomy: started\n");
    await cp.kubectl(["wait", "-n", NS, "--for=condition=Ready", "--timeout=60s", "bot/taxonomy"]);
    expect(await condition("pipeline", "demo", "Ready")).toBe("True");
  }, 120_000);

  it("stops a deleted bot's process", async () => {
    const deployments = JSON.parse(await cp.kubectl(["get", "deployments", "-n", NS, "-o", "json"])) as {
      items: Array<{ metadata: { name: string; ownerReferences?: Array<{ name: string }> } }>;
    };
    const name = deployments.items.find((d) =>
      d.metadata.ownerReferences?.some((o) => o.name === "file-output"),
    )?.metadata.name as string;
    expect(agent.pods(name)).toHaveLength(1);
    await cp.kubectl(["delete", "bot", "file-output", "-n", NS, "--wait=true", "--timeout=60s"]);
    await until("file-output's process stopped", () => agent.pods(name).length === 0);
  }, 120_000);

  it("does next to nothing at rest", async () => {
    // Let the deletion settle, then count reconciles over 30 s (no resync falls in a 30 s window twice).
    await new Promise((r) => setTimeout(r, 3_000));
    const before = await reconciles();
    expect(before).toBeGreaterThan(0); // the metric is the one the operator counts its reconciles in
    await new Promise((r) => setTimeout(r, 30_000));
    const perMinute = ((await reconciles()) - before) * 2;
    console.log(
      `operator at rest: ${perMinute} reconciles per minute (1 pipeline, 8 bots, resync every minute)`,
    );
    // A resync reconciles the pipeline and its 8 bots at most once a minute; a hot loop would be far more.
    expect(perMinute).toBeLessThanOrEqual(2 * 10);
  }, 60_000);
});
