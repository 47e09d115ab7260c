// What tests of bots on JetStream set up again and again: a private nats-server with a connection for
// a describe block, a pipeline whose streams are kept in memory, and its bots' runtime configurations.
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll } from "vitest";
import { type RuntimeConfig, renderBotConfig } from "../src/config/render.ts";
import { Bot, Pipeline, type PipelineResource } from "../src/config/resources.ts";
import { connectNats, ensureBotConsumer, ensurePipelineStreams } from "../src/runtime/jetstream.ts";
import { startNatsServer, type TestNatsServer } from "./nats-server.ts";

export interface NatsForTests {
  readonly server: TestNatsServer;
  readonly nc: NatsConnection;
}

/** A nats-server and a connection to it, started before the block's tests and stopped after them. */
export function natsForTests(options: { maxStoreBytes?: number } = {}): NatsForTests {
  let server: TestNatsServer | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer(options);
    nc = await connectNats({ servers: [server.url] });
  });
  afterAll(async () => {
    await nc?.drain();
    await server?.dispose();
  });
  const running = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("nats-server is not running: use it inside a test");
    return value;
  };
  return {
    get server() {
      return running(server);
    },
    get nc() {
      return running(nc);
    },
  };
}

/**
 * The Pipeline `name` with its streams in memory (64 MiB, dead letters 16 MiB; `spec` adds to or
 * replaces parts of its spec), created on the server with a consumer for each bot in `consumers`.
 */
export async function memoryPipeline(
  nc: NatsConnection,
  name: string,
  options: { spec?: Record<string, unknown>; consumers?: readonly string[] } = {},
): Promise<PipelineResource> {
  const pipeline = Pipeline.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Pipeline",
    metadata: { name },
    spec: {
      stream: { storage: "memory", maxBytes: "64Mi" },
      deadLetter: { maxBytes: "16Mi" },
      ...options.spec,
    },
  });
  const jsm = await jetstreamManager(nc);
  await ensurePipelineStreams(jsm, pipeline);
  for (const bot of options.consumers ?? []) await ensureBotConsumer(jsm, name, bot);
  return pipeline;
}

/** A bot of a test pipeline: its module (a catalogue id), where it sends events, its parameters. */
export interface TestBot {
  name: string;
  module: string;
  destinations?: Record<string, string[]>;
  parameters?: Record<string, unknown>;
  labels?: Record<string, string>;
  /** false for a collector: no queue of its own. */
  hasInput?: boolean;
}

/**
 * A pipeline as memoryPipeline creates it, with a consumer for each bot that takes input and for each
 * of `sinks`, and the runtime configuration of each bot, as the operator would render it.
 */
export async function runtimeConfigs(
  nats: NatsForTests,
  pipelineName: string,
  bots: readonly TestBot[],
  options: { sinks?: readonly string[]; spec?: Record<string, unknown> } = {},
): Promise<{ pipeline: PipelineResource; configs: RuntimeConfig[] }> {
  const consumers = [
    ...bots.filter((b) => b.hasInput !== false).map((b) => b.name),
    ...(options.sinks ?? []),
  ];
  const pipeline = await memoryPipeline(nats.nc, pipelineName, {
    consumers,
    ...(options.spec ? { spec: options.spec } : {}),
  });
  const configs = bots.map((b) =>
    renderBotConfig(
      Bot.parse({
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Bot",
        metadata: { name: b.name, ...(b.labels ? { labels: b.labels } : {}) },
        spec: {
          pipeline: pipelineName,
          module: b.module,
          destinations: b.destinations ?? {},
          ...(b.parameters ? { parameters: b.parameters } : {}),
        },
      }),
      pipeline,
      { natsUrl: nats.server.url, metricsPort: 0, hasInput: b.hasInput !== false },
    ),
  );
  return { pipeline, configs };
}

/** runtimeConfigs for a pipeline of one bot: its configuration. */
export async function runtimeConfig(
  nats: NatsForTests,
  pipelineName: string,
  bot: TestBot,
  options: { sinks?: readonly string[]; spec?: Record<string, unknown> } = {},
): Promise<RuntimeConfig> {
  const { configs } = await runtimeConfigs(nats, pipelineName, [bot], options);
  return configs[0] as RuntimeConfig;
}
