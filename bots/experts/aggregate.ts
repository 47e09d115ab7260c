// Aggregates similar events (same values of `fields`) over `timespan` from the first one, as IntelMQ's
// aggregate expert: when the timespan is over, one event goes on — the first event, with
// extra.count (the events counted, each counting its own extra.count or 1), extra.time_end (the last
// event's time.source, else time.observation) and time.source (when the first event had none: the time
// the aggregation started) — if the count reached `threshold`; else the aggregate is dropped. Inputs
// produce nothing themselves; aggregates go out from tick(), within a tick of being due.
//
// State, in JetStream KV shared by the replicas (the store has get, put and an atomic create, no
// compare-and-set and no key listing):
// - "a.<hash>" holds an aggregate as JSON. It is read, changed and written back only under a lock:
//   "a.<hash>" in a bucket whose entries expire after LOCK_LEASE_MS, taken with create (so a holder
//   that dies frees it by expiry) and deleted after the write. Events of one hash that arrive while a
//   write is under way are written together, in one turn of the lock.
// - "q.<n>" is the index tick() needs: each new aggregate takes the next free slot n (with create), so
//   aggregates are listed in the order they started, which is the order they fall due (all have the
//   same timespan). "q.cursor" is the first slot not settled yet; tick() walks from there to the first
//   aggregate that is not due. Slots are never deleted (they expire), so no slot number is taken twice.
// - Redelivery: before an input is counted, "<digest of its id>" is created in an inputs bucket with
//   "<replica>:<write number>"; each aggregate records, for every replica that wrote it, its last
//   write number and those of its writes that failed. An input that comes again (its bot died before
//   acknowledging it, or its write failed) finds its entry and is skipped if that write happened,
//   counted if it did not. A write that failed may still have been stored; the replica learns which
//   under the lock of its next write to the aggregate, before its write number can pass the failed one.
// - Emission: tick() sends a due aggregate with the id "<hash>.<generation>", and only after that
//   resolved replaces it by an empty record (which keeps the write numbers); a tick that died between
//   the two sends it again under the same id, which JetStream drops as a duplicate.
import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { pyInt } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { Event, parseMessage } from "../../bot-runtime/src/event/message.ts";
import { defineExpert, type StateStore, type TickEmit } from "../../bot-runtime/src/sdk/bot.ts";
import { parseRelativeSeconds } from "../../bot-runtime/src/sdk/relative-time.ts";

/** A lock's lifetime: how long a replica that died holding one blocks its aggregate. */
export const LOCK_LEASE_MS = 10_000;
/** How long inputs are remembered, for redelivery after a crash. */
export const INPUT_MEMORY_MS = 3_600_000;
/** How long an aggregate outlives its due time when no replica runs to send it. */
const RETAIN_MS = 86_400_000;

/** IntelMQ's parse_relative ("1 hour", "30 minutes") in milliseconds, or undefined. */
export function timespanMs(text: string): number | undefined {
  const seconds = parseRelativeSeconds(text);
  return seconds === undefined ? undefined : seconds * 1000;
}

/** An aggregate: generation, queue slot, start (ms), first event, count, last time, replica writes. */
interface Aggregate {
  g?: string;
  k?: number;
  s?: number;
  d?: string;
  c?: number;
  l?: string;
  /** Replica → [its last write number, when, its write numbers that did not happen]. */
  w: Record<string, [number, number, number[]?]>;
}

interface Pending {
  event: Event;
  input: string;
  count: number;
  time: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const safe = (botId: string) => botId.replace(/[^A-Za-z0-9_-]/g, "_");
const digest = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 40);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function parseAggregate(text: string | undefined): Aggregate {
  // A deleted key reads as "": no aggregate.
  return text ? (JSON.parse(text) as Aggregate) : { w: {} };
}

export default defineExpert({
  id: "experts.aggregate",
  intelmqModules: ["intelmq.bots.experts.aggregate.expert"],
  kind: "expert",
  description:
    "Counts similar events (same values of fields) over timespan and then sends the first of them with extra.count and extra.time_end, if the count reached threshold.",
  parameters: z.object({
    fields: z
      .union([z.string(), z.array(z.string())])
      .default("classification.type, classification.identifier")
      .describe("Fields whose values make events similar: comma-separated (IntelMQ) or a list."),
    threshold: z
      .number()
      .int()
      .default(10)
      .describe("Aggregates that counted fewer events when their timespan is over are dropped."),
    timespan: z
      .string()
      .default("1 hour")
      .refine((t) => timespanMs(t) !== undefined, {
        message: 'timespan must be a number and a unit, e.g. "1 hour", "30 minutes", "2 days"',
      })
      .describe(
        "How long an aggregate collects events, from its first one: a number and second, minute, hour, day, week, month or year.",
      ),
    redis_cache_host: z.string().optional().describe("Accepted for IntelMQ configurations; unused."),
    redis_cache_port: z.number().int().optional().describe("Accepted for IntelMQ configurations; unused."),
    redis_cache_db: z.number().int().optional().describe("Accepted for IntelMQ configurations; unused."),
    redis_cache_password: z
      .string()
      .nullable()
      .optional()
      .describe("Accepted for IntelMQ configurations; unused."),
    redis_cache_ttl: z
      .number()
      .int()
      .optional()
      .describe("Accepted for IntelMQ configurations; unused (as in IntelMQ: it would lose aggregates)."),
  }),
  deviations: [
    {
      id: "sent-when-due",
      summary:
        "Aggregates are sent within a second of their timespan ending; IntelMQ sends them only while events come in (at most every 10 s) or when the bot starts.",
      reason: "IntelMQ's documentation asks to reload the bot by cron so that quiet aggregates are not lost.",
    },
    {
      id: "first-event-fields-kept",
      summary:
        "When the first event has time.source it is kept (extra.count and extra.time_end are replaced); IntelMQ raises KeyExists and never sends or deletes that aggregate.",
      reason: "Most events have time.source; IntelMQ's aggregate cannot send them at all.",
    },
    {
      id: "start-time-utc",
      summary:
        "time.source of an aggregate whose first event had none is the UTC time the aggregation started; IntelMQ takes its host's local time as UTC.",
      reason: "The two agree on hosts running in UTC; elsewhere IntelMQ's time is off by the UTC offset.",
    },
  ],
  async create(params, ctx) {
    const names = typeof params.fields === "string" ? params.fields.split(",") : params.fields;
    const filterKeys = new Set(names.map((k) => pyStrip(k)));
    const span = timespanMs(params.timespan) as number;
    const threshold = params.threshold;
    const name = safe(ctx.botId);
    const [store, locks, inputs]: StateStore[] = (await Promise.all([
      ctx.state(`aggregate-${name}`, { ttlMs: span + RETAIN_MS }),
      ctx.state(`aggregate-${name}-locks`, { ttlMs: LOCK_LEASE_MS }),
      ctx.state(`aggregate-${name}-inputs`, { ttlMs: INPUT_MEMORY_MS }),
    ])) as [StateStore, StateStore, StateStore];
    const replica = randomUUID().slice(0, 13);
    let writes = 0;
    let queueHead = 0;
    let cursorWritten = 0;
    // Per hash: numbers of this replica's writes that threw, not yet known to have happened or not.
    const unsure = new Map<string, number[]>();

    /** Runs `work` holding lock `key`; refuses to write once the lease may have run out. */
    const locked = async <T>(key: string, work: (stillHeld: () => void) => Promise<T>): Promise<T> => {
      const deadline = Date.now() + 2 * LOCK_LEASE_MS;
      for (let wait = 2; !(await locks.create(key, replica)); wait = Math.min(wait * 2, 100)) {
        if (Date.now() > deadline) throw new Error(`aggregate state ${key} stayed locked by another replica`);
        await sleep(wait);
      }
      const taken = Date.now();
      const stillHeld = () => {
        if (Date.now() - taken > LOCK_LEASE_MS / 2) throw new Error(`lock on ${key} held too long; retrying`);
      };
      try {
        return await work(stillHeld);
      } finally {
        await locks.delete(key);
      }
    };

    /** Takes the next free queue slot for a new aggregate. */
    const enqueue = async (entry: string): Promise<number> => {
      if (queueHead === 0) {
        const [head, cursor] = await Promise.all([store.get("q.head"), store.get("q.cursor")]);
        queueHead = Math.max(Number(head) || 0, (Number(cursor) || 1) - 1);
      }
      for (let slot = queueHead + 1, misses = 0; ; slot++, misses++) {
        if (misses === 3) slot = Math.max(slot, (Number(await store.get("q.head")) || 0) + 1);
        if (await store.create(`q.${slot}`, entry)) {
          queueHead = slot;
          await store.put("q.head", String(slot));
          return slot;
        }
      }
    };

    /** Counts a batch of events of one aggregate in one write. */
    const write = async (hash: string, batch: Pending[]): Promise<void> => {
      const number = ++writes;
      const token = `${replica}:${number}`;
      const key = `a.${hash}`;
      await locked(key, async (stillHeld) => {
        const [created, state] = await Promise.all([
          Promise.all(batch.map((p) => inputs.create(digest(p.input), token))),
          store.get(key).then(parseAggregate),
        ]);
        const fresh: Pending[] = [];
        for (const [i, p] of batch.entries()) {
          if (!created[i]) {
            // Seen before: counted if the write it was part of happened.
            const [who, n] = ((await inputs.get(digest(p.input))) ?? "").split(":");
            const writer = who === undefined ? undefined : state.w[who];
            if (writer && writer[0] >= Number(n) && !writer[2]?.includes(Number(n))) continue;
            await inputs.put(digest(p.input), token);
          }
          fresh.push(p);
        }
        const now = Date.now();
        // This replica's writes that threw without reaching the store are recorded as not done before
        // its write number moves past them.
        const mine = state.w[replica];
        const failed = [
          ...(mine?.[2] ?? []),
          ...(unsure.get(hash) ?? []).filter((n) => n > (mine?.[0] ?? 0)),
        ];
        if (fresh.length === 0 && failed.length === (mine?.[2]?.length ?? 0)) return;
        let next = state;
        if (state.g === undefined && fresh.length > 0) {
          const g = randomUUID().slice(0, 13);
          const first = fresh[0] as Pending;
          next = {
            g,
            k: await enqueue(`${hash} ${g}`),
            s: now,
            d: first.event.serialize(),
            c: 0,
            w: state.w,
          };
        }
        for (const p of fresh) {
          next.c = (next.c ?? 0) + p.count;
          next.l = p.time;
        }
        for (const [who, [, at]] of Object.entries(next.w))
          if (now - at > INPUT_MEMORY_MS) delete next.w[who];
        next.w[replica] = failed.length > 0 ? [number, now, failed] : [number, now];
        stillHeld();
        await store.put(key, JSON.stringify(next));
      }).then(
        () => unsure.delete(hash),
        (error: unknown) => {
          unsure.set(hash, [...(unsure.get(hash) ?? []), number]);
          throw error;
        },
      );
    };

    // Events of one hash waiting for the write under way; present while a writer loop runs for it.
    const waiting = new Map<string, Pending[]>();
    const writeLoop = async (hash: string) => {
      for (;;) {
        const batch = waiting.get(hash) as Pending[];
        if (batch.length === 0) {
          waiting.delete(hash);
          return;
        }
        waiting.set(hash, []);
        try {
          await write(hash, batch);
          for (const p of batch) p.resolve();
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    };

    /** The aggregate as it goes out: the first event's fields sorted by name, as IntelMQ stores it. */
    const outgoing = (state: Aggregate): Event => {
      const fields = (parseMessage(state.d as string, { defaultType: "Event" }) as Event).toDict();
      const event = new Event();
      for (const key of Object.keys(fields).sort()) event.add(key, fields[key], { sanitize: false });
      if (!event.has("time.source")) event.add("time.source", new Date(state.s as number).toISOString());
      event.add("extra.count", state.c, { overwrite: true });
      event.add("extra.time_end", state.l, { overwrite: true });
      return event;
    };

    /** Sends (or drops) the aggregate of queue entry "hash generation" if due; false if not due yet. */
    const settle = (entry: string, flush: boolean, emit: TickEmit) => {
      const [hash, g] = entry.split(" ") as [string, string];
      return locked(`a.${hash}`, async (stillHeld) => {
        const state = parseAggregate(await store.get(`a.${hash}`));
        if (state.g !== g) return true;
        if (!flush && Date.now() < (state.s as number) + span) return false;
        if ((state.c ?? 0) >= threshold) await emit(`${hash}.${g}`, outgoing(state));
        stillHeld();
        await store.put(`a.${hash}`, JSON.stringify({ w: state.w }));
        return true;
      });
    };

    return {
      tickIntervalMs: Math.min(1000, Math.max(100, span / 10)),
      process(event, input) {
        const hash = event.hash({ filterKeys, filterType: "whitelist" });
        const extraCount = event.get("extra.count");
        const count = extraCount === undefined ? 1 : pyInt(extraCount);
        if (count === undefined) {
          throw new Error(
            `extra.count ${JSON.stringify(extraCount)} is not a whole number to add to the aggregate`,
          );
        }
        const time = (event.get("time.source") || event.get("time.observation")) as string | undefined;
        if (!time) throw new Error("the event has neither time.source nor time.observation to aggregate");
        return new Promise<undefined>((resolve, reject) => {
          const pending = { event, input: input.id, count, time, resolve: () => resolve(undefined), reject };
          const queue = waiting.get(hash);
          if (queue) queue.push(pending);
          else {
            waiting.set(hash, [pending]);
            void writeLoop(hash);
          }
        });
      },
      async tick(emit, { flush }) {
        if (!(await locks.create("tick", replica))) return;
        const start = Number(await store.get("q.cursor")) || 1;
        let cursor = start;
        try {
          for (;;) {
            const entry = await store.get(`q.${cursor}`);
            if (!entry || !(await settle(entry, flush, emit))) break;
            cursor++;
          }
        } finally {
          // Also rewritten now and then unchanged, so that it never expires while the bot runs.
          if (cursor !== start || Date.now() - cursorWritten > 600_000) {
            await store.put("q.cursor", String(cursor));
            cursorWritten = Date.now();
          }
          await locks.delete("tick");
        }
      },
    };
  },
});
