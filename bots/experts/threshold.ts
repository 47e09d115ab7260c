// Passes on the one event that makes the count of similar events reach `threshold`, as IntelMQ's
// threshold expert: "similar" is IntelMQ's message hash over the fields chosen by filter_keys/filter_type;
// the count is forgotten redis_cache_ttl seconds after the last similar event (every event restarts
// that time); the event passed on gets add_keys and extra.count = threshold; the others are dropped.
//
// The count lives in a JetStream KV bucket shared by the bot's replicas. The store offers get, put and
// an atomic create, but no compare-and-set, so the count is not one number that is read and rewritten
// (two replicas would both write 5). Instead every counted input takes a numbered slot,
// "<hash>.<n>", with create: exactly one input gets each n, and the input that gets n = threshold is
// the one passed on. "<hash>" holds the highest n known; it is rewritten by every event (so it expires
// redis_cache_ttl after the last one, ending the series) and tells where the next input starts looking.
// Slots above the threshold are not taken: past it, an event only refreshes "<hash>".
//
// Redelivery: an input whose bot died before its input was acknowledged comes again, possibly to
// another replica. It must not take a second slot. Before taking one, an input creates
// "<hash>.i.<its id's digest>" holding the count it started from; if that already exists, the input
// has been here before and looks for a slot holding its own id from that count on (taking the next
// free one if its first delivery died before it got one). The input that owns slot `threshold` is
// passed on again when it comes again; the runtime publishes outputs under ids derived from the input,
// so JetStream drops the copy if the first one was stored.
import { createHash } from "node:crypto";
import { z } from "zod";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { defineExpert, type StateStore } from "../../bot-runtime/src/sdk/bot.ts";

const ignoredRedisSetting = (what: string) =>
  `Accepted for IntelMQ configurations and ignored: Petrel keeps the counts in JetStream KV (${what}).`;

/** Hashes with a local hint; about 150 bytes each. */
const LOCAL_ENTRIES = 100_000;

/** What this replica knows of a series: the highest count seen, when, and who took the last slot. */
interface Hint {
  count: number;
  seenAt: number;
  owner?: string;
}

/** KV bucket names allow letters, digits, '-' and '_'. */
export function bucketName(botId: string): string {
  return `threshold-${botId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

const digest = (id: string) => createHash("sha256").update(id).digest("hex").slice(0, 32);

export default defineExpert({
  id: "experts.threshold",
  intelmqModules: ["intelmq.bots.experts.threshold.expert"],
  kind: "expert",
  description:
    "Passes on the event that makes the count of similar events (same hash over filter_keys) reach threshold within redis_cache_ttl seconds of each other; drops the rest.",
  parameters: z.object({
    filter_keys: z
      .union([z.string(), z.array(z.string())])
      .default(["raw", "time.observation"])
      .describe(
        "Fields left out of (blacklist) or making up (whitelist) the similarity hash; a list or comma-separated. time.observation is always left out.",
      ),
    filter_type: z
      .enum(["blacklist", "whitelist"])
      .default("blacklist")
      .describe("blacklist: hash all fields but filter_keys; whitelist: hash only filter_keys."),
    threshold: z
      .number()
      .int()
      .positive()
      .default(100)
      .describe("The count of similar events at which one is passed on (it gets extra.count)."),
    redis_cache_ttl: z
      .number()
      .int()
      .positive()
      .default(3600)
      .describe("Seconds a count is kept after the last similar event (IntelMQ's name)."),
    add_keys: z
      .record(z.string(), z.unknown())
      .default({ comment: "Threshold reached" })
      .describe("Fields set on the event passed on (replacing values it has)."),
    bypass: z.boolean().default(false).describe("Pass every event on without counting."),
    redis_cache_host: z.string().optional().describe(ignoredRedisSetting("host")),
    redis_cache_port: z.number().int().optional().describe(ignoredRedisSetting("port")),
    redis_cache_db: z.number().int().optional().describe(ignoredRedisSetting("database")),
    redis_cache_password: z.string().nullable().optional().describe(ignoredRedisSetting("password")),
  }),
  deviations: [
    {
      id: "filter-keys-split",
      summary:
        'filter_keys given as a string is split at commas into field names; IntelMQ uses the string as is, so a field counts as listed when its name is any part of the string (extra.count is listed by "extra.count_total").',
      reason: "IntelMQ documents filter_keys as an array or a comma-separated list.",
    },
    {
      id: "replicas-share-count",
      summary:
        "Replicas share one count per hash, atomically, and a redelivered input is not counted twice; IntelMQ's bot must run as a single instance.",
      reason: "Petrel scales bots to replicas and redelivers inputs whose bot died.",
    },
  ],
  async create(params, ctx) {
    if (params.bypass) return { process: (event) => event };
    const names = typeof params.filter_keys === "string" ? params.filter_keys.split(",") : params.filter_keys;
    const filterKeys = new Set(names.map((k) => pyStrip(k)));
    const filterType = params.filter_type;
    const threshold = params.threshold;
    const addKeys = params.add_keys;
    const ttlMs = params.redis_cache_ttl * 1000;
    // A local hint is trusted a little less long than the KV entry it came from lives.
    const hintLifetime = ttlMs - Math.min(ttlMs / 10, 10_000);
    const store: StateStore = await ctx.state(bucketName(ctx.botId), { ttlMs });
    const hints = new Map<string, Hint>();
    // One series is handled by one input at a time per replica: no replica races itself for slots.
    const busy = new Map<string, Promise<unknown>>();

    const remember = (hash: string, hint: Hint) => {
      hints.delete(hash);
      hints.set(hash, hint);
      if (hints.size > LOCAL_ENTRIES) hints.delete(hints.keys().next().value as string);
    };

    /** The count this input makes (counting it once, however often it comes), or 0 past the threshold. */
    const count = async (hash: string, input: string): Promise<number> => {
      const now = Date.now();
      const hint = hints.get(hash);
      const known =
        hint !== undefined && now - hint.seenAt < hintLifetime
          ? hint
          : { count: Number((await store.get(hash)) ?? 0) || 0, seenAt: now };
      if (known.count >= threshold) {
        // Past the threshold: nothing to count; only the input that reached it is passed on again.
        const owner = known.owner ?? (await store.get(`${hash}.${threshold}`)) ?? "";
        await store.put(hash, String(known.count));
        remember(hash, { count: known.count, seenAt: now, owner });
        return owner === input ? threshold : 0;
      }
      const claim = `${hash}.i.${digest(input)}`;
      let from = known.count;
      const again = !(await store.create(claim, String(from)));
      if (again) from = Math.min(Number((await store.get(claim)) ?? from) || 0, from);
      let slot = from + 1;
      for (let misses = 1; slot <= threshold; slot++, misses++) {
        if (await store.create(`${hash}.${slot}`, input)) break;
        if (again && (await store.get(`${hash}.${slot}`)) === input) break;
        // Other replicas are ahead: skip to the highest count they wrote (never past a slot that may
        // be this input's own).
        if (!again && misses % 4 === 0) slot = Math.max(slot, Number((await store.get(hash)) ?? 0) || 0);
      }
      const highest = Math.max(known.count, Math.min(slot, threshold));
      await store.put(hash, String(highest));
      remember(hash, { count: highest, seenAt: now, ...(slot === threshold ? { owner: input } : {}) });
      return slot <= threshold ? slot : 0;
    };

    const serialized = (hash: string, input: string): Promise<number> => {
      const previous = busy.get(hash) ?? Promise.resolve();
      const mine = previous.then(
        () => count(hash, input),
        () => count(hash, input),
      );
      const settled = mine.catch(() => undefined);
      busy.set(hash, settled);
      void settled.then(() => {
        if (busy.get(hash) === settled) busy.delete(hash);
      });
      return mine;
    };

    return {
      process(event, input) {
        const hash = event.hash({ filterKeys, filterType });
        return serialized(hash, input.id).then((n) => {
          if (n !== threshold) return undefined;
          event.update(addKeys);
          event.add("extra.count", threshold, { overwrite: true });
          return event;
        });
      },
    };
  },
});
