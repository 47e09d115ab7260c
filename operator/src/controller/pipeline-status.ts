// A Pipeline's status: its streams and dead letters, and its bots' conditions summed up, so that
// `kubectl wait --for=condition=Ready pipeline/x` and Argo CD judge the whole pipeline by one object.
import type { z } from "zod";
import type { ConditionT, PipelineStatus } from "../../../bot-runtime/src/config/resources.ts";
import { type ConditionInput, isTrue, withConditions } from "./conditions.ts";

export type PipelineStatusT = z.infer<typeof PipelineStatus>;

/** What the pipeline's status needs of one of its bots. */
export interface BotSummary {
  name: string;
  /** enabled with at least one replica: only these must be ready for the pipeline to be. */
  active: boolean;
  generation: number;
  observedGeneration: number | undefined;
  conditions: readonly ConditionT[] | undefined;
}

export interface PipelineObservation {
  generation: number;
  /** The spec could not be read, or its streams could not be created: nothing works. */
  problem: { reason: string; message: string } | undefined;
  stream: string;
  deadLetterStream: string;
  deadLetters: number | undefined;
  /** The user asked for the streams to be deleted with the Pipeline. */
  deleteStreams: boolean;
  bots: readonly BotSummary[];
}

const SHOWN = 10;
function names(bots: readonly BotSummary[]): string {
  const shown = bots.slice(0, SHOWN).map((b) => b.name);
  return bots.length > SHOWN ? `${shown.join(", ")} and ${bots.length - SHOWN} more` : shown.join(", ");
}

/** The bot's Ready condition is True and describes its current generation. */
export function botReady(bot: BotSummary): boolean {
  return bot.observedGeneration === bot.generation && isTrue(bot.conditions, "Ready");
}

function retention(o: PipelineObservation): ConditionInput {
  const streams = `${o.stream} and ${o.deadLetterStream}`;
  return o.deleteStreams
    ? {
        type: "StreamsRetainedOnDelete",
        status: "False",
        reason: "DeleteRequested",
        message: `deleting this Pipeline deletes ${streams} and its bots' state: queued messages and dead letters are lost`,
      }
    : {
        type: "StreamsRetainedOnDelete",
        status: "True",
        reason: "KeepByDefault",
        message: `deleting this Pipeline keeps ${streams} and its bots' state in NATS; annotate petrel.dev/delete-streams-on-delete=true to delete them with it`,
      };
}

function conditions(o: PipelineObservation): ConditionInput[] {
  const active = o.bots.filter((b) => b.active);
  const notReady = active.filter((b) => !botReady(b));
  const degraded = o.bots.filter((b) => isTrue(b.conditions, "Degraded"));
  const progressing = active.filter(
    (b) => b.observedGeneration !== b.generation || isTrue(b.conditions, "Progressing"),
  );
  const list: ConditionInput[] = [];
  if (o.problem) {
    list.push({ type: "Ready", status: "False", ...o.problem });
  } else if (notReady.length > 0) {
    list.push({
      type: "Ready",
      status: "False",
      reason: "BotsNotReady",
      message: `${active.length - notReady.length} of ${active.length} enabled bots ready; not ready: ${names(notReady)}`,
    });
  } else {
    list.push({
      type: "Ready",
      status: "True",
      reason: "AllBotsReady",
      message: `streams ready, ${active.length} enabled bots ready`,
    });
  }
  list.push(
    progressing.length > 0
      ? { type: "Progressing", status: "True", reason: "BotsProgressing", message: names(progressing) }
      : { type: "Progressing", status: "False", reason: "NoChangesPending", message: "" },
  );
  if (o.problem) list.push({ type: "Degraded", status: "True", ...o.problem });
  else if (degraded.length > 0) {
    list.push({ type: "Degraded", status: "True", reason: "BotsDegraded", message: names(degraded) });
  } else list.push({ type: "Degraded", status: "False", reason: "NoProblems", message: "" });
  list.push(retention(o));
  return list;
}

export function pipelineStatus(
  o: PipelineObservation,
  previous: readonly ConditionT[] | undefined,
  now: Date,
): PipelineStatusT {
  const status: PipelineStatusT = {
    observedGeneration: o.generation,
    conditions: withConditions(previous, conditions(o), o.generation, now),
    bots: { total: o.bots.length, ready: o.bots.filter(botReady).length },
    stream: o.stream,
    deadLetterStream: o.deadLetterStream,
  };
  if (o.deadLetters !== undefined) status.deadLetters = o.deadLetters;
  return status;
}
