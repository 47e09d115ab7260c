// Drops events seen before within redis_cache_ttl, as IntelMQ's deduplicator: the key is IntelMQ's
// message hash over the fields left by filter_keys/filter_type. Seen hashes live in a JetStream KV
// bucket shared by all replicas; storing a hash is an atomic create, so of two replicas handling the
// same event at once exactly one passes it. A local cache of hashes known to be stored answers repeats
// without a round trip; an entry there never outlives the KV entry it stands for.
// Each entry also names the input that stored it: when a bot dies after storing a hash but before its
// output was stored, the input comes back, finds its own entry, and passes the event on instead of
// losing it as a "duplicate" of itself.
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

/** A bounded map of hash → (expiry in ms, storing input), least recently used first. */
class LocalCache {
  readonly #entries = new Map<string, { expiry: number; input: string }>();
  readonly #capacity: number;
  constructor(capacity: number) {
    this.#capacity = capacity;
  }
  /** The input that stored `hash`, while the entry is fresh. */
  storedBy(hash: string, now: number): string | undefined {
    const entry = this.#entries.get(hash);
    if (entry === undefined) return undefined;
    this.#entries.delete(hash);
    if (entry.expiry <= now) return undefined;
    this.#entries.set(hash, entry);
    return entry.input;
  }
  set(hash: string, expiry: number, input: string): void {
    this.#entries.delete(hash);
    this.#entries.set(hash, { expiry, input });
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }
}

/** A KV value: the time the hash was first seen (ms), a space, and the id of the input that stored it. */
function entryValue(now: number, input: string): string {
  return `${now} ${input}`;
}
function parseEntry(value: string | undefined): { seen: number; input: string } {
  const text = value ?? "";
  const space = text.indexOf(" ");
  // Entries written before the input id was added hold the time alone.
  if (space < 0) return { seen: Number(text || Number.NaN), input: "" };
  return { seen: Number(text.slice(0, space)), input: text.slice(space + 1) };
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

    // Stores the hash unless it is there: true when the event is new (this input stored the hash now,
    // or did so on an earlier delivery that did not finish). One promise for a new hash: a
    // deduplicator creates a key per new event.
    const firstSeen = (hash: string, now: number, input: string): Promise<boolean> =>
      store.create(hash, entryValue(now, input)).then((created) => {
        if (!created) return storedByThisInput(hash, input);
        // The KV entry holds the time it was first seen, taken before its creation: never later
        // than the entry's own timestamp.
        local.set(hash, now + ttlMs - margin, input);
        return true;
      });
    const storedByThisInput = async (hash: string, input: string): Promise<boolean> => {
      const entry = parseEntry(await store.get(hash));
      if (Number.isFinite(entry.seen)) local.set(hash, entry.seen + ttlMs - margin, entry.input);
      return entry.input === input;
    };

    return {
      // Synchronous for a local hit: no promise, no round trip.
      process(event, input) {
        const hash = event.hash({ filterKeys, filterType });
        const now = Date.now();
        const storedBy = local.storedBy(hash, now);
        if (storedBy !== undefined) return storedBy === input.id ? event : undefined;
        return firstSeen(hash, now, input.id).then((isNew) => (isNew ? event : undefined));
      },
    };
  },
});
