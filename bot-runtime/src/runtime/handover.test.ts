// Bots sharing a process (Bot spec `process`) against a real nats-server: messages are handed over in
// memory, copies for bots elsewhere still go through JetStream, and a hand-over that fails falls back to
// the receiving bot's queue, from where it is retried and then dead-lettered as usual.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { natsForTests, runtimeConfigs } from "../../test-support/jetstream-fixture.ts";
import { botSubject, pipelineNames, type RuntimeConfig } from "../config/render.ts";
import { Event, type Event as EventType } from "../event/message.ts";
import { type BotModule, defineExpert, defineOutput } from "../sdk/bot.ts";
import { BotProcess } from "./bot-process.ts";
import { BotMetrics, ProcessMetrics } from "./metrics.ts";

const log = pino({ level: "silent" });
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const P = "handover";

const mark = defineExpert({
  id: "test.mark",
  intelmqModules: [],
  kind: "expert",
  description: "adds extra.marked",
  parameters: z.object({}),
  create: () => ({
    process(event) {
      event.add("extra.marked", true);
      return event;
    },
  }),
});

/** Fails "bad" events always and "flaky" ones on their first attempt; changes the event before failing. */
const failedOnce = new Set<number>();
const check = defineExpert({
  id: "test.check",
  intelmqModules: [],
  kind: "expert",
  description: "fails some events",
  parameters: z.object({}),
  create: () => ({
    process(event) {
      event.add("extra.checked", true);
      const n = event.get("extra.n") as number;
      if (event.get("comment") === "bad") throw new Error(`bad event ${n}`);
      if (event.get("comment") === "flaky" && !failedOnce.has(n)) {
        failedOnce.add(n);
        throw new Error(`flaky event ${n}`);
      }
      return event;
    },
  }),
});

/** Collects what it writes; a batch holding an unwritten "sinkfail" event fails once for that event. */
const written: Array<Record<string, unknown>> = [];
const sinkFailed = new Set<number>();
const sink = defineOutput({
  id: "test.sink",
  intelmqModules: [],
  kind: "output",
  description: "collects events",
  parameters: z.object({}),
  create: () => ({
    async write(events: readonly EventType[]) {
      for (const e of events) {
        const n = e.get("extra.n") as number;
        if (e.get("comment") === "sinkfail" && !sinkFailed.has(n)) {
          sinkFailed.add(n);
          throw new Error(`sink refuses ${n} once`);
        }
      }
      for (const e of events) written.push(e.toDict());
    },
  }),
});

describe("bots sharing a process", () => {
  const nats = natsForTests();

  it("hands events over in memory, falls back to the queue on failure, and loses or doubles nothing", async () => {
    const bots: Array<[string, BotModule, Record<string, string[]>]> = [
      ["mark", mark, { _default: ["check"] }],
      ["check", check, { _default: ["sink", "elsewhere"] }],
      ["sink", sink, {}],
    ];
    const { configs } = await runtimeConfigs(
      nats,
      P,
      bots.map(([name, module, destinations]) => ({ name, module: module.id, destinations })),
      { sinks: ["elsewhere"], spec: { defaults: { errorRetryDelay: "10ms", errorMaxRetries: 2 } } },
    );

    const N = 2_000;
    const comment = (i: number) =>
      i % 400 === 7 ? "bad" : i % 100 === 3 ? "flaky" : i % 250 === 11 ? "sinkfail" : "ok";
    const js = jetstream(nats.nc);
    for (let i = 0; i < N; i++) {
      const e = new Event();
      e.add("source.ip", `192.0.2.${i % 250}`);
      e.add("comment", comment(i));
      e.add("extra.n", i);
      await js.publish(botSubject(P, "mark"), encoder.encode(e.serialize()));
    }

    const processMetrics = new ProcessMetrics({ pipeline: P, process: "chain" });
    const local = new Map<string, BotProcess>();
    const procs = bots.map(([name, module], i) => {
      const metrics = new BotMetrics(
        { pipeline: P, bot: name, module: module.id, kind: module.kind },
        processMetrics,
      );
      const proc = new BotProcess({ config: configs[i] as RuntimeConfig, module, log, metrics, local });
      local.set(botSubject(P, name), proc);
      return proc;
    });
    // Downstream first: until a bot is ready, output for it goes through its queue (correct, but this
    // test counts hand-overs exactly).
    const running = [procs[2], procs[1]].map((p) => (p as BotProcess).run());
    const ready = Date.now() + 10_000;
    while (!(procs[1]?.ready && procs[2]?.ready) && Date.now() < ready)
      await new Promise((r) => setTimeout(r, 20));
    running.push((procs[0] as BotProcess).run());

    const bad = Array.from({ length: N }, (_, i) => i).filter((i) => comment(i) === "bad");
    const good = N - bad.length;
    const elsewhere: Array<Record<string, unknown>> = [];
    const consumer = await js.consumers.get(pipelineNames(P).stream, "elsewhere");
    const deadline = Date.now() + 20_000;
    while ((written.length < good || elsewhere.length < good) && Date.now() < deadline) {
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      for await (const m of batch) {
        elsewhere.push(JSON.parse(decoder.decode(m.data)));
        m.ack();
      }
    }
    // The dead letters of the bad events (after their retries from the queue).
    const dlq = await js.consumers.get(pipelineNames(P).deadLetterStream);
    const letters: Array<{ bot: string; reason: string; message: string }> = [];
    while (letters.length < bad.length && Date.now() < deadline) {
      const batch = await dlq.fetch({ max_messages: 100, expires: 1000 });
      for await (const m of batch) letters.push(JSON.parse(decoder.decode(m.data)));
    }
    for (const p of procs) p.stop();
    await Promise.all(running);

    const numbers = (events: Array<Record<string, unknown>>) =>
      events.map((e) => e["extra.n"] as number).sort((a, b) => a - b);
    const expected = Array.from({ length: N }, (_, i) => i).filter((i) => comment(i) !== "bad");
    expect(numbers(written)).toEqual(expected);
    expect(numbers(elsewhere)).toEqual(expected);
    for (const e of written) expect(e).toMatchObject({ "extra.marked": true, "extra.checked": true });
    // Retried from the queue: the original event as handed over, not the one the failed attempt changed.
    expect(letters.map((l) => l.bot)).toEqual(bad.map(() => "check"));
    expect(letters.map((l) => l.reason)).toEqual(bad.map(() => "retries-exhausted"));
    expect(letters.map((l) => JSON.parse(l.message)["extra.n"]).sort((a, b) => a - b)).toEqual(bad);
    for (const l of letters) expect(JSON.parse(l.message)["extra.checked"]).toBeUndefined();
    // Only the failures went through JetStream: nothing is left in the queues.
    const jsm = await jetstreamManager(nats.nc);
    for (const name of ["mark", "check", "sink"]) {
      const info = await jsm.consumers.info(pipelineNames(P).stream, name);
      expect(info.num_pending + info.num_ack_pending, name).toBe(0);
    }
    const sent = await processMetrics.sent.get();
    const sentBy = (bot: string) =>
      sent.values.filter((v) => v.labels.bot === bot).reduce((a, v) => a + v.value, 0);
    expect(sentBy("mark")).toBe(N);
    expect(sentBy("sink")).toBe(good);
    const received = await processMetrics.received.get();
    const receivedBy = (bot: string) =>
      received.values.filter((v) => v.labels.bot === bot).reduce((a, v) => a + v.value, 0);
    // check: every hand-over, plus from its queue the flaky retries and the bad ones' 3 attempts.
    const flaky = Array.from({ length: N }, (_, i) => i).filter((i) => comment(i) === "flaky").length;
    expect(receivedBy("check")).toBe(N + flaky + bad.length * 3);
  }, 60_000);
});
