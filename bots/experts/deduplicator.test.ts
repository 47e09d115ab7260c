// The deduplicator against a real nats-server: duplicates dropped, the TTL honoured, replicas sharing
// one KV bucket agreeing on every event, and IntelMQ's hash as the key.
import { readFileSync } from "node:fs";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { botSubject, pipelineNames } from "../../bot-runtime/src/config/render.ts";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { BotProcess } from "../../bot-runtime/src/runtime/bot-process.ts";
import { KvCreateFastPath } from "../../bot-runtime/src/runtime/kv-create.ts";
import { BotMetrics } from "../../bot-runtime/src/runtime/metrics.ts";
import { countingStore, openStateStore } from "../../bot-runtime/src/runtime/state-store.ts";
import { type BotContext, DISCARD_METRICS, type Expert } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { natsForTests, runtimeConfig } from "../../bot-runtime/test-support/jetstream-fixture.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import deduplicator, { bucketName } from "./deduplicator.ts";

const log = pino({ level: "silent" });

function event(ip: string, fields: Record<string, unknown> = {}): Event {
  const e = new Event();
  e.add("feed.name", "Example");
  e.add("source.ip", ip);
  e.add("classification.type", "scanner");
  for (const [key, value] of Object.entries(fields)) e.add(key, value);
  return e;
}

describe("experts.deduplicator", () => {
  const nats = natsForTests();
  let bucketCount = 0;

  /** The runtime's state store, with its fast create path; counts the KV calls. */
  async function kvStore(bucket: string, ttlMs: number) {
    const calls = { create: 0, get: 0 };
    const store = countingStore(
      await openStateStore(nats.nc, bucket, { ttlMs, fast: new KvCreateFastPath(nats.nc) }),
      calls,
    );
    return { store, calls };
  }

  /** Deduplicator instances (replicas) over one fresh bucket. */
  async function replicas(params: Record<string, unknown>, count = 1) {
    const parsed = parameterSchema(deduplicator).parse(params);
    const ttlMs = (parsed.redis_cache_ttl as number) * 1000;
    const { store, calls } = await kvStore(`test_dedup_${++bucketCount}`, ttlMs);
    const buckets: string[] = [];
    const ctx: BotContext = {
      botId: "dedup",
      pipeline: "test",
      log,
      signal: new AbortController().signal,
      metrics: DISCARD_METRICS,
      state: async (bucket, options) => {
        buckets.push(bucket);
        expect(options?.ttlMs).toBe(ttlMs);
        return store;
      },
    };
    const experts: Expert[] = [];
    for (let i = 0; i < count; i++) experts.push(await deduplicator.create(parsed as never, ctx));
    return { experts, calls, buckets };
  }

  let inputs = 0;
  /** Whether the event passes, as the input `id` (a new input each call unless given). */
  const passes = async (expert: Expert, e: Event, id = `input-${++inputs}`) =>
    (await expert.process(e, { id })) !== undefined;

  it("drops duplicates, ignoring the filtered keys", async () => {
    const { experts, buckets } = await replicas({});
    const [expert] = experts as [Expert];
    expect(buckets).toEqual([bucketName("dedup")]);
    expect(await passes(expert, event("192.0.2.1", { raw: "YQ==" }))).toBe(true);
    // raw and time.observation are left out by default.
    expect(
      await passes(
        expert,
        event("192.0.2.1", { raw: "Yg==", "time.observation": "2024-05-01T00:00:00+00:00" }),
      ),
    ).toBe(false);
    expect(await passes(expert, event("192.0.2.2"))).toBe(true);
    expect(await passes(expert, event("192.0.2.1", { "source.port": 22 }))).toBe(true);
  });

  it("hashes only the whitelisted keys, given as a list", async () => {
    const { experts } = await replicas({
      filter_keys: ["source.ip", " classification.type"],
      filter_type: "whitelist",
    });
    const [expert] = experts as [Expert];
    expect(await passes(expert, event("192.0.2.1", { "source.port": 22 }))).toBe(true);
    expect(await passes(expert, event("192.0.2.1", { "source.port": 23, comment: "other" }))).toBe(false);
  });

  it("passes everything with bypass, without touching state", async () => {
    const parsed = parameterSchema(deduplicator).parse({ bypass: true });
    const ctx = {
      botId: "b",
      pipeline: "t",
      log,
      signal: new AbortController().signal,
      metrics: DISCARD_METRICS,
      state: () => Promise.reject(new Error("no state")),
    };
    const expert = await deduplicator.create(parsed as never, ctx);
    expect(await passes(expert, event("192.0.2.1"))).toBe(true);
    expect(await passes(expert, event("192.0.2.1"))).toBe(true);
  });

  it("forgets an event after redis_cache_ttl seconds", async () => {
    const { experts } = await replicas({ redis_cache_ttl: 1 });
    const [expert] = experts as [Expert];
    expect(await passes(expert, event("192.0.2.1"))).toBe(true);
    expect(await passes(expert, event("192.0.2.1"))).toBe(false);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await passes(expert, event("192.0.2.1"))).toBe(true);
    expect(await passes(expert, event("192.0.2.1"))).toBe(false);
  });

  it("answers repeats from its local cache and learns hashes other replicas stored", async () => {
    const { experts, calls } = await replicas({}, 2);
    const [a, b] = experts as [Expert, Expert];
    expect(await passes(a, event("192.0.2.1"))).toBe(true);
    expect(calls).toEqual({ create: 1, get: 0 });
    expect(await passes(a, event("192.0.2.1"))).toBe(false);
    expect(calls).toEqual({ create: 1, get: 0 });
    // b has not seen it: the KV says it exists, and b remembers when it expires.
    expect(await passes(b, event("192.0.2.1"))).toBe(false);
    expect(calls).toEqual({ create: 2, get: 1 });
    expect(await passes(b, event("192.0.2.1"))).toBe(false);
    expect(calls).toEqual({ create: 2, get: 1 });
  });

  it("passes the event again for the input that stored its hash: a redelivery after a crash is no duplicate", async () => {
    const { experts, calls } = await replicas({}, 2);
    const [first, restarted] = experts as [Expert, Expert];
    // The first delivery stored the hash, then its bot died before the output was stored.
    expect(await passes(first, event("192.0.2.7"), "parser:41:0:0")).toBe(true);
    // The same input, delivered again to a fresh process, finds its own entry and passes again ...
    expect(await passes(restarted, event("192.0.2.7"), "parser:41:0:0")).toBe(true);
    expect(calls).toEqual({ create: 2, get: 1 });
    // ... also from the local cache; another input with the same event is a duplicate.
    expect(await passes(restarted, event("192.0.2.7"), "parser:41:0:0")).toBe(true);
    expect(await passes(restarted, event("192.0.2.7"), "parser:42:0:0")).toBe(false);
    expect(await passes(first, event("192.0.2.7"), "parser:42:0:0")).toBe(false);
    expect(calls).toEqual({ create: 2, get: 1 });
  });

  it("reads entries written before they named their input as seen by another input", async () => {
    const { experts } = await replicas({}, 1);
    const [expert] = experts as [Expert];
    const e = event("192.0.2.8");
    const kv = await new Kvm(nats.nc).open(`test_dedup_${bucketCount}`);
    await kv.create(e.hash({ filterKeys: new Set(["raw", "time.observation"]) }), String(Date.now()));
    expect(await passes(expert, event("192.0.2.8"))).toBe(false);
  });

  it("lets exactly one of two replicas pass each event when both see it at once", async () => {
    const { experts } = await replicas({}, 2);
    const [a, b] = experts as [Expert, Expert];
    const ips = Array.from({ length: 200 }, (_, i) => `198.51.100.${i}`);
    const results = await Promise.all(ips.flatMap((ip) => [passes(a, event(ip)), passes(b, event(ip))]));
    for (let i = 0; i < ips.length; i++) {
      expect(Number(results[2 * i]) + Number(results[2 * i + 1]), ips[i]).toBe(1);
    }
  });

  it("keys the cache by IntelMQ's hash of the event", async () => {
    const e = event("2001:db8::1", { "extra.tags": ["a", "ü"], "feed.accuracy": 80, raw: "YQ==" });
    const driver = readFileSync(
      new URL("../../bot-runtime/test-support/oracle/message_hash.py", import.meta.url),
      "utf8",
    );
    const [intelmq] = await runOracle<unknown, { hash: string }>(driver, [
      {
        message: e.toDict({ withType: true }),
        filter_keys: ["raw", "time.observation"],
        filter_type: "blacklist",
      },
    ]);
    const { experts } = await replicas({});
    const [expert] = experts as [Expert];
    // The hash is the KV key: read it back from the bucket.
    await expert.process(e, { id: "input" });
    const seen: string[] = [];
    const kv = await new Kvm(nats.nc).open(`test_dedup_${bucketCount}`);
    for await (const key of await kv.keys()) seen.push(key);
    expect(seen).toEqual([intelmq?.hash]);
  });

  it("drops duplicates across two runtime replicas sharing the queue and the KV bucket", async () => {
    const config = await runtimeConfig(
      nats,
      "dedup",
      { name: "dedup", module: "experts.deduplicator", destinations: { _default: ["sink"] } },
      { sinks: ["sink"] },
    );
    const procs = [0, 1].map(() => {
      const metrics = new BotMetrics({
        pipeline: "dedup",
        bot: "dedup",
        module: deduplicator.id,
        kind: "expert",
      });
      const proc = new BotProcess({ config, module: deduplicator, log, metrics });
      return { proc, done: proc.run() };
    });
    const js = jetstream(nats.nc);
    const jsm = await jetstreamManager(nats.nc);
    const encoder = new TextEncoder();
    // 300 distinct events, each sent three times.
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 300; i++) {
        await js.publish(
          botSubject("dedup", "dedup"),
          encoder.encode(event(`203.0.113.${i % 250}`, { "extra.n": i }).serialize()),
        );
      }
    }
    const consumer = await js.consumers.get(pipelineNames("dedup").stream, "sink");
    const out: string[] = [];
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const pending = await jsm.consumers.info(pipelineNames("dedup").stream, "dedup");
      const batch = await consumer.fetch({ max_messages: 500, expires: 1000 });
      for await (const m of batch) {
        out.push(new TextDecoder().decode(m.data));
        m.ack();
      }
      if (pending.num_pending + pending.num_ack_pending === 0 && out.length >= 300) break;
    }
    // Nothing left behind in the sink either: no duplicate slipped through after the 300.
    const sink = await jsm.consumers.info(pipelineNames("dedup").stream, "sink");
    expect(sink.num_pending + sink.num_ack_pending).toBe(0);
    for (const { proc } of procs) proc.stop();
    await Promise.all(procs.map(({ done }) => done));
    const ns = out.map((s) => JSON.parse(s)["extra.n"]);
    expect(ns).toHaveLength(300);
    expect(new Set(ns).size).toBe(300);
  });
});
