// The bot contract. A bot module declares its id, the IntelMQ module(s) it replaces, its kind, a zod
// parameter schema (defaults and descriptions included) and a factory for its handler. Handlers know
// nothing of the transport: the runtime feeds them messages from JetStream, `petrelctl run` from files,
// and a fused chain could call them directly.
import type { Logger } from "pino";
import type { z } from "zod";
import type { Event, Message, Report } from "../event/message.ts";

export type BotKind = "collector" | "parser" | "expert" | "output";

type MessageType = "Report" | "Event";
const TAKES: Record<BotKind, MessageType | undefined> = {
  collector: undefined,
  parser: "Report",
  expert: "Event",
  output: "Event",
};
const EMITS: Record<BotKind, MessageType | undefined> = {
  collector: "Report",
  parser: "Event",
  expert: "Event",
  output: undefined,
};

/**
 * What a route from a `from` bot on `path` to a `to` bot would carry, and what `to` takes, when the two
 * differ: such a route can never work (a Report sent to an expert). `_on_error` carries the input
 * unchanged, so it carries what `from` takes.
 */
export function routeTypeMismatch(
  from: BotKind,
  path: string,
  to: BotKind,
): { carries: MessageType; takes: MessageType } | undefined {
  const carries = path === "_on_error" ? TAKES[from] : EMITS[from];
  const takes = TAKES[to];
  return carries && takes && carries !== takes ? { carries, takes } : undefined;
}

/** Durable key-value state shared by a bot's replicas (JetStream KV in the runtime, memory offline). */
export interface StateStore {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<void>;
  /** Stores the key only if absent; returns false when it already existed. */
  create(key: string, value: string): Promise<boolean>;
  delete(key: string): Promise<void>;
}

/** Metrics a bot reports besides the runtime's own, labelled with the bot (names in docs/metrics.md). */
export interface BotMetricsSink {
  /** One lookup in a named cache: petrel_bot_cache_lookups_total{cache, result="hit"|"miss"}. */
  cacheLookup(cache: string, hit: boolean): void;
}

/** Metrics that go nowhere: `petrelctl run` and unit tests. */
export const DISCARD_METRICS: BotMetricsSink = { cacheLookup() {} };

export interface BotContext {
  readonly botId: string;
  readonly pipeline: string;
  readonly log: Logger;
  /** Aborted when the bot is asked to stop. */
  readonly signal: AbortSignal;
  /** A state bucket; `ttlMs` makes entries expire (the bucket's max age). */
  state(bucket: string, options?: { ttlMs?: number }): Promise<StateStore>;
  readonly metrics: BotMetricsSink;
}

/** A deliberate difference from the IntelMQ bot a module replaces (listed in docs/compatibility.md). */
export interface BotDeviation {
  /** A short kebab-case name, asserted by the bot's differential test. */
  readonly id: string;
  /** What differs, in one sentence. */
  readonly summary: string;
  /** Why Petrel differs. */
  readonly reason: string;
}

interface ModuleBase<S extends z.ZodObject> {
  /** Catalogue id, e.g. "experts.taxonomy". */
  readonly id: string;
  /** The IntelMQ module paths this bot replaces, e.g. "intelmq.bots.experts.taxonomy.expert". */
  readonly intelmqModules: readonly string[];
  readonly description: string;
  /** Parameter schema (IntelMQ's parameter names, with defaults and descriptions). */
  readonly parameters: S;
  /** Deliberate differences from the IntelMQ bot, each asserted by name in the bot's tests. */
  readonly deviations?: readonly BotDeviation[];
}

/** A message for a named path ("_default" when a bare message is returned). */
export interface Routed<M extends Message = Message> {
  readonly path: string;
  readonly message: M;
}

// ---- collectors ----

export interface Collector {
  /**
   * Fetches data and emits Reports. `emit` resolves once the report is durably stored downstream; only
   * then may the collector mark its source done (delete the file, flag the mail seen).
   */
  collect(emit: (report: Report) => Promise<void>): Promise<void>;
  close?(): Promise<void>;
}

export interface CollectorModule<S extends z.ZodObject = z.ZodObject> extends ModuleBase<S> {
  readonly kind: "collector";
  /** interval: collect() runs once per interval; continuous: collect() runs until the bot stops. */
  readonly mode: "interval" | "continuous";
  create(params: z.output<S>, ctx: BotContext): Collector | Promise<Collector>;
}

// ---- parsers ----

/** One unit of a report (a line, a CSV row, a JSON object) with the text it came from. */
export interface ParserRecord<T = unknown> {
  readonly value: T;
  /** The source text of the record; becomes the event's `raw` unless the parser sets one. */
  readonly raw: string;
  /** Set when splitting already failed for this record (e.g. a line that is not JSON): it is rejected. */
  readonly error?: Error;
}

export type ParseResult = Event | readonly Event[] | Iterable<Event> | undefined | null;

export interface Parser<T = unknown> {
  /** Splits a report into records, streaming (large reports are never held in memory twice). */
  records(report: Report): Iterable<ParserRecord<T>> | AsyncIterable<ParserRecord<T>>;
  /** Turns a record into events; `newEvent()` is pre-filled from the report (feed.*, time.observation). */
  parse(record: ParserRecord<T>, newEvent: () => Event, report: Report): ParseResult;
}

export interface ParserModule<S extends z.ZodObject = z.ZodObject> extends ModuleBase<S> {
  readonly kind: "parser";
  create(params: z.output<S>, ctx: BotContext): Parser | Promise<Parser>;
}

// ---- experts ----

/** What an expert returns: nothing (drop), an event (to _default), routed events, or a list of these. */
export type ExpertResult = Event | Routed<Event> | ReadonlyArray<Event | Routed<Event>> | undefined | null;

/** What an expert knows of the message it handles, besides the event. */
export interface InputInfo {
  /**
   * The input's identity: the same each time the same input is delivered again (after a crash, a retry),
   * different for every other input. A bot that keeps state (a deduplicator) uses it to recognise its
   * own earlier, unfinished work on the same input instead of mistaking it for a repeat.
   */
  readonly id: string;
}

/**
 * Sends what an expert produced on its own time (see Expert.tick); resolves once it is stored
 * downstream. The same `id` for the same output makes a repeat after a crash a no-op (JetStream drops
 * a message id it stored within its duplicate window).
 */
export type TickEmit = (id: string, result: ExpertResult) => Promise<void>;

export interface Expert {
  process(event: Event, input: InputInfo): ExpertResult | Promise<ExpertResult>;
  /**
   * For experts that also emit on time, not only per input (aggregate): called every
   * `tickIntervalMs` while the bot runs (`flush` false), and by `petrelctl run` after the last input with
   * `flush` true: emit everything pending, due or not. State the output came from may be forgotten only
   * after `emit` resolved.
   */
  tick?(emit: TickEmit, options: { flush: boolean }): Promise<void>;
  /** How often tick() runs; 1 s when not set. */
  readonly tickIntervalMs?: number;
  close?(): Promise<void>;
}

export interface ExpertModule<S extends z.ZodObject = z.ZodObject> extends ModuleBase<S> {
  readonly kind: "expert";
  /** Named paths this expert can emit on besides _default (e.g. filter_match), for validation and docs. */
  readonly paths?: readonly string[];
  /**
   * Set when the paths come from the bot's configuration (a sieve file's `path` actions): any path may
   * be routed without a warning. Names the parameter that holds them.
   */
  readonly pathsFromParameter?: string;
  create(params: z.output<S>, ctx: BotContext): Expert | Promise<Expert>;
}

// ---- outputs ----

export interface Output {
  /** Writes a batch; resolve only once the sink has confirmed it (the input is acknowledged then). */
  write(events: readonly Event[]): Promise<void>;
  close?(): Promise<void>;
}

export interface OutputModule<S extends z.ZodObject = z.ZodObject> extends ModuleBase<S> {
  readonly kind: "output";
  create(params: z.output<S>, ctx: BotContext): Output | Promise<Output>;
}

export type BotModule = CollectorModule | ParserModule | ExpertModule | OutputModule;

/** Identity helpers that give bot files full type inference for their parameters. */
export function defineCollector<S extends z.ZodObject>(m: CollectorModule<S>): CollectorModule<S> {
  return m;
}
export function defineParser<S extends z.ZodObject>(m: ParserModule<S>): ParserModule<S> {
  return m;
}
export function defineExpert<S extends z.ZodObject>(m: ExpertModule<S>): ExpertModule<S> {
  return m;
}
export function defineOutput<S extends z.ZodObject>(m: OutputModule<S>): OutputModule<S> {
  return m;
}
