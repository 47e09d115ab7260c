// Reconciles one Bot: its finalizer; its checks; its process group's ConfigMap, Deployment and Service
// (not while a bot of the group is invalid: the running pods stay as they are); its durable consumer;
// and its status from the Deployment and the consumer. Deleting a Bot deletes its consumer first.
import type { V1Deployment } from "@kubernetes/client-node";
import { type ProcessGroup, processGroups } from "../../../bot-runtime/src/config/render.ts";
import type { BotResource, PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import { deleteBotConsumer, ensureBotConsumer } from "../../../bot-runtime/src/runtime/jetstream.ts";
import { applyGroup } from "./apply.ts";
import { type Blocker, botStatus, type DeploymentView } from "./bot-status.ts";
import { CONFIG_HASH_ANNOTATION, FINALIZER } from "./constants.ts";
import type { ControllerContext, ReconcileResult } from "./context.ts";
import { desiredGroup, groupImage } from "./desired.ts";
import { errorText } from "./errors.ts";
import { consumerBacklog, isStreamMissing } from "./jetstream-state.ts";
import { pipelineKey } from "./keys.ts";
import type { ResourceRef } from "./kube.ts";
import { childName, selectorLabels, selectorString } from "./names.ts";
import { hasFinalizer, isDeleting, type Parsed, parseBot, parsePipeline, type RawObject } from "./parse.ts";
import { writeStatus } from "./status-events.ts";
import { validateBot } from "./validate.ts";

/** How long a bot waits for its pipeline's stream before trying again. */
const STREAM_WAIT_MS = 500;

export function deploymentView(d: V1Deployment | undefined): DeploymentView | undefined {
  if (!d) return undefined;
  return {
    generation: d.metadata?.generation ?? 0,
    observedGeneration: d.status?.observedGeneration ?? 0,
    specReplicas: d.spec?.replicas ?? 1,
    configHash: d.spec?.template?.metadata?.annotations?.[CONFIG_HASH_ANNOTATION],
    replicas: d.status?.replicas ?? 0,
    readyReplicas: d.status?.readyReplicas ?? 0,
    updatedReplicas: d.status?.updatedReplicas ?? 0,
  };
}

/** The bots of a pipeline that are not being deleted and whose spec reads, with their uids. */
export function pipelineBots(ctx: ControllerContext, namespace: string, pipeline: string) {
  const bots: Array<{ raw: RawObject; resource: BotResource }> = [];
  for (const raw of ctx.caches.bots.list(namespace) as RawObject[]) {
    if (isDeleting(raw) || (raw.spec as { pipeline?: string } | undefined)?.pipeline !== pipeline) continue;
    const parsed = parseBot(raw);
    if (parsed.ok) bots.push({ raw, resource: parsed.resource });
  }
  return bots;
}

interface Plan {
  blockers: Blocker[];
  warnings: Blocker[];
  module: string | undefined;
  hasInput: boolean;
  group: ProcessGroup | undefined;
}

/** Checks the bot and the other bots of its process: any blocking problem among them blocks the group. */
function plan(ctx: ControllerContext, bot: BotResource, pipeline: PipelineResource, namespace: string): Plan {
  const siblings = pipelineBots(ctx, namespace, pipeline.metadata.name);
  const resources = siblings.map((s) => s.resource);
  const self = resources.find((b) => b.metadata.name === bot.metadata.name) ?? bot;
  const validation = validateBot(self, resources, ctx.lookup);
  const blockers: Blocker[] = validation.problems.filter((p) => p.blocking);
  const warnings: Blocker[] = validation.problems.filter((p) => !p.blocking);
  const group = processGroups(resources).groups.find((g) => g.bots.includes(self));
  for (const member of group?.bots ?? []) {
    if (member === self) continue;
    const problems = validateBot(member, resources, ctx.lookup).problems.filter((p) => p.blocking);
    if (problems.length > 0) {
      blockers.push({
        reason: "ProcessGroupInvalid",
        message: `bot ${member.metadata.name} sharing process ${group?.name} is invalid: ${problems.map((p) => p.message).join("; ")}`,
      });
    }
  }
  if (group && blockers.length === 0 && groupImage(group, pipeline, ctx.defaultImage) === undefined) {
    blockers.push({
      reason: "NoImage",
      message: "no image: set spec.image, the Pipeline's spec.defaults.image, or the operator's --bot-image",
    });
  }
  const module = validation.module;
  return {
    blockers,
    warnings,
    module: module?.id,
    hasInput: module !== undefined && module.kind !== "collector",
    group,
  };
}

async function finalize(ctx: ControllerContext, ref: ResourceRef, raw: RawObject): Promise<ReconcileResult> {
  if (!hasFinalizer(raw, FINALIZER)) return {};
  const pipelineName = (raw.spec as { pipeline?: string } | undefined)?.pipeline ?? "";
  const pipelineRaw = ctx.caches.pipelines.get(pipelineName, ref.namespace) as RawObject | undefined;
  const pipeline = pipelineRaw ? parsePipeline(pipelineRaw) : undefined;
  if (pipeline?.ok) {
    await deleteBotConsumer(await ctx.nats.manager(pipeline.resource), pipelineName, ref.name);
    ctx.log.info({ bot: ref.name, pipeline: pipelineName }, "Deleted the bot's consumer.");
  } else {
    ctx.log.info(
      { bot: ref.name, pipeline: pipelineName },
      "The bot's Pipeline is gone; its consumer, if any, stays with the pipeline's kept stream.",
    );
  }
  await ctx.kube.setFinalizer(ref, false);
  return {};
}

function pipelineOf(
  ctx: ControllerContext,
  namespace: string,
  raw: RawObject,
): Parsed<PipelineResource> | undefined {
  const name = (raw.spec as { pipeline?: string } | undefined)?.pipeline ?? "";
  const pipeline = ctx.caches.pipelines.get(name, namespace) as RawObject | undefined;
  return pipeline && !isDeleting(pipeline) ? parsePipeline(pipeline) : undefined;
}

/** Applies the children of the bot's process; returns the config hash they run and the Deployment if written. */
async function applyProcess(
  ctx: ControllerContext,
  namespace: string,
  pipeline: PipelineResource,
  group: ProcessGroup,
): Promise<{ desiredHash: string; applied: V1Deployment | undefined }> {
  const uids = new Map(
    pipelineBots(ctx, namespace, pipeline.metadata.name).map((b) => [
      b.resource.metadata.name,
      b.raw.metadata?.uid ?? "",
    ]),
  );
  const desired = desiredGroup({
    namespace,
    pipeline,
    group,
    uids,
    hasInput: (b) => ctx.lookup(b.spec.module)?.kind !== "collector",
    defaultImage: ctx.defaultImage,
  });
  return { desiredHash: desired.configHash, applied: await applyGroup(ctx, namespace, desired) };
}

interface ConsumerState {
  backlog?: number;
  warning?: Blocker;
  /** To rethrow once the status is written, so the reconcile is retried. */
  error?: unknown;
  requeueAfterMs?: number;
}

/** Ensures the bot's consumer and reads its backlog; a missing stream waits for the pipeline's reconcile. */
async function consumer(
  ctx: ControllerContext,
  namespace: string,
  pipeline: PipelineResource,
  bot: string,
): Promise<ConsumerState> {
  const name = pipeline.metadata.name;
  try {
    const jsm = await ctx.nats.manager(pipeline);
    await ensureBotConsumer(jsm, name, bot);
    return { backlog: await consumerBacklog(jsm, name, bot) };
  } catch (error) {
    if (isStreamMissing(error)) {
      ctx.enqueue(pipelineKey(namespace, name));
      return { requeueAfterMs: STREAM_WAIT_MS };
    }
    return { warning: { reason: "JetStreamUnavailable", message: `consumer: ${errorText(error)}` }, error };
  }
}

export async function reconcileBot(
  ctx: ControllerContext,
  namespace: string,
  name: string,
): Promise<ReconcileResult> {
  const raw = ctx.caches.bots.get(name, namespace) as RawObject | undefined;
  if (!raw) {
    ctx.statuses.forget({ kind: "Bot", namespace, name });
    return {};
  }
  const ref: ResourceRef = { kind: "Bot", namespace, name, uid: raw.metadata?.uid ?? "" };
  if (isDeleting(raw)) return finalize(ctx, ref, raw);
  if (!hasFinalizer(raw, FINALIZER)) await ctx.kube.setFinalizer(ref, true);

  const parsed = parseBot(raw);
  const pipeline = pipelineOf(ctx, namespace, raw);
  const spec = raw.spec as { pipeline?: string; process?: string; enabled?: boolean; replicas?: number };
  const processName = spec.process ?? name;
  const p: Plan = { blockers: [], warnings: [], module: undefined, hasInput: false, group: undefined };
  if (!parsed.ok) p.blockers.push({ reason: "InvalidSpec", message: parsed.error });
  else if (!pipeline) {
    p.blockers.push({
      reason: "PipelineNotFound",
      message: `no Pipeline ${spec.pipeline} in namespace ${namespace}`,
    });
  } else if (!pipeline.ok) {
    p.blockers.push({ reason: "PipelineInvalid", message: `Pipeline ${spec.pipeline}: ${pipeline.error}` });
  } else Object.assign(p, plan(ctx, parsed.resource, pipeline.resource, namespace));

  const children =
    p.blockers.length === 0 && p.group && pipeline?.ok
      ? await applyProcess(ctx, namespace, pipeline.resource, p.group)
      : undefined;
  const queue = p.hasInput && pipeline?.ok ? await consumer(ctx, namespace, pipeline.resource, name) : {};
  if (queue.warning) p.warnings.push(queue.warning);

  const pipelineName = spec.pipeline ?? "";
  const enabled = spec.enabled !== false;
  const status = botStatus(
    {
      generation: raw.metadata?.generation ?? 0,
      enabled,
      desiredReplicas: enabled ? (spec.replicas ?? 1) : 0,
      module: p.module,
      blockers: p.blockers,
      warnings: p.warnings,
      desiredHash: children?.desiredHash,
      selector: selectorString(selectorLabels(pipelineName, processName)),
      deployment: deploymentView(
        children?.applied ?? ctx.caches.deployments.get(childName(pipelineName, processName), namespace),
      ),
      backlog: queue.backlog,
    },
    raw.status?.conditions,
    ctx.now(),
  );
  await writeStatus(ctx, ref, raw.status, status);
  if (queue.error !== undefined) throw queue.error;
  return queue.requeueAfterMs === undefined ? {} : { requeueAfterMs: queue.requeueAfterMs };
}
