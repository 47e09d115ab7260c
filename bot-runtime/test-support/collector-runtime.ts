// Runs one collector module the way a bot process runs it in production: a BotProcess on a real
// nats-server, publishing its reports durably into a sink queue that the test reads. Tests of the
// collectors use it to prove that a source is marked done only once its report is stored. Also: a
// collector created directly, with an emit of the test's choosing and its log lines recorded.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import { pipelineNames, type RuntimeConfig, renderBotConfig } from "../src/config/render.ts";
import { Bot, Pipeline } from "../src/config/resources.ts";
import { parseMessage, type Report } from "../src/event/message.ts";
import { BotProcess } from "../src/runtime/bot-process.ts";
import { connectNats, ensureBotConsumer, ensurePipelineStreams } from "../src/runtime/jetstream.ts";
import { BotMetrics } from "../src/runtime/metrics.ts";
import { type BotContext, type Collector, type CollectorModule, DISCARD_METRICS } from "../src/sdk/bot.ts";
import { parameterSchema } from "../src/sdk/common-parameters.ts";
import { startNatsServer, type TestNatsServer } from "./nats-server.ts";

export interface CollectorRun {
  readonly nats: TestNatsServer;
  /** Waits until `count` more reports are stored in the sink queue (acknowledging them), or times out. */
  reports(count: number, timeoutMs?: number): Promise<Report[]>;
  /** Reports stored in the sink queue and not read yet. */
  pending(): Promise<number>;
  /** Stops the bot process (it finishes what it stored) and resolves when it has ended. */
  stop(): Promise<void>;
  /** Stops the bot, closes the test's connection and deletes the nats-server. */
  dispose(): Promise<void>;
}

let runs = 0;

/**
 * Starts `module` with `parameters` as bot "collector" of a fresh pipeline (file storage, so a
 * stopped and restarted nats-server keeps the queue) on a private nats-server; its reports go to the
 * queue of a bot "sink" that nothing runs.
 */
export async function runCollector(
  module: CollectorModule,
  parameters: Record<string, unknown>,
  options: { intervalMs?: number } = {},
): Promise<CollectorRun> {
  const nats = await startNatsServer();
  const name = `collect-${++runs}`;
  const pipeline = Pipeline.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Pipeline",
    metadata: { name },
    spec: { stream: { storage: "file", maxBytes: "256Mi" }, deadLetter: { maxBytes: "16Mi" } },
  });
  const bot = Bot.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Bot",
    metadata: { name: "collector" },
    spec: { pipeline: name, module: module.id, parameters, destinations: { _default: ["sink"] } },
  });
  let nc: NatsConnection = await connectNats({ servers: [nats.url] });
  const jsm = await jetstreamManager(nc);
  await ensurePipelineStreams(jsm, pipeline);
  await ensureBotConsumer(jsm, name, "sink");
  const config: RuntimeConfig = {
    ...renderBotConfig(bot, pipeline, { natsUrl: nats.url, metricsPort: 0, hasInput: false }),
    intervalMs: options.intervalMs ?? 200,
  };
  const metrics = new BotMetrics({ pipeline: name, bot: "collector", module: module.id, kind: "collector" });
  const proc = new BotProcess({ config, module, log: pino({ level: "silent" }), metrics });
  const done = proc.run().catch((error: unknown) => error);
  const consumer = async () => jetstream(nc).consumers.get(pipelineNames(name).stream, "sink");
  let stopped = false;
  const stop = async () => {
    if (!stopped) {
      stopped = true;
      proc.stop();
    }
    const error = await done;
    if (error) throw error;
  };
  return {
    nats,
    async reports(count, timeoutMs = 20_000) {
      const out: Report[] = [];
      const deadline = Date.now() + timeoutMs;
      while (out.length < count && Date.now() < deadline) {
        try {
          if (nc.isClosed()) nc = await connectNats({ servers: [nats.url] });
          const batch = await (await consumer()).fetch({ max_messages: count - out.length, expires: 1000 });
          for await (const m of batch) {
            out.push(parseMessage(m.string()) as Report);
            m.ack();
          }
        } catch {
          // nats-server restarting: try again until the deadline.
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      if (out.length < count) {
        throw new Error(`expected ${count} reports in the sink queue, got ${out.length}`);
      }
      return out;
    },
    async pending() {
      const info = await (await jetstreamManager(nc)).consumers.info(pipelineNames(name).stream, "sink");
      return info.num_pending;
    },
    stop,
    async dispose() {
      await stop().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await nats.dispose();
    },
  };
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface DirectCollector {
  readonly collector: Collector;
  /** Log lines at level info and above. */
  readonly logs: LogLine[];
  /** Messages of the lines at level error and above. */
  errors(): string[];
  /** Aborts the bot's signal (as stopping the bot does). */
  abort(): void;
  /** Runs collect() once with an emit that records the reports (or the given emit). */
  collect(emit?: (report: Report) => Promise<void>): Promise<Report[]>;
}

/** Creates a collector from `module` and `params` (validated as the runtime does), outside any runtime. */
export async function createCollector(
  module: CollectorModule,
  params: Record<string, unknown>,
): Promise<DirectCollector> {
  const controller = new AbortController();
  const logs: LogLine[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => logs.push(JSON.parse(line) as LogLine) });
  const ctx: BotContext = {
    botId: "collector",
    pipeline: "test",
    log,
    signal: controller.signal,
    state: () => Promise.reject(new Error("no state in this test")),
    metrics: DISCARD_METRICS,
  };
  const collector = await module.create(parameterSchema(module).parse(params) as never, ctx);
  return {
    collector,
    logs,
    errors: () => logs.filter((l) => l.level >= 50).map((l) => l.msg),
    abort: () => controller.abort(),
    async collect(emit) {
      const reports: Report[] = [];
      await collector.collect(
        emit ??
          (async (report) => {
            reports.push(report);
          }),
      );
      return reports;
    },
  };
}
