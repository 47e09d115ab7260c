// One bot process on JetStream: pulls its input in batches, runs the handler, publishes every output to
// every destination of its path with a deterministic message id, and acknowledges an input only after
// all its outputs are stored. Failures are retried with backoff, then dead-lettered; nothing is dropped
// silently. Collectors run on an interval (or continuously) and publish reports the same way.
// Bots that share a process (Bot spec `process`) hand messages to each other in memory instead of
// through JetStream; a hand-over that fails falls back to the receiving bot's queue.
import { createHash } from "node:crypto";
import {
  type Consumer,
  type ConsumerMessages,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { Cron } from "croner";
import type { Logger } from "pino";
import { parametersWithEnv, type RuntimeConfig } from "../config/render.ts";
import { type Event, FieldError, type Message, parseMessage, type Report } from "../event/message.ts";
import type { BotContext, BotModule, Expert, ExpertResult, Output, StateStore } from "../sdk/bot.ts";
import { type CollectorCommon, type ParserCommon, parameterSchema } from "../sdk/common-parameters.ts";
import {
  expertProcessor,
  type ProcessOutcome,
  type Processor,
  type ProcessSink,
  parserProcessor,
  routedOf,
  WrongMessageTypeError,
} from "../sdk/processor.ts";
import { sleep } from "../sdk/sleep.ts";
import { CompletedInputs } from "./completed-inputs.ts";
import { ExclusionWatch } from "./exclusion-watch.ts";
import { connectNats } from "./jetstream.ts";
import { KvCreateFastPath } from "./kv-create.ts";
import type { BotMetrics } from "./metrics.ts";
import { ConfirmedPublisher } from "./publisher.ts";
import { openStateStore } from "./state-store.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_RETRY_DELAY_MS = 10 * 60_000;
const OUTPUT_LINGER_MS = 20;
const PROGRESS_INTERVAL_MS = 5_000;
/** Longest pause before a failing continuous collector runs again. */
const CONTINUOUS_RETRY_MAX_MS = 60_000;

/** What the dead-letter stream stores for each failed message. */
export interface DeadLetter {
  bot: string;
  pipeline: string;
  /** The bot's input subject: where `petrelctl dlq replay` re-injects the message. */
  inputSubject: string;
  reason: "retries-exhausted" | "invalid-message" | "record-failed" | "wrong-type" | "output-too-large";
  error: string;
  stack?: string;
  attempts: number;
  time: string;
  /** The original message as serialised (a parser's failed record: the report with just that record). */
  message: string;
}

/** An output larger than the NATS server accepts: it can never be published, so retrying is useless. */
export class OutputTooLargeError extends Error {
  constructor(bytes: number, maxPayload: number) {
    super(
      `an output of ${bytes} bytes exceeds the NATS server's max_payload of ${maxPayload} bytes (split the input, e.g. with the collector's chunk_size, or raise max_payload)`,
    );
    this.name = "OutputTooLargeError";
  }
}

export class BotStoppedByErrorProcedure extends Error {
  constructor(cause: unknown) {
    super(`error_procedure is stop: the bot stops after a failure (${(cause as Error)?.message ?? cause})`);
    this.name = "BotStoppedByErrorProcedure";
  }
}

/** Tracks the outputs of one input; acknowledges the input when processing ended and all are stored. */
class InputTracker {
  #outstanding = 0;
  #finished = false;
  #onDone: () => void;
  constructor(onDone: () => void) {
    this.#onDone = onDone;
  }
  add(): () => void {
    this.#outstanding++;
    return () => {
      this.#outstanding--;
      if (this.#finished && this.#outstanding === 0) this.#onDone();
    };
  }
  finish(): void {
    this.#finished = true;
    if (this.#outstanding === 0) this.#onDone();
  }
}

/** A message handed over in memory to an output bot, waiting in its batch. */
class HandedOver {
  readonly message: Message;
  readonly id: string;
  readonly done: () => void;
  constructor(message: Message, id: string, done: () => void) {
    this.message = message;
    this.id = id;
    this.done = done;
  }
}

type BatchItem = JsMsg | HandedOver;

export interface BotProcessDeps {
  config: RuntimeConfig;
  module: BotModule;
  log: Logger;
  metrics: BotMetrics;
  /**
   * The other bots of this process by input subject: output for them is handed over in memory. The
   * map may be filled after construction (all bots of a process are created before any runs).
   */
  local?: ReadonlyMap<string, BotProcess>;
}

export class BotProcess {
  readonly #config: RuntimeConfig;
  readonly #module: BotModule;
  readonly #log: Logger;
  readonly #metrics: BotMetrics;
  readonly #abort = new AbortController();
  #nc?: NatsConnection;
  #publisher?: ConfirmedPublisher;
  #messages?: ConsumerMessages;
  #ready = false;
  #inFlight = 0;
  /** Inputs being processed, with their start time (performance.now()), for progress signals. */
  readonly #working = new Map<JsMsg, number>();
  /** Inputs whose outputs are all stored, to acknowledge (see #ackLater). */
  #acks: JsMsg[] = [];
  /** Stored outputs by path, not yet added to the sent counter. */
  readonly #sentByPath = new Map<string, number>();
  #flushScheduled = false;
  #fatal?: Error;
  #warnedPaths = new Set<string>();
  #kvCreate?: KvCreateFastPath;
  /** Inputs finished, to recognise copies that come back after a NATS restart. */
  readonly #completed = new CompletedInputs();
  readonly #local: ReadonlyMap<string, BotProcess>;
  /** Parsers and experts: the handler, for hand-overs from bots of the same process. */
  #processor?: Processor;
  /** Messages handed over and not finished yet; bounded like the queue's in-flight work. */
  #handedInFlight = 0;
  readonly #handedWaiters: Array<() => void> = [];
  #handedIdle?: () => void;
  /** Something succeeded since the last flush (the last-success gauge is set once per turn). */
  #succeeded = false;
  /** Outputs: the batch being filled, from the queue and from hand-overs. */
  #batch: BatchItem[] = [];
  #batchTimer?: NodeJS.Timeout;
  #flushing: Promise<void> = Promise.resolve();
  #output?: Output;
  /** Experts and outputs: the pipeline's exclusions that apply at this bot. */
  #exclusions?: ExclusionWatch;

  constructor(deps: BotProcessDeps) {
    this.#config = deps.config;
    this.#module = deps.module;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
    this.#local = deps.local ?? new Map();
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** The bot's input subject (its queue), if it has one. */
  get inputSubject(): string | undefined {
    return this.#config.input?.subject;
  }

  /** Whether a bot of the same process may hand messages over now (started, not stopping). */
  get accepting(): boolean {
    return this.#ready && !this.#abort.signal.aborted && this.#module.kind !== "collector";
  }

  /** Connects, runs until stop() is called (or a fatal error), then drains. */
  async run(): Promise<void> {
    const config = this.#config;
    const params = parameterSchema(this.#module).parse(parametersWithEnv(config)) as Record<string, unknown>;
    this.#nc = await connectNats({
      servers: config.nats.servers,
      name: `petrel-${config.pipeline}-${config.bot}`,
      ...(config.nats.credentialsFile ? { credentialsFile: config.nats.credentialsFile } : {}),
    });
    void this.#watchConnection(this.#nc);
    this.#publisher = new ConfirmedPublisher(this.#nc, {
      maxInFlight: config.maxInFlight,
      log: this.#log,
      onRetry: (reason) => this.#metrics.publishRetries.inc({ reason: retryReason(reason) }),
    });
    const ctx: BotContext = {
      botId: config.bot,
      pipeline: config.pipeline,
      log: this.#log,
      signal: this.#abort.signal,
      state: (bucket, options) => this.#state(bucket, options?.ttlMs),
      metrics: this.#metrics.sink,
    };
    try {
      if (this.#module.kind === "expert" || this.#module.kind === "output") {
        this.#exclusions = new ExclusionWatch({
          nc: this.#nc,
          pipeline: config.pipeline,
          bot: config.bot,
          kind: this.#module.kind,
          log: this.#log,
          matches: this.#metrics.exclusionMatches,
        });
        await this.#exclusions.start();
      }
      switch (this.#module.kind) {
        case "collector":
          await this.#runCollector(
            await this.#module.create(params as never, ctx),
            params as CollectorCommon,
          );
          break;
        case "parser":
          this.#processor = parserProcessor(
            await this.#module.create(params as never, ctx),
            params as ParserCommon,
          );
          await this.#consume(this.#processor);
          break;
        case "expert": {
          const expert = await this.#module.create(params as never, ctx);
          this.#processor = expertProcessor(expert);
          const ticking = expert.tick ? this.#runTicks(expert) : undefined;
          try {
            await this.#consume(this.#processor);
          } finally {
            this.#abort.abort();
            await ticking;
            await expert.close?.();
          }
          break;
        }
        case "output":
          this.#output = await this.#module.create(params as never, ctx);
          await this.#consumeBatches(this.#output);
          break;
      }
    } finally {
      this.#ready = false;
      await this.#publisher.close();
      this.#flush();
      this.#kvCreate?.close();
      await this.#exclusions?.stop();
      await this.#nc.drain();
    }
    if (this.#fatal) throw this.#fatal;
  }

  /** Stops taking work; in-flight messages finish and are acknowledged before run() returns. */
  stop(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    void this.#closeInput();
  }

  /**
   * Stops the input: unsubscribes with a drain, so the messages the server already sent still arrive
   * and are handed back (nak) instead of waiting out ack_wait; then closes. The drain uses the pull
   * subscription nats.js keeps internally; without it, closing alone is still correct, only slower.
   */
  async #closeInput(): Promise<void> {
    const messages = this.#messages;
    if (!messages) return;
    const sub = (messages as unknown as { sub?: { drain?: () => Promise<void> } }).sub;
    await sub?.drain?.().catch(() => undefined);
    await messages.close();
  }

  async #watchConnection(nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") this.#completed.disconnected();
      else if (status.type === "reconnect") this.#completed.reconnected();
    }
  }

  /** Acknowledges, without processing, a copy of an input this process already finished. */
  #isCopy(m: JsMsg, key: string): boolean {
    if (!this.#completed.isCopy(key)) return false;
    m.ack();
    this.#metrics.dropped.inc({ reason: "already-processed" });
    return true;
  }

  #state(bucket: string, ttlMs: number | undefined): Promise<StateStore> {
    this.#kvCreate ??= new KvCreateFastPath(this.#nc as NatsConnection);
    return openStateStore(this.#nc as NatsConnection, `${this.#config.stateBucketPrefix}_${bucket}`, {
      ttlMs,
      fast: this.#kvCreate,
    });
  }

  async #inputConsumer(): Promise<Consumer> {
    const input = this.#config.input;
    if (!input) throw new Error(`${this.#module.kind} bot ${this.#config.bot} has no input queue configured`);
    const js = jetstream(this.#nc as NatsConnection);
    const consumer = await js.consumers.get(this.#config.stream, input.consumer);
    this.#watchBacklog();
    return consumer;
  }

  #watchBacklog(): void {
    const input = this.#config.input;
    if (!input) return;
    const update = async () => {
      try {
        const jsm = await jetstreamManager(this.#nc as NatsConnection);
        const info = await jsm.consumers.info(this.#config.stream, input.consumer);
        this.#metrics.backlog.set(info.num_pending + info.num_ack_pending);
      } catch (error) {
        this.#log.debug({ err: error }, "Backlog not available.");
      }
    };
    const timer = setInterval(() => void update(), 5_000);
    timer.unref();
    this.#abort.signal.addEventListener("abort", () => clearInterval(timer));
    void update();
  }

  // ---- parsers and experts ----

  async #consume(processor: Processor): Promise<void> {
    const consumer = await this.#inputConsumer();
    const max = this.#config.maxInFlight;
    // Delivered, not started yet; the consumer's max_ack_pending bounds this queue.
    let incoming: JsMsg[] = [];
    let next = 0;
    let scheduled = false;
    let idle: (() => void) | undefined;
    // Messages start in a later event-loop turn, all that arrived meanwhile (several socket reads)
    // together: their publishes leave in one write instead of one per read.
    const startIncoming = () => {
      scheduled = false;
      const from = next;
      while (next < incoming.length && this.#inFlight < max && !this.#abort.signal.aborted) {
        const m = incoming[next] as JsMsg;
        incoming[next++] = undefined as never;
        start(m);
      }
      if (next > from) this.#metrics.received.inc(next - from);
      if (next === incoming.length || next >= 1024) {
        // Drop the started head, so the queue never grows beyond what is waiting.
        incoming = next === incoming.length ? [] : incoming.slice(next);
        next = 0;
      }
    };
    const schedule = () => {
      if (scheduled || next === incoming.length) return;
      scheduled = true;
      setImmediate(startIncoming);
    };
    const finished = () => {
      this.#inFlight--;
      schedule();
      if (this.#inFlight === 0) idle?.();
    };
    const failed = (error: unknown) => {
      this.#fatal ??= error instanceof Error ? error : new Error(String(error));
      this.stop();
      finished();
    };
    const start = (m: JsMsg) => {
      this.#inFlight++;
      let pending: undefined | Promise<void>;
      try {
        pending = this.#handle(processor, m);
      } catch (error) {
        failed(error);
        return;
      }
      if (pending) pending.then(finished, failed);
      else finished();
    };
    this.#messages = await consumer.consume({
      max_messages: this.#config.batchSize,
      callback: (m) => {
        if (this.#abort.signal.aborted) {
          m.nak(); // pulled but not started: hand it back at once
          return;
        }
        incoming.push(m);
        schedule();
      },
    });
    this.#ready = true;
    const progress = setInterval(() => this.#signalProgress(), PROGRESS_INTERVAL_MS);
    const closed = await this.#messages.closed();
    for (let i = next; i < incoming.length; i++) (incoming[i] as JsMsg).nak();
    incoming = [];
    next = 0;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (idle = resolve));
    await this.#handedDrained();
    clearInterval(progress);
    if (closed instanceof Error && !this.#abort.signal.aborted) throw closed;
  }

  /** Acknowledges in a later event-loop turn, with the other acks due by then: one write for all. */
  #ackLater(m: JsMsg): void {
    this.#acks.push(m);
    this.#flushLater();
  }

  /** Counts a stored output; counters are updated once per event-loop turn, not per message. */
  #countSent(path: string): void {
    this.#sentByPath.set(path, (this.#sentByPath.get(path) ?? 0) + 1);
    this.#flushLater();
  }

  #flushLater(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(this.#flush);
  }

  readonly #flush = (): void => {
    this.#flushScheduled = false;
    const acks = this.#acks;
    if (acks.length > 0 || this.#succeeded) {
      this.#acks = [];
      this.#succeeded = false;
      for (const m of acks) m.ack();
      this.#metrics.lastSuccess.set(Date.now() / 1000);
    }
    for (const [path, n] of this.#sentByPath) this.#metrics.sent.inc({ path }, n);
    this.#sentByPath.clear();
  };

  /** Long reports: tells JetStream that messages in work for a while are still being worked on. */
  #signalProgress(): void {
    const before = performance.now() - PROGRESS_INTERVAL_MS;
    for (const [m, started] of this.#working) if (started <= before) m.working();
  }

  /**
   * Handles one input. Synchronous handlers complete without a promise or a microtask (the common
   * case); a promise is returned only when something had to wait.
   */
  #handle(processor: Processor, m: JsMsg): undefined | Promise<void> {
    const started = performance.now();
    if (m.info.redelivered) this.#metrics.redeliveries.inc();
    const key = CompletedInputs.key(m);
    if (this.#isCopy(m, key)) return undefined;
    let input: Message;
    try {
      input = parseMessage(decoder.decode(m.data));
    } catch (error) {
      return this.#deadLetter(m, error, "invalid-message", m.data);
    }
    const seq = m.info.streamSequence;
    if (
      this.#exclusions &&
      this.#excluded(input, `${this.#config.bot}:${seq}`, () => {
        this.#completed.completed(key);
        this.#ackLater(m);
      })
    )
      return undefined;
    let outputIndex = 0;
    let rejectIndex = 0;
    const tracker = new InputTracker(() => {
      this.#completed.completed(key);
      this.#ackLater(m);
      this.#metrics.duration.observe((performance.now() - started) / 1000);
    });
    this.#working.set(m, started);
    let outcome: ProcessOutcome | Promise<ProcessOutcome>;
    try {
      outcome = processor.process(input, {
        inputId: key,
        emit: (path, message) =>
          this.#publishRouted(path, message, `${this.#config.bot}:${seq}:${outputIndex++}`, tracker),
        reject: (error, message) =>
          this.#rejectRecord(
            error,
            message,
            `${this.#config.bot}:${seq}:r${rejectIndex++}`,
            m.info.deliveryCount,
            tracker,
          ),
      });
    } catch (error) {
      this.#working.delete(m);
      return this.#processingFailed(m, error, input);
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (done) => this.#processed(m, done, tracker),
        (error) => {
          this.#working.delete(m);
          return this.#processingFailed(m, error, input);
        },
      );
    }
    this.#processed(m, outcome, tracker);
    return undefined;
  }

  #processed(m: JsMsg, outcome: ProcessOutcome, tracker: InputTracker): void {
    this.#working.delete(m);
    if (outcome.dropped) this.#metrics.dropped.inc({ reason: "no-output" }, outcome.dropped);
    tracker.finish();
  }

  /**
   * Sends one message to every destination of its path: published to the destination's queue, or
   * handed over in memory to a bot of this process. Returns a promise when back-pressured.
   */
  #publishRouted(
    path: string,
    message: Message,
    id: string,
    tracker: InputTracker,
  ): undefined | Promise<void> {
    const subjects = this.#config.destinations[path];
    if (!subjects || subjects.length === 0) {
      this.#metrics.dropped.inc({ reason: "no-destination" });
      if (!this.#warnedPaths.has(path)) {
        this.#warnedPaths.add(path);
        this.#log.warn({ path }, "Output on a path without destinations is discarded.");
      }
      return undefined;
    }
    const local = this.#local.size === 0 ? undefined : subjects.map((s) => this.#local.get(s));
    const takers = local?.map((bot) => (bot?.accepting ? bot : undefined));
    let data: Buffer | undefined;
    if (!takers || takers.some((bot) => bot === undefined)) {
      // Buffer.from takes event-sized buffers from a shared pool instead of one allocation each.
      data = Buffer.from(message.serialize());
      const maxPayload = this.#nc?.info?.max_payload;
      if (maxPayload !== undefined && data.length > maxPayload)
        throw new OutputTooLargeError(data.length, maxPayload);
    }
    // Each destination gets its own copy; the last one taking it in memory gets the original.
    const lastTaker = takers ? takers.findLastIndex((bot) => bot !== undefined) : -1;
    let wait: undefined | Promise<void>;
    for (let i = 0; i < subjects.length; i++) {
      const stored = tracker.add();
      const done = () => {
        this.#countSent(path);
        stored();
      };
      const taker = takers?.[i];
      const w = taker
        ? taker.handOver(i === lastTaker ? message : message.copy(), `${id}:${i}`, done)
        : (this.#publisher as ConfirmedPublisher).publish(
            subjects[i] as string,
            data as Buffer,
            `${id}:${i}`,
            done,
          );
      wait = w ?? wait;
    }
    return wait;
  }

  /**
   * Applies the pipeline's exclusions to an input. A dropped input, or one rerouted to the exclusion's
   * path, is finished here (`done` runs once the rerouted copy is stored) and true is returned; marks
   * change the message, which then goes on (false).
   */
  #excluded(message: Message, id: string, done: () => void): boolean {
    const verdict = this.#exclusions?.apply(message);
    if (!verdict || verdict.kind === "pass") return false;
    if (verdict.kind === "drop") {
      this.#metrics.dropped.inc({ reason: "excluded" });
      done();
      return true;
    }
    const tracker = new InputTracker(done);
    void this.#publishRouted(verdict.path, message, `${id}:x`, tracker);
    tracker.finish();
    return true;
  }

  // ---- hand-overs from bots of the same process ----

  /**
   * Takes a message from a bot of this process as if it had arrived on this bot's queue with message
   * id `id`. `done` is called once it is finished: its outputs are stored (outputs: written), or, after
   * a failure, the message is stored in this bot's queue, where retries and dead-lettering take their
   * usual course. Returns a promise when the caller must wait (too many hand-overs in progress).
   */
  handOver(message: Message, id: string, done: () => void): undefined | Promise<void> {
    this.#handedInFlight++;
    const finished = () => {
      this.#handedInFlight--;
      if (this.#handedInFlight < this.#config.maxInFlight) this.#handedWaiters.shift()?.();
      if (this.#handedInFlight === 0) this.#handedIdle?.();
      done();
    };
    this.#metrics.received.inc();
    if (this.#module.kind === "output") {
      this.#batch.push(new HandedOver(message, id, finished));
      const full = this.#addedToBatch();
      if (full) return full;
    } else {
      this.#processHanded(message, id, finished);
    }
    if (this.#handedInFlight < this.#config.maxInFlight) return undefined;
    return new Promise((resolve) => this.#handedWaiters.push(resolve));
  }

  /** Resolves once no hand-over is in progress. */
  #handedDrained(): Promise<void> {
    if (this.#handedInFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#handedIdle = resolve));
  }

  #processHanded(message: Message, id: string, finished: () => void): void {
    if (this.#exclusions && this.#excluded(message, `${this.#config.bot}:${id}`, finished)) return;
    const started = performance.now();
    // Kept for a failure: the handler may have changed the message before it failed.
    const original = message.copy();
    let outputIndex = 0;
    let rejectIndex = 0;
    const tracker = new InputTracker(() => {
      this.#metrics.duration.observe((performance.now() - started) / 1000);
      this.#succeeded = true;
      finished();
    });
    const sink: ProcessSink = {
      inputId: id,
      emit: (path, out) =>
        this.#publishRouted(path, out, `${this.#config.bot}:${id}:${outputIndex++}`, tracker),
      reject: (error, out) =>
        this.#rejectRecord(error, out, `${this.#config.bot}:${id}:r${rejectIndex++}`, 1, tracker),
    };
    const failed = (error: unknown) => {
      this.#requeue(original, id, error, tracker);
      tracker.finish();
    };
    let outcome: ProcessOutcome | Promise<ProcessOutcome>;
    try {
      outcome = (this.#processor as Processor).process(message, sink);
    } catch (error) {
      failed(error);
      return;
    }
    if (outcome instanceof Promise) outcome.then((done) => this.#handedProcessed(done, tracker), failed);
    else this.#handedProcessed(outcome, tracker);
  }

  #handedProcessed(outcome: ProcessOutcome, tracker: InputTracker): void {
    if (outcome.dropped) this.#metrics.dropped.inc({ reason: "no-output" }, outcome.dropped);
    tracker.finish();
  }

  /**
   * A hand-over failed: the message goes to this bot's queue under the id it would have had there, and
   * is retried (then dead-lettered) from there like any other input.
   */
  #requeue(message: Message, id: string, error: unknown, tracker: InputTracker): void {
    this.#metrics.failed.inc();
    this.#log.warn(
      { err: error },
      "A message handed over in memory failed; it goes to the bot's queue to be retried from there.",
    );
    const stored = tracker.add();
    void (this.#publisher as ConfirmedPublisher).publish(
      this.#config.input?.subject as string,
      Buffer.from(message.serialize()),
      id,
      stored,
    );
  }

  #rejectRecord(error: unknown, message: Message, id: string, attempts: number, tracker: InputTracker) {
    this.#log.warn({ err: error }, "A record failed and is dead-lettered; the rest of the message goes on.");
    this.#metrics.deadLettered.inc({ reason: "record-failed" });
    const letter = this.#letter(error, "record-failed", attempts, message.serialize());
    const stored = tracker.add();
    const wait = (this.#publisher as ConfirmedPublisher).publish(
      this.#config.deadLetter.subject,
      encoder.encode(JSON.stringify(letter)),
      id,
      stored,
    );
    // IntelMQ parity: a configured _on_error path also receives the failed part.
    if (this.#config.destinations._on_error)
      return this.#publishRouted("_on_error", message, `${id}:e`, tracker) ?? wait;
    return wait;
  }

  #letter(error: unknown, reason: DeadLetter["reason"], attempts: number, message: string): DeadLetter {
    const e = error instanceof Error ? error : new Error(String(error));
    return {
      bot: this.#config.bot,
      pipeline: this.#config.pipeline,
      inputSubject: this.#config.input?.subject ?? "",
      reason,
      error: e.message,
      ...(e.stack ? { stack: e.stack } : {}),
      attempts,
      time: new Date().toISOString(),
      message,
    };
  }

  /** Stores a dead letter for `m`, then acknowledges `m`. */
  async #deadLetter(
    m: JsMsg,
    error: unknown,
    reason: DeadLetter["reason"],
    original: Uint8Array,
  ): Promise<void> {
    this.#metrics.deadLettered.inc({ reason });
    this.#log.error({ err: error, reason, seq: m.info.streamSequence }, "Message dead-lettered.");
    const letter = this.#letter(error, reason, m.info.deliveryCount, decoder.decode(original));
    await new Promise<void>((resolve) => {
      const wait = (this.#publisher as ConfirmedPublisher).publish(
        this.#config.deadLetter.subject,
        encoder.encode(JSON.stringify(letter)),
        `${this.#config.bot}:${m.info.streamSequence}:dl`,
        resolve,
      );
      void wait;
    });
    this.#completed.completed(CompletedInputs.key(m));
    m.ack();
  }

  async #processingFailed(m: JsMsg, error: unknown, input: Message): Promise<void> {
    this.#metrics.failed.inc();
    const attempts = m.info.deliveryCount;
    const { maxRetries, retryDelayMs, procedure } = this.#config.errors;
    // Invalid values and wrong message types fail the same way every time: no retries (IntelMQ parity).
    const permanent =
      error instanceof FieldError ||
      error instanceof WrongMessageTypeError ||
      error instanceof OutputTooLargeError;
    if (!permanent && attempts <= maxRetries) {
      const delay = Math.min(MAX_RETRY_DELAY_MS, retryDelayMs * 2 ** (attempts - 1));
      this.#log.warn({ err: error, attempts, retryInMs: delay }, "Processing failed; retrying later.");
      m.nak(delay);
      return;
    }
    if (procedure === "stop") {
      m.nak();
      this.#fatal = new BotStoppedByErrorProcedure(error);
      this.#log.fatal({ err: error }, "Processing failed and error_procedure is stop: stopping the bot.");
      this.stop();
      return;
    }
    const reason =
      error instanceof WrongMessageTypeError
        ? "wrong-type"
        : error instanceof OutputTooLargeError
          ? "output-too-large"
          : "retries-exhausted";
    if (this.#config.destinations._on_error) {
      await new Promise<void>((resolve) => {
        const tracker = new InputTracker(resolve);
        void this.#publishRouted(
          "_on_error",
          input,
          `${this.#config.bot}:${m.info.streamSequence}:oe`,
          tracker,
        );
        tracker.finish();
      });
    }
    await this.#deadLetter(m, error, reason, m.data);
  }

  // ---- outputs ----

  async #consumeBatches(output: Output): Promise<void> {
    const consumer = await this.#inputConsumer();
    this.#messages = await consumer.consume({ max_messages: this.#config.batchSize });
    this.#ready = true;
    for await (const m of this.#messages) {
      if (this.#abort.signal.aborted) {
        m.nak();
        continue;
      }
      this.#metrics.received.inc();
      if (m.info.redelivered) this.#metrics.redeliveries.inc();
      this.#batch.push(m);
      const full = this.#addedToBatch();
      if (full) await full;
    }
    await this.#handedDrained(); // hand-overs still in the batch are written by the flushes it waits for
    await this.#flushBatch();
    await output.close?.();
  }

  /** After an item joined the batch: a promise (of the write) when the batch is full, else a timer. */
  #addedToBatch(): undefined | Promise<void> {
    if (this.#batch.length >= this.#config.batchSize) return this.#flushBatch();
    this.#batchTimer ??= setTimeout(() => void this.#flushBatch(), OUTPUT_LINGER_MS);
    return undefined;
  }

  /** Writes the batch collected so far, after the writes before it. */
  #flushBatch(): Promise<void> {
    if (this.#batchTimer) clearTimeout(this.#batchTimer);
    this.#batchTimer = undefined;
    const current = this.#batch;
    this.#batch = [];
    if (current.length > 0) {
      this.#flushing = this.#flushing.then(() => this.#writeBatch(this.#output as Output, current));
    }
    return this.#flushing;
  }

  async #writeBatch(output: Output, items: BatchItem[]): Promise<void> {
    const started = process.hrtime.bigint();
    const events: Event[] = [];
    const accepted: BatchItem[] = [];
    for (const item of items) {
      if (item instanceof HandedOver) {
        if (item.message.kind === "Event") {
          if (this.#exclusions && this.#excluded(item.message, `${this.#config.bot}:${item.id}`, item.done))
            continue;
          events.push(item.message as Event);
          accepted.push(item);
        } else {
          await this.#requeueHanded(item, new WrongMessageTypeError("Event", item.message.kind));
        }
        continue;
      }
      const m = item;
      if (this.#isCopy(m, CompletedInputs.key(m))) continue;
      try {
        const message = parseMessage(decoder.decode(m.data));
        if (message.kind !== "Event") throw new WrongMessageTypeError("Event", message.kind);
        const done = () => {
          this.#completed.completed(CompletedInputs.key(m));
          m.ack();
        };
        if (this.#exclusions && this.#excluded(message, `${this.#config.bot}:${m.info.streamSequence}`, done))
          continue;
        events.push(message as Event);
        accepted.push(m);
      } catch (error) {
        await this.#deadLetter(
          m,
          error,
          error instanceof WrongMessageTypeError ? "wrong-type" : "invalid-message",
          m.data,
        );
      }
    }
    if (events.length === 0) return;
    // The events as they were: a sink may change what it is given, and a retry needs the original.
    const originals = accepted.some((item) => item instanceof HandedOver)
      ? events.map((event, i) => (accepted[i] instanceof HandedOver ? event.copy() : event))
      : events;
    try {
      const writeStarted = process.hrtime.bigint();
      try {
        await output.write(events);
      } finally {
        this.#metrics.outputBatchSize.observe(events.length);
        this.#metrics.outputWriteDuration.observe(Number(process.hrtime.bigint() - writeStarted) / 1e9);
      }
      for (const item of accepted) {
        if (item instanceof HandedOver) {
          item.done();
          continue;
        }
        this.#completed.completed(CompletedInputs.key(item));
        item.ack();
      }
      this.#metrics.sent.inc({ path: "_default" }, events.length);
      this.#metrics.lastSuccess.set(Date.now() / 1000);
      this.#metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    } catch (error) {
      if (events.length === 1) {
        const item = accepted[0] as BatchItem;
        if (item instanceof HandedOver) {
          await this.#requeueHanded(new HandedOver(originals[0] as Event, item.id, item.done), error);
        } else {
          await this.#processingFailed(item, error, events[0] as Event);
        }
        return;
      }
      // Find the culprit: write one by one, so only failing events are retried or dead-lettered.
      this.#log.warn(
        { err: error, size: events.length },
        "Batch write failed; writing its events one by one.",
      );
      for (let i = 0; i < accepted.length; i++) {
        const item = accepted[i] as BatchItem;
        const retry =
          item instanceof HandedOver ? new HandedOver(originals[i] as Event, item.id, item.done) : item;
        await this.#writeBatch(output, [retry]);
      }
    }
  }

  /** An output's hand-over failed: to its queue, where retries and dead-lettering happen. */
  #requeueHanded(item: HandedOver, error: unknown): Promise<void> {
    return new Promise((resolve) => {
      const tracker = new InputTracker(() => {
        item.done();
        resolve();
      });
      this.#requeue(item.message, item.id, error, tracker);
      tracker.finish();
    });
  }

  // ---- collectors ----

  async #runCollector(collector: import("../sdk/bot.ts").Collector, params: CollectorCommon): Promise<void> {
    this.#ready = true;
    const interval = this.#config.intervalMs ?? 0;
    const cron = this.#config.schedule ? new Cron(this.#config.schedule, { timezone: "UTC" }) : undefined;
    const signal = this.#abort.signal;
    // With a schedule, the first run waits for its first slot.
    if (cron) await sleep(cron.msToNext() ?? Number.POSITIVE_INFINITY, signal);
    const emit = (report: Report) => this.#emitReport(report, params);
    const continuous = this.#module.kind === "collector" && this.#module.mode === "continuous";
    // A continuous collector that keeps failing (a listener's port taken, a server away) is restarted
    // after a growing pause, not at once in a loop.
    let failures = 0;
    while (!signal.aborted) {
      try {
        await collector.collect(emit);
        failures = 0;
        this.#metrics.collectorRuns.inc({ result: "ok" });
        this.#metrics.lastSuccess.set(Date.now() / 1000);
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        this.#metrics.collectorRuns.inc({ result: "error" });
        this.#log.error({ err: error }, "Collection failed.");
      }
      if (continuous && !signal.aborted) {
        if (failures > 0) await sleep(Math.min(CONTINUOUS_RETRY_MAX_MS, 500 * 2 ** (failures - 1)), signal);
        continue;
      }
      const wait = cron
        ? (cron.msToNext() ?? Number.POSITIVE_INFINITY)
        : interval > 0
          ? interval
          : Number.POSITIVE_INFINITY;
      await sleep(wait, signal);
    }
    await collector.close?.();
  }

  /** Calls an expert's tick() on its interval until the bot stops; a failing tick is logged and retried. */
  async #runTicks(expert: Expert): Promise<void> {
    const tick = expert.tick?.bind(expert);
    if (!tick) return;
    const interval = expert.tickIntervalMs ?? 1000;
    const emit = (id: string, result: ExpertResult) =>
      new Promise<void>((resolve, reject) => {
        const tracker = new InputTracker(resolve);
        try {
          let index = 0;
          for (const { path, message } of routedOf(result)) {
            void this.#publishRouted(path, message, `${this.#config.bot}:tick:${id}:${index++}`, tracker);
          }
        } catch (error) {
          reject(error);
          return;
        }
        tracker.finish();
      });
    while (!this.#abort.signal.aborted) {
      await sleep(interval, this.#abort.signal);
      if (this.#abort.signal.aborted) break;
      try {
        await tick(emit, { flush: false });
        this.#metrics.lastSuccess.set(Date.now() / 1000);
      } catch (error) {
        this.#metrics.failed.inc();
        this.#log.error(
          { err: error },
          "The expert's timed work (tick) failed; it runs again next interval.",
        );
      }
    }
  }

  #emitReport(report: Report, params: CollectorCommon): Promise<void> {
    const feed: Array<[string, unknown]> = [
      ["feed.name", params.name],
      ["feed.provider", params.provider],
      ["feed.code", params.code],
      ["feed.documentation", params.documentation],
      ["feed.accuracy", params.accuracy],
    ];
    for (const [key, value] of feed) if (value !== undefined) report.add(key, value, { overwrite: false });
    if (!report.has("raw")) {
      this.#metrics.dropped.inc({ reason: "report-without-raw" });
      this.#log.warn("A report without raw data was not sent.");
      return Promise.resolve();
    }
    // Same report content → same id: a collector that re-sends after a crash adds no duplicate.
    const digest = createHash("sha256");
    for (const [key, value] of report.entries()) {
      if (key !== "time.observation") digest.update(`${key}\0${JSON.stringify(value)}\0`);
    }
    const id = `${this.#config.bot}:${digest.digest("hex")}`;
    return new Promise<void>((resolve) => {
      const tracker = new InputTracker(resolve);
      const wait = this.#publishRouted("_default", report, id, tracker);
      tracker.finish();
      void wait;
    });
  }
}

/**
 * The reason label of petrel_bot_publish_retries_total: JetStream answers 503 both for a full stream and
 * for no stream at all, which call for different fixes.
 */
function retryReason(refusal: string): string {
  if (refusal === "timeout" || refusal === "reconnect") return refusal;
  if (/maximum (bytes|messages)|insufficient resources/i.test(refusal)) return "full";
  if (/^503\s*$|no responders/i.test(refusal)) return "no-stream"; // a bare 503 status: nothing listens
  return "refused";
}
