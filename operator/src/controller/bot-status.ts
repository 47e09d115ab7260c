// A Bot's status from what the operator observed: its validation, its Deployment (replicas, rollout,
// the config it runs) and its queue. Conditions Ready, Progressing and Degraded; state for people.
import type { z } from "zod";
import type { BotStatus, ConditionT } from "../../../bot-runtime/src/config/resources.ts";
import { type ConditionInput, withConditions } from "./conditions.ts";

export type BotStatusT = z.infer<typeof BotStatus>;

/** The part of a Deployment the status needs. */
export interface DeploymentView {
  generation: number;
  observedGeneration: number;
  specReplicas: number;
  configHash: string | undefined;
  replicas: number;
  readyReplicas: number;
  updatedReplicas: number;
}

/** A reason the bot cannot run as specified (its Deployment is left as it is). */
export interface Blocker {
  reason: string;
  message: string;
}

export interface BotObservation {
  generation: number;
  enabled: boolean;
  /** Replicas the bot should run now (0 when disabled). */
  desiredReplicas: number;
  module: string | undefined;
  /** Blocking problems, first one's reason wins; the pipeline being absent is one. */
  blockers: Blocker[];
  /** Problems that do not stop the bot (unknown destinations, JetStream errors). */
  warnings: Blocker[];
  /** The config hash the Deployment should run, when the group could be rendered. */
  desiredHash: string | undefined;
  selector: string | undefined;
  deployment: DeploymentView | undefined;
  backlog: number | undefined;
}

function cond(
  type: string,
  status: ConditionInput["status"],
  reason: string,
  message: string,
): ConditionInput {
  return { type, status, reason, message };
}

function joined(items: readonly Blocker[]): string {
  return [...new Set(items.map((i) => i.message))].join("; ");
}

/** Whether the Deployment runs the desired config with every replica updated and ready. */
function rollout(o: BotObservation): { done: boolean; reason: string; message: string } {
  const d = o.deployment;
  const want = o.desiredReplicas;
  if (!d) return { done: false, reason: "Creating", message: "the Deployment does not exist yet" };
  if (o.desiredHash !== undefined && d.configHash !== o.desiredHash) {
    return { done: false, reason: "Updating", message: "the Deployment does not run the current config yet" };
  }
  if (d.specReplicas !== want) {
    return {
      done: false,
      reason: "Scaling",
      message: `the Deployment wants ${d.specReplicas} replicas, not ${want}`,
    };
  }
  if (
    d.observedGeneration < d.generation ||
    d.updatedReplicas < want ||
    d.readyReplicas < want ||
    d.replicas > want
  ) {
    return {
      done: false,
      reason: "RollingOut",
      message: `${d.readyReplicas} of ${want} replicas ready, ${d.updatedReplicas} updated`,
    };
  }
  return { done: true, reason: "RolloutComplete", message: `${d.readyReplicas} of ${want} replicas ready` };
}

function state(o: BotObservation, done: boolean, degraded: boolean): BotStatusT["state"] {
  if (o.blockers.length > 0) return o.blockers[0]?.reason === "PipelineNotFound" ? "Pending" : "Failed";
  if (!o.enabled || o.desiredReplicas === 0) return "Stopped";
  const ready = o.deployment?.readyReplicas ?? 0;
  if (done) return degraded ? "Degraded" : "Running";
  return ready > 0 ? "Degraded" : "Pending";
}

function conditions(o: BotObservation): { list: ConditionInput[]; done: boolean; degraded: boolean } {
  const first = o.blockers[0];
  if (first) {
    const message = joined(o.blockers);
    return {
      list: [
        cond("Ready", "False", first.reason, message),
        cond(
          "Progressing",
          "False",
          first.reason,
          "the operator leaves the bot's Deployment as it is until this is fixed",
        ),
        cond("Degraded", "True", first.reason, message),
      ],
      done: false,
      degraded: true,
    };
  }
  const r = rollout(o);
  const stopped = o.desiredReplicas === 0;
  const ready = r.done
    ? cond(
        "Ready",
        "True",
        stopped ? "Stopped" : "Running",
        stopped ? "the bot is stopped (0 replicas)" : r.message,
      )
    : cond("Ready", "False", r.reason, r.message);
  const progressing = r.done
    ? cond("Progressing", "False", r.reason, r.message)
    : cond("Progressing", "True", r.reason, r.message);
  const warning = o.warnings[0];
  const degraded = warning
    ? cond("Degraded", "True", warning.reason, joined(o.warnings))
    : cond("Degraded", "False", "NoProblems", "");
  return { list: [ready, progressing, degraded], done: r.done, degraded: warning !== undefined };
}

/** The status to write, keeping lastTransitionTime of conditions whose status did not change. */
export function botStatus(
  o: BotObservation,
  previous: readonly ConditionT[] | undefined,
  now: Date,
): BotStatusT {
  const c = conditions(o);
  const status: BotStatusT = {
    observedGeneration: o.generation,
    conditions: withConditions(previous, c.list, o.generation, now),
    state: state(o, c.done, c.degraded),
    replicas: o.deployment?.replicas ?? 0,
    readyReplicas: o.deployment?.readyReplicas ?? 0,
  };
  if (o.module !== undefined) status.module = o.module;
  if (o.selector !== undefined) status.selector = o.selector;
  if (o.backlog !== undefined) status.backlog = o.backlog;
  return status;
}
