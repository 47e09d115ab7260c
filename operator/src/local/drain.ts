// When `petrelctl up --until-drained` is done, and when it must give up: pure decisions over a snapshot
// of every bot, taken once per status refresh.
import type { BotKind } from "../../../bot-runtime/src/sdk/bot.ts";
import type { InstanceState } from "./supervisor.ts";

export interface ReplicaSnapshot {
  name: string;
  state: InstanceState;
  /** The current process answered /readyz. */
  ready: boolean;
  consecutiveCrashes: number;
  logFile: string;
}

export interface BotSnapshot {
  name: string;
  kind: BotKind;
  /** Enabled with at least one replica. */
  active: boolean;
  replicas: readonly ReplicaSnapshot[];
  collectorOk: number;
  collectorError: number;
  /** Collectors: runs again by itself (interval or rate_limit); otherwise once per start. */
  collectsAgain: boolean;
  /** Messages in the input queue, waiting or unacknowledged; undefined when unknown. */
  backlog: number | undefined;
}

/** Reasons the pipeline can never drain; empty while it still can. */
export function drainBlockers(bots: readonly BotSnapshot[]): string[] {
  const reasons: string[] = [];
  for (const bot of bots) {
    if (!bot.active) continue;
    for (const r of bot.replicas) {
      if (r.state === "failed") {
        reasons.push(
          `bot ${r.name} crashed ${r.consecutiveCrashes} times and was given up (log ${r.logFile})`,
        );
      } else if (r.state === "error-stop") {
        reasons.push(`bot ${r.name} stopped itself (error_procedure: stop) (log ${r.logFile})`);
      }
    }
    if (bot.kind === "collector" && bot.collectorOk === 0 && bot.collectorError > 0 && !bot.collectsAgain) {
      reasons.push(`collector ${bot.name} failed its run (log ${bot.replicas[0]?.logFile ?? "-"})`);
    }
  }
  return reasons;
}

/**
 * Drained: every active bot's processes are up and ready, every collector finished a run, and no
 * queue holds a message (queued or unacknowledged). Disabled bots are left out: their queues fill.
 */
export function isDrained(bots: readonly BotSnapshot[]): boolean {
  return bots
    .filter((b) => b.active)
    .every((b) => {
      if (!b.replicas.every((r) => r.state === "running" && r.ready)) return false;
      return b.kind === "collector" ? b.collectorOk >= 1 : b.backlog === 0;
    });
}
