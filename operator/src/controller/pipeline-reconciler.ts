// Reconciles one Pipeline: its finalizer; its queue and dead-letter streams; removal of children whose
// process group no longer exists and of exclusion entries no Exclusion accounts for; and its status,
// summing up its bots. Deleting a Pipeline keeps its streams (queued messages, dead letters, bot state)
// unless the user opted in to deleting them.
import { pipelineNames } from "../../../bot-runtime/src/config/render.ts";
import type { PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import { ensurePipelineStreams } from "../../../bot-runtime/src/runtime/jetstream.ts";
import { DELETE_STREAMS_ANNOTATION, FINALIZER, LABELS } from "./constants.ts";
import type { ControllerContext, ReconcileResult } from "./context.ts";
import { errorText } from "./errors.ts";
import { pruneExclusionEntries } from "./exclusion-reconciler.ts";
import { deadLetterCount, deletePipelineData } from "./jetstream-state.ts";
import type { ResourceRef } from "./kube.ts";
import { childName, serviceName } from "./names.ts";
import { hasFinalizer, isDeleting, type Parsed, parsePipeline, type RawObject } from "./parse.ts";
import { type BotSummary, pipelineStatus } from "./pipeline-status.ts";
import { writeStatus } from "./status-events.ts";

export function deletesStreams(raw: RawObject): boolean {
  return raw.metadata?.annotations?.[DELETE_STREAMS_ANNOTATION] === "true";
}

async function finalize(
  ctx: ControllerContext,
  ref: ResourceRef,
  raw: RawObject,
  parsed: Parsed<PipelineResource>,
): Promise<ReconcileResult> {
  if (!hasFinalizer(raw, FINALIZER)) return {};
  const names = pipelineNames(ref.name);
  if (deletesStreams(raw) && parsed.ok) {
    const others = (ctx.caches.pipelines.list() as RawObject[])
      .map((p) => p.metadata?.name ?? "")
      .filter((n) => n !== ref.name);
    const deleted = await deletePipelineData(await ctx.nats.manager(parsed.resource), ref.name, others);
    ctx.log.warn(
      { pipeline: ref.name, deleted },
      "Pipeline deleted with its streams and bot state, as annotated.",
    );
  } else {
    ctx.log.info(
      { pipeline: ref.name, kept: [names.stream, names.deadLetterStream] },
      `Pipeline deleted; its streams and bot state stay in NATS (annotate ${DELETE_STREAMS_ANNOTATION}=true to delete them with it).`,
    );
  }
  await ctx.kube.setFinalizer(ref, false);
  return {};
}

/** Deletes children labelled with this pipeline whose process group no bot names any more. */
async function prune(ctx: ControllerContext, namespace: string, pipeline: string): Promise<void> {
  const wanted = new Set<string>();
  for (const raw of ctx.caches.bots.list(namespace) as RawObject[]) {
    const spec = raw.spec as { pipeline?: string; process?: string } | undefined;
    if (isDeleting(raw) || spec?.pipeline !== pipeline) continue;
    const process = spec.process ?? raw.metadata?.name ?? "";
    wanted.add(childName(pipeline, process));
    wanted.add(serviceName(pipeline, process));
  }
  const { deployments, configMaps, services } = ctx.caches;
  const children = [
    ...deployments.list(namespace).map((o) => ({ apiVersion: "apps/v1", kind: "Deployment", o })),
    ...configMaps.list(namespace).map((o) => ({ apiVersion: "v1", kind: "ConfigMap", o })),
    ...services.list(namespace).map((o) => ({ apiVersion: "v1", kind: "Service", o })),
  ];
  for (const { apiVersion, kind, o } of children) {
    const childName = o.metadata?.name ?? "";
    if (o.metadata?.labels?.[LABELS.pipeline] !== pipeline || wanted.has(childName)) continue;
    const object = { apiVersion, kind, metadata: { name: childName, namespace } };
    await ctx.kube.delete(object);
    ctx.applied.forget(object);
    ctx.log.info({ kind, name: childName, pipeline }, "Deleted a child no bot needs any more.");
  }
}

function botSummaries(ctx: ControllerContext, namespace: string, pipeline: string): BotSummary[] {
  const out: BotSummary[] = [];
  for (const raw of ctx.caches.bots.list(namespace) as RawObject[]) {
    const spec = raw.spec as { pipeline?: string; enabled?: boolean; replicas?: number } | undefined;
    if (isDeleting(raw) || spec?.pipeline !== pipeline) continue;
    out.push({
      name: raw.metadata?.name ?? "",
      active: spec.enabled !== false && (spec.replicas ?? 1) > 0,
      generation: raw.metadata?.generation ?? 0,
      observedGeneration: raw.status?.observedGeneration,
      conditions: raw.status?.conditions,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function reconcilePipeline(
  ctx: ControllerContext,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const raw = ctx.caches.pipelines.get(name, namespace) as RawObject | undefined;
  if (!raw) {
    ctx.statuses.forget({ kind: "Pipeline", namespace, name });
    return {};
  }
  const ref: ResourceRef = { kind: "Pipeline", namespace, name, uid: raw.metadata?.uid ?? "" };
  const parsed = parsePipeline(raw);
  if (isDeleting(raw)) return finalize(ctx, ref, raw, parsed);
  if (!hasFinalizer(raw, FINALIZER)) await ctx.kube.setFinalizer(ref, true);

  let problem: { reason: string; message: string } | undefined;
  let failure: unknown;
  let deadLetters: number | undefined;
  if (!parsed.ok) problem = { reason: "InvalidSpec", message: parsed.error };
  else {
    try {
      const jsm = await ctx.nats.manager(parsed.resource);
      await ensurePipelineStreams(jsm, parsed.resource);
      await pruneExclusionEntries(ctx, jsm, namespace, name);
      deadLetters = await deadLetterCount(jsm, name);
    } catch (error) {
      problem = { reason: "StreamsUnavailable", message: explain(error) };
      failure = error;
    }
  }
  await prune(ctx, namespace, name);

  const names = pipelineNames(name);
  const status = pipelineStatus(
    {
      generation: raw.metadata?.generation ?? 0,
      problem,
      stream: names.stream,
      deadLetterStream: names.deadLetterStream,
      deadLetters,
      deleteStreams: deletesStreams(raw),
      bots: botSummaries(ctx, namespace, name),
    },
    raw.status?.conditions,
    ctx.now(),
  );
  await writeStatus(ctx, ref, raw.status, status);
  if (failure !== undefined) throw failure;
  return {};
}

function explain(error: unknown): string {
  const message = errorText(error);
  if (/insufficient (storage )?resources/i.test(message)) {
    return `${message}: stream.maxBytes plus deadLetter.maxBytes exceed what the NATS server can hold`;
  }
  return message;
}
