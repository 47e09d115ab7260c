// The JetStream loop against a real nats-server: delivery to every destination, acks after storage,
// retries then dead letters, and no duplicates on redelivery.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import taxonomy from "../../../bots/experts/taxonomy.ts";
import { natsForTests, runtimeConfig, runtimeConfigs } from "../../test-support/jetstream-fixture.ts";
import { botSubject, pipelineNames, type RuntimeConfig } from "../config/render.ts";
import { Event } from "../event/message.ts";
import { defineCollector, defineExpert, defineOutput } from "../sdk/bot.ts";
import { BotProcess } from "./bot-process.ts";
import { BotMetrics } from "./metrics.ts";

const log = pino({ level: "silent" });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Retried quickly, and not for long. */
const FAST_RETRIES = { defaults: { errorRetryDelay: "10ms", errorMaxRetries: 2 } };

describe("bot process on JetStream", () => {
  const nats = natsForTests();

  async function setup(p: string, bots: Array<[string, string, Record<string, string[]>]>, sinks: string[]) {
    const { configs } = await runtimeConfigs(
      nats,
      p,
      bots.map(([name, module, destinations]) => ({ name, module, destinations })),
      { sinks, spec: FAST_RETRIES },
    );
    return configs;
  }

  async function drain(
    p: string,
    consumerName: string,
    expected: number,
    timeoutMs = 10_000,
  ): Promise<string[]> {
    const js = jetstream(nats.nc);
    const consumer = await js.consumers.get(pipelineNames(p).stream, consumerName);
    const out: string[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < expected && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      for await (const m of batch) {
        out.push(decoder.decode(m.data));
        m.ack();
      }
    }
    return out;
  }

  async function publishEvents(p: string, botName: string, events: Event[]) {
    const js = jetstream(nats.nc);
    for (const e of events) await js.publish(botSubject(p, botName), encoder.encode(e.serialize()));
  }

  function start(config: RuntimeConfig, module = taxonomy) {
    const metrics = new BotMetrics({
      pipeline: config.pipeline,
      bot: config.bot,
      module: module.id,
      kind: module.kind,
    });
    const proc = new BotProcess({ config, module, log, metrics });
    const done = proc.run();
    return { proc, metrics, done };
  }

  it("processes events and publishes a copy to every destination of the path", async () => {
    const [config] = await setup(
      "copies",
      [["tax", "experts.taxonomy", { _default: ["out-a", "out-b"] }]],
      ["out-a", "out-b"],
    );
    const events = Array.from({ length: 500 }, (_, i) => {
      const e = new Event();
      e.add("source.ip", `192.0.2.${i % 250}`);
      e.add("classification.type", "phishing");
      e.add("extra.n", i);
      return e;
    });
    await publishEvents("copies", "tax", events);
    const running = start(config as RuntimeConfig);
    const [a, b] = await Promise.all([drain("copies", "out-a", 500), drain("copies", "out-b", 500)]);
    running.proc.stop();
    await running.done;
    expect(a).toHaveLength(500);
    expect(b).toHaveLength(500);
    const first = JSON.parse(a[0] as string);
    expect(first["classification.taxonomy"]).toBe("fraud");
    expect(new Set(a.map((s) => JSON.parse(s)["extra.n"])).size).toBe(500);
    const info = await (await jetstreamManager(nats.nc)).consumers.info(
      pipelineNames("copies").stream,
      "tax",
    );
    expect(info.num_pending + info.num_ack_pending).toBe(0);
  });

  it("retries a failing message, then dead-letters it while the others flow on", async () => {
    const flaky = defineExpert({
      id: "test.poison",
      intelmqModules: [],
      kind: "expert",
      description: "fails on comment=poison",
      parameters: z.object({}),
      create: () => ({
        process(event) {
          if (event.get("comment") === "poison") throw new Error("cannot handle poison");
          return event;
        },
      }),
    });
    const [config] = await setup("poison", [["p", "test.poison", { _default: ["sink"] }]], ["sink"]);
    const events = ["a", "poison", "b", "c"].map((c) => {
      const e = new Event();
      e.add("comment", c);
      return e;
    });
    await publishEvents("poison", "p", events);
    const running = start(config as RuntimeConfig, flaky as never);
    const out = await drain("poison", "sink", 3);
    expect(out.map((s) => JSON.parse(s).comment).sort()).toEqual(["a", "b", "c"]);
    // The dead letter arrives after 1 + 2 retries.
    const jsm = await jetstreamManager(nats.nc);
    const names = pipelineNames("poison");
    const deadline = Date.now() + 10_000;
    let stored = 0;
    while (Date.now() < deadline) {
      stored = (await jsm.streams.info(names.deadLetterStream)).state.messages;
      if (stored > 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    running.proc.stop();
    await running.done;
    expect(stored).toBe(1);
    const stored1 = await jsm.streams.getMessage(names.deadLetterStream, { seq: 1 });
    const letter = JSON.parse(decoder.decode(stored1?.data));
    expect(letter).toMatchObject({
      bot: "p",
      pipeline: "poison",
      reason: "retries-exhausted",
      error: "cannot handle poison",
      attempts: 3,
    });
    expect(JSON.parse(letter.message).comment).toBe("poison");
    expect(
      (await running.metrics.registry.getSingleMetricAsString("petrel_bot_messages_failed_total")).trim(),
    ).toMatch(/petrel_bot_messages_failed_total\{bot="p",pipeline="poison"\} 3$/);
  });
  it("dead-letters an input whose output is too large to publish, at once, and goes on", async () => {
    const inflate = defineExpert({
      id: "test.inflate",
      intelmqModules: [],
      kind: "expert",
      description: "makes an oversized event for comment=big",
      parameters: z.object({}),
      create: () => ({
        process(event) {
          if (event.get("comment") === "big") event.add("extra.blob", "x".repeat(2 * 1024 * 1024));
          return event;
        },
      }),
    });
    const [config] = await setup("oversize", [["inflate", "test.inflate", { _default: ["sink"] }]], ["sink"]);
    const events = ["a", "big", "b"].map((c) => {
      const e = new Event();
      e.add("comment", c);
      return e;
    });
    await publishEvents("oversize", "inflate", events);
    const running = start(config as RuntimeConfig, inflate as never);
    const out = await drain("oversize", "sink", 2);
    const jsm = await jetstreamManager(nats.nc);
    const names = pipelineNames("oversize");
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await jsm.streams.info(names.deadLetterStream)).state.messages === 0) {
      await new Promise((r) => setTimeout(r, 50));
    }
    running.proc.stop();
    await running.done;
    expect(out.map((s) => JSON.parse(s).comment).sort()).toEqual(["a", "b"]);
    const letter = JSON.parse(
      decoder.decode((await jsm.streams.getMessage(names.deadLetterStream, { seq: 1 }))?.data),
    );
    expect(letter).toMatchObject({ bot: "inflate", reason: "output-too-large", attempts: 1 });
    expect(letter.error).toMatch(/max_payload/);
    expect(JSON.parse(letter.message).comment).toBe("big");
  });
  it("takes parameters named in parametersFromEnv from the environment, and fails naming a missing one", async () => {
    const tagger = defineExpert({
      id: "test.tagger",
      intelmqModules: [],
      kind: "expert",
      description: "sets extra.tag from its parameter",
      parameters: z.object({ tag: z.string() }),
      create: (params) => ({
        process(event) {
          event.add("extra.tag", params.tag);
          return event;
        },
      }),
    });
    const [config] = await setup("env-params", [["tagger", "test.tagger", { _default: ["sink"] }]], ["sink"]);
    const fromEnv = { ...(config as RuntimeConfig), parametersFromEnv: { tag: "PETREL_TEST_TAGGER_TAG" } };
    const missing = start(fromEnv, tagger as never);
    await expect(missing.done).rejects.toThrow(
      "parameter tag comes from environment variable PETREL_TEST_TAGGER_TAG, which is not set",
    );
    process.env.PETREL_TEST_TAGGER_TAG = "from-a-secret";
    try {
      const e = new Event();
      e.add("comment", "x");
      await publishEvents("env-params", "tagger", [e]);
      const running = start(fromEnv, tagger as never);
      const out = await drain("env-params", "sink", 1);
      running.proc.stop();
      await running.done;
      expect(JSON.parse(out[0] as string)["extra.tag"]).toBe("from-a-secret");
    } finally {
      delete process.env.PETREL_TEST_TAGGER_TAG;
    }
  });
  it("pauses a failing continuous collector before running it again, longer each time", async () => {
    let calls = 0;
    const broken = defineCollector({
      id: "test.broken_listener",
      intelmqModules: [],
      kind: "collector",
      mode: "continuous",
      description: "fails at once, every time (a listener whose port is taken)",
      parameters: z.object({}),
      create: () => ({
        async collect() {
          calls++;
          throw new Error("address in use");
        },
      }),
    });
    const config = await runtimeConfig(
      nats,
      "broken",
      {
        name: "listener",
        module: "test.broken_listener",
        destinations: { _default: ["x"] },
        hasInput: false,
      },
      { spec: FAST_RETRIES },
    );
    const running = start(config, broken as never);
    await new Promise((r) => setTimeout(r, 2_200));
    running.proc.stop();
    await running.done;
    // Runs at 0, 0.5 and 1.5 s (then 3.5 s): a few, not a busy loop of thousands.
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(calls).toBeLessThanOrEqual(4);
    const errors = (await running.metrics.process.collectorRuns.get()).values.find(
      (v) => v.labels.result === "error",
    );
    expect(errors?.value).toBe(calls);
  });

  it("runs an expert's tick on its interval; a repeated tick id stores nothing twice; counts cache lookups", async () => {
    const [config] = await setup("ticks", [["counter", "test.counter", { _default: ["sink"] }]], ["sink"]);
    // Counts inputs and drops them; each tick reports the count so far, twice under the same id, as a
    // bot that crashed after emitting and before forgetting its state would.
    let seen = 0;
    let ticks = 0;
    const stateReads: Array<string | undefined> = [];
    let probed = false;
    const counter = defineExpert({
      id: "test.counter",
      intelmqModules: [],
      kind: "expert",
      description: "counts events, reports on time",
      parameters: z.object({}),
      create: (_params, ctx) => ({
        tickIntervalMs: 50,
        async process() {
          if (!probed) {
            probed = true;
            // State round trip: a deleted key is absent again, not an empty value.
            const store = await ctx.state("probe");
            await store.put("k", "v");
            stateReads.push(await store.get("k"));
            await store.delete("k");
            stateReads.push(await store.get("k"));
            stateReads.push(String(await store.create("k", "w")));
          }
          ctx.metrics.cacheLookup("answers", seen % 4 !== 0);
          seen++;
          return undefined;
        },
        async tick(emit) {
          if (seen < 20) return;
          ticks++;
          const report = new Event();
          report.add("extra.count", seen);
          await emit(`count-${seen}`, report);
          await emit(`count-${seen}`, report.copy());
        },
      }),
    });
    await publishEvents(
      "ticks",
      "counter",
      Array.from({ length: 20 }, (_, i) => {
        const e = new Event();
        e.add("source.ip", `192.0.2.${i + 1}`);
        return e;
      }),
    );
    const running = start(config as RuntimeConfig, counter as never);
    const out = await drain("ticks", "sink", 1);
    await new Promise((r) => setTimeout(r, 300));
    running.proc.stop();
    await running.done;
    out.push(...(await drain("ticks", "sink", 1, 500)));
    expect(ticks).toBeGreaterThan(1);
    expect(stateReads).toEqual(["v", undefined, "true"]);
    expect(out.map((s) => JSON.parse(s)["extra.count"])).toEqual([20]);
    const lookups = (await running.metrics.process.cacheLookups.get()).values;
    expect(lookups.find((v) => v.labels.result === "hit")?.value).toBe(15);
    expect(lookups.find((v) => v.labels.result === "miss")?.value).toBe(5);
    expect(lookups.every((v) => v.labels.cache === "answers" && v.labels.bot === "counter")).toBe(true);
  });

  it("measures an output's batches: sizes and write time", async () => {
    const [config] = await setup("batches", [["sink-bot", "test.slow_sink", {}]], []);
    const written: number[] = [];
    const sink = defineOutput({
      id: "test.slow_sink",
      intelmqModules: [],
      kind: "output",
      description: "takes 20 ms per batch",
      parameters: z.object({}),
      create: () => ({
        async write(events) {
          await new Promise((r) => setTimeout(r, 20));
          written.push(events.length);
        },
      }),
    });
    await publishEvents(
      "batches",
      "sink-bot",
      Array.from({ length: 300 }, (_, i) => {
        const e = new Event();
        e.add("extra.n", i);
        return e;
      }),
    );
    const running = start(config as RuntimeConfig, sink as never);
    const deadline = Date.now() + 10_000;
    while (written.reduce((a, b) => a + b, 0) < 300 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    running.proc.stop();
    await running.done;
    const sizes = (await running.metrics.process.outputBatchSize.get()).values;
    expect(sizes.find((v) => v.metricName === "petrel_output_batch_size_events_sum")?.value).toBe(300);
    expect(sizes.find((v) => v.metricName === "petrel_output_batch_size_events_count")?.value).toBe(
      written.length,
    );
    const durations = (await running.metrics.process.outputWriteDuration.get()).values;
    const total = durations.find((v) => v.metricName === "petrel_output_write_duration_seconds_sum")?.value;
    expect(total).toBeGreaterThanOrEqual(0.019 * written.length);
  });
});
