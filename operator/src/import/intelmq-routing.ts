// IntelMQ's queues as Petrel destinations: each destination queue is resolved to the bot reading it
// (its source_queue, by default "<bot id>-queue"), under the new bot names. Routes Petrel cannot run
// (to a collector, out of an output, a Report where Events are taken) are reported and left out.
import { type BotKind, routeTypeMismatch } from "../../../bot-runtime/src/sdk/bot.ts";
import type { Located, ReportItem } from "./intelmq-read.ts";
import { show } from "./intelmq-values.ts";

export interface RoutedBot {
  id: string;
  /** The Petrel name. */
  name: string;
  kind: BotKind | undefined;
  /** Petrel module id when mapped. */
  moduleId: string | undefined;
  /** Named paths the Petrel module emits on besides _default and _on_error; undefined: not known. */
  paths: readonly string[] | undefined;
  sourceQueue: Located | undefined;
  destinationQueues: Located | undefined;
  file: string;
  line: number;
}

/** IntelMQ's forms of destination_queues (text, list, or path → text | list) as path → queue names. */
function normalize(located: Located, report: (message: string) => void): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  const queues = (value: unknown, path: string): string[] => {
    if (typeof value === "string") return value.split(/\s+/).filter((q) => q !== "");
    if (Array.isArray(value)) {
      return value.filter((q): q is string => {
        if (typeof q === "string") return true;
        report(`destination_queues path ${path}: ${show(q)} is not a queue name: left out`);
        return false;
      });
    }
    if (value !== null)
      report(`destination_queues path ${path}: ${show(value)} is not a queue list: left out`);
    return [];
  };
  const value = located.value;
  if (typeof value === "string" || Array.isArray(value)) paths.set("_default", queues(value, "_default"));
  else if (value !== null && typeof value === "object") {
    for (const [path, list] of Object.entries(value)) paths.set(path, queues(list, path));
  } else if (value !== null) {
    report(`destination_queues: ${show(value)} is not a queue list: left out`);
  }
  return paths;
}

/** Destinations (path → bot names) per bot id. */
export function routeBots(
  bots: readonly RoutedBot[],
  items: ReportItem[],
): Map<string, Record<string, string[]>> {
  const readers = new Map<string, RoutedBot[]>();
  for (const bot of bots) {
    const declared = bot.sourceQueue?.value;
    let queue = `${bot.id}-queue`;
    if (typeof declared === "string" && declared !== "") queue = declared;
    else if (bot.sourceQueue && declared !== null) {
      items.push({
        file: bot.sourceQueue.file,
        line: bot.sourceQueue.line,
        subject: `bot ${bot.id}`,
        message: `source_queue: ${show(declared)} is not a queue name: ${queue} assumed`,
      });
    }
    readers.set(queue, [...(readers.get(queue) ?? []), bot]);
  }
  for (const [queue, list] of readers) {
    const [first, ...others] = list;
    if (!first || others.length === 0) continue;
    const where = others[0] as RoutedBot;
    items.push({
      file: where.sourceQueue?.file ?? where.file,
      line: where.sourceQueue?.line ?? where.line,
      subject: `queue ${queue}`,
      message: `read by ${list.map((b) => b.id).join(", ")}, which share its messages in IntelMQ; in Petrel every bot has its own queue, so messages for it go to ${first.name} only: run ${first.name} with spec.replicas instead`,
    });
  }

  const result = new Map<string, Record<string, string[]>>();
  for (const bot of bots) {
    const destinations: Record<string, string[]> = {};
    result.set(bot.id, destinations);
    const located = bot.destinationQueues;
    if (!located) continue;
    const report = (message: string) =>
      items.push({ file: located.file, line: located.line, subject: `bot ${bot.id}`, message });
    const paths = normalize(located, report);
    if (bot.kind === "output") {
      const all = [...paths.values()].flat();
      if (all.length > 0) {
        report(`destination_queues ${show(all)}: outputs have no destinations in Petrel: left out`);
      }
      continue;
    }
    for (const [path, queues] of paths) {
      const names: string[] = [];
      for (const queue of queues) {
        const target = readers.get(queue)?.[0];
        const problem = target ? routeProblem(bot, target, path) : "no bot reads this queue";
        if (problem) {
          report(`destination queue ${queue} (path ${path}): ${problem}: left out`);
        } else if (target && names.includes(target.name)) {
          report(`destination queue ${queue} (path ${path}) is listed twice: sent once`);
        } else if (target) names.push(target.name);
      }
      if (names.length === 0) continue;
      destinations[path] = names;
      const emitted = ["_default", "_on_error", ...(bot.paths ?? [])];
      if (bot.moduleId && bot.paths !== undefined && !emitted.includes(path)) {
        report(
          `destination path ${path}: module ${bot.moduleId} never emits on it (it emits on ${emitted.join(", ")}); kept, but nothing will arrive there`,
        );
      }
    }
  }
  return result;
}

/** Why Petrel cannot send from `source` on `path` to `target`, if it cannot. */
function routeProblem(source: RoutedBot, target: RoutedBot, path: string): string | undefined {
  if (target.kind === "collector") return `${target.id} is a collector; collectors have no input queue`;
  if (!source.kind || !target.kind) return undefined;
  const mismatch = routeTypeMismatch(source.kind, path, target.kind);
  if (!mismatch) return undefined;
  return `${source.id} (${source.kind}) sends ${mismatch.carries}s on this path but ${target.id} (${target.kind}) takes ${mismatch.takes}s`;
}
