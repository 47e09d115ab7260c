// An append-only log of entries in a bot's state store (JetStream KV), for outputs that collect events
// and deliver them later in other groupings (smtp_batch mails once per contact). Writers — every
// replica — only ever create new keys chunk.<n> with the atomic create, so no write is lost to a
// concurrent one; the one reader (whoever holds the lock) rewrites or retires chunks once their
// entries were delivered, and moves the cursor, the first chunk that may still hold entries.
//
// Retired chunks stay as tombstones for an hour before they are deleted, so a writer that read an
// old cursor cannot create a chunk behind the reader's back; a chunk number is never reused sooner.
import { randomBytes } from "node:crypto";
import type { StateStore } from "../../bot-runtime/src/sdk/bot.ts";

/** JetStream's default maximum message size is 1 MiB; a chunk stays well below it. */
const MAX_CHUNK_BYTES = 512 * 1024;
const TOMBSTONE_AGE_MS = 60 * 60_000;

interface Chunk {
  /** Unix ms of creation. */
  at: number;
  entries?: string[];
  /** Set when retired: Unix ms. */
  done?: number;
}

export interface LogEntry {
  readonly chunk: number;
  readonly value: string;
  /** When the chunk holding it was written (Unix ms). */
  readonly at: number;
}

const chunkKey = (n: number) => `chunk.${n}`;

export class StateLog {
  readonly #store: StateStore;
  readonly #owner = randomBytes(8).toString("hex");
  #next = 0;

  constructor(store: StateStore) {
    this.#store = store;
  }

  async #cursor(): Promise<number> {
    return Number((await this.#store.get("cursor")) ?? 0);
  }

  /** Appends entries; resolves once they are stored. */
  async append(values: readonly string[]): Promise<void> {
    const chunks: string[][] = [];
    let size = 0;
    for (const value of values) {
      const bytes = Buffer.byteLength(value) + 4;
      if (bytes > MAX_CHUNK_BYTES)
        throw new Error(`an entry of ${bytes} bytes is larger than the state store takes`);
      if (chunks.length === 0 || size + bytes > MAX_CHUNK_BYTES) {
        chunks.push([]);
        size = 0;
      }
      (chunks[chunks.length - 1] as string[]).push(value);
      size += bytes;
    }
    for (const entries of chunks) {
      const value = JSON.stringify({ at: Date.now(), entries } satisfies Chunk);
      let n = Math.max(this.#next, await this.#cursor());
      while (!(await this.#store.create(chunkKey(n), value))) n++;
      this.#next = n + 1;
    }
  }

  /** Runs `fn` while holding the reader's lock; returns false when another reader holds it. */
  async whileLocked(ttlMs: number, fn: (renew: () => Promise<void>) => Promise<void>): Promise<boolean> {
    const mine = () => JSON.stringify({ owner: this.#owner, until: Date.now() + ttlMs });
    if (!(await this.#store.create("lock", mine()))) {
      const held = JSON.parse((await this.#store.get("lock")) ?? "null") as { until: number } | null;
      if (held && held.until > Date.now()) return false;
      await this.#store.delete("lock");
      if (!(await this.#store.create("lock", mine()))) return false;
    }
    try {
      await fn(() => this.#store.put("lock", mine()));
    } finally {
      const held = JSON.parse((await this.#store.get("lock")) ?? "null") as { owner: string } | null;
      if (held?.owner === this.#owner) await this.#store.delete("lock");
    }
    return true;
  }

  /** Reads every entry from the cursor on (call while locked), for `remove` and `finish`. */
  async read(): Promise<LogRound> {
    const cursor = await this.#cursor();
    const chunks = new Map<number, Chunk>();
    let n = cursor;
    for (; ; n++) {
      const text = await this.#store.get(chunkKey(n));
      if (text === undefined) break;
      chunks.set(n, JSON.parse(text) as Chunk);
    }
    return new LogRound(this.#store, cursor, n, chunks);
  }
}

/** One reader's pass over the log. */
export class LogRound {
  readonly #store: StateStore;
  readonly #cursor: number;
  readonly #end: number;
  readonly #chunks: Map<number, Chunk>;

  constructor(store: StateStore, cursor: number, end: number, chunks: Map<number, Chunk>) {
    this.#store = store;
    this.#cursor = cursor;
    this.#end = end;
    this.#chunks = chunks;
  }

  get entries(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const [chunk, { entries = [], at }] of this.#chunks) {
      for (const value of entries) out.push({ chunk, value, at });
    }
    return out;
  }

  /** Removes delivered entries from their chunks, at once (a crash after this does not repeat them). */
  async remove(delivered: readonly LogEntry[]): Promise<void> {
    for (const n of new Set(delivered.map((entry) => entry.chunk))) {
      const chunk = this.#chunks.get(n);
      if (!chunk?.entries) continue;
      // Removed by value, once per delivered entry: equal entries in a chunk are separate events.
      const remaining = [...chunk.entries];
      for (const entry of delivered) {
        if (entry.chunk !== n) continue;
        const i = remaining.indexOf(entry.value);
        if (i >= 0) remaining.splice(i, 1);
      }
      const next: Chunk =
        remaining.length > 0 ? { at: chunk.at, entries: remaining } : { at: chunk.at, done: Date.now() };
      await this.#store.put(chunkKey(n), JSON.stringify(next));
      this.#chunks.set(n, next);
    }
  }

  /** Moves the cursor past retired chunks and deletes tombstones old enough. */
  async finish(): Promise<void> {
    let cursor = this.#end;
    for (const [n, chunk] of this.#chunks) {
      if (chunk.entries && chunk.entries.length > 0) {
        cursor = Math.min(cursor, n);
      }
    }
    if (cursor !== this.#cursor) await this.#store.put("cursor", String(cursor));
    const floor = Number((await this.#store.get("floor")) ?? 0);
    let n = floor;
    for (; n < cursor; n++) {
      const text = await this.#store.get(chunkKey(n));
      if (text === undefined) continue;
      const chunk = JSON.parse(text) as Chunk;
      if (chunk.done === undefined || Date.now() - chunk.done < TOMBSTONE_AGE_MS) break;
      await this.#store.delete(chunkKey(n));
    }
    if (n !== floor) await this.#store.put("floor", String(n));
  }
}
