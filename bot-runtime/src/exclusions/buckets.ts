// The writing and reading side of a pipeline's exclusion buckets, for the operator and local mode: the
// buckets opened (created when missing, with the settings the bots use), one exclusion's entry written
// only when it changed or removed, and what the bots reported about one exclusion read back.

import { isDeepStrictEqual } from "node:util";
import type { JetStreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { type ExclusionEntry, ExclusionStats, exclusionBuckets } from "./distribution.ts";

/** Stats of processes gone long ago expire from the stats bucket (the bots create it the same way). */
export const EXCLUSION_STATS_MAX_AGE_MS = 30 * 86_400_000;

export interface ExclusionKv {
  rules: KV;
  stats: KV;
  /** The stats bucket's stream, for listing its keys in one request. */
  statsStream: string;
}

/** Opens a pipeline's exclusion buckets, creating them as the bots do when they are missing. */
export async function openExclusionBuckets(jsm: JetStreamManager, pipeline: string): Promise<ExclusionKv> {
  const names = exclusionBuckets(pipeline);
  const kvm = new Kvm(jsm.jetstream());
  return {
    rules: await kvm.create(names.rules, { history: 1 }),
    stats: await kvm.create(names.stats, { history: 1, ttl: EXCLUSION_STATS_MAX_AGE_MS }),
    statsStream: `KV_${names.stats}`,
  };
}

/** Opens a pipeline's exclusion buckets if its rules bucket exists; undefined when it does not. */
export async function openExistingExclusionBuckets(
  jsm: JetStreamManager,
  pipeline: string,
): Promise<ExclusionKv | undefined> {
  try {
    await jsm.streams.info(`KV_${exclusionBuckets(pipeline).rules}`);
  } catch (error) {
    const e = error as { api_error?: { err_code?: number }; message?: string };
    if (e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "")) return undefined;
    throw error;
  }
  return openExclusionBuckets(jsm, pipeline);
}

function plain(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value));
}

/** The entry stored under `name`, or undefined (never written, deleted, or not JSON). */
export async function readEntry(rules: KV, name: string): Promise<unknown> {
  const current = await rules.get(name);
  if (current?.operation !== "PUT") return undefined;
  try {
    return current.json();
  } catch {
    return null;
  }
}

/** Writes the entry unless the bucket holds the same already; true when it wrote. */
export async function putEntry(rules: KV, entry: ExclusionEntry): Promise<boolean> {
  const current = await readEntry(rules, entry.name);
  if (current !== undefined && isDeepStrictEqual(current, plain(entry))) return false;
  await rules.put(entry.name, JSON.stringify(entry));
  return true;
}

/** Removes the entry if the bucket holds one; true when it did. */
export async function removeEntry(rules: KV, name: string): Promise<boolean> {
  if ((await readEntry(rules, name)) === undefined) return false;
  await rules.delete(name);
  return true;
}

/** The names of the entries in a rules bucket. */
export async function entryNames(rules: KV): Promise<string[]> {
  const names: string[] = [];
  for await (const key of await rules.keys()) names.push(key);
  return names.sort();
}

/** The stats keys of one exclusion (`<exclusion>.<bot>.<process>`), listed in one request. */
async function statsKeys(jsm: JetStreamManager, kv: ExclusionKv, exclusion: string): Promise<string[]> {
  const bucket = kv.statsStream.slice(3);
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(kv.statsStream, { subjects_filter: `${prefix}${exclusion}.>` });
  const subjects = (info.state.subjects as Record<string, number> | undefined) ?? {};
  return Object.keys(subjects).map((s) => s.slice(prefix.length));
}

/** What the bots of one pipeline reported about one exclusion, one value per bot process. */
export async function readStats(
  jsm: JetStreamManager,
  kv: ExclusionKv,
  exclusion: string,
): Promise<ExclusionStats[]> {
  const out: ExclusionStats[] = [];
  for (const key of await statsKeys(jsm, kv, exclusion)) {
    const entry = await kv.stats.get(key);
    if (entry?.operation !== "PUT") continue;
    let value: unknown;
    try {
      value = entry.json();
    } catch {
      continue;
    }
    const parsed = ExclusionStats.safeParse(value);
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

/** Forgets what the bots reported about an exclusion (it was deleted; a new one of its name starts at 0). */
export async function purgeStats(jsm: JetStreamManager, kv: ExclusionKv, exclusion: string): Promise<number> {
  const keys = await statsKeys(jsm, kv, exclusion);
  for (const key of keys) await kv.stats.purge(key);
  return keys.length;
}

export interface StatsSummary {
  /** Distinct bots whose heartbeat is fresh. */
  bots: string[];
  matched: number;
  lastMatch: string | undefined;
}

/**
 * Sums stats: matched over every process, the latest match, and the bots applying the exclusion now —
 * those with a process that reported within `freshMs` (bots report every 5 s while it is in force).
 */
export function summarizeStats(
  stats: readonly ExclusionStats[],
  now: number,
  freshMs: number,
  isApplying: (bot: string) => boolean = () => true,
): StatsSummary {
  const bots = new Set<string>();
  let matched = 0;
  let lastMatch: string | undefined;
  let lastMs = Number.NEGATIVE_INFINITY;
  for (const s of stats) {
    matched += s.matched;
    const at = s.lastMatch === undefined ? Number.NaN : Date.parse(s.lastMatch);
    if (!Number.isNaN(at) && at > lastMs) {
      lastMs = at;
      lastMatch = s.lastMatch;
    }
    const reported = Date.parse(s.reportedAt);
    if (!Number.isNaN(reported) && now - reported < freshMs && isApplying(s.bot)) bots.add(s.bot);
  }
  return { bots: [...bots].sort(), matched, lastMatch };
}
