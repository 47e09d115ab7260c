// Writing a resource's status, and telling people what changed in it as Events (`kubectl describe`,
// `kubectl get events`): one Event per transition, never one per reconcile. A problem appearing or
// changing (Degraded True) is a Warning; becoming Ready, or no longer being Ready, is Normal (the
// reason says why: a rollout, stopped, a problem reported as Degraded alongside).
import type { ConditionT } from "../../../bot-runtime/src/config/resources.ts";
import { findCondition } from "./conditions.ts";
import type { ControllerContext } from "./context.ts";
import { errorText } from "./errors.ts";
import type { EventNote, ResourceRef } from "./kube.ts";
import { sameStatus } from "./status-diff.ts";

/** The Events for going from the conditions `before` to `after` (before undefined: a new resource). */
export function conditionEvents(
  before: readonly ConditionT[] | undefined,
  after: readonly ConditionT[],
): EventNote[] {
  const notes: EventNote[] = [];
  const degradedBefore = findCondition(before, "Degraded");
  const degraded = findCondition(after, "Degraded");
  if (
    degraded?.status === "True" &&
    (degradedBefore?.status !== "True" || degradedBefore.reason !== degraded.reason)
  ) {
    notes.push({ type: "Warning", reason: degraded.reason, message: degraded.message });
  }
  const readyBefore = findCondition(before, "Ready");
  const ready = findCondition(after, "Ready");
  const readyChanged = ready?.status !== readyBefore?.status || ready?.reason !== readyBefore?.reason;
  // Not ready before it ever was is how every resource starts: no Event for that.
  if (ready && readyChanged && (ready.status === "True" || readyBefore?.status === "True")) {
    notes.push({ type: "Normal", reason: ready.reason, message: ready.message });
  }
  return notes;
}

/**
 * The conditions the operator last wrote, per resource. The informer cache can lag behind a status
 * write: a reconcile that runs before the cache has it (another child changed meanwhile) sees the old
 * conditions again. Events are told from what was written, so that reconcile does not repeat them.
 */
export class StatusMemo {
  readonly #written = new Map<string, { uid: string; conditions: readonly ConditionT[] }>();

  #key(ref: Omit<ResourceRef, "uid">): string {
    return `${ref.kind}/${ref.namespace}/${ref.name}`;
  }

  /** The conditions last written for this very resource (one re-created under its name has a new uid). */
  written(ref: ResourceRef): readonly ConditionT[] | undefined {
    const entry = this.#written.get(this.#key(ref));
    return entry?.uid === ref.uid ? entry.conditions : undefined;
  }

  remember(ref: ResourceRef, conditions: readonly ConditionT[]): void {
    this.#written.set(this.#key(ref), { uid: ref.uid, conditions });
  }

  /** The resource is gone. */
  forget(ref: Omit<ResourceRef, "uid">): void {
    this.#written.delete(this.#key(ref));
  }
}

/**
 * Writes `status` unless the stored one equals it, then records the Events of its condition changes
 * since the conditions last written (first after a start: since the stored ones). Events are written
 * without holding up the reconcile (a worker goes on with the next resource), and one that cannot be
 * written is logged: status is what counts.
 */
export async function writeStatus(
  ctx: ControllerContext,
  ref: ResourceRef,
  stored: { conditions?: readonly ConditionT[] | undefined } | undefined,
  status: { conditions?: readonly ConditionT[] | undefined },
): Promise<void> {
  if (sameStatus(stored, status)) return;
  const before = ctx.statuses.written(ref) ?? stored?.conditions;
  await ctx.kube.applyStatus(ref, status);
  const after = status.conditions ?? [];
  ctx.statuses.remember(ref, after);
  for (const note of conditionEvents(before, after)) {
    ctx.kube.recordEvent(ref, note, ctx.now()).catch((error: unknown) => {
      ctx.log.warn(
        { kind: ref.kind, name: ref.name, reason: note.reason, err: errorText(error) },
        "Could not record an Event.",
      );
    });
  }
}
