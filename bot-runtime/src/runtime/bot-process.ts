// One bot process on JetStream: pulls its input in batches, runs the handler, publishes every output to
// every destination of its path with a deterministic message id, and acknowledges an input only after
// all its outputs are stored. Failures are retried with backoff, then dead-lettered; nothing is dropped
// silently. Collectors run on an interval (or continuously) and publish reports the same way.
import { createHash } from "node:crypto";
import {
  type Consumer,
  type ConsumerMessages,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { Cron } from "croner";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config/render.ts";
import { type Event, FieldError, type Message, parseMessage, type Report } from "../event/message.ts";
import type { BotContext, BotModule, Output, StateStore } from "../sdk/bot.ts";
import { type CollectorCommon, type ParserCommon, parameterSchema } from "../sdk/common-parameters.ts";
import {
  expertProcessor,
  type ProcessOutcome,
  type Processor,
  parserProcessor,
  WrongMessageTypeError,
} from "../sdk/processor.ts";
import { CompletedInputs } from "./completed-inputs.ts";
import { connectNats } from "./jetstream.ts";
import { KvCreateFastPath } from "./kv-create.ts";
import type { BotMetrics } from "./metrics.ts";
import { ConfirmedPublisher } from "./publisher.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_RETRY_DELAY_MS = 10 * 60_000;
const OUTPUT_LINGER_MS = 20;
const PROGRESS_INTERVAL_MS = 5_000;
/** KV keys as nats.js accepts them (it also refuses a leading or trailing dot). */
const VALID_KV_KEY = /^[-/=.\w]+$/;

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

export interface BotProcessDeps {
  config: RuntimeConfig;
  module: BotModule;
  log: Logger;
  metrics: BotMetrics;
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
  #kvm?: Kvm;
  #kvCreate?: KvCreateFastPath;
  /** Inputs finished, to recognise copies that come back after a NATS restart. */
  readonly #completed = new CompletedInputs();

  constructor(deps: BotProcessDeps) {
    this.#config = deps.config;
    this.#module = deps.module;
    this.#log = deps.log;
    this.#metrics = deps.metrics;
  }

  get ready(): boolean {
    return this.#ready;
  }

  /** Connects, runs until stop() is called (or a fatal error), then drains. */
  async run(): Promise<void> {
    const config = this.#config;
    const params = parameterSchema(this.#module).parse(config.parameters) as Record<string, unknown>;
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
    };
    try {
      switch (this.#module.kind) {
        case "collector":
          await this.#runCollector(
            await this.#module.create(params as never, ctx),
            params as CollectorCommon,
          );
          break;
        case "parser":
          await this.#consume(
            parserProcessor(await this.#module.create(params as never, ctx), params as ParserCommon),
          );
          break;
        case "expert":
          await this.#consume(expertProcessor(await this.#module.create(params as never, ctx)));
          break;
        case "output":
          await this.#consumeBatches(await this.#module.create(params as never, ctx));
          break;
      }
    } finally {
      this.#ready = false;
      await this.#publisher.close();
      this.#flush();
      this.#kvCreate?.close();
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

  async #state(bucket: string, ttlMs: number | undefined): Promise<StateStore> {
    this.#kvm ??= new Kvm(this.#nc as NatsConnection);
    const name = `${this.#config.stateBucketPrefix}_${bucket}`;
    const kv = await this.#kvm.create(name, {
      history: 1,
      ...(ttlMs ? { ttl: ttlMs } : {}),
    });
    this.#kvCreate ??= new KvCreateFastPath(this.#nc as NatsConnection);
    const fast = this.#kvCreate;
    return {
      get: async (key) => (await kv.get(key))?.string(),
      put: async (key, value) => {
        await kv.put(key, value);
      },
      create: async (key, value) => {
        // The common case (a new key) without a request; the library decides everything else.
        if (VALID_KV_KEY.test(key) && !key.startsWith(".") && !key.endsWith(".")) {
          if ((await fast.create(`$KV.${name}.${key}`, Buffer.from(value))) === "stored") return true;
        }
        try {
          await kv.create(key, value);
          return true;
        } catch (error) {
          if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
          throw error;
        }
      },
      delete: async (key) => {
        await kv.delete(key);
      },
    };
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
    if (acks.length > 0) {
      this.#acks = [];
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
        emit: (path, message) =>
          this.#publishRouted(path, message, `${this.#config.bot}:${seq}:${outputIndex++}`, tracker),
        reject: (error, message) =>
          this.#rejectRecord(error, message, `${this.#config.bot}:${seq}:r${rejectIndex++}`, m, tracker),
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

  /** Publishes one message to every destination of its path; returns a promise when back-pressured. */
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
    // Buffer.from takes event-sized buffers from a shared pool instead of one allocation each.
    const data = Buffer.from(message.serialize());
    const maxPayload = this.#nc?.info?.max_payload;
    if (maxPayload !== undefined && data.length > maxPayload)
      throw new OutputTooLargeError(data.length, maxPayload);
    let wait: undefined | Promise<void>;
    for (let i = 0; i < subjects.length; i++) {
      const stored = tracker.add();
      const w = (this.#publisher as ConfirmedPublisher).publish(
        subjects[i] as string,
        data,
        `${id}:${i}`,
        () => {
          this.#countSent(path);
          stored();
        },
      );
      wait = w ?? wait;
    }
    return wait;
  }

  #rejectRecord(error: unknown, message: Message, id: string, m: JsMsg, tracker: InputTracker) {
    this.#log.warn({ err: error }, "A record failed and is dead-lettered; the rest of the message goes on.");
    this.#metrics.deadLettered.inc({ reason: "record-failed" });
    const letter = this.#letter(error, "record-failed", m.info.deliveryCount, message.serialize());
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
    let batch: JsMsg[] = [];
    let timer: NodeJS.Timeout | undefined;
    let flushing = Promise.resolve();
    const flush = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      const current = batch;
      batch = [];
      if (current.length > 0) flushing = flushing.then(() => this.#writeBatch(output, current));
      return flushing;
    };
    for await (const m of this.#messages) {
      if (this.#abort.signal.aborted) {
        m.nak();
        continue;
      }
      batch.push(m);
      if (batch.length >= this.#config.batchSize) await flush();
      else timer ??= setTimeout(() => void flush(), OUTPUT_LINGER_MS);
    }
    await flush();
    await output.close?.();
  }

  async #writeBatch(output: Output, messages: JsMsg[]): Promise<void> {
    const started = process.hrtime.bigint();
    const events: Event[] = [];
    const accepted: JsMsg[] = [];
    for (const m of messages) {
      this.#metrics.received.inc();
      if (m.info.redelivered) this.#metrics.redeliveries.inc();
      if (this.#isCopy(m, CompletedInputs.key(m))) continue;
      try {
        const message = parseMessage(decoder.decode(m.data));
        if (message.kind !== "Event") throw new WrongMessageTypeError("Event", message.kind);
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
    try {
      await output.write(events);
      for (const m of accepted) {
        this.#completed.completed(CompletedInputs.key(m));
        m.ack();
      }
      this.#metrics.sent.inc({ path: "_default" }, events.length);
      this.#metrics.lastSuccess.set(Date.now() / 1000);
      this.#metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    } catch (error) {
      if (events.length === 1) {
        await this.#processingFailed(accepted[0] as JsMsg, error, events[0] as Event);
        return;
      }
      // Find the culprit: write one by one, so only failing events are retried or dead-lettered.
      this.#log.warn(
        { err: error, size: events.length },
        "Batch write failed; writing its events one by one.",
      );
      for (let i = 0; i < events.length; i++) await this.#writeBatch(output, [accepted[i] as JsMsg]);
    }
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
    while (!signal.aborted) {
      try {
        await collector.collect(emit);
        this.#metrics.collectorRuns.inc({ result: "ok" });
        this.#metrics.lastSuccess.set(Date.now() / 1000);
      } catch (error) {
        if (signal.aborted) break;
        this.#metrics.collectorRuns.inc({ result: "error" });
        this.#log.error({ err: error }, "Collection failed.");
      }
      if (this.#module.kind === "collector" && this.#module.mode === "continuous" && !signal.aborted)
        continue;
      const wait = cron
        ? (cron.msToNext() ?? Number.POSITIVE_INFINITY)
        : interval > 0
          ? interval
          : Number.POSITIVE_INFINITY;
      await sleep(wait, signal);
    }
    await collector.close?.();
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
  if (refusal === "timeout") return "timeout";
  if (/maximum (bytes|messages)|insufficient resources/i.test(refusal)) return "full";
  if (/^503\s*$|no responders/i.test(refusal)) return "no-stream"; // a bare 503 status: nothing listens
  return "refused";
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done() {
      if (timer) clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
