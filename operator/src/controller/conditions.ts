// metav1.Condition handling: one condition per type, lastTransitionTime kept unless status changes.
import type { ConditionT } from "../../../bot-runtime/src/config/resources.ts";

export type ConditionStatus = ConditionT["status"];

export interface ConditionInput {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
}

/** Kubernetes' time format for metav1.Time: RFC 3339 in whole seconds. */
export function kubeTime(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, "Z");
}

/**
 * The new conditions, in the order given, each with observedGeneration; a condition whose status is
 * unchanged from `previous` keeps its lastTransitionTime.
 */
export function withConditions(
  previous: readonly ConditionT[] | undefined,
  next: readonly ConditionInput[],
  generation: number,
  now: Date,
): ConditionT[] {
  return next.map((c) => {
    const before = previous?.find((p) => p.type === c.type);
    const lastTransitionTime =
      before && before.status === c.status ? before.lastTransitionTime : kubeTime(now);
    return {
      type: c.type,
      status: c.status,
      observedGeneration: generation,
      lastTransitionTime,
      reason: c.reason,
      message: c.message.slice(0, 32_768),
    };
  });
}

export function findCondition(
  conditions: readonly ConditionT[] | undefined,
  type: string,
): ConditionT | undefined {
  return conditions?.find((c) => c.type === type);
}

export function isTrue(conditions: readonly ConditionT[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === "True";
}
