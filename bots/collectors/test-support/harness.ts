// Test helpers of the HTTP-family collectors: local servers, a bot context with in-memory state, a
// forward proxy, and a pipeline on a real nats-server in which collectors run as bot processes (and can
// be restarted on the same JetStream, so state in KV carries over).
import {
  createServer as createHttpServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer, type ServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { connect as netConnect } from "node:net";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import {
  pipelineNames,
  type RuntimeConfig,
  renderBotConfig,
} from "../../../bot-runtime/src/config/render.ts";
import { Bot, Pipeline } from "../../../bot-runtime/src/config/resources.ts";
import { parseMessage, type Report } from "../../../bot-runtime/src/event/message.ts";
import { BotProcess } from "../../../bot-runtime/src/runtime/bot-process.ts";
import {
  connectNats,
  ensureBotConsumer,
  ensurePipelineStreams,
} from "../../../bot-runtime/src/runtime/jetstream.ts";
import { BotMetrics } from "../../../bot-runtime/src/runtime/metrics.ts";
import {
  type BotContext,
  type Collector,
  type CollectorModule,
  DISCARD_METRICS,
  type StateStore,
} from "../../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";
import { startNatsServer, type TestNatsServer } from "../../../bot-runtime/test-support/nats-server.ts";

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void | Promise<void>;

export interface TestServer {
  /** http(s)://127.0.0.1:port */
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

async function started(server: Server, scheme: string): Promise<TestServer> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads a request's body whole. */
export async function requestBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function wrap(handler: Handler) {
  return (req: IncomingMessage, res: ServerResponse) => {
    requestBody(req)
      .then((body) => handler(req, res, body))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500);
        res.end(String(error));
      });
  };
}

/** A local HTTP server answering with `handler` (the request body already read). */
export function httpServer(handler: Handler): Promise<TestServer> {
  return started(createHttpServer(wrap(handler)), "http");
}

/** A local HTTPS server answering with `handler`. */
export function httpsServer(options: ServerOptions, handler: Handler): Promise<TestServer> {
  return started(createHttpsServer(options, wrap(handler)) as unknown as Server, "https");
}

export function json(res: ServerResponse, value: unknown, status = 200): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(value));
}

export interface ForwardProxy extends TestServer {
  /** What went through it: "GET http://host:port/path" (forwarded) or "CONNECT host:port" (tunnelled). */
  seen: string[];
}

/** A forward proxy: forwards absolute-form requests (http://) and tunnels CONNECT (https://). */
export async function forwardProxy(): Promise<ForwardProxy> {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const target = new URL(req.url ?? "");
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !/^proxy-/i.test(name)),
    );
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port || 80,
        path: `${target.pathname}${target.search}`,
        method: req.method,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  const tunnels = new Set<{ destroy(): void }>();
  server.on("connect", (req: IncomingMessage, socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    tunnels.add(socket);
    const [host, port] = (req.url ?? "").split(":");
    const upstream = netConnect(Number(port), host as string, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    tunnels.add(upstream);
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  const base = await started(server, "http");
  return {
    ...base,
    seen,
    close: async () => {
      for (const tunnel of tunnels) tunnel.destroy(); // tunnels are not the HTTP server's connections
      await base.close();
    },
  };
}

/** In-memory state with the StateStore semantics (a stand-in for JetStream KV in direct tests). */
export function memoryState(): StateStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    get: async (key) => data.get(key),
    put: async (key, value) => {
      data.set(key, value);
    },
    create: async (key, value) => {
      if (data.has(key)) return false;
      data.set(key, value);
      return true;
    },
    delete: async (key) => {
      data.delete(key);
    },
  };
}

/** A bot context whose state buckets live in memory (shared across calls with the same `buckets`). */
export function testContext(
  buckets = new Map<string, ReturnType<typeof memoryState>>(),
  signal = new AbortController().signal,
): BotContext & { buckets: Map<string, ReturnType<typeof memoryState>> } {
  return {
    botId: "test-collector",
    pipeline: "test",
    log: pino({ level: "silent" }),
    signal,
    metrics: DISCARD_METRICS,
    buckets,
    state: async (bucket) => {
      let store = buckets.get(bucket);
      if (!store) {
        store = memoryState();
        buckets.set(bucket, store);
      }
      return store;
    },
  };
}

/** Creates a collector from IntelMQ-style parameters (validated with the module's full schema). */
export async function createCollector(
  module: CollectorModule,
  params: Record<string, unknown>,
  ctx: BotContext = testContext(),
): Promise<Collector> {
  const parsed = parameterSchema(module).parse(params);
  return module.create(parsed as never, ctx);
}

/** Runs collect() once, gathering the reports emitted. */
export async function collectOnce(collector: Collector): Promise<Report[]> {
  const reports: Report[] = [];
  await collector.collect(async (report) => {
    reports.push(report);
  });
  return reports;
}

export const decodedRaw = (report: Report) =>
  Buffer.from(report.get("raw") as string, "base64").toString("utf8");

export interface RunningBot {
  proc: BotProcess;
  metrics: BotMetrics;
  /** Collection runs that ended, by result. */
  runs(): Promise<{ ok: number; error: number }>;
  /** Waits until at least `n` runs ended successfully. */
  waitForRuns(n: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

let pipelines = 0;

/**
 * A pipeline on a private nats-server (file storage, so the stream survives a nats-server restart)
 * whose collectors publish into the queue of a bot "sink" that the test reads.
 */
export class CollectorPipeline {
  readonly nats: TestNatsServer;
  readonly name: string;
  #nc: NatsConnection;
  readonly #pipeline: ReturnType<typeof Pipeline.parse>;

  private constructor(nats: TestNatsServer, nc: NatsConnection, name: string) {
    this.nats = nats;
    this.#nc = nc;
    this.name = name;
    this.#pipeline = Pipeline.parse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: { name },
      spec: { stream: { storage: "file", maxBytes: "256Mi" }, deadLetter: { maxBytes: "16Mi" } },
    });
  }

  static async start(): Promise<CollectorPipeline> {
    const nats = await startNatsServer();
    const nc = await connectNats({ servers: [nats.url] });
    const pipeline = new CollectorPipeline(nats, nc, `http-collectors-${++pipelines}`);
    const jsm = await jetstreamManager(nc);
    await ensurePipelineStreams(jsm, pipeline.#pipeline);
    await ensureBotConsumer(jsm, pipeline.name, "sink");
    return pipeline;
  }

  /** Starts `module` as bot `botName`; without intervalMs it runs once (and then waits to be stopped). */
  run(
    module: CollectorModule,
    parameters: Record<string, unknown>,
    options: { botName?: string; intervalMs?: number } = {},
  ): RunningBot {
    const botName = options.botName ?? "collector";
    const bot = Bot.parse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Bot",
      metadata: { name: botName },
      spec: { pipeline: this.name, module: module.id, parameters, destinations: { _default: ["sink"] } },
    });
    const config: RuntimeConfig = {
      ...renderBotConfig(bot, this.#pipeline, { natsUrl: this.nats.url, metricsPort: 0, hasInput: false }),
      ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
    };
    const metrics = new BotMetrics({
      pipeline: this.name,
      bot: botName,
      module: module.id,
      kind: "collector",
    });
    const log = pino({ level: process.env.PETREL_TEST_LOG ?? "silent" });
    const proc = new BotProcess({ config, module, log, metrics });
    const done = proc.run().then(
      () => undefined,
      (error: unknown) => error,
    );
    const runs = async () => {
      const text = await metrics.registry.getSingleMetricAsString("petrel_bot_collector_runs_total");
      const count = (result: string) =>
        Number(new RegExp(`result="${result}"[^}]*\\} (\\d+)`).exec(text)?.[1] ?? 0);
      return { ok: count("ok"), error: count("error") };
    };
    return {
      proc,
      metrics,
      runs,
      async waitForRuns(n, timeoutMs = 20_000) {
        const deadline = Date.now() + timeoutMs;
        while ((await runs()).ok < n) {
          if (Date.now() > deadline) throw new Error(`fewer than ${n} successful collection runs`);
          await new Promise((r) => setTimeout(r, 25));
        }
      },
      async stop() {
        proc.stop();
        const error = await done;
        if (error) throw error;
      },
    };
  }

  /** Waits until `count` reports are in the sink queue and takes them (or fails after the timeout). */
  async reports(count: number, timeoutMs = 20_000): Promise<Report[]> {
    const out: Report[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) {
      try {
        if (this.#nc.isClosed()) this.#nc = await connectNats({ servers: [this.nats.url] });
        const consumer = await jetstream(this.#nc).consumers.get(pipelineNames(this.name).stream, "sink");
        const batch = await consumer.fetch({ max_messages: count - out.length, expires: 1000 });
        for await (const m of batch) {
          out.push(parseMessage(m.string()) as Report);
          m.ack();
        }
      } catch (error) {
        if (process.env.PETREL_TEST_LOG) console.error(error);
        await new Promise((r) => setTimeout(r, 200)); // nats-server restarting
      }
    }
    if (out.length < count) throw new Error(`expected ${count} reports in the sink queue, got ${out.length}`);
    return out;
  }

  /** Reports waiting in the sink queue. */
  async pending(): Promise<number> {
    const info = await (await jetstreamManager(this.#nc)).consumers.info(
      pipelineNames(this.name).stream,
      "sink",
    );
    return info.num_pending + info.num_ack_pending;
  }

  async dispose(): Promise<void> {
    await this.#nc.close().catch(() => undefined);
    await this.nats.dispose();
  }
}
