// JetStream objects of a pipeline: its work-queue stream (one subject per bot input), its dead-letter
// stream, and one durable pull consumer per bot. Creating them is idempotent; a changed setting is
// applied in place. Local mode and the operator both use these functions.

import { readFile } from "node:fs/promises";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type ConnectionOptions, credsAuthenticator, type NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { botSubject, pipelineNames } from "../config/render.ts";
import { byteSize, durationMs, type PipelineResource } from "../config/resources.ts";

const NANOS_PER_MS = 1_000_000;

export interface ConnectOptions {
  servers: string[];
  credentialsFile?: string;
  name?: string;
}

/** Connects with endless reconnects: a NATS restart must pause bots, never kill them. */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  const connection: ConnectionOptions = {
    servers: options.servers,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // Without this, every request (each KV operation of a bot) captures two stack traces up front,
    // in case it fails: about a tenth of a deduplicator's CPU.
    noAsyncTraces: true,
  };
  if (options.name) connection.name = options.name;
  if (options.credentialsFile) {
    connection.authenticator = credsAuthenticator(await readFile(options.credentialsFile));
  }
  return connect(connection);
}

type StreamSettings = Partial<StreamConfig> & { name: string };

export function pipelineStreamConfigs(pipeline: PipelineResource): [StreamSettings, StreamSettings] {
  const names = pipelineNames(pipeline.metadata.name);
  const s = pipeline.spec.stream;
  const dl = pipeline.spec.deadLetter;
  const storage = s.storage === "memory" ? StorageType.Memory : StorageType.File;
  return [
    {
      name: names.stream,
      description: `Petrel pipeline ${pipeline.metadata.name}: bot input queues`,
      subjects: [names.subjects],
      retention: RetentionPolicy.Workqueue,
      storage,
      num_replicas: s.replicas,
      max_age: durationMs(s.maxAge) * NANOS_PER_MS,
      max_bytes: byteSize(s.maxBytes),
      discard: s.discard === "old" ? DiscardPolicy.Old : DiscardPolicy.New,
      // Per-queue quotas: with one shared limit, a queue that fills the stream would leave its own bot
      // no room to store outputs, and the pipeline would deadlock.
      max_msgs_per_subject: s.maxMessagesPerQueue,
      discard_new_per_subject: s.discard === "new",
      duplicate_window: durationMs(s.duplicateWindow) * NANOS_PER_MS,
    },
    {
      name: names.deadLetterStream,
      description: `Petrel pipeline ${pipeline.metadata.name}: dead letters`,
      subjects: [names.deadLetterSubjects],
      retention: RetentionPolicy.Limits,
      storage,
      num_replicas: s.replicas,
      max_age: durationMs(dl.maxAge) * NANOS_PER_MS,
      max_bytes: byteSize(dl.maxBytes),
      discard: DiscardPolicy.Old,
      duplicate_window: durationMs(s.duplicateWindow) * NANOS_PER_MS,
    },
  ];
}

async function ensureStream(jsm: JetStreamManager, config: StreamSettings): Promise<void> {
  const { name } = config;
  try {
    const info = await jsm.streams.info(name);
    const current = info.config as unknown as Record<string, unknown>;
    const changed = Object.entries(config).some(
      ([k, v]) => JSON.stringify(current[k]) !== JSON.stringify(v) && k !== "description",
    );
    if (changed) await jsm.streams.update(name, config);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.streams.add(config);
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { code?: string | number; api_error?: { err_code?: number }; message?: string };
  return (
    e?.api_error?.err_code === 10059 || // stream not found
    e?.api_error?.err_code === 10014 || // consumer not found
    /not found/i.test(e?.message ?? "")
  );
}

/** Creates or updates the pipeline's streams. */
export async function ensurePipelineStreams(
  jsm: JetStreamManager,
  pipeline: PipelineResource,
): Promise<void> {
  for (const config of pipelineStreamConfigs(pipeline)) await ensureStream(jsm, config);
}

export interface ConsumerSettings {
  /** Messages delivered but not yet acknowledged, at most (must exceed a bot's in-flight bound). */
  maxAckPending?: number;
  /** Redelivery after this long without an ack or a progress signal. */
  ackWaitMs?: number;
}

/** Creates or updates the durable pull consumer of a bot's input queue. */
export async function ensureBotConsumer(
  jsm: JetStreamManager,
  pipeline: string,
  bot: string,
  settings: ConsumerSettings = {},
): Promise<void> {
  const { stream } = pipelineNames(pipeline);
  const config = {
    durable_name: bot,
    description: `Petrel bot ${bot}`,
    filter_subject: botSubject(pipeline, bot),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: (settings.ackWaitMs ?? 30_000) * NANOS_PER_MS,
    // Retries are the runtime's (with backoff, then dead letter), so the server never gives up.
    max_deliver: -1,
    max_ack_pending: settings.maxAckPending ?? 4096,
  };
  try {
    const info = await jsm.consumers.info(stream, bot);
    const current = info.config as unknown as Record<string, unknown>;
    const changed = (["ack_wait", "max_ack_pending", "filter_subject"] as const).some(
      (k) => current[k] !== config[k],
    );
    if (changed) await jsm.consumers.update(stream, bot, config);
  } catch (error) {
    if (!isNotFound(error)) throw error;
    await jsm.consumers.add(stream, config);
  }
}

export async function deleteBotConsumer(jsm: JetStreamManager, pipeline: string, bot: string): Promise<void> {
  try {
    await jsm.consumers.delete(pipelineNames(pipeline).stream, bot);
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
}

export { jetstreamManager };
