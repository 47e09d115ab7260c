// A benchmark pipeline on the private nats-server: streams and consumers as `petrelctl up` makes them,
// bot processes spawned from rendered configs (the real entry point, or the bare loop), queues
// pre-loaded by a confirmed publisher, and outputs counted on an unconsumed sink queue.
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import {
  botSubject,
  type ProcessConfig,
  pipelineNames,
  type RuntimeConfig,
  renderBotConfig,
} from "../../bot-runtime/src/config/render.ts";
import { Bot, Pipeline } from "../../bot-runtime/src/config/resources.ts";
import {
  type ConsumerSettings,
  connectNats,
  ensureBotConsumer,
  ensurePipelineStreams,
} from "../../bot-runtime/src/runtime/jetstream.ts";
import { ConfirmedPublisher } from "../../bot-runtime/src/runtime/publisher.ts";
import type { runBareLoop } from "./bare-loop.ts";
import { track } from "./children.ts";

const MAIN = fileURLToPath(new URL("../../bot-runtime/src/runtime/main.ts", import.meta.url));
const BARE = fileURLToPath(new URL("./bare-loop.ts", import.meta.url));
/** The bare loop runs as a process of its own; this reference has it type-checked with the rest. */
export type BareLoop = typeof runBareLoop;

export interface BotSpec {
  name: string;
  module: string;
  parameters?: Record<string, unknown>;
  destinations: Record<string, string[]>;
  /** runtime: the real bot process; bare: the bare loop (bench/runtime/bare-loop.ts). */
  entry?: "runtime" | "bare";
  /** Overrides of the rendered runtime configuration (batch size, in-flight bound). */
  tune?: Partial<Pick<RuntimeConfig, "batchSize" | "maxInFlight">>;
  /** Extra node options for the bot process (e.g. V8 heap settings). */
  nodeArgs?: string[];
  /** Settings of the bot's durable consumer (default: as ensureBotConsumer makes it). */
  consumer?: ConsumerSettings;
  /** Extra environment variables for the bot process. */
  env?: Record<string, string>;
}

export interface RunningBot {
  name: string;
  pid: number;
  child: ChildProcess;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

export class BenchPipeline {
  readonly name: string;
  readonly nc: NatsConnection;
  readonly #configs = new Map<string, RuntimeConfig>();
  readonly #specs = new Map<string, BotSpec>();
  readonly #running: RunningBot[] = [];

  private constructor(name: string, nc: NatsConnection) {
    this.name = name;
    this.nc = nc;
  }

  static async create(
    url: string,
    name: string,
    bots: BotSpec[],
    sinks: string[] = [],
    /** Pipeline stream settings (spec.stream), e.g. { storage: "memory" }. */
    stream: Record<string, unknown> = {},
  ): Promise<BenchPipeline> {
    const nc = await connectNats({ servers: [url], name: "petrel-bench" });
    const pipeline = Pipeline.parse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: { name },
      spec: { nats: { url }, defaults: { logLevel: "warn" }, stream },
    });
    const jsm = await jetstreamManager(nc);
    await ensurePipelineStreams(jsm, pipeline);
    const p = new BenchPipeline(name, nc);
    for (const spec of bots) {
      await ensureBotConsumer(jsm, name, spec.name, spec.consumer);
      const bot = Bot.parse({
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Bot",
        metadata: { name: spec.name },
        spec: {
          pipeline: name,
          module: spec.module,
          parameters: spec.parameters ?? {},
          destinations: spec.destinations,
        },
      });
      const config = renderBotConfig(bot, pipeline, { natsUrl: url, metricsPort: 0, hasInput: true });
      p.#configs.set(spec.name, { ...config, ...spec.tune });
      p.#specs.set(spec.name, spec);
    }
    for (const sink of sinks) await ensureBotConsumer(jsm, name, sink);
    return p;
  }

  config(bot: string): RuntimeConfig {
    const config = this.#configs.get(bot);
    if (!config) throw new Error(`no bot ${bot} in pipeline ${this.name}`);
    return config;
  }

  /** Publishes messages to a bot's queue and waits until all are stored. */
  async preload(bot: string, messages: Iterable<Uint8Array>): Promise<number> {
    const publisher = new ConfirmedPublisher(this.nc, { maxInFlight: 4096, log: pino({ level: "warn" }) });
    const subject = botSubject(this.name, bot);
    let n = 0;
    for (const data of messages) {
      const wait = publisher.publish(subject, data, `preload:${n++}`, () => {});
      if (wait) await wait;
    }
    await publisher.close();
    return n;
  }

  /** Messages stored in a queue and not yet delivered (for a sink nobody reads: its count). */
  async queued(consumer: string): Promise<number> {
    const jsm = await jetstreamManager(this.nc);
    const info = await jsm.consumers.info(pipelineNames(this.name).stream, consumer);
    return info.num_pending + info.num_ack_pending;
  }

  spawn(bot: string): RunningBot {
    return this.#spawn(bot, JSON.stringify(this.config(bot)));
  }

  /**
   * Runs several bots in one process, as Bot spec `process` does: messages between them are handed
   * over in memory. `bots` upstream first; node options and environment come from the first.
   */
  spawnProcess(processName: string, bots: string[]): RunningBot {
    const config: ProcessConfig = {
      process: processName,
      pipeline: this.name,
      metricsPort: 0,
      bots: bots.map((b) => this.config(b)),
    };
    return this.#spawn(bots[0] as string, JSON.stringify(config));
  }

  #spawn(bot: string, configJson: string): RunningBot {
    const spec = this.#specs.get(bot);
    const entry = spec?.entry === "bare" ? BARE : MAIN;
    // PETREL_BENCH_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the bot processes.
    const nodeArgs = [
      ...(spec?.nodeArgs ?? []),
      ...(process.env.PETREL_BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean),
    ];
    const child = track(
      spawn(process.execPath, [...nodeArgs, entry], {
        env: { ...process.env, ...spec?.env, PETREL_BOT_CONFIG: configJson },
        stdio: ["ignore", process.stderr, "inherit"],
      }),
    );
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const running: RunningBot = {
      name: bot,
      pid: child.pid as number,
      child,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        await exited;
      },
    };
    this.#running.push(running);
    return running;
  }

  /** Stops every bot and deletes the pipeline's streams (and their storage). */
  async destroy(): Promise<void> {
    await Promise.all(this.#running.map((r) => r.stop()));
    const jsm = await jetstreamManager(this.nc);
    const names = pipelineNames(this.name);
    const kv = `KV_${names.stateBucketPrefix}_`;
    for await (const stream of jsm.streams.names()) {
      if (stream === names.stream || stream === names.deadLetterStream || stream.startsWith(kv)) {
        await jsm.streams.delete(stream).catch(() => false);
      }
    }
    await this.nc.drain();
  }
}
