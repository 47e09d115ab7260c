// Test harness for the reliability tests: a pipeline on a real nats-server, bots as real child processes
// (bot-runtime/src/runtime/main.ts), a confirmed producer, and an output bot that counts every event by
// its extra.n, so losses and duplicates are exact numbers.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import { z } from "zod";
import {
  botSubject,
  type ProcessConfig,
  pipelineNames,
  type RuntimeConfig,
  renderBotConfig,
} from "../../bot-runtime/src/config/render.ts";
import { Bot, Pipeline, type PipelineResource } from "../../bot-runtime/src/config/resources.ts";
import { BotProcess } from "../../bot-runtime/src/runtime/bot-process.ts";
import {
  connectNats,
  ensureBotConsumer,
  ensurePipelineStreams,
} from "../../bot-runtime/src/runtime/jetstream.ts";
import { BotMetrics } from "../../bot-runtime/src/runtime/metrics.ts";
import { ConfirmedPublisher } from "../../bot-runtime/src/runtime/publisher.ts";
import { type BotModule, defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { freePort, type TestNatsServer } from "../../bot-runtime/test-support/nats-server.ts";

const MAIN = fileURLToPath(new URL("../../bot-runtime/src/runtime/main.ts", import.meta.url));
// Bot processes also find the test-only modules of test-bots.ts.
const TEST_BOTS = new URL("./register-test-bots.ts", import.meta.url).href;
const encoder = new TextEncoder();
const quiet = pino({ level: "silent" });

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export interface BotDef {
  name: string;
  module: string;
  to: string[];
  parameters?: Record<string, unknown>;
}

export interface PipelineOptions {
  stream?: { storage?: "file" | "memory"; maxBytes?: string; maxMessagesPerQueue?: number };
  /** Bot defaults of the pipeline (error handling, log level). */
  defaults?: { errorRetryDelay?: string; errorMaxRetries?: number; logLevel?: "info" | "warn" };
  /** Redelivery delay of unacknowledged messages (a killed bot's in-flight work waits this long). */
  ackWaitMs?: number;
}

/** A pipeline's streams and consumers on `server`, with rendered bot configs written to a temp dir. */
export class TestPipeline {
  readonly name: string;
  readonly server: TestNatsServer;
  readonly resource: PipelineResource;
  readonly dir: string;
  readonly configs = new Map<string, RuntimeConfig>();
  readonly bots = new Map<string, BotChild>();
  readonly ackWaitMs: number;
  readonly #inProcess: InProcessBot[] = [];
  nc!: NatsConnection;

  constructor(server: TestNatsServer, name: string, options: PipelineOptions = {}) {
    this.server = server;
    this.name = name;
    this.resource = Pipeline.parse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: { name },
      spec: {
        stream: {
          storage: options.stream?.storage ?? "file",
          maxBytes: options.stream?.maxBytes ?? "1Gi",
          ...(options.stream?.maxMessagesPerQueue
            ? { maxMessagesPerQueue: options.stream.maxMessagesPerQueue }
            : {}),
        },
        deadLetter: { maxBytes: "64Mi" },
        defaults: { errorRetryDelay: "100ms", errorMaxRetries: 2, logLevel: "warn", ...options.defaults },
      },
    });
    this.dir = mkdtempSync(join(tmpdir(), `petrel-e2e-${name}-`));
    this.ackWaitMs = options.ackWaitMs ?? 2_000;
  }

  get stream(): string {
    return pipelineNames(this.name).stream;
  }

  /** Creates the streams, one consumer per bot and per sink, and the bot configs. */
  async setup(bots: BotDef[], sinks: string[]): Promise<this> {
    this.nc = await connectNats({ servers: [this.server.url], name: "petrel-e2e-test" });
    const jsm = await jetstreamManager(this.nc);
    await ensurePipelineStreams(jsm, this.resource);
    for (const name of [...bots.map((b) => b.name), ...sinks]) {
      await ensureBotConsumer(jsm, this.name, name, { ackWaitMs: this.ackWaitMs });
    }
    const sinkDefs: BotDef[] = sinks.map((name) => ({ name, module: "test.sink", to: [] }));
    for (const def of [...bots, ...sinkDefs]) {
      const resource = Bot.parse({
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Bot",
        metadata: { name: def.name },
        spec: {
          pipeline: this.name,
          module: def.module,
          parameters: def.parameters ?? {},
          destinations: { _default: def.to },
        },
      });
      const config = renderBotConfig(resource, this.resource, {
        natsUrl: this.server.url,
        metricsPort: await freePort(),
        hasInput: true,
      });
      this.configs.set(def.name, config);
      writeFileSync(join(this.dir, `${def.name}.json`), JSON.stringify(config));
    }
    return this;
  }

  /**
   * Makes `bots` (set up before, upstream first) share one process named `name`, as Bot spec `process`
   * does; `start(name)` then runs them together, handing messages over in memory.
   */
  shareProcess(name: string, bots: string[]): void {
    const configs = bots.map((bot) => {
      const config = this.configs.get(bot);
      if (!config) throw new Error(`no bot ${bot}`);
      return config;
    });
    const first = configs[0] as RuntimeConfig;
    const process: ProcessConfig = {
      process: name,
      pipeline: this.name,
      metricsPort: first.metricsPort,
      bots: configs,
    };
    this.configs.set(name, first);
    writeFileSync(join(this.dir, `${name}.json`), JSON.stringify(process));
  }

  /** Starts (or restarts) a bot process and waits until it is ready for work. */
  async start(name: string, env: Record<string, string> = {}): Promise<BotChild> {
    const config = this.configs.get(name);
    if (!config) throw new Error(`no bot ${name}`);
    const child = new BotChild(
      name,
      join(this.dir, `${name}.json`),
      config.metricsPort,
      join(this.dir, `${name}.log`),
      env,
    );
    this.bots.set(name, child);
    await child.ready();
    return child;
  }

  /** Runs a bot in this process, e.g. one that records what it sees in the test's memory. */
  runInProcess(name: string, module: BotModule): InProcessBot {
    const config = this.configs.get(name);
    if (!config) throw new Error(`no bot ${name}`);
    const metrics = new BotMetrics({ pipeline: this.name, bot: name, module: module.id, kind: module.kind });
    const bot = new BotProcess({ config, module, log: quiet, metrics });
    const done = bot.run();
    const running: InProcessBot = {
      metrics,
      done,
      stop: async () => {
        bot.stop();
        await done;
      },
    };
    this.#inProcess.push(running);
    return running;
  }

  /** Pending plus unacknowledged messages of a consumer. */
  async backlog(consumer: string): Promise<number> {
    const info = await (await jetstreamManager(this.nc)).consumers.info(this.stream, consumer);
    return info.num_pending + info.num_ack_pending;
  }

  async dispose(): Promise<void> {
    for (const bot of this.bots.values()) await bot.kill("SIGKILL");
    for (const bot of this.#inProcess) await bot.stop().catch(() => {});
    await this.nc?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface InProcessBot {
  metrics: BotMetrics;
  done: Promise<void>;
  stop(): Promise<void>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A bot process: `node main.ts --config FILE`, logs appended to a file for post-mortems. */
export class BotChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly logFile: string;
  readonly #metricsPort: number;

  constructor(
    name: string,
    configFile: string,
    metricsPort: number,
    logFile: string,
    env: Record<string, string>,
  ) {
    this.name = name;
    this.logFile = logFile;
    this.#metricsPort = metricsPort;
    const log = createWriteStream(logFile, { flags: "a" });
    this.process = spawn(process.execPath, ["--import", TEST_BOTS, MAIN, "--config", configFile], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.process.stdout?.pipe(log, { end: false });
    this.process.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) =>
      this.process.once("exit", (code, signal) => resolve({ code, signal })),
    );
  }

  get alive(): boolean {
    return this.process.exitCode === null && this.process.signalCode === null;
  }

  async ready(timeoutMs = 20_000): Promise<void> {
    const ok = await waitFor(async () => {
      if (!this.alive) throw new Error(`bot ${this.name} exited during start-up:\n${this.log()}`);
      return (await this.#get("/readyz").catch(() => 0)) === 200;
    }, timeoutMs);
    if (!ok) throw new Error(`bot ${this.name} not ready within ${timeoutMs} ms:\n${this.log()}`);
  }

  /** Sends a signal; resolves once the process has exited (unless it is only SIGHUP). */
  async kill(signal: NodeJS.Signals): Promise<Exit | undefined> {
    if (!this.alive) return this.exited;
    this.process.kill(signal);
    return signal === "SIGHUP" ? undefined : this.exited;
  }

  /** The value of one metric sample, summed over label sets matching `labels` (e.g. 'reason="timeout"'). */
  async metric(name: string, labels = ""): Promise<number> {
    const text = await this.#fetch("/metrics");
    let sum = 0;
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (labels && !line.includes(labels)) continue;
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return sum;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, "utf8").slice(-4000);
    } catch {
      return "";
    }
  }

  async #get(path: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.#metricsPort}${path}`, {
      signal: AbortSignal.timeout(2_000),
    });
    await res.arrayBuffer();
    return res.status;
  }

  async #fetch(path: string): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.#metricsPort}${path}`, {
      signal: AbortSignal.timeout(5_000),
    });
    return res.text();
  }
}

/** The wire form of test event `n`: unique by extra.n, cheap to build in bulk. */
export function testEvent(n: number): string {
  return `{"__type":"Event","classification.type":"scanner","source.ip":"192.0.2.${n % 250}","extra.n":${n}}`;
}

/**
 * Publishes events [from, to) to a bot's input with ids `producer:n`, confirmed and pipelined; retries
 * refusals (a full stream) like the runtime does. Resolves once all are stored.
 */
export async function produce(
  nc: NatsConnection,
  pipeline: string,
  bot: string,
  from: number,
  to: number,
  make: (n: number) => string = testEvent,
): Promise<void> {
  const publisher = new ConfirmedPublisher(nc, { maxInFlight: 1024, log: quiet });
  const subject = botSubject(pipeline, bot);
  for (let n = from; n < to; n++) {
    const wait = publisher.publish(subject, encoder.encode(make(n)), `producer:${n}`, () => {});
    if (wait) await wait;
  }
  await publisher.close();
}

/**
 * The end of the pipeline: an output bot run in this process by the real runtime (so it gets the same
 * redelivery handling as any output), counting every event it writes by extra.n.
 */
export class SinkBot {
  readonly counts: Uint16Array;
  /** Events written, copies included. */
  received = 0;
  distinct = 0;
  readonly bot: InProcessBot;

  constructor(pipeline: TestPipeline, name: string, expected: number) {
    this.counts = new Uint16Array(expected);
    const module = defineOutput({
      id: "test.counting-sink",
      intelmqModules: [],
      kind: "output",
      description: "counts events by extra.n",
      parameters: z.object({}),
      create: () => ({
        write: async (events) => {
          for (const event of events) {
            const n = event.get("extra.n") as number;
            this.received++;
            if (this.counts[n] === 0) this.distinct++;
            this.counts[n] = (this.counts[n] as number) + 1;
          }
        },
      }),
    });
    this.bot = pipeline.runInProcess(name, module as BotModule);
  }

  get duplicates(): number {
    return this.received - this.distinct;
  }

  /** Event numbers missing so far (at most `limit`). */
  missing(limit = 20): number[] {
    const out: number[] = [];
    for (let n = 0; n < this.counts.length && out.length < limit; n++) if (this.counts[n] === 0) out.push(n);
    return out;
  }

  stop(): Promise<void> {
    return this.bot.stop();
  }
}

/**
 * Waits until the sink saw all `expected` events and every consumer is empty, then lingers so a late
 * duplicate would still be counted.
 */
export async function settle(
  pipeline: TestPipeline,
  sink: SinkBot,
  expected: number,
  consumers: string[],
  timeoutMs: number,
): Promise<boolean> {
  const ok = await waitFor(
    async () => {
      if (sink.distinct < expected) return false;
      for (const c of consumers) if ((await pipeline.backlog(c).catch(() => 1)) > 0) return false;
      return true;
    },
    timeoutMs,
    100,
  );
  await sleep(500);
  return ok;
}
