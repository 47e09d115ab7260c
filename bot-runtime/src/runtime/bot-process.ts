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
import { expertProcessor, type Processor, parserProcessor, WrongMessageTypeError } from "../sdk/processor.ts";
import { connectNats } from "./jetstream.ts";
import type { BotMetrics } from "./metrics.ts";
import { ConfirmedPublisher } from "./publisher.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MAX_RETRY_DELAY_MS = 10 * 60_000;
const OUTPUT_LINGER_MS = 20;

/** What the dead-letter stream stores for each failed message. */
export interface DeadLetter {
  bot: string;
  pipeline: string;
  /** The bot's input subject: where `petrelctl dlq replay` re-injects the message. */
  inputSubject: string;
  reason: "retries-exhausted" | "invalid-message" | "record-failed" | "wrong-type";
  error: string;
  stack?: string;
  attempts: number;
  time: string;
  /** The original message as serialised (a parser's failed record: the report with just that record). */
  message: string;
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
  #slotWaiters: Array<() => void> = [];
  #fatal?: Error;
  #warnedPaths = new Set<string>();
  #kvm?: Kvm;

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
    this.#publisher = new ConfirmedPublisher(this.#nc, {
      maxInFlight: config.maxInFlight,
      log: this.#log,
      onRetry: (reason) => this.#metrics.publishRetries.inc({ reason: reason.split(" ")[0] ?? reason }),
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
      await this.#nc.drain();
    }
    if (this.#fatal) throw this.#fatal;
  }

  /** Stops taking work; in-flight messages finish and are acknowledged before run() returns. */
  stop(): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    void this.#messages?.close();
    for (const wake of this.#slotWaiters.splice(0)) wake();
  }

  async #state(bucket: string, ttlMs: number | undefined): Promise<StateStore> {
    this.#kvm ??= new Kvm(this.#nc as NatsConnection);
    const kv = await this.#kvm.create(`${this.#config.stateBucketPrefix}_${bucket}`, {
      history: 1,
      ...(ttlMs ? { ttl: ttlMs } : {}),
    });
    return {
      get: async (key) => (await kv.get(key))?.string(),
      put: async (key, value) => {
        await kv.put(key, value);
      },
      create: async (key, value) => {
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
    this.#messages = await consumer.consume({ max_messages: this.#config.batchSize });
    this.#ready = true;
    const pending = new Set<Promise<void>>();
    for await (const m of this.#messages) {
      if (this.#abort.signal.aborted) {
        m.nak(); // pulled but not started: hand it back at once
        continue;
      }
      this.#inFlight++;
      const job = this.#handle(processor, m).finally(() => {
        this.#inFlight--;
        pending.delete(job);
        for (const wake of this.#slotWaiters.splice(0)) wake();
      });
      pending.add(job);
      if (this.#inFlight >= this.#config.maxInFlight) {
        await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
      }
    }
    await Promise.all(pending);
  }

  async #handle(processor: Processor, m: JsMsg): Promise<void> {
    const started = process.hrtime.bigint();
    this.#metrics.received.inc();
    if (m.info.redelivered) this.#metrics.redeliveries.inc();
    let input: Message;
    try {
      input = parseMessage(decoder.decode(m.data));
    } catch (error) {
      await this.#deadLetter(m, error, "invalid-message", m.data);
      return;
    }
    const seq = m.info.streamSequence;
    let outputIndex = 0;
    let rejectIndex = 0;
    const tracker = new InputTracker(() => {
      m.ack();
      this.#metrics.lastSuccess.set(Date.now() / 1000);
      this.#metrics.duration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    });
    // Long reports: tell JetStream the message is still being worked on.
    const progress = setInterval(() => m.working(), 10_000);
    try {
      const outcome = await processor.process(input, {
        emit: (path, message) =>
          this.#publishRouted(path, message, `${this.#config.bot}:${seq}:${outputIndex++}`, tracker),
        reject: (error, message) =>
          this.#rejectRecord(error, message, `${this.#config.bot}:${seq}:r${rejectIndex++}`, m, tracker),
      });
      if (outcome.dropped) this.#metrics.dropped.inc({ reason: "no-output" }, outcome.dropped);
      tracker.finish();
    } catch (error) {
      await this.#processingFailed(m, error, input);
    } finally {
      clearInterval(progress);
    }
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
    const data = encoder.encode(message.serialize());
    let wait: undefined | Promise<void>;
    subjects.forEach((subject, i) => {
      const stored = tracker.add();
      const w = (this.#publisher as ConfirmedPublisher).publish(subject, data, `${id}:${i}`, () => {
        this.#metrics.sent.inc({ path });
        stored();
      });
      wait = w ?? wait;
    });
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
    m.ack();
  }

  async #processingFailed(m: JsMsg, error: unknown, input: Message): Promise<void> {
    this.#metrics.failed.inc();
    const attempts = m.info.deliveryCount;
    const { maxRetries, retryDelayMs, procedure } = this.#config.errors;
    // Invalid values and wrong message types fail the same way every time: no retries (IntelMQ parity).
    const permanent = error instanceof FieldError || error instanceof WrongMessageTypeError;
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
    const reason = error instanceof WrongMessageTypeError ? "wrong-type" : "retries-exhausted";
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
      for (const m of accepted) m.ack();
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
