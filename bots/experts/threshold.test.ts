// The threshold expert on a real nats-server KV against IntelMQ's (library mode, on a private
// redis-server): the same events passed on with the same fields; a sliding redis_cache_ttl; replicas
// sharing one count; redelivered inputs (after a crash at any step) counted once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import type { BotContext, Expert, StateStore } from "../../bot-runtime/src/sdk/bot.ts";
import { natsForTests } from "../../bot-runtime/test-support/jetstream-fixture.ts";
import { startRedis, type TestRedis } from "../../bot-runtime/test-support/redis.ts";
import {
  type CaseOutcome,
  eventOf,
  expectSameOutcome,
  intelmqExpertOutcomes,
  petrelExpert,
  testExpertContext,
} from "./test-support/expert-differential.ts";
import { kvState } from "./test-support/kv-state.ts";
import threshold, { bucketName } from "./threshold.ts";

const MODULE = "intelmq.bots.experts.threshold.expert";

/** extra.count of the event an expert passed on, if it passed one on. */
const countOf = (result: unknown) => (result instanceof Event ? result.get("extra.count") : undefined);

const event = (fields: Record<string, unknown>): Event =>
  eventOf(fields, { "feed.name": "Threshold test", "classification.type": "scanner" });

/** Events for one comparison: similar ones differ only in filtered-out fields. */
function series(): Event[] {
  const events: Event[] = [];
  for (let i = 0; i < 14; i++) {
    events.push(
      event({
        "source.ip": i % 3 === 2 ? "192.0.2.2" : "192.0.2.1",
        "destination.port": i % 5 === 4 ? 23 : 22,
        "time.observation": `2024-05-01T10:00:${String(i).padStart(2, "0")}+00:00`,
        raw: Buffer.from(`line ${i}`).toString("base64"),
        "extra.count": i % 7 === 6 ? 2 : 1,
        ...(i % 4 === 3 ? { "source.port": 1000 + i } : {}),
      }),
    );
  }
  return events;
}

const CASES: Array<Record<string, unknown>> = [
  { threshold: 3 },
  { threshold: 1 },
  { threshold: 2, filter_keys: ["source.ip"], filter_type: "whitelist", add_keys: {} },
  { threshold: 4, filter_keys: ["source.ip", "destination.port"], filter_type: "whitelist" },
  {
    threshold: 2,
    filter_keys: ["raw", "time.observation", "source.port", "extra.count"],
    add_keys: { "classification.type": "brute-force", "source.port": "25", comment: "many", "extra.n": 1 },
  },
  { threshold: 3, filter_keys: "raw, time.observation,extra.count" },
  { threshold: 2, bypass: true },
];

describe("experts.threshold", () => {
  const nats = natsForTests();
  let redis: TestRedis;
  let buckets = 0;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.dispose();
  });

  /** A fresh bucket; each call of the returned `replica` is another process on it. */
  function shared(params: Record<string, unknown>, wrap?: (store: StateStore) => StateStore) {
    const { state, calls } = kvState(nats.nc, `t${++buckets}`);
    const ctx: BotContext = {
      ...testExpertContext(),
      state: async (bucket, options) => {
        const store = await state(bucket, options);
        return wrap ? wrap(store) : store;
      },
    };
    return { replica: () => petrelExpert(threshold, params, ctx), calls };
  }

  const redisParams = (db: number) => ({
    redis_cache_host: redis.host,
    redis_cache_port: redis.port,
    redis_cache_password: redis.password,
    redis_cache_db: db,
  });

  let inputs = 0;
  async function outcomes(expert: Expert, events: readonly Event[]) {
    const out = [];
    for (const e of events) {
      const result = await expert.process(new Event(JSON.parse(e.serialize())), { id: `in-${++inputs}` });
      out.push({ events: result ? [(result as Event).toDict()] : [] });
    }
    return out;
  }

  it("passes on the same events as IntelMQ, with the same fields", async () => {
    const events = series();
    const oracle = await intelmqExpertOutcomes(
      CASES.map((params, i) => ({ module: MODULE, params: { ...params, ...redisParams(i) }, events })),
    );
    let compared = 0;
    let passed = 0;
    for (const [i, params] of CASES.entries()) {
      const expected = oracle[i] as CaseOutcome;
      if ("init_error" in expected) throw new Error(`IntelMQ could not start: ${expected.init_error}`);
      const actual = await outcomes(await shared(params).replica(), events);
      for (const [j, want] of expected.results.entries()) {
        expectSameOutcome(actual[j], want, `${JSON.stringify(params)} event ${j}`);
        if ("events" in want) passed += want.events.length;
        compared++;
      }
    }
    expect(compared).toBe(CASES.length * 14);
    expect(passed).toBeGreaterThan(20);
    console.log(`experts.threshold: ${compared} event outcomes identical to IntelMQ's (${passed} passed on)`);
  });

  it("splits a filter_keys string at commas, where IntelMQ matches parts of it (deviation filter-keys-split)", async () => {
    expect(threshold.deviations?.map((d) => d.id)).toEqual(["filter-keys-split", "replicas-share-count"]);
    // Only extra.count differs; "extra.count_total" contains "extra.count" as text.
    const events = [1, 2, 3].map((n) => event({ "source.ip": "192.0.2.9", "extra.count": n }));
    const params = { threshold: 2, filter_keys: "raw,time.observation,extra.count_total", add_keys: {} };
    const [oracle] = await intelmqExpertOutcomes([
      { module: MODULE, params: { ...params, ...redisParams(9) }, events },
    ]);
    expect(
      (oracle as { results: unknown[] }).results.map((r) => (r as { events: unknown[] }).events.length),
    ).toEqual([0, 1, 0]);
    const petrel = await outcomes(await shared(params).replica(), events);
    expect(petrel.map((r) => r.events.length)).toEqual([0, 0, 0]);
  });

  it("keeps counting while similar events come within redis_cache_ttl of each other, and forgets after", async () => {
    const expert = await shared({ threshold: 3, redis_cache_ttl: 1 }).replica();
    const e = () => event({ "source.ip": "192.0.2.3" });
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const passedOn = async () => (await outcomes(expert, [e()]))[0]?.events.length;
    expect(await passedOn()).toBe(0);
    await pause(600);
    expect(await passedOn()).toBe(0);
    await pause(600);
    // 1.2 s after the first: still counted, as each event restarted the time.
    expect(await passedOn()).toBe(1);
    expect(await passedOn()).toBe(0);
    await pause(2600);
    expect(await passedOn()).toBe(0);
    expect(await passedOn()).toBe(0);
    expect(await passedOn()).toBe(1);
  });

  it("lets replicas share one count: exactly one of them passes the threshold event on", async () => {
    const { replica } = shared({ threshold: 20, filter_keys: ["source.ip"], filter_type: "whitelist" });
    const [a, b, c] = await Promise.all([replica(), replica(), replica()]);
    const experts = [a, b, c] as Expert[];
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (experts[i % 3] as Expert).process(event({ "source.ip": "198.51.100.7", "extra.n": i }), {
          id: `concurrent-${i}`,
        }),
      ),
    );
    const passed = results.filter((r) => r !== undefined) as Event[];
    expect(passed).toHaveLength(1);
    expect(passed[0]?.get("extra.count")).toBe(20);
  });

  it("counts a redelivered input once, whichever step its first delivery died at", async () => {
    // Each first delivery dies at a different store call (claim, slot, count; 0: after all of them,
    // before its acknowledgement); the same input then comes to a new replica.
    for (const failAt of [1, 2, 3, 0]) {
      let storeCalls = 0;
      let armed = false;
      const crashing = (store: StateStore): StateStore => {
        const step =
          <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
          async (...args: A): Promise<R> => {
            if (armed && ++storeCalls === failAt) {
              armed = false;
              throw new Error("the bot died here");
            }
            return call(...args);
          };
        return {
          get: step(store.get),
          put: step(store.put),
          create: step(store.create),
          delete: step(store.delete),
        };
      };
      const { replica } = shared({ threshold: 3, add_keys: {} }, crashing);
      const first = await replica();
      const e = () => event({ "source.ip": "203.0.113.5" });
      expect(await first.process(e(), { id: "a" })).toBeUndefined();
      // Input "b" dies while being counted ...
      storeCalls = 0;
      armed = failAt > 0;
      if (failAt > 0) await expect(first.process(e(), { id: "b" })).rejects.toThrow("the bot died here");
      else expect(await first.process(e(), { id: "b" })).toBeUndefined();
      // ... and comes again to a new replica: it is the second, not the third.
      const restarted = await replica();
      expect(await restarted.process(e(), { id: "b" }), `failAt ${failAt}`).toBeUndefined();
      const third = await restarted.process(e(), { id: "c" });
      expect(countOf(third), `failAt ${failAt}`).toBe(3);
    }
  });

  it("passes the threshold event on again when its input comes again, and no other", async () => {
    const { replica } = shared({ threshold: 2, add_keys: {} });
    const first = await replica();
    const e = () => event({ "source.ip": "203.0.113.6" });
    expect(await first.process(e(), { id: "x1" })).toBeUndefined();
    expect(countOf(await first.process(e(), { id: "x2" }))).toBe(2);
    // x2's bot died before its input was acknowledged: x2 comes again, to another replica.
    const other = await replica();
    expect(countOf(await other.process(e(), { id: "x2" }))).toBe(2);
    expect(await other.process(e(), { id: "x3" })).toBeUndefined();
    expect(countOf(await first.process(e(), { id: "x2" }))).toBe(2);
    expect(await first.process(e(), { id: "x1" })).toBeUndefined();
  });

  it("stores its count under IntelMQ's hash in its own bucket, and past the threshold only refreshes it", async () => {
    const { replica, calls } = shared({ threshold: 2 });
    const expert = await replica();
    const e = () => event({ "source.ip": "203.0.113.7" });
    await expert.process(e(), { id: "p1" });
    await expert.process(e(), { id: "p2" });
    const before = { ...calls };
    for (let i = 3; i <= 10; i++) await expert.process(e(), { id: `p${i}` });
    expect(calls.create - before.create).toBe(0);
    expect(calls.get - before.get).toBe(0);
    expect(calls.put - before.put).toBe(8);
    expect(bucketName("test-expert")).toBe("threshold-test-expert");
  });

  it("measures its throughput", async () => {
    const expert = await shared({
      threshold: 50,
      filter_keys: ["source.ip"],
      filter_type: "whitelist",
    }).replica();
    const events = Array.from({ length: 2000 }, (_, i) =>
      event({ "source.ip": `10.0.${(i >> 8) & 255}.${i & 255}` }),
    );
    const started = performance.now();
    // As the runtime does: many inputs in flight at once.
    for (let i = 0; i < events.length; i += 200) {
      await Promise.all(events.slice(i, i + 200).map((e, j) => expert.process(e, { id: `bench-${i + j}` })));
    }
    const rate = events.length / ((performance.now() - started) / 1000);
    console.log(`experts.threshold: ${Math.round(rate)} events/s below the threshold (3 KV calls each)`);
    expect(rate).toBeGreaterThan(500);
  });
});
