// An Exclusion's status: whether it is in force (Active), past its expiry (Expired) or cannot be compiled
// (Invalid), the pipelines its scope selects, and what its bots report: how many apply it, what it
// matched and when last.
import type { z } from "zod";
import type { ConditionT, ExclusionStatus } from "../../../bot-runtime/src/config/resources.ts";
import { type ConditionInput, withConditions } from "./conditions.ts";

export type ExclusionStatusT = z.infer<typeof ExclusionStatus>;

export interface ExclusionObservation {
  generation: number;
  enabled: boolean;
  /** Why the spec cannot be compiled (naming the condition); undefined: it compiles. */
  invalid: string | undefined;
  /** spec.expiresAt, as written. */
  expiresAt: string | undefined;
  /** The pipelines the scope selects now. */
  pipelines: readonly string[];
  /** The pipelines whose bucket holds the exclusion after this reconcile. */
  distributed: readonly string[];
  /** With an invalid spec: the revision (generation) still in the buckets, which bots keep applying. */
  revisionInForce: string | undefined;
  /** Whether the scope chooses bots by label, and how many it selects in the selected pipelines. */
  botSelector: boolean;
  selectedBots: number;
  /** Bots whose processes report applying it (a fresh heartbeat). */
  bots: number;
  matched: number;
  lastMatch: string | undefined;
  /** JetStream could not be reached for some pipeline: what happened. */
  unavailable: string | undefined;
}

const SHOWN = 10;
function list(names: readonly string[]): string {
  const shown = names.slice(0, SHOWN);
  return names.length > SHOWN ? `${shown.join(", ")} and ${names.length - SHOWN} more` : shown.join(", ");
}

export function isExpired(expiresAt: string | undefined, now: Date): boolean {
  if (expiresAt === undefined) return false;
  const at = Date.parse(expiresAt);
  return !Number.isNaN(at) && now.getTime() >= at;
}

function active(o: ExclusionObservation, expired: boolean): ConditionInput {
  const no = (reason: string, message: string): ConditionInput => ({
    type: "Active",
    status: "False",
    reason,
    message,
  });
  if (o.unavailable !== undefined) {
    return { type: "Active", status: "Unknown", reason: "JetStreamUnavailable", message: o.unavailable };
  }
  if (o.invalid !== undefined && o.distributed.length === 0)
    return no("Invalid", "not applied: the spec is invalid (see the Invalid condition)");
  if (!o.enabled) return no("Disabled", "spec.enabled is false: removed from the bots");
  if (expired) return no("Expired", `stopped applying at ${o.expiresAt}`);
  if (o.pipelines.length === 0) return no("NoPipelines", "the scope selects no pipeline");
  if (o.botSelector && o.selectedBots === 0)
    return no("NoBots", `scope.botSelector selects no bot of ${list(o.pipelines)}`);
  const where = o.botSelector ? "" : "the output bots of ";
  if (o.bots === 0) {
    return no(
      "NotApplied",
      `written for ${where}${list(o.distributed)}; no bot reports applying it yet (bots report every 5 s)`,
    );
  }
  if (o.invalid !== undefined) {
    return {
      type: "Active",
      status: "True",
      reason: "PreviousGenerationApplies",
      message: `generation ${o.generation} is invalid; ${o.bots} bot(s) keep applying generation ${o.revisionInForce ?? "?"}`,
    };
  }
  return {
    type: "Active",
    status: "True",
    reason: "Applied",
    message: `${o.bots} bot(s) apply it in ${list(o.distributed)}`,
  };
}

function conditions(o: ExclusionObservation, now: Date): ConditionInput[] {
  const expired = isExpired(o.expiresAt, now);
  return [
    active(o, expired),
    expired
      ? { type: "Expired", status: "True", reason: "Expired", message: `expired at ${o.expiresAt}` }
      : {
          type: "Expired",
          status: "False",
          reason: "NotExpired",
          message: o.expiresAt === undefined ? "no expiry" : `expires at ${o.expiresAt}`,
        },
    o.invalid !== undefined
      ? { type: "Invalid", status: "True", reason: "InvalidSpec", message: o.invalid }
      : { type: "Invalid", status: "False", reason: "Compiled", message: "" },
  ];
}

export function exclusionStatus(
  o: ExclusionObservation,
  previous: readonly ConditionT[] | undefined,
  now: Date,
): ExclusionStatusT {
  const status: ExclusionStatusT = {
    observedGeneration: o.generation,
    conditions: withConditions(previous, conditions(o, now), o.generation, now),
    pipelines: [...o.pipelines].sort().slice(0, 256),
    bots: o.bots,
    matchedEvents: o.matched,
  };
  if (o.lastMatch !== undefined) status.lastMatchTime = o.lastMatch;
  return status;
}
