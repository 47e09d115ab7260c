// Drops events seen before within redis_cache_ttl, as IntelMQ's deduplicator: the key is IntelMQ's
// message hash over the fields left by filter_keys/filter_type. Seen hashes live in a JetStream KV
// bucket shared by all replicas; storing a hash is an atomic create, so of two replicas handling the
// same event at once exactly one passes it. A local cache of hashes known to be stored answers repeats
// without a round trip; an entry there never outlives the KV entry it stands for.
import { z } from "zod";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

const ignoredRedisSetting = (what: string) =>
  `Accepted for IntelMQ configurations and ignored: Petrel keeps the cache in JetStream KV (${what}).`;

const parameters = z.object({
  filter_keys: z
    .union([z.string(), z.array(z.string())])
    .default("raw,time.observation")
    .describe("Fields left out of (blacklist) or making up (whitelist) the hash; a list or comma-separated."),
  filter_type: z
    .enum(["blacklist", "whitelist"])
    .default("blacklist")
    .describe("blacklist: hash all fields but filter_keys; whitelist: hash only filter_keys."),
  bypass: z.boolean().default(false).describe("Pass every event on without looking at the cache."),
  redis_cache_ttl: z
    .number()
    .int()
    .positive()
    .default(86400)
    .describe("Seconds an event's hash is remembered (IntelMQ's name, kept for configuration import)."),
  redis_cache_host: z.string().optional().describe(ignoredRedisSetting("host")),
  redis_cache_port: z.number().int().optional().describe(ignoredRedisSetting("port")),
  redis_cache_db: z.number().int().optional().describe(ignoredRedisSetting("database")),
  redis_cache_password: z.string().nullable().optional().describe(ignoredRedisSetting("password")),
});

/** Hashes held locally; about 100 bytes each. */
export const LOCAL_CACHE_ENTRIES = 100_000;

/** A bounded map of hash → expiry (ms), least recently used first. */
class LocalCache {
  readonly #entries = new Map<string, number>();
  readonly #capacity: number;
  constructor(capacity: number) {
    this.#capacity = capacity;
  }
  has(hash: string, now: number): boolean {
    const expiry = this.#entries.get(hash);
    if (expiry === undefined) return false;
    this.#entries.delete(hash);
    if (expiry <= now) return false;
    this.#entries.set(hash, expiry);
    return true;
  }
  set(hash: string, expiry: number): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, expiry);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}

/** KV bucket names allow letters, digits, '-' and '_'. */
export function bucketName(botId: string): string {
  return `deduplicator-${botId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

export default defineExpert({
  id: "experts.deduplicator",
  intelmqModules: ["intelmq.bots.experts.deduplicator.expert"],
  kind: "expert",
  description:
    "Drops events whose hash (over the fields chosen by filter_keys/filter_type) was seen within redis_cache_ttl seconds.",
  parameters,
  async create(params, ctx) {
    if (params.bypass) return { process: (event) => event };
    const names = typeof params.filter_keys === "string" ? params.filter_keys.split(",") : params.filter_keys;
    const filterKeys = new Set(names.map((k) => pyStrip(k)));
    const filterType = params.filter_type;
    const ttlMs = params.redis_cache_ttl * 1000;
    // Local entries expire early by this much, so clock differences between replicas and the NATS
    // server cannot make a local entry outlive its KV entry.
    const margin = Math.min(ttlMs / 10, 10_000);
    const store = await ctx.state(bucketName(ctx.botId), { ttlMs });
    const local = new LocalCache(LOCAL_CACHE_ENTRIES);

    // Stores the hash unless it is there: true when this call stored it (the event is new).
    const firstSeen = async (hash: string, now: number): Promise<boolean> => {
      // The KV entry holds the time it was first seen, taken before its creation: never later than
      // the entry's own timestamp.
      if (await store.create(hash, String(now))) {
        local.set(hash, now + ttlMs - margin);
        return true;
      }
      const seen = Number(await store.get(hash));
      if (Number.isFinite(seen)) local.set(hash, seen + ttlMs - margin);
      return false;
    };

    return {
      // Synchronous for a local hit: no promise, no round trip.
      process(event) {
        const hash = event.hash({ filterKeys, filterType });
        const now = Date.now();
        if (local.has(hash, now)) return undefined;
        return firstSeen(hash, now).then((isNew) => (isNew ? event : undefined));
      },
    };
  },
});
