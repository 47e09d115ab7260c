// JetStream objects under the operator's care, against a real nats-server: a consumer or stream deleted
// out of band comes back, streams lost in a NATS restart come back on reconnect, and deleting a
// Pipeline keeps its streams unless the user opted in to deleting them.
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../../bot-runtime/src/runtime/jetstream.ts";
import type { Operator } from "./operator.ts";
import { condition, startEnv, type TestEnv, waitFor } from "./test-support/harness.ts";

function pipelineYaml(name: string, storage: "file" | "memory", annotations = ""): string {
  return `apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata:
  name: ${name}
${annotations}
spec:
  stream: {storage: ${storage}, maxBytes: 64Mi}
  deadLetter: {maxBytes: 16Mi}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: ${name}-tax
spec:
  pipeline: ${name}
  module: experts.taxonomy
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: ${name}-dedup
spec:
  pipeline: ${name}
  module: experts.deduplicator
  destinations: {_default: [${name}-tax]}
`;
}

async function names(list: AsyncIterable<{ name: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const item of list) out.push(item.name);
  return out.sort();
}

describe("operator: JetStream streams and consumers", () => {
  let env: TestEnv;
  let operator: Operator;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  const consumers = (stream: string) => names(jsm.consumers.list(stream)).catch(() => [] as string[]);
  const streamExists = (name: string) =>
    jsm.streams.info(name).then(
      () => true,
      () => false,
    );

  beforeAll(async () => {
    env = await startEnv();
    operator = await env.operator({ resyncMs: 1_000 });
    nc = await connectNats({ servers: [env.nats.url] });
    jsm = await jetstreamManager(nc);
    await env.apply(pipelineYaml("mem", "memory"));
    await env.apply(pipelineYaml("disk", "file"));
    for (const stream of ["PETREL_MEM", "PETREL_DISK"]) {
      const prefix = stream === "PETREL_MEM" ? "mem" : "disk";
      await waitFor(`${stream} consumers`, async () => (await consumers(stream)).length === 2);
      expect(await consumers(stream)).toEqual([`${prefix}-dedup`, `${prefix}-tax`]);
    }
  });
  afterAll(async () => {
    await nc?.close();
    await env?.stop();
  });

  it("re-creates a consumer deleted out of band (periodic resync)", async () => {
    await jsm.consumers.delete("PETREL_DISK", "disk-tax");
    expect(await consumers("PETREL_DISK")).toEqual(["disk-dedup"]);
    await waitFor("the consumer back", async () => (await consumers("PETREL_DISK")).length === 2);
  });

  it("re-creates a stream deleted out of band, and its consumers", async () => {
    await jsm.streams.delete("PETREL_DISK");
    await waitFor("the stream and consumers back", async () => (await consumers("PETREL_DISK")).length === 2);
    expect(await streamExists("PETREL_DISK_DLQ")).toBe(true);
  });

  it("updates the streams and the bots' configs when the Pipeline's spec changes", async () => {
    const maxAge = async () => (await jsm.streams.info("PETREL_DISK")).config.max_age;
    expect(await maxAge()).toBe(7 * 86_400 * 1e9);
    const config = async () =>
      JSON.parse((await env.get("configmap", "disk-disk-tax")).data["config.json"]) as {
        errors: { maxRetries: number };
      };
    expect((await config()).errors.maxRetries).toBe(3);
    await env.kubectl([
      "patch",
      "-n",
      env.namespace,
      "pipeline",
      "disk",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { stream: { maxAge: "2d" }, defaults: { errorMaxRetries: 9 } } }),
    ]);
    await waitFor("the stream's new max age", async () => (await maxAge()) === 2 * 86_400 * 1e9);
    await waitFor("the bots' new retries", async () => (await config()).errors.maxRetries === 9);
  });

  it("re-creates streams and consumers lost in a NATS restart as soon as it reconnects", async () => {
    // No resync during this test: only the reconnect can bring them back.
    await operator.stop();
    operator = await env.operator({ resyncMs: 600_000 });
    const reconciled = () =>
      operator.metrics.reconciles.get().then((m) => m.values.reduce((n, v) => n + v.value, 0));
    await waitFor("the first reconciles", async () => (await reconciled()) >= 6);
    await nc.close();
    await env.nats.stop();
    await env.nats.restart();
    nc = await connectNats({ servers: [env.nats.url] });
    jsm = await jetstreamManager(nc);
    // Memory streams are gone after a restart; file streams survive.
    await waitFor(
      "the memory stream back with its consumers",
      async () => (await consumers("PETREL_MEM")).length === 2,
    );
    expect(await consumers("PETREL_DISK")).toEqual(["disk-dedup", "disk-tax"]);
    expect(await streamExists("PETREL_MEM_DLQ")).toBe(true);
  });

  it("deleting a Pipeline keeps its streams by default, and says so in its status", async () => {
    const pipeline = await env.get("pipeline", "disk");
    expect(condition(pipeline, "StreamsRetainedOnDelete")).toMatchObject({
      status: "True",
      reason: "KeepByDefault",
      message:
        "deleting this Pipeline keeps PETREL_DISK and PETREL_DISK_DLQ and its bots' state in NATS; annotate petrel.dev/delete-streams-on-delete=true to delete them with it",
    });
    await env.kubectl(["delete", "-n", env.namespace, "pipeline", "disk", "--wait=false"]);
    await waitFor("the pipeline gone", async () => !(await env.exists("pipeline", "disk")));
    expect(await streamExists("PETREL_DISK")).toBe(true);
    expect(await streamExists("PETREL_DISK_DLQ")).toBe(true);
    const bot = await waitFor("its bots report the missing pipeline", async () => {
      const b = await env.get("bot", "disk-tax");
      return condition(b, "Ready")?.reason === "PipelineNotFound" ? b : undefined;
    });
    expect(bot.status.state).toBe("Pending");
    // Without a pipeline the bot's consumer stays with the kept stream.
    await env.kubectl(["delete", "-n", env.namespace, "bot", "disk-tax", "disk-dedup", "--wait=false"]);
    await waitFor("the bots gone", async () => !(await env.exists("bot", "disk-tax")));
  });

  it("deleting a Pipeline annotated petrel.dev/delete-streams-on-delete deletes its streams and bot state", async () => {
    await env.apply(
      pipelineYaml("scratch", "file", '  annotations: {petrel.dev/delete-streams-on-delete: "true"}'),
    );
    await waitFor("scratch consumers", async () => (await consumers("PETREL_SCRATCH")).length === 2);
    const pipeline = await waitFor("its status", async () => {
      const p = await env.get("pipeline", "scratch");
      return condition(p, "StreamsRetainedOnDelete") ? p : undefined;
    });
    expect(condition(pipeline, "StreamsRetainedOnDelete")).toMatchObject({
      status: "False",
      reason: "DeleteRequested",
    });
    // A bot's state bucket, as the deduplicator keeps one.
    await (await new Kvm(nc).create("petrel_scratch_dedup")).put("k", "v");
    await env.kubectl(["delete", "-n", env.namespace, "pipeline", "scratch", "--wait=false"]);
    await waitFor("the pipeline gone", async () => !(await env.exists("pipeline", "scratch")));
    expect(await streamExists("PETREL_SCRATCH")).toBe(false);
    expect(await streamExists("PETREL_SCRATCH_DLQ")).toBe(false);
    expect(await streamExists("KV_petrel_scratch_dedup")).toBe(false);
    expect(await streamExists("PETREL_MEM")).toBe(true);
  });
});
