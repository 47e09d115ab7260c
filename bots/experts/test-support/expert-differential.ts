// Differential testing of experts: the same events through IntelMQ's expert (library mode, see
// bot-runtime/test-support/intelmq-oracle.ts) and through the Petrel module, outcome per event
// compared, field order included. Two levels:
// - whole cases: intelmqExpert + petrelCases + expectSameOutcomes (named paths, parameters refused);
// - single inputs: intelmqExpertOutcomes + petrelOutcomes + expectSameOutcome, for tests that build
//   the Petrel expert themselves (shared state, a context of their own) or look at single outcomes.
import { pino } from "pino";
import { expect } from "vitest";
import { Event, messageFromObject } from "../../../bot-runtime/src/event/message.ts";
import {
  type BotContext,
  DISCARD_METRICS,
  type Expert,
  type ExpertModule,
} from "../../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";
import { routedOf } from "../../../bot-runtime/src/sdk/processor.ts";
import {
  type Fields,
  type InputOutcome,
  intelmqExpertOutcomes,
  runIntelmqExpert,
} from "../../../bot-runtime/test-support/intelmq-oracle.ts";

export {
  type CaseOutcome,
  type Fields,
  type InputOutcome,
  intelmqExpertOutcomes,
} from "../../../bot-runtime/test-support/intelmq-oracle.ts";

export interface Outcome {
  /** Exception type (IntelMQ) or error name (Petrel) when processing failed. */
  error: string | null;
  message?: string;
  /** Events per path, only paths that received any; none at all means the event was dropped. */
  paths?: Record<string, Fields[]>;
}

export interface CaseResult {
  initError?: string;
  results?: Outcome[];
}

export interface ExpertCase {
  name: string;
  params: Fields;
  events: Fields[];
}

/** Runs every case through IntelMQ's `module` (e.g. "intelmq.bots.experts.url.expert"). */
export async function intelmqExpert(
  module: string,
  cases: readonly ExpertCase[],
  paths: readonly string[] = [],
): Promise<CaseResult[]> {
  return runIntelmqExpert(cases.map((c) => ({ module, paths, params: c.params, events: c.events })));
}

/** A bot context for experts: logs nothing, keeps no state unless given `state`. */
export function testExpertContext(state?: BotContext["state"]): BotContext {
  return {
    botId: "test-expert",
    pipeline: "test",
    log: pino({ level: "silent" }),
    signal: new AbortController().signal,
    state: state ?? (() => Promise.reject(new Error("this expert keeps no state"))),
    metrics: DISCARD_METRICS,
  };
}

/** Makes the Petrel expert with IntelMQ-style parameters, as the runtime validates them. */
export async function petrelExpert(
  module: ExpertModule,
  params: Fields,
  ctx: BotContext = testExpertContext(),
): Promise<Expert> {
  const parsed = parameterSchema(module).parse(params);
  return module.create(parsed as never, ctx);
}

let inputs = 0;

/** Processes one event (each call a new input); the events it gave per path, or what it threw. */
async function processEvent(expert: Expert, event: Event): Promise<Outcome> {
  try {
    const routed = routedOf(await expert.process(event, { id: `test-input-${++inputs}` }));
    const paths: Record<string, Fields[]> = {};
    for (const { path, message } of routed) {
      paths[path] = [...(paths[path] ?? []), message.toDict()];
    }
    return { error: null, paths };
  } catch (error) {
    return { error: (error as Error).name, message: (error as Error).message };
  }
}

/** Processes one event given as fields; the outcome in the oracle's shape. */
export async function processFields(expert: Expert, fields: Fields): Promise<Outcome> {
  let event: Event;
  try {
    event = messageFromObject({ __type: "Event", ...fields }) as Event;
  } catch (error) {
    throw new Error(`test event is not valid: ${(error as Error).message}`);
  }
  return processEvent(expert, event);
}

/** Runs every case through Petrel's module. */
export async function petrelCases(module: ExpertModule, cases: readonly ExpertCase[]): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const c of cases) {
    let expert: Expert;
    try {
      expert = await petrelExpert(module, c.params);
    } catch (error) {
      out.push({ initError: (error as Error).message });
      continue;
    }
    const results: Outcome[] = [];
    for (const fields of c.events) results.push(await processFields(expert, fields));
    await expert.close?.();
    out.push({ results });
  }
  return out;
}

/** Field order matters (it is the order of the written JSON): compare entries, not just contents. */
function ordered(paths: Record<string, Fields[]> | undefined): unknown {
  if (paths === undefined) return undefined;
  return Object.fromEntries(
    Object.entries(paths).map(([path, events]) => [path, events.map((e) => Object.entries(e))]),
  );
}

/**
 * Asserts Petrel agrees with IntelMQ on every case: both refuse the parameters, or both give, per
 * event, the same error-or-not and the same events on the same paths. Returns the number of events
 * compared.
 */
export function expectSameOutcomes(
  cases: readonly ExpertCase[],
  intelmq: readonly CaseResult[],
  petrel: readonly CaseResult[],
): number {
  let compared = 0;
  for (const [i, c] of cases.entries()) {
    const want = intelmq[i]!;
    const got = petrel[i]!;
    if (want.initError !== undefined || got.initError !== undefined) {
      expect(
        got.initError !== undefined,
        `${c.name}: IntelMQ init ${want.initError}, Petrel ${got.initError}`,
      ).toBe(want.initError !== undefined);
      compared++;
      continue;
    }
    for (const [j, fields] of c.events.entries()) {
      const w = want.results![j]!;
      const g = got.results![j]!;
      const label = `${c.name} #${j} ${JSON.stringify(fields)}`;
      expect(
        g.error !== null,
        `${label}: IntelMQ ${w.error} ${w.message ?? ""}, Petrel ${g.error} ${g.message ?? ""}`,
      ).toBe(w.error !== null);
      if (w.error === null) expect(ordered(g.paths), label).toEqual(ordered(w.paths));
      compared++;
    }
  }
  return compared;
}

/**
 * Runs events through a Petrel expert one by one, each a new input (on copies), in the shape of
 * intelmqExpertOutcomes: the events it gave, or the error's message.
 */
export async function petrelOutcomes(expert: Expert, events: readonly Event[]): Promise<InputOutcome[]> {
  const outcomes: InputOutcome[] = [];
  for (const event of events) {
    try {
      const result = await expert.process(new Event(JSON.parse(event.serialize())), {
        id: `test-input-${++inputs}`,
      });
      outcomes.push({ events: routedOf(result).map(({ message }) => message.toDict()) });
    } catch (error) {
      outcomes.push({ error: String((error as Error).message ?? error) });
    }
  }
  return outcomes;
}

/** Asserts the same outcome: both failed, or the same events with their fields in the same order. */
export function expectSameOutcome(
  got: InputOutcome | undefined,
  want: InputOutcome | undefined,
  where: string,
) {
  if (want === undefined || "error" in want) {
    expect(got, `${where}: IntelMQ failed (${want?.error})`).toHaveProperty("error");
    return;
  }
  expect(got, where).toEqual(want);
  const order = (o: InputOutcome | undefined) =>
    o && "events" in o ? o.events.map((e) => Object.keys(e)) : undefined;
  expect(order(got), `${where}: field order`).toEqual(order(want));
}

/** Processes an event with an expert that must answer without waiting (no promise). */
function processNow(expert: Expert, event: Event): void {
  const result = expert.process(event, { id: "bench" });
  if (result instanceof Promise) throw new Error("the expert returned a promise: it is not synchronous");
}

/** Events per second of a synchronous `process` over `events` (fresh copies), after a warm-up. */
export function measureThroughput(expert: Expert, events: readonly Event[], rounds = 5): number {
  const texts = events.map((e) => e.serialize());
  const copies = () => texts.map((t) => new Event(JSON.parse(t)));
  for (const e of copies()) processNow(expert, e);
  let best = 0;
  for (let round = 0; round < rounds; round++) {
    const batch = copies();
    const started = performance.now();
    for (const e of batch) processNow(expert, e);
    const seconds = (performance.now() - started) / 1000;
    best = Math.max(best, batch.length / seconds);
  }
  return best;
}

/** An event with `base`'s fields and then `fields`, each added as a bot adds them (sanitised, in order). */
export function eventOf(fields: Fields, base: Fields = {}): Event {
  const e = new Event();
  for (const [key, value] of Object.entries(base)) e.add(key, value);
  for (const [key, value] of Object.entries(fields)) e.add(key, value);
  return e;
}

/**
 * Each parameter set with the same `events` through IntelMQ's `module` and through `petrel(params)`
 * (the Petrel outcomes for those events): every outcome the same, field order included. Returns
 * IntelMQ's outcomes, all parameter sets in a row, for the caller to check what they exercised.
 */
export async function expectIntelmqOutcomesPerParameterSet(
  module: string,
  parameterSets: readonly Fields[],
  events: readonly Event[],
  petrel: (params: Fields) => Promise<InputOutcome[]>,
): Promise<InputOutcome[]> {
  const oracle = await intelmqExpertOutcomes(parameterSets.map((params) => ({ module, params, events })));
  const compared: InputOutcome[] = [];
  for (const [i, params] of parameterSets.entries()) {
    const expected = oracle[i]!;
    if ("init_error" in expected) throw new Error(`IntelMQ could not start: ${expected.init_error}`);
    const actual = await petrel(params);
    for (const [j, want] of expected.results.entries()) {
      expectSameOutcome(actual[j], want, `${JSON.stringify(params)} event ${j}`);
      compared.push(want);
    }
  }
  return compared;
}
