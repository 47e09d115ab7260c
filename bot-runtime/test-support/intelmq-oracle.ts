// What the tests that compare Petrel with IntelMQ's own bots (library mode, in the oracle venv) share:
// the Python preamble that reads events the way IntelMQ reads them from its queues, and the driver
// that runs an IntelMQ expert over events one at a time.
import type { Event } from "../src/event/message.ts";
import { runOracle } from "./python-oracle.ts";

/**
 * Python that imports json, os and sys and defines `harmonization` (IntelMQ's, as its bots load it),
 * `read_message(fields)`: an IntelMQ message from an event's `toDict({ withType: true })` (fields of
 * type Float or Accuracy as floats, as IntelMQ reads them from its queues), and
 * `library_settings(params)`: BotLibSettings for a bot in library mode with those parameters.
 * Code that replaces a module the bot imports (a recording stand-in) can come before or after it.
 */
export const INTELMQ_PREAMBLE = `
import json, os, sys
from intelmq import HARMONIZATION_CONF_FILE
from intelmq.lib.bot import BotLibSettings
from intelmq.lib.message import MessageFactory
from intelmq.lib.utils import load_configuration
try:
    harmonization = load_configuration(HARMONIZATION_CONF_FILE)
except ValueError:
    from pkg_resources import resource_filename
    harmonization = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))
floats = {k for k, v in harmonization["event"].items() if v["type"] in ("Float", "Accuracy")}
def read_message(fields):
    return MessageFactory.unserialize(json.dumps({k: (float(v) if k in floats else v) for k, v in fields.items()}),
                                      harmonization=harmonization)
def library_settings(params):
    return BotLibSettings | {"logging_level": "CRITICAL", **params}
`;

/** Events as `read_message` in INTELMQ_PREAMBLE takes them. */
export function oracleEvents(events: readonly Event[]): Array<Record<string, unknown>> {
  return events.map((e) => e.toDict({ withType: true }));
}

// One case per line: {module, params, events, paths, block, reuseBot}. "block" names Python modules
// made unimportable first (to pin an optional dependency's fallback); each named path gets a queue of
// its own. Each event is processed on its own; on an exception the input is acknowledged and the
// queues are cleared of partial output, so the next event starts clean. With reuseBot, a bot is built
// once per (module, params, paths) and kept for later cases (for bots that are slow to start).
const EXPERT_DRIVER = `${INTELMQ_PREAMBLE}
import importlib
bots = {}
for line in sys.stdin:
    case = json.loads(line)
    for name in case["block"]:
        sys.modules[name] = None
    queues = {path: [path] for path in ["_default", *case["paths"]]}
    key = json.dumps([case["module"], case["params"], case["paths"]], sort_keys=True)
    bot = bots.get(key) if case["reuseBot"] else None
    if bot is None:
        try:
            bot = importlib.import_module(case["module"]).BOT(
                "oracle-expert", settings=library_settings({"destination_queues": queues, **case["params"]}))
        except BaseException as error:
            print(json.dumps({"initError": f"{type(error).__name__}: {error}"}))
            continue
        if case["reuseBot"]:
            bots[key] = bot
    results = []
    for fields in case["events"]:
        try:
            state = bot.process_message(read_message({"__type": "Event", **fields}))
            results.append({"error": None, "paths": {q: [dict(m) for m in state.get(q, [])] for q in queues if state.get(q)}})
        except Exception as error:
            bot.acknowledge_message()
            for queue in queues:
                bot._Bot__destination_pipeline.clear_queue(queue)
            results.append({"error": type(error).__name__, "message": str(error)})
    print(json.dumps({"results": results}))
sys.stdout.flush()
os._exit(0)
`;

export type Fields = Record<string, unknown>;

export interface IntelmqExpertRun {
  /** IntelMQ module path, e.g. intelmq.bots.experts.url.expert. */
  readonly module: string;
  readonly params: Fields;
  /** Events, or their fields (`__type` may be left out). */
  readonly events: ReadonlyArray<Event | Fields>;
  /** Named paths besides _default, each given a queue of its own. */
  readonly paths?: readonly string[];
  /** Python modules to make unimportable before the bot's module is imported. */
  readonly block?: readonly string[];
  /** Reuse the bot built for an earlier case with the same module, parameters and paths. */
  readonly reuseBot?: boolean;
}

/** What IntelMQ did with one event: the events per path (only paths that got any), or its exception. */
export type IntelmqEventResult =
  | { error: null; paths: Record<string, Fields[]> }
  | { error: string; message: string };

export type IntelmqRunResult = { initError: string } | { results: IntelmqEventResult[] };

/** Runs each case through IntelMQ's expert in library mode, one event at a time. */
export function runIntelmqExpert(runs: readonly IntelmqExpertRun[]): Promise<IntelmqRunResult[]> {
  return runOracle<unknown, IntelmqRunResult>(
    EXPERT_DRIVER,
    runs.map((r) => ({
      module: r.module,
      params: r.params,
      events: r.events.map((e) => (isEvent(e) ? e.toDict({ withType: true }) : e)),
      paths: r.paths ?? [],
      block: r.block ?? [],
      reuseBot: r.reuseBot ?? false,
    })),
  );
}

function isEvent(value: Event | Fields): value is Event {
  return typeof (value as { toDict?: unknown }).toDict === "function";
}

/** What one input gave: the events sent on the default path (fields, no __type), or the error's text. */
export type InputOutcome = { events: Fields[] } | { error: string };

export type CaseOutcome = { init_error: string } | { results: InputOutcome[] };

export interface ExpertOutcomeCase {
  readonly module: string;
  readonly params: Fields;
  readonly events: readonly Event[];
  readonly block?: readonly string[];
  readonly reuseBot?: boolean;
}

/**
 * Runs each case through IntelMQ's expert, input by input: the events it sent on its default path or
 * "Type: message" of what it raised; `init_error` when the bot refused to start.
 */
export async function intelmqExpertOutcomes(cases: readonly ExpertOutcomeCase[]): Promise<CaseOutcome[]> {
  const runs = await runIntelmqExpert(cases);
  return runs.map((run) =>
    "initError" in run
      ? { init_error: run.initError }
      : {
          results: run.results.map((r) =>
            r.error === null ? { events: r.paths._default ?? [] } : { error: `${r.error}: ${r.message}` },
          ),
        },
  );
}
