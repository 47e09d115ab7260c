// The aggregate expert on a real nats-server KV against IntelMQ's (library mode, on a private
// redis-server): the same aggregates sent once their timespan is over; replicas adding to one
// aggregate; inputs redelivered after a crash counted once; a tick that died after sending sends again
// under the same id; the runtime's ticks and `petrelctl run`'s flush.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { botSubject, pipelineNames } from "../../bot-runtime/src/config/render.ts";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { BotProcess } from "../../bot-runtime/src/runtime/bot-process.ts";
import { BotMetrics } from "../../bot-runtime/src/runtime/metrics.ts";
import type { BotContext, Expert, StateStore } from "../../bot-runtime/src/sdk/bot.ts";
import { routedOf } from "../../bot-runtime/src/sdk/processor.ts";
import { natsForTests, runtimeConfig } from "../../bot-runtime/test-support/jetstream-fixture.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { startRedis, type TestRedis } from "../../bot-runtime/test-support/redis.ts";
import { runBot } from "../../operator/src/cli/run.ts";
import aggregate, { timespanMs } from "./aggregate.ts";
import { eventOf, petrelExpert, testExpertContext } from "./test-support/expert-differential.ts";
import { kvState } from "./test-support/kv-state.ts";

// All cases' bots get their events, then one wait past the timespan, then each runs its cleanup once;
// one line per case: {sent: [events]} or {error} (cleanup raised), plus errors of single events.
const ORACLE = `
import json, os, sys, time
from intelmq import HARMONIZATION_CONF_FILE
from intelmq.bots.experts.aggregate.expert import AggregateExpertBot
from intelmq.lib.bot import BotLibSettings
from intelmq.lib.message import MessageFactory
from intelmq.lib.utils import load_configuration
try:
    harmonization = load_configuration(HARMONIZATION_CONF_FILE)
except ValueError:
    from pkg_resources import resource_filename
    harmonization = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))
cases = [json.loads(line) for line in sys.stdin]
bots = []
for case in cases:
    bot = AggregateExpertBot("oracle-aggregate", settings=BotLibSettings | {"logging_level": "CRITICAL", **case["params"]})
    bot.cache_get_redis_instance().flushdb()
    failed = []
    for i, fields in enumerate(case["events"]):
        try:
            bot.process_message(MessageFactory.unserialize(json.dumps(fields), harmonization=harmonization))
        except Exception as error:
            failed.append(i)
            bot._Bot__destination_pipeline.state["output"] = []
            bot.acknowledge_message()
    bots.append((bot, failed))
time.sleep(cases[0]["wait"])
for bot, failed in bots:
    bot._AggregateExpertBot__next_cleanup = 0
    # The library-mode queues are shared by all bots of the process: empty them after each.
    queues = bot._Bot__destination_pipeline.state
    queues["output"] = []
    try:
        bot.cleanup()
        print(json.dumps({"sent": [dict(m) for m in queues["output"]], "failed": failed}))
    except Exception as error:
        print(json.dumps({"error": f"{type(error).__name__}: {error}", "failed": failed}))
    queues["output"] = []
sys.stdout.flush()
os._exit(0)
`;

const event = (fields: Record<string, unknown>): Event => eventOf(fields, { "feed.name": "Aggregate test" });

const at = (second: number) => `2024-05-01T10:00:${String(second).padStart(2, "0")}+00:00`;

/** A mix of similar and different events (by classification), none with time.source first. */
function mixed(): Event[] {
  const kinds = [
    ["scanner", "a"],
    ["scanner", "b"],
    ["malware-distribution", "c"],
  ] as const;
  return Array.from({ length: 12 }, (_, i) => {
    const [type, identifier] = kinds[i % 3 === 2 && i > 6 ? 0 : i % 3] as (typeof kinds)[number];
    return event({
      "classification.type": type,
      "classification.identifier": identifier,
      "source.ip": `192.0.2.${i}`,
      "time.observation": at(i),
      ...(i > 0 && i % 4 === 0 ? { "time.source": at(30 + i) } : {}),
      ...(i % 5 === 3 ? { "extra.count": i } : {}),
      raw: Buffer.from(`line ${i}`).toString("base64"),
    });
  });
}

const CASES: Array<{ params: Record<string, unknown>; events: Event[] }> = [
  { params: { threshold: 3 }, events: mixed() },
  { params: { threshold: 1, fields: "source.ip" }, events: mixed().slice(0, 3) },
  { params: { threshold: 2, fields: " classification.type " }, events: mixed() },
  { params: { threshold: 40, fields: "classification.type" }, events: mixed() },
  {
    params: { threshold: 2, fields: "classification.type" },
    events: [
      event({ "classification.type": "spam", "time.observation": at(0) }),
      event({ "classification.type": "spam", "time.observation": at(1), "extra.count": "3" }),
      event({ "classification.type": "spam", "time.observation": at(2), "extra.count": 2.7 }),
      event({ "classification.type": "spam", "time.observation": at(3), "extra.count": "x" }),
      event({ "classification.type": "spam", "time.observation": at(4), "time.source": at(50) }),
    ],
  },
];

/** Sent events without time.source (the wall clock at the start), sorted, as comparable text. */
function comparable(events: readonly Record<string, unknown>[], from: number, to: number): string[] {
  return events
    .map(({ "time.source": start, ...rest }) => {
      const t = Date.parse(String(start));
      expect(t, `time.source ${String(start)}`).toBeGreaterThanOrEqual(from - 1);
      expect(t).toBeLessThanOrEqual(to);
      return JSON.stringify(Object.entries(rest));
    })
    .sort();
}

describe("experts.aggregate", () => {
  const nats = natsForTests();
  let redis: TestRedis;
  let buckets = 0;
  const dir = mkdtempSync(join(tmpdir(), "petrel-aggregate-"));

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh set of buckets; each call of `replica` is another process on them. */
  function shared(params: Record<string, unknown>, wrap?: (bucket: string, store: StateStore) => StateStore) {
    const { state } = kvState(nats.nc, `a${++buckets}`);
    const ctx: BotContext = {
      ...testExpertContext(),
      state: async (bucket, options) => {
        const store = await state(bucket, options);
        return wrap ? wrap(bucket, store) : store;
      },
    };
    return () => petrelExpert(aggregate, params, ctx);
  }

  /** Runs a tick and returns what it sent, with the ids. */
  async function tick(expert: Expert, flush = false) {
    const sent: Array<{ id: string; event: Event }> = [];
    await expert.tick?.(
      async (id, result) => {
        for (const { message } of routedOf(result)) sent.push({ id, event: message });
      },
      { flush },
    );
    return sent;
  }

  let inputs = 0;
  const feed = async (expert: Expert, events: readonly Event[]) => {
    const failed: number[] = [];
    for (const [i, e] of events.entries()) {
      try {
        expect(
          await expert.process(new Event(JSON.parse(e.serialize())), { id: `in-${++inputs}` }),
        ).toBeUndefined();
      } catch {
        failed.push(i);
      }
    }
    return failed;
  };

  it("sends the same aggregates as IntelMQ once the timespan is over", async () => {
    const redisParams = (db: number) => ({
      redis_cache_host: redis.host,
      redis_cache_port: redis.port,
      redis_cache_password: redis.password,
      redis_cache_db: db,
    });
    const started = Date.now();
    const experts = await Promise.all(CASES.map((c) => shared({ ...c.params, timespan: "1 second" })()));
    const [oracle, petrel] = await Promise.all([
      runOracle<unknown, { sent?: Record<string, unknown>[]; error?: string; failed: number[] }>(
        ORACLE,
        CASES.map((c, i) => ({
          params: { ...c.params, timespan: "1 second", ...redisParams(i) },
          events: c.events.map((e) => e.toDict({ withType: true })),
          wait: 1.3,
        })),
      ),
      (async () => {
        const failed = [];
        for (const [i, c] of CASES.entries()) failed.push(await feed(experts[i] as Expert, c.events));
        // Not due yet: nothing goes out.
        for (const expert of experts) expect(await tick(expert)).toEqual([]);
        await new Promise((r) => setTimeout(r, 1300));
        const sent = [];
        for (const expert of experts) sent.push(await tick(expert));
        return { failed, sent };
      })(),
    ]);
    const ended = Date.now();
    let compared = 0;
    for (const [i, c] of CASES.entries()) {
      const want = oracle[i] as { sent?: Record<string, unknown>[]; failed: number[] };
      expect(want.sent, `${JSON.stringify(c.params)}: ${JSON.stringify(want)}`).toBeDefined();
      expect(petrel.failed[i], JSON.stringify(c.params)).toEqual(want.failed);
      const got = (petrel.sent[i] ?? []).map((s) => s.event.toDict());
      expect(comparable(got, started, ended), JSON.stringify(c.params)).toEqual(
        comparable(want.sent ?? [], started, ended),
      );
      compared += got.length;
    }
    expect(compared).toBeGreaterThanOrEqual(8);
    console.log(
      `experts.aggregate: ${compared} aggregates identical to IntelMQ's over ${CASES.length} cases`,
    );
    // A second tick sends nothing more.
    for (const expert of experts) expect(await tick(expert)).toEqual([]);
  });

  it("keeps the first event's time.source, where IntelMQ fails (deviation first-event-fields-kept)", async () => {
    expect(aggregate.deviations?.map((d) => d.id)).toEqual([
      "sent-when-due",
      "first-event-fields-kept",
      "start-time-utc",
    ]);
    const events = [
      event({
        "classification.type": "spam",
        "time.observation": at(1),
        "time.source": at(0),
        "extra.count": 4,
      }),
      event({ "classification.type": "spam", "time.observation": at(2), "time.source": at(5) }),
    ];
    const [oracle] = await runOracle<unknown, { error?: string }>(ORACLE, [
      {
        params: {
          threshold: 2,
          fields: "classification.type",
          timespan: "1 second",
          redis_cache_host: redis.host,
          redis_cache_port: redis.port,
          redis_cache_password: redis.password,
          redis_cache_db: 15,
        },
        events: events.map((e) => e.toDict({ withType: true })),
        wait: 1.2,
      },
    ]);
    expect(oracle?.error).toBe("KeyExists: key 'time.source' already exists");
    const expert = await shared({ threshold: 2, fields: "classification.type", timespan: "1 second" })();
    await feed(expert, events);
    const [sent] = await tick(expert, true);
    expect(sent?.event.toDict()).toEqual({
      "feed.name": "Aggregate test",
      "classification.type": "spam",
      "time.observation": at(1),
      "time.source": at(0),
      "extra.count": 5,
      "extra.time_end": at(5),
    });
  });

  it("adds events from replicas working at once to one aggregate", async () => {
    const replica = shared({ threshold: 1, fields: "classification.type", timespan: "1 hour" });
    const experts = await Promise.all([replica(), replica(), replica()]);
    await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        (experts[i % 3] as Expert).process(
          event({
            "classification.type": "scanner",
            "source.ip": `198.51.100.${i}`,
            "time.observation": at(i % 60),
          }),
          { id: `parallel-${i}` },
        ),
      ),
    );
    // Not due: only a flush sends it; any replica may.
    expect(await tick(experts[1] as Expert)).toEqual([]);
    const sent = await tick(experts[2] as Expert, true);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.event.get("extra.count")).toBe(150);
    expect(await tick(experts[0] as Expert, true)).toEqual([]);
  });

  it("counts a redelivered input once: after its write, and when its write failed", async () => {
    let failPut = false;
    const replica = shared(
      { threshold: 1, fields: "classification.type", timespan: "1 hour" },
      (bucket, store) =>
        bucket.endsWith("-locks") || bucket.endsWith("-inputs")
          ? store
          : {
              ...store,
              put: async (key, value) => {
                if (failPut && key.startsWith("a.")) {
                  failPut = false;
                  throw new Error("the bot died here");
                }
                return store.put(key, value);
              },
            },
    );
    const first = await replica();
    const e = () => event({ "classification.type": "scanner", "time.observation": at(1) });
    await first.process(e(), { id: "r1" });
    await first.process(e(), { id: "r2" });
    // r2's acknowledgement was lost: r2 comes again, to another replica, and is not counted again.
    const second = await replica();
    await second.process(e(), { id: "r2" });
    // r3's write fails; r4 is written by the same replica; r3 comes again to the other one.
    failPut = true;
    await expect(first.process(e(), { id: "r3" })).rejects.toThrow("the bot died here");
    await first.process(e(), { id: "r4" });
    await second.process(e(), { id: "r3" });
    await first.process(e(), { id: "r3" });
    const [sent] = await tick(second, true);
    expect(sent?.event.get("extra.count")).toBe(4);
  });

  it("sends again under the same id when a tick died after sending, then forgets", async () => {
    let failTombstone = true;
    const replica = shared(
      { threshold: 1, fields: "classification.type", timespan: "1 second" },
      (bucket, store) =>
        bucket.endsWith("-locks") || bucket.endsWith("-inputs")
          ? store
          : {
              ...store,
              put: async (key, value) => {
                if (failTombstone && key.startsWith("a.") && !value.includes('"g"')) {
                  failTombstone = false;
                  throw new Error("the bot died here");
                }
                return store.put(key, value);
              },
            },
    );
    const expert = await replica();
    await feed(expert, [event({ "classification.type": "scanner", "time.observation": at(1) })]);
    const ids: string[] = [];
    const emit = async (id: string) => {
      ids.push(id);
    };
    await expect(expert.tick?.(emit, { flush: true })).rejects.toThrow("the bot died here");
    const restarted = await replica();
    await restarted.tick?.(emit, { flush: true });
    await restarted.tick?.(emit, { flush: true });
    expect(ids).toHaveLength(2);
    expect(ids[1]).toBe(ids[0]);
    // The next event of the same kind starts a new aggregate, sent under a new id.
    await feed(restarted, [event({ "classification.type": "scanner", "time.observation": at(2) })]);
    await restarted.tick?.(emit, { flush: true });
    expect(ids).toHaveLength(3);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it("rejects bad parameters and events naming the problem", async () => {
    await expect(petrelExpert(aggregate, { timespan: "soon" })).rejects.toThrow(
      /timespan must be a number and a unit/,
    );
    expect(timespanMs("2 hours")).toBe(7_200_000);
    expect(timespanMs(" 30 minutes ")).toBe(1_800_000);
    expect(timespanMs("1 hours")).toBe(3_600_000);
    expect(timespanMs("1 fortnight")).toBeUndefined();
    const expert = await shared({ fields: ["classification.type"], timespan: "1 hour" })();
    expect(() =>
      expert.process(event({ "classification.type": "spam", "extra.count": "many" }), { id: "x" }),
    ).toThrow(/extra.count "many" is not a whole number/);
  });

  it("goes out through the runtime's ticks when due", async () => {
    const config = await runtimeConfig(
      nats,
      "agg",
      {
        name: "agg",
        module: "experts.aggregate",
        parameters: { fields: "classification.type", threshold: 2, timespan: "1 second" },
        destinations: { _default: ["sink"] },
      },
      { sinks: ["sink"] },
    );
    const metrics = new BotMetrics({ pipeline: "agg", bot: "agg", module: aggregate.id, kind: "expert" });
    const proc = new BotProcess({
      config,
      module: aggregate,
      log: pino({ level: "silent" }),
      metrics,
    });
    const done = proc.run();
    const js = jetstream(nats.nc);
    for (let i = 0; i < 5; i++) {
      await js.publish(
        botSubject("agg", "agg"),
        new TextEncoder().encode(
          event({ "classification.type": i < 3 ? "scanner" : "spam", "time.observation": at(i) }).serialize(),
        ),
      );
    }
    const consumer = await js.consumers.get(pipelineNames("agg").stream, "sink");
    const out: Record<string, unknown>[] = [];
    const deadline = Date.now() + 10_000;
    while (out.length < 2 && Date.now() < deadline) {
      for await (const m of await consumer.fetch({ max_messages: 10, expires: 1000 })) {
        out.push(JSON.parse(new TextDecoder().decode(m.data)));
        m.ack();
      }
    }
    proc.stop();
    await done;
    expect(out.map((o) => [o["classification.type"], o["extra.count"]]).sort()).toEqual([
      ["scanner", 3],
      ["spam", 2],
    ]);
  });

  it("sends what it holds at the end of petrelctl run", async () => {
    const input = join(dir, "events.jsonl");
    writeFileSync(
      input,
      [0, 1, 2]
        .map((i) => event({ "classification.type": "scanner", "time.observation": at(i) }).serialize())
        .join("\n"),
    );
    const stdout = new PassThrough();
    const chunks: string[] = [];
    stdout.on("data", (c: Buffer) => chunks.push(c.toString()));
    const summary = await runBot("intelmq.bots.experts.aggregate.expert", {
      input,
      params: { threshold: 3 },
      stdout,
      stderr: new PassThrough(),
    });
    expect(summary.emitted).toEqual({ _default: 1 });
    expect(JSON.parse(chunks.join(""))).toMatchObject({ "extra.count": 3, "extra.time_end": at(2) });
  });

  it("measures its throughput", async () => {
    const expert = await shared({ threshold: 1, fields: "source.ip", timespan: "1 hour" })();
    const events = Array.from({ length: 3000 }, (_, i) =>
      event({ "source.ip": `10.0.0.${i % 20}`, "time.observation": at(i % 60) }),
    );
    const started = performance.now();
    for (let i = 0; i < events.length; i += 300) {
      await Promise.all(events.slice(i, i + 300).map((e, j) => expert.process(e, { id: `bench-${i + j}` })));
    }
    const rate = events.length / ((performance.now() - started) / 1000);
    console.log(`experts.aggregate: ${Math.round(rate)} events/s into 20 aggregates (300 inputs in flight)`);
    const sent = await tick(expert, true);
    expect(sent.reduce((n, s) => n + (s.event.get("extra.count") as number), 0)).toBe(3000);
    expect(rate).toBeGreaterThan(500);
  });
});
