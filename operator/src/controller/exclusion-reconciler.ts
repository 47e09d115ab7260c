// Reconciles one Exclusion: its finalizer; its compilation (an invalid one is never distributed); its
// entry in the exclusion bucket of every pipeline its scope selects, with the bots that apply it there
// (and no entry in the others, nor anywhere while disabled or once deleted); and its status, from what
// the bots report into the pipelines' stats buckets. Bots apply a change as soon as their watch delivers
// it and stop applying an expired exclusion by themselves; the operator only reports the expiry.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { ExclusionSpecT, PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import {
  type ExclusionKv,
  entryNames,
  openExclusionBuckets,
  openExistingExclusionBuckets,
  purgeStats,
  putEntry,
  readEntry,
  readStats,
  removeEntry,
  summarizeStats,
} from "../../../bot-runtime/src/exclusions/buckets.ts";
import {
  type BotInfo,
  ExclusionEntry,
  exclusionEntries,
  selects,
} from "../../../bot-runtime/src/exclusions/distribution.ts";
import { ExclusionError, ExclusionSet } from "../../../bot-runtime/src/exclusions/exclusion-set.ts";
import { FINALIZER } from "./constants.ts";
import type { ControllerContext, ReconcileResult } from "./context.ts";
import { errorText } from "./errors.ts";
import { exclusionStatus, isExpired } from "./exclusion-status.ts";
import { exclusionKey } from "./keys.ts";
import type { ResourceRef } from "./kube.ts";
import {
  hasFinalizer,
  isDeleting,
  type Parsed,
  parseExclusion,
  parsePipeline,
  type RawObject,
} from "./parse.ts";
import { writeStatus } from "./status-events.ts";

/** How often the status of an exclusion in force is refreshed from the bots' reports. */
export const REFRESH_MS = 10_000;
/** After a write, until the bots have reported for a while: refresh this often. */
const SOON_MS = 2_000;
const SETTLE_MS = 30_000;
/** A bot process whose last report is older than this no longer counts as applying the exclusion. */
export const FRESH_MS = 30_000;

/** When each Exclusion was last written to the buckets, so its status follows the bots sooner then. */
export class ExclusionMemo {
  readonly #written = new Map<string, number>();

  wrote(key: string, at: number): void {
    this.#written.set(key, at);
  }

  /** Written within `withinMs` before `now`. */
  recent(key: string, now: number, withinMs = SETTLE_MS): boolean {
    const at = this.#written.get(key);
    return at !== undefined && now - at < withinMs;
  }

  forget(key: string): void {
    this.#written.delete(key);
  }
}

interface PipelineView {
  name: string;
  labels: Record<string, string>;
  deleting: boolean;
  /** The parsed Pipeline (its NATS URL); undefined when its spec does not read. */
  resource: PipelineResource | undefined;
}

function pipelinesOf(ctx: ControllerContext, namespace: string): PipelineView[] {
  return (ctx.caches.pipelines.list(namespace) as RawObject[])
    .map((raw) => {
      const parsed = parsePipeline(raw);
      return {
        name: raw.metadata?.name ?? "",
        labels: raw.metadata?.labels ?? {},
        deleting: isDeleting(raw),
        resource: parsed.ok ? parsed.resource : undefined,
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

interface BotView extends BotInfo {
  /** The bot's module is an output (where an exclusion without botSelector applies). */
  output: boolean;
}

function botsOf(ctx: ControllerContext, namespace: string): BotView[] {
  const out: BotView[] = [];
  for (const raw of ctx.caches.bots.list(namespace) as RawObject[]) {
    if (isDeleting(raw)) continue;
    const spec = (raw.spec ?? {}) as { pipeline?: string; module?: string };
    out.push({
      name: raw.metadata?.name ?? "",
      pipeline: spec.pipeline ?? "",
      labels: raw.metadata?.labels ?? {},
      output: spec.module !== undefined && ctx.lookup(spec.module)?.kind === "output",
    });
  }
  return out;
}

type Selector = Parameters<typeof selects>[0];

/** The pipelines a scope selects, read from the raw spec too (an invalid spec still has a scope). */
function selectedPipelines(scope: unknown, pipelines: readonly PipelineView[]): string[] {
  const s = scope as { pipelines?: unknown; pipelineSelector?: unknown } | undefined;
  const live = pipelines.filter((p) => !p.deleting);
  if (Array.isArray(s?.pipelines)) {
    const names = s.pipelines as unknown[];
    return live.filter((p) => names.includes(p.name)).map((p) => p.name);
  }
  if (typeof s?.pipelineSelector !== "object" || s.pipelineSelector === null) return [];
  try {
    return live.filter((p) => selects(s.pipelineSelector as Selector, p.labels)).map((p) => p.name);
  } catch {
    return [];
  }
}

/**
 * Why the exclusion cannot be compiled, in the engine's words (naming the condition), or undefined.
 * Disabled exclusions are checked too: enabling one must not be the moment it turns out broken.
 */
export function exclusionProblems(
  name: string,
  raw: RawObject,
  parsed: Parsed<{ spec: ExclusionSpecT }>,
): string | undefined {
  const compile = (spec: unknown): string[] => {
    try {
      ExclusionSet.compile([{ name, spec: { ...(spec as ExclusionSpecT), enabled: true } }]);
      return [];
    } catch (error) {
      if (error instanceof ExclusionError)
        return error.problems.map((p) => (p.startsWith(`${name}: `) ? p.slice(name.length + 2) : p));
      if (parsed.ok) throw error;
      return []; // a spec the schema rejected may not even have the shape the engine reads
    }
  };
  if (parsed.ok) {
    const problems = compile(parsed.resource.spec);
    return problems.length > 0 ? problems.join("; ") : undefined;
  }
  // What the API server cannot check (a regex JavaScript rejects): the engine's message names the
  // condition and says what is wrong; the schema's other findings stay.
  const problems = compile(raw.spec);
  const others = parsed.error
    .split("; ")
    .filter((p) => problems.length === 0 || !p.startsWith("spec.match."));
  return [...problems, ...others].join("; ");
}

/** The pipeline's buckets: created when `create`, else only if they exist (undefined otherwise). */
async function open(
  ctx: ControllerContext,
  pipeline: PipelineView,
  create: boolean,
): Promise<{ jsm: JetStreamManager; kv: ExclusionKv } | undefined> {
  const jsm = await ctx.nats.manager(pipeline.resource as PipelineResource);
  const kv = create
    ? await openExclusionBuckets(jsm, pipeline.name)
    : await openExistingExclusionBuckets(jsm, pipeline.name);
  return kv ? { jsm, kv } : undefined;
}

/**
 * Removes the entries of a pipeline's exclusion bucket that no Exclusion of the namespace accounts for:
 * left behind while the Pipeline did not exist (deleted with its streams kept, then created again) or by
 * a finalizer removed by hand. Run by the Pipeline's reconcile; a bucket that does not exist stays so.
 */
export async function pruneExclusionEntries(
  ctx: ControllerContext,
  jsm: JetStreamManager,
  namespace: string,
  pipeline: string,
): Promise<string[]> {
  const kv = await openExistingExclusionBuckets(jsm, pipeline);
  if (!kv) return [];
  // Keys first, then the cache: an Exclusion written before the listing is in the cache by now.
  const names = await entryNames(kv.rules);
  const known = new Set(
    (ctx.caches.exclusions.list(namespace) as RawObject[]).map((e) => e.metadata?.name ?? ""),
  );
  const pruned: string[] = [];
  for (const name of names) {
    if (known.has(name)) continue;
    if (await removeEntry(kv.rules, name)) pruned.push(name);
  }
  if (pruned.length > 0)
    ctx.log.warn({ pipeline, exclusions: pruned }, "Removed exclusions no Exclusion resource accounts for.");
  return pruned;
}

async function finalize(
  ctx: ControllerContext,
  ref: ResourceRef,
  raw: RawObject,
  pipelines: readonly PipelineView[],
): Promise<ReconcileResult> {
  if (!hasFinalizer(raw, FINALIZER)) return {};
  // Pipelines being deleted are left alone (their buckets may be going with them); if one comes back,
  // its reconcile prunes what no Exclusion accounts for.
  for (const pipeline of pipelines) {
    if (!pipeline.resource || pipeline.deleting) continue;
    const opened = await open(ctx, pipeline, false);
    if (!opened) continue;
    const removed = await removeEntry(opened.kv.rules, ref.name);
    await purgeStats(opened.jsm, opened.kv, ref.name);
    if (removed) ctx.log.info({ pipeline: pipeline.name }, "Exclusion deleted: removed from the pipeline.");
  }
  ctx.exclusions.forget(exclusionKey(ref.namespace, ref.name));
  await ctx.kube.setFinalizer(ref, false);
  return {};
}

export async function reconcileExclusion(
  ctx: ControllerContext,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const key = exclusionKey(namespace, name);
  const raw = ctx.caches.exclusions.get(name, namespace) as RawObject | undefined;
  if (!raw) {
    ctx.exclusions.forget(key);
    ctx.statuses.forget({ kind: "Exclusion", namespace, name });
    return {};
  }
  const ref: ResourceRef = { kind: "Exclusion", namespace, name, uid: raw.metadata?.uid ?? "" };
  const pipelines = pipelinesOf(ctx, namespace);
  if (isDeleting(raw)) return finalize(ctx, ref, raw, pipelines);
  if (!hasFinalizer(raw, FINALIZER)) await ctx.kube.setFinalizer(ref, true);

  const now = ctx.now();
  const generation = raw.metadata?.generation ?? 0;
  const parsed = parseExclusion(raw);
  const invalid = exclusionProblems(name, raw, parsed);
  const spec = parsed.ok ? parsed.resource.spec : undefined;
  const rawSpec = (raw.spec ?? {}) as {
    scope?: { botSelector?: unknown };
    enabled?: boolean;
    expiresAt?: string;
  };
  const bots = botsOf(ctx, namespace);
  const selected = selectedPipelines(rawSpec.scope, pipelines);
  // Valid: exactly these entries, one per selected pipeline (none while disabled). Invalid: the buckets
  // are left as they are — a new version that does not compile never replaces the one in force — unless
  // it is switched off, which removes it all the same.
  const entries =
    invalid === undefined && spec
      ? exclusionEntries(
          name,
          spec,
          String(generation),
          pipelines.filter((p) => !p.deleting && p.resource),
          bots,
        )
      : rawSpec.enabled === false
        ? new Map<string, ExclusionEntry>()
        : undefined;

  const distributed: string[] = [];
  const applying = new Set<string>();
  let matched = 0;
  let lastMatch: string | undefined;
  let revisionInForce: string | undefined;
  let selectedBots = 0;
  let wrote = false;
  let failure: unknown;
  let unavailable: string | undefined;
  for (const pipeline of pipelines) {
    if (!pipeline.resource || pipeline.deleting) continue;
    try {
      // Buckets are created where an entry is to be written; elsewhere only read if they exist.
      const opened = await open(ctx, pipeline, entries?.has(pipeline.name) === true);
      if (!opened) continue;
      const { jsm, kv } = opened;
      let inForce: ExclusionEntry | undefined;
      if (entries) {
        inForce = entries.get(pipeline.name);
        if (inForce) {
          if (await putEntry(kv.rules, inForce)) {
            wrote = true;
            ctx.log.info({ pipeline: pipeline.name, bots: inForce.bots ?? "outputs" }, "Exclusion written.");
          }
        } else if (await removeEntry(kv.rules, name)) {
          wrote = true;
          ctx.log.info({ pipeline: pipeline.name }, "Exclusion removed from a pipeline it no longer covers.");
        }
      } else {
        const current = ExclusionEntry.safeParse(await readEntry(kv.rules, name));
        if (current.success) inForce = current.data;
      }
      if (inForce) {
        distributed.push(pipeline.name);
        revisionInForce ??= inForce.revision;
        selectedBots += inForce.bots?.length ?? 0;
      }
      const stats = await readStats(jsm, kv, name);
      const where = inForce;
      const isApplying = (bot: string) =>
        where !== undefined &&
        (where.bots === null
          ? bots.some((b) => b.name === bot && b.pipeline === pipeline.name && b.output)
          : where.bots.includes(bot));
      const summary = summarizeStats(stats, now.getTime(), FRESH_MS, isApplying);
      matched += summary.matched;
      for (const bot of summary.bots) applying.add(`${pipeline.name}/${bot}`);
      if (summary.lastMatch !== undefined && (lastMatch === undefined || summary.lastMatch > lastMatch))
        lastMatch = summary.lastMatch;
    } catch (error) {
      failure ??= error;
      unavailable ??= `pipeline ${pipeline.name}: ${errorText(error)}`;
    }
  }
  if (wrote) ctx.exclusions.wrote(key, now.getTime());

  const enabled = rawSpec.enabled !== false;
  const status = exclusionStatus(
    {
      generation,
      enabled,
      invalid,
      expiresAt: rawSpec.expiresAt,
      pipelines: selected,
      distributed,
      revisionInForce,
      botSelector: rawSpec.scope?.botSelector !== undefined,
      selectedBots,
      bots: applying.size,
      matched,
      lastMatch,
      unavailable,
    },
    raw.status?.conditions,
    now,
  );
  await writeStatus(ctx, ref, raw.status, status);
  if (failure !== undefined) throw failure;
  return nextRefresh(ctx, key, now, rawSpec.expiresAt, distributed.length > 0 && enabled);
}

/**
 * When to look again without being told: while the exclusion is in force, every REFRESH_MS (sooner
 * after a write, until the bots have reported), and at its expiry; after the expiry once more for the
 * last counts; never for one that is disabled or applies nowhere (changes to it or its scope queue it).
 */
function nextRefresh(
  ctx: ControllerContext,
  key: string,
  now: Date,
  expiresAt: string | undefined,
  inForce: boolean,
): ReconcileResult {
  if (!inForce) return {};
  const t = now.getTime();
  const parsed = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  const expiry = Number.isNaN(parsed) ? Number.POSITIVE_INFINITY : parsed;
  if (isExpired(expiresAt, now)) return t - expiry < 2 * REFRESH_MS ? { requeueAfterMs: REFRESH_MS } : {};
  const every = ctx.exclusions.recent(key, t) ? SOON_MS : REFRESH_MS;
  return { requeueAfterMs: Math.max(1, Math.min(every, expiry - t + 50)) };
}
