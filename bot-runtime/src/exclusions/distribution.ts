// How exclusions reach the bots: the operator (or local mode) writes the active exclusions of each
// pipeline into the pipeline's exclusion bucket (JetStream KV), one key per exclusion, with the bots
// that apply it resolved; every bot watches the bucket and applies changes within moments, without a
// restart. Bots report what each exclusion matched into a second bucket the operator sums into status.
import { z } from "zod";
import { pipelineNames } from "../config/render.ts";
import { ExclusionSpec, type LabelSelector } from "../config/resources.ts";

/** The KV buckets of a pipeline's exclusions (the rules) and of what they matched (the stats). */
export function exclusionBuckets(pipeline: string): { rules: string; stats: string } {
  const names = pipelineNames(pipeline);
  return { rules: names.exclusionBucket, stats: names.exclusionStatsBucket };
}

/** One exclusion as stored for one pipeline: its spec, and where it applies. */
export const ExclusionEntry = z.object({
  name: z.string(),
  spec: ExclusionSpec,
  /** The bots applying it; null: every output bot of the pipeline (the default scope). */
  bots: z.array(z.string()).nullable(),
  /** The Exclusion's generation (Kubernetes) or the file's content hash (local mode), for tracing. */
  revision: z.string(),
});
export type ExclusionEntry = z.infer<typeof ExclusionEntry>;

/** Whether an entry applies at a bot (by name and kind). */
export function appliesAt(entry: ExclusionEntry, bot: string, kind: string): boolean {
  return entry.bots === null ? kind === "output" : entry.bots.includes(bot);
}

type Selector = z.infer<typeof LabelSelector>;

/** Kubernetes label-selector semantics: every matchLabels pair and every expression must hold. */
export function selects(selector: Selector, labels: Readonly<Record<string, string>> = {}): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {}))
    if (labels[key] !== value) return false;
  for (const r of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, r.key);
    const value = labels[r.key];
    const ok =
      r.operator === "In"
        ? has && (r.values ?? []).includes(value as string)
        : r.operator === "NotIn"
          ? !has || !(r.values ?? []).includes(value as string)
          : r.operator === "Exists"
            ? has
            : !has;
    if (!ok) return false;
  }
  return true;
}

export interface PipelineInfo {
  name: string;
  labels?: Record<string, string>;
}
export interface BotInfo {
  name: string;
  pipeline: string;
  labels?: Record<string, string>;
}

/**
 * The entries of one Exclusion: one per pipeline in its scope, with the bots that apply it there. A
 * disabled exclusion has none (its entries are removed); an expired one keeps them — bots stop applying
 * it at its expiry by themselves.
 */
export function exclusionEntries(
  name: string,
  spec: z.infer<typeof ExclusionSpec>,
  revision: string,
  pipelines: readonly PipelineInfo[],
  bots: readonly BotInfo[],
): Map<string, ExclusionEntry> {
  const out = new Map<string, ExclusionEntry>();
  if (!spec.enabled) return out;
  const scope = spec.scope;
  const chosen = pipelines.filter((p) =>
    scope.pipelines ? scope.pipelines.includes(p.name) : selects(scope.pipelineSelector ?? {}, p.labels),
  );
  for (const p of chosen) {
    const selector = scope.botSelector;
    const applying = selector
      ? bots
          .filter((b) => b.pipeline === p.name && selects(selector, b.labels))
          .map((b) => b.name)
          .sort()
      : null;
    out.set(p.name, { name, spec, bots: applying, revision });
  }
  return out;
}

/** What one bot process reports per exclusion, under key `<exclusion>.<bot>.<process>` of the stats bucket. */
export const ExclusionStats = z.object({
  bot: z.string(),
  matched: z.number().int().min(0),
  /** ISO time of the last match, if any. */
  lastMatch: z.string().optional(),
  /** When the process wrote this (a process that stopped reporting is no longer applying it). */
  reportedAt: z.string(),
});
export type ExclusionStats = z.infer<typeof ExclusionStats>;

/** KV keys allow [-/_=.a-zA-Z0-9]; a process id (a pod name, a hostname) is reduced to those. */
export function statsKey(exclusion: string, bot: string, processId: string): string {
  return `${exclusion}.${bot}.${processId.replace(/[^-_=a-zA-Z0-9]/g, "_")}`;
}
