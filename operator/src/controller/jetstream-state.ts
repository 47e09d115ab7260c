// What the operator reads from and deletes in JetStream besides creating streams and consumers
// (bot-runtime's jetstream.ts does that): a bot's backlog, a pipeline's dead letters, and a pipeline's
// data when its deletion was asked for.
import type { JetStreamManager } from "@nats-io/jetstream";
import { pipelineNames } from "../../../bot-runtime/src/config/render.ts";

interface ApiErrorLike {
  api_error?: { err_code?: number };
  message?: string;
}

/** The pipeline's stream does not exist (yet, or any more). */
export function isStreamMissing(error: unknown): boolean {
  const e = error as ApiErrorLike;
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(e?.message ?? "");
}

/** Messages waiting for a bot: not yet delivered plus delivered and not yet acknowledged. */
export async function consumerBacklog(jsm: JetStreamManager, pipeline: string, bot: string): Promise<number> {
  const info = await jsm.consumers.info(pipelineNames(pipeline).stream, bot);
  return info.num_pending + info.num_ack_pending;
}

export async function deadLetterCount(jsm: JetStreamManager, pipeline: string): Promise<number> {
  return (await jsm.streams.info(pipelineNames(pipeline).deadLetterStream)).state.messages;
}

/**
 * Deletes a pipeline's queue and dead-letter streams and its bots' state buckets; returns their names.
 * State buckets of `otherPipelines` whose names extend this one's (demo-x next to demo) are spared.
 */
export async function deletePipelineData(
  jsm: JetStreamManager,
  pipeline: string,
  otherPipelines: readonly string[] = [],
): Promise<string[]> {
  const names = pipelineNames(pipeline);
  const ours = `KV_${names.stateBucketPrefix}_`;
  const theirs = otherPipelines
    .map((p) => `KV_${pipelineNames(p).stateBucketPrefix}_`)
    .filter((prefix) => prefix.length > ours.length && prefix.startsWith(ours));
  const doomed: string[] = [];
  for await (const name of jsm.streams.names()) {
    const bucket = name.startsWith(ours) && !theirs.some((prefix) => name.startsWith(prefix));
    if (name === names.stream || name === names.deadLetterStream || bucket) doomed.push(name);
  }
  for (const name of doomed) {
    try {
      await jsm.streams.delete(name);
    } catch (error) {
      if (!isStreamMissing(error)) throw error;
    }
  }
  return doomed;
}
