// The kubelet stand-in against the real apiserver and a real nats-server: a Deployment running the bot
// runtime (as the shared image would) becomes a local process fed by its ConfigMap, reports readiness,
// processes events, scales, is replaced when its template changes and stops when deleted.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botSubject, pipelineNames, renderBotConfig } from "../../bot-runtime/src/config/render.ts";
import { Bot, Pipeline } from "../../bot-runtime/src/config/resources.ts";
import {
  connectNats,
  ensureBotConsumer,
  ensurePipelineStreams,
} from "../../bot-runtime/src/runtime/jetstream.ts";
import { startNatsServer, type TestNatsServer } from "../../bot-runtime/test-support/nats-server.ts";
import { type ControlPlane, startControlPlane } from "../../operator/test-support/control-plane.ts";
import { KubeletAgent } from "./agent.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NS = "agent";

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("kubelet agent", () => {
  let cp: ControlPlane;
  let nats: TestNatsServer;
  let nc: NatsConnection;
  let agent: KubeletAgent;
  let logs: string;

  beforeAll(async () => {
    [cp, nats] = await Promise.all([startControlPlane(), startNatsServer()]);
    nc = await connectNats({ servers: [nats.url] });
    logs = mkdtempSync(join(tmpdir(), "petrel-agent-logs-"));
    await cp.kubectl(["create", "namespace", NS]);
    agent = new KubeletAgent({ kubeConfig: cp.kubeConfig, namespace: NS, root: ROOT, logDir: logs });
    agent.start();
  }, 120_000);
  afterAll(async () => {
    await agent?.stop();
    await nc?.drain();
    await cp?.stop();
    await nats?.dispose();
    rmSync(logs, { recursive: true, force: true });
  });

  it("runs a Deployment's pod template as local processes, following its changes", async () => {
    const pipeline = Pipeline.parse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: { name: "agent" },
      spec: { nats: { url: nats.url }, stream: { storage: "memory", maxBytes: "16Mi" } },
    });
    const bot = Bot.parse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Bot",
      metadata: { name: "tax" },
      spec: { pipeline: "agent", module: "experts.taxonomy", destinations: { _default: ["sink"] } },
    });
    const jsm = await jetstreamManager(nc);
    await ensurePipelineStreams(jsm, pipeline);
    await ensureBotConsumer(jsm, "agent", "tax");
    await ensureBotConsumer(jsm, "agent", "sink");
    const config = renderBotConfig(bot, pipeline, { metricsPort: 9090, hasInput: true });
    const configMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "tax", namespace: NS },
      data: { "config.json": JSON.stringify(config) },
    };
    const deployment = (replicas: number, generation: string) => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "tax", namespace: NS },
      spec: {
        replicas,
        selector: { matchLabels: { bot: "tax" } },
        template: {
          metadata: { labels: { bot: "tax" }, annotations: { generation } },
          spec: {
            containers: [
              {
                name: "bot",
                image: "petrel",
                workingDir: "/app",
                command: ["node", "bot-runtime/src/runtime/main.ts", "--config", "/etc/petrel/config.json"],
                ports: [{ name: "metrics", containerPort: 9090 }],
                readinessProbe: { httpGet: { path: "/readyz", port: "metrics" } },
                volumeMounts: [{ name: "config", mountPath: "/etc/petrel", readOnly: true }],
              },
            ],
            volumes: [{ name: "config", configMap: { name: "tax" } }],
          },
        },
      },
    });
    await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(configMap) });
    await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(deployment(1, "a")) });
    const readyReplicas = async () =>
      Number(
        (await cp.kubectl([
          "get",
          "deployment",
          "tax",
          "-n",
          NS,
          "-o",
          "jsonpath={.status.readyReplicas}",
        ])) || 0,
      );
    await until("one ready replica", async () => (await readyReplicas()) === 1);

    const js = jetstream(nc);
    for (let i = 0; i < 20; i++)
      await js.publish(
        botSubject("agent", "tax"),
        `{"__type":"Event","classification.type":"phishing","extra.n":${i}}`,
      );
    const sink = await js.consumers.get(pipelineNames("agent").stream, "sink");
    let received = 0;
    await until("20 events through the bot", async () => {
      const batch = await sink.fetch({ max_messages: 20, expires: 1000 });
      for await (const m of batch) {
        expect(JSON.parse(m.string())["classification.taxonomy"]).toBe("fraud");
        m.ack();
        received++;
      }
      return received === 20;
    });

    await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(deployment(2, "a")) });
    await until("two ready replicas", async () => (await readyReplicas()) === 2);
    const before = agent.pods("tax").map((p) => p.child?.pid);
    await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(deployment(2, "b")) });
    await until("replaced pods", () => {
      const pods = agent.pods("tax");
      return pods.length === 2 && pods.every((p) => p.ready && !before.includes(p.child?.pid));
    });

    const pids = agent.pods("tax").map((p) => p.child?.pid as number);
    await cp.kubectl(["delete", "deployment", "tax", "-n", NS]);
    await until("processes stopped", () => agent.deployments.length === 0);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect(agent.lastError).toBeUndefined();
  }, 120_000);
});
