// Adapts parser and expert modules to one transport-free shape: a message in, routed messages out.
// The JetStream loop and `petrelctl run` both drive bots through it.
import { Event, type Message, Report } from "../event/message.ts";
import type { Expert, ExpertResult, ParseResult, Parser } from "./bot.ts";
import type { ParserCommon } from "./common-parameters.ts";

export interface ProcessSink {
  /** The input's identity, stable across redeliveries (see InputInfo). */
  readonly inputId: string;
  /** Sends a message on a path; a returned promise means "wait" (back-pressure). */
  emit(path: string, message: Message): undefined | Promise<void>;
  /** Part of the input failed (a parser's bad record): dead-letter `message` and go on with the rest. */
  reject(error: unknown, message: Message): undefined | Promise<void>;
}

export interface ProcessOutcome {
  emitted: number;
  /** Inputs that produced nothing on purpose (filtered, deduplicated, empty report). */
  dropped: number;
  rejected: number;
}

export interface Processor {
  /** The outcome, or a promise of it when something had to wait (an async handler, back-pressure). */
  process(input: Message, sink: ProcessSink): ProcessOutcome | Promise<ProcessOutcome>;
}

export class WrongMessageTypeError extends Error {
  constructor(expected: string, got: string) {
    super(`expected a ${expected}, got a ${got}`);
    this.name = "WrongMessageTypeError";
  }
}

function isIterable(v: unknown): v is Iterable<Event> {
  return typeof v === "object" && v !== null && Symbol.iterator in v;
}

function eventsOf(result: ParseResult): Event[] {
  if (result === undefined || result === null) return [];
  if (result instanceof Event) return [result];
  return isIterable(result) ? [...result].filter((e): e is Event => e instanceof Event) : [];
}

export function parserProcessor(parser: Parser, params: ParserCommon): Processor {
  const defaults = Object.entries(params.default_fields);
  const copyFields = params.copy_collector_provided_fields;
  return {
    async process(input, sink) {
      if (!(input instanceof Report)) throw new WrongMessageTypeError("Report", input.kind);
      const outcome: ProcessOutcome = { emitted: 0, dropped: 0, rejected: 0 };
      if (!input.has("raw")) {
        outcome.dropped = 1;
        return outcome;
      }
      const newEvent = () => Event.fromReport(input, copyFields);
      for await (const record of parser.records(input)) {
        let events: Event[];
        try {
          if (record.error) throw record.error;
          events = eventsOf(parser.parse(record, newEvent, input));
          for (const event of events) {
            for (const [key, value] of defaults) event.add(key, value, { overwrite: false });
            if (!event.has("raw")) event.add("raw", record.raw);
          }
        } catch (error) {
          // IntelMQ parity: the bad record goes on alone, as a copy of the report holding just that record.
          const failed = new Report(JSON.parse(input.serialize()) as Record<string, unknown>);
          failed.add("raw", record.raw, { overwrite: true });
          outcome.rejected++;
          const wait = sink.reject(error, failed);
          if (wait) await wait;
          continue;
        }
        for (const event of events) {
          outcome.emitted++;
          const wait = sink.emit("_default", event);
          if (wait) await wait;
        }
      }
      if (outcome.emitted === 0 && outcome.rejected === 0) outcome.dropped = 1;
      return outcome;
    },
  };
}

/** An expert's result as routed messages (a bare event goes to _default). */
export function routedOf(result: ExpertResult): Array<{ path: string; message: Event }> {
  if (result === undefined || result === null) return [];
  const items = Array.isArray(result) ? result : [result];
  return items.map((item: Event | { path: string; message: Event }) =>
    item instanceof Event ? { path: "_default", message: item } : item,
  );
}

export function expertProcessor(expert: Expert): Processor {
  return {
    process(input, sink) {
      if (!(input instanceof Event)) throw new WrongMessageTypeError("Event", input.kind);
      const result = expert.process(input, { id: sink.inputId });
      return result instanceof Promise
        ? result.then((r) => emitRouted(routedOf(r), sink))
        : emitRouted(routedOf(result), sink);
    },
  };
}

// Synchronous while no emit asks to wait: most experts finish without a promise or a microtask.
function emitRouted(
  routed: Array<{ path: string; message: Event }>,
  sink: ProcessSink,
): ProcessOutcome | Promise<ProcessOutcome> {
  const outcome: ProcessOutcome = {
    emitted: routed.length,
    dropped: routed.length === 0 ? 1 : 0,
    rejected: 0,
  };
  for (let i = 0; i < routed.length; i++) {
    const { path, message } = routed[i] as { path: string; message: Event };
    const wait = sink.emit(path, message);
    if (wait) {
      return (async () => {
        await wait;
        for (const rest of routed.slice(i + 1)) {
          const next = sink.emit(rest.path, rest.message);
          if (next) await next;
        }
        return outcome;
      })();
    }
  }
  return outcome;
}
