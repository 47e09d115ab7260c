// The Redis output against a real redis-server (private, random port): the same list entries as IntelMQ's
// Redis output pushes for the same events, a server restart in the middle of a stream, redelivery with
// and without redis_dedup_ttl, timeouts, throughput, and petrelctl run.
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { startRedis, type TestRedis } from "../../bot-runtime/test-support/redis.ts";
import redisOutput from "./redis.ts";
import {
  createOutput,
  manyEvents,
  measureThroughput,
  petrelctlRun,
  SAMPLE_EVENTS,
  sampleEvent,
} from "./test-support/sample-events.ts";

// IntelMQ's Redis output in library mode, pushing each case's events to the real server.
const ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.redis.output import RedisOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = RedisOutputBot("oracle-redis-output", settings=library_settings(case["params"]))
    try:
        bot.process_message(*[read_message(e) for e in case["events"]])
        print(json.dumps({"error": None}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
    bot.shutdown()
sys.stdout.flush()
os._exit(0)
`;

describe("outputs.redis", () => {
  let redis: TestRedis;
  let reader: ReturnType<typeof createClient>;
  let queueNumber = 0;
  const nextQueue = () => `queue-${++queueNumber}`;

  beforeAll(async () => {
    redis = await startRedis({ aof: true });
    reader = createClient({
      socket: { host: redis.host, port: redis.port },
      password: redis.password,
      database: 2,
    });
    reader.on("error", () => undefined);
    await reader.connect();
  });
  afterAll(async () => {
    await reader?.close();
    await redis?.dispose();
  });

  const connection = () => ({
    redis_server_ip: redis.host,
    redis_server_port: redis.port,
    redis_password: redis.password,
  });
  /** The list, oldest entry first (the order BRPOP takes them). */
  const entries = async (queue: string) => (await reader.lRange(queue, 0, -1)).reverse();

  it("pushes the same JSON as IntelMQ's Redis output", async () => {
    const cases = [
      { name: "defaults (with __type, flat)", params: {} },
      { name: "hierarchical, without type", params: { hierarchical_output: true, with_type: false } },
      { name: "hierarchical with type", params: { hierarchical_output: true } },
    ].map((c) => ({ ...c, intelmqQueue: nextQueue(), petrelQueue: nextQueue() }));
    const results = await runOracle<unknown, { error: string | null }>(
      ORACLE,
      cases.map((c) => ({
        params: { ...connection(), ...c.params, redis_queue: c.intelmqQueue },
        events: oracleEvents(SAMPLE_EVENTS),
      })),
    );
    for (const [i, c] of cases.entries()) {
      expect(results[i]?.error, c.name).toBeNull();
      const output = await createOutput(redisOutput, {
        ...connection(),
        ...c.params,
        redis_queue: c.petrelQueue,
      });
      await output.write(SAMPLE_EVENTS.slice(0, 1));
      await output.write(SAMPLE_EVENTS.slice(1));
      await output.close?.();
      const expected = await entries(c.intelmqQueue);
      expect(expected, c.name).toHaveLength(SAMPLE_EVENTS.length);
      expect(await entries(c.petrelQueue), c.name).toEqual(expected);
    }
  });

  it("pushes a redelivered batch again by default, and once with redis_dedup_ttl", async () => {
    const plain = nextQueue();
    const output = await createOutput(redisOutput, { ...connection(), redis_queue: plain });
    await output.write(SAMPLE_EVENTS);
    await output.write(SAMPLE_EVENTS);
    await output.close?.();
    // A list cannot refuse a duplicate: the documented limitation without redis_dedup_ttl.
    expect(await reader.lLen(plain)).toBe(2 * SAMPLE_EVENTS.length);

    const deduplicated = nextQueue();
    const dedup = await createOutput(redisOutput, {
      ...connection(),
      redis_queue: deduplicated,
      redis_dedup_ttl: 60,
    });
    await dedup.write(SAMPLE_EVENTS);
    await dedup.write(SAMPLE_EVENTS.slice(1)); // a partial redelivery
    // The same event observed later is another event: it is pushed.
    const reobserved = SAMPLE_EVENTS[0]?.copy();
    reobserved?.add("time.observation", "2024-05-02T10:00:00+00:00", { overwrite: true });
    await dedup.write([reobserved as never]);
    await dedup.close?.();
    const pushed = await entries(deduplicated);
    expect(pushed).toHaveLength(SAMPLE_EVENTS.length + 1);
    expect(pushed.slice(0, SAMPLE_EVENTS.length)).toEqual(await entries(plain).then((e) => e.slice(0, 3)));
    const ttl = await reader.sendCommand([
      "TTL",
      (await reader.keys(`petrel-dedup:${deduplicated}:*`))[0] as string,
    ]);
    expect(Number(ttl)).toBeGreaterThan(50);
    expect(await reader.keys(`petrel-dedup:${deduplicated}:*`)).toHaveLength(SAMPLE_EVENTS.length + 1);
  });

  it("loses nothing when the server restarts in the middle of a stream", async () => {
    const events = manyEvents(3000);
    const batches: (typeof events)[] = [];
    for (let i = 0; i < events.length; i += 100) batches.push(events.slice(i, i + 100));
    for (const dedupTtl of [0, 600]) {
      const queue = nextQueue();
      const output = await createOutput(redisOutput, {
        ...connection(),
        redis_queue: queue,
        redis_timeout: 500,
        redis_dedup_ttl: dedupTtl,
      });
      let failures = 0;
      let restarted: Promise<void> | undefined;
      for (const [n, batch] of batches.entries()) {
        if (n === 10) {
          await redis.stop();
          restarted = new Promise((resolve) => setTimeout(resolve, 700)).then(() => redis.restart());
        }
        // As the runtime: a batch is retried until the sink confirms it.
        for (;;) {
          try {
            await output.write(batch);
            break;
          } catch {
            failures++;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
      await restarted;
      await output.close?.();
      expect(failures, `dedup ${dedupTtl}`).toBeGreaterThan(0);
      if (!reader.isReady) await new Promise((resolve) => reader.once("ready", resolve));
      const pushed = (await entries(queue)).map((text) => JSON.parse(text)["extra.sequence"] as number);
      // Every event is there (the AOF kept what was acknowledged before the restart), in order.
      expect(new Set(pushed).size, `dedup ${dedupTtl}`).toBe(events.length);
      if (dedupTtl > 0) expect(pushed, "exactly once with dedup").toEqual(events.map((_, i) => i));
    }
  }, 40_000);

  it(`${declaredDeviation(redisOutput, "redis-timeout-milliseconds")}: a write fails after redis_timeout ms while the server is away`, async () => {
    const output = await createOutput(redisOutput, {
      ...connection(),
      redis_queue: nextQueue(),
      redis_timeout: 300,
    });
    await redis.stop();
    try {
      const started = performance.now();
      await expect(output.write(SAMPLE_EVENTS)).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await redis.restart();
    }
    await output.close?.();
    if (!reader.isReady) await new Promise((resolve) => reader.once("ready", resolve));
  });

  it("refuses to start when the server cannot be reached or the password is wrong, naming the server", async () => {
    await expect(
      createOutput(redisOutput, {
        ...connection(),
        redis_server_port: 1,
        redis_queue: "q",
        redis_timeout: 500,
      }),
    ).rejects.toThrow(/Redis 127\.0\.0\.1:1 \(redis_server_ip, redis_server_port\)/);
    await expect(
      createOutput(redisOutput, {
        ...connection(),
        redis_password: "wrong",
        redis_queue: "q",
        redis_timeout: 500,
      }),
    ).rejects.toThrow(/Redis 127\.0\.0\.1:\d+.*(WRONGPASS|invalid)/i);
    expect(() => redisOutput.parameters.parse({})).toThrow(/redis_queue/);
  });

  it(`${declaredDeviation(redisOutput, "unencodable-text-fails")}: an event that is not valid UTF-8 fails its batch, which is not pushed`, async () => {
    const queue = nextQueue();
    const output = await createOutput(redisOutput, { ...connection(), redis_queue: queue });
    const bad = sampleEvent({ "event_description.text": "lone \ud800 surrogate" });
    await expect(output.write([SAMPLE_EVENTS[0] as never, bad])).rejects.toThrow(/surrogates not allowed/);
    await output.close?.();
    expect(await reader.lLen(queue)).toBe(0);
  });

  it("works through petrelctl run", async () => {
    const queue = nextQueue();
    const summary = await petrelctlRun(
      "intelmq.bots.outputs.redis.output",
      { ...connection(), redis_queue: queue },
      SAMPLE_EVENTS,
    );
    expect(summary.written).toBe(SAMPLE_EVENTS.length);
    expect(await reader.lLen(queue)).toBe(SAMPLE_EVENTS.length);
  });

  it("writes at least 10,000 events/s in batches of 500", async () => {
    const events = manyEvents(20_000);
    for (const dedup of [0, 3600]) {
      const queue = nextQueue();
      const output = await createOutput(redisOutput, {
        ...connection(),
        redis_queue: queue,
        redis_dedup_ttl: dedup,
      });
      const rate = await measureThroughput(output, events, 500);
      await output.close?.();
      console.log(`outputs.redis (redis_dedup_ttl ${dedup}): ${rate} events/s`);
      expect(await reader.lLen(queue)).toBe(events.length);
      expect(rate).toBeGreaterThan(dedup ? 5000 : 10_000);
    }
  }, 30_000);
});
