// Filters, changes and routes events by a rules file in IntelMQ's sieve language, read unchanged:
// if/elif/else with && || ! and parentheses over field tests, and the actions drop, keep, path, add,
// add!, update, remove, append, append! and $variable assignment. The file is parsed, checked and
// compiled into closures when the bot starts (sieve/ holds the language); process() then runs
// synchronously. An event leaves on the path(s) chosen by `path` (default _default) unless dropped.
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert, type Routed } from "../../bot-runtime/src/sdk/bot.ts";
import { compileSieve, DROP, type Evaluation } from "./sieve/compile.ts";
import { parseSieve } from "./sieve/parser.ts";

const parameters = z.object({
  file: z
    .string()
    .default("/opt/intelmq/var/lib/bots/sieve/filter.sieve")
    .describe("The sieve rules file (IntelMQ's sieve language), read once when the bot starts."),
});

const DEFAULT_PATHS: readonly string[] = ["_default"];

/** Reads and compiles a sieve file; throws SieveSyntaxError naming file, line and column. */
export function loadSieve(file: string, warn: (message: string) => void = () => {}) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`file: cannot read the sieve file ${file}: ${(error as Error).message}`);
  }
  return compileSieve(parseSieve(text, file), text, file, warn);
}

export default defineExpert({
  id: "experts.sieve",
  intelmqModules: ["intelmq.bots.experts.sieve.expert"],
  kind: "expert",
  description:
    "Filters, changes and routes events by rules in IntelMQ's sieve language (if/elif/else, field tests, drop/keep/path/add/update/remove/append).",
  parameters,
  // Any path named by a `path` action in the file.
  pathsFromParameter: "file",
  deviations: [
    {
      id: "sieve-checked-at-load",
      summary:
        "Regular expressions, :before/:after times and +=/-= amounts that are written in the file are checked when the file is loaded; a file with an invalid one is refused.",
      reason:
        "IntelMQ only finds these errors when an event reaches the rule, and then fails every event that does; a mistake in the rules file should stop the bot at start-up, naming the line.",
    },
    {
      id: "sieve-variables-everywhere",
      summary:
        "A $variable is replaced by its value wherever the grammar allows one: also in add/update/append values, action keys, list values and :before/:after.",
      reason:
        "IntelMQ 3.5 resolves variables only in condition keys, in string and number values and in add!; elsewhere it uses the unresolved variable object, so the rule fails or never matches.",
    },
    {
      id: "sieve-time-formats",
      summary:
        ":before/:after take ISO 8601 dates and date-times (extended and basic), YYYY/MM/DD[ hh:mm[:ss]], 'now', whole-number ISO 8601 durations and relative times ('2 days'); the rarer forms pendulum also reads (week and ordinal dates, times without a date, intervals, fractional durations, a basic date with an extended time such as 20240501T10:20) are refused when the file is loaded.",
      reason:
        "Those forms are rare in rules and pendulum's readings of them are surprising (a time without a date means today).",
    },
  ],
  create(params, ctx) {
    const sieve = loadSieve(params.file, (message) => ctx.log.warn(message));
    const evaluation: Evaluation = {
      event: undefined as unknown as Event,
      paths: DEFAULT_PATHS,
      variables: new Map(),
    };
    return {
      process(event) {
        evaluation.event = event;
        evaluation.paths = DEFAULT_PATHS;
        if (sieve.usesVariables) evaluation.variables.clear();
        const procedure = sieve.run(evaluation);
        if (procedure === DROP) return undefined;
        const paths = evaluation.paths;
        if (paths.length === 1 && paths[0] === "_default") return event;
        // Every path after the first gets its own copy: bots downstream may change what they receive.
        const routed: Routed<Event>[] = [];
        for (let i = 0; i < paths.length; i++) {
          routed.push({ path: paths[i]!, message: i === 0 ? event : event.copy() });
        }
        return routed;
      },
    };
  },
});
