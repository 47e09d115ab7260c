// Applying a process group's children. Server-side apply with the operator's field manager; an object
// is applied again only when what the operator wants changed or the object changed since its last
// apply, so steady state costs no writes and drift is still repaired.
import type { KubernetesObject } from "@kubernetes/client-node";
import type { ControllerContext } from "./context.ts";
import { type DesiredGroup, sha256 } from "./desired.ts";

/**
 * What identifies the state of a live object the operator applied. An object with a generation (a
 * Deployment) is the same while its generation and the labels, annotations and owners the operator
 * sets are: its status changes many times per rollout, and the Deployment controller annotates its
 * revision, neither of which calls for an apply. Others (ConfigMaps, Services): their resourceVersion.
 */
function liveVersion(desired: KubernetesObject, live: KubernetesObject): string | undefined {
  const m = live.metadata;
  if (m?.generation === undefined) return m?.resourceVersion;
  const ours = (want: Record<string, string> | undefined, have: Record<string, string> | undefined) =>
    Object.keys(want ?? {}).map((key) => have?.[key] ?? null);
  return JSON.stringify([
    m.generation,
    ours(desired.metadata?.labels, m.labels),
    ours(desired.metadata?.annotations, m.annotations),
    m.ownerReferences ?? [],
  ]);
}

export class AppliedMemo {
  readonly #entries = new Map<string, { hash: string; version: string | undefined }>();

  #key(object: KubernetesObject): string {
    return `${object.kind}/${object.metadata?.namespace}/${object.metadata?.name}`;
  }

  /** Whether `live` is as the operator applied it last, and `desired` has the same content. */
  upToDate(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
    const entry = this.#entries.get(this.#key(desired));
    return (
      live !== undefined &&
      entry !== undefined &&
      entry.hash === sha256(JSON.stringify(desired)) &&
      entry.version === liveVersion(desired, live)
    );
  }

  remember(desired: KubernetesObject, applied: KubernetesObject): void {
    this.#entries.set(this.#key(desired), {
      hash: sha256(JSON.stringify(desired)),
      version: liveVersion(desired, applied),
    });
  }

  forget(object: KubernetesObject): void {
    this.#entries.delete(this.#key(object));
  }
}

async function applyOne<T extends KubernetesObject>(
  ctx: ControllerContext,
  desired: T,
  live: T | undefined,
): Promise<T | undefined> {
  if (ctx.applied.upToDate(desired, live)) return undefined;
  const applied = await ctx.kube.apply(desired);
  ctx.applied.remember(desired, applied);
  ctx.log.debug({ kind: desired.kind, name: desired.metadata?.name }, "Applied.");
  return applied;
}

/**
 * Applies the ConfigMap, then the Deployment, then the Service (or deletes a Service no longer
 * needed). Returns the Deployment as the API server returned it, or undefined when it was up to date.
 */
export async function applyGroup(ctx: ControllerContext, namespace: string, desired: DesiredGroup) {
  const { configMaps, deployments, services } = ctx.caches;
  await applyOne(ctx, desired.configMap, configMaps.get(desired.name, namespace));
  const deployment = await applyOne(ctx, desired.deployment, deployments.get(desired.name, namespace));
  if (desired.service) {
    await applyOne(ctx, desired.service, services.get(desired.serviceName, namespace));
  } else {
    const stale = services.get(desired.serviceName, namespace);
    if (stale) {
      await ctx.kube.delete({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: desired.serviceName, namespace },
      });
      ctx.applied.forget({
        kind: "Service",
        metadata: { name: desired.serviceName, namespace },
      } as KubernetesObject);
    }
  }
  return deployment;
}
