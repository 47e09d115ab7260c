// `petrelctl clear BOT`: empties a bot's queue (intelmqctl clear), on the pipeline's JetStream stream.
import { jetstreamManager } from "@nats-io/jetstream";
import { botSubject, pipelineNames } from "../../../../bot-runtime/src/config/render.ts";
import { connectNats } from "../../../../bot-runtime/src/runtime/jetstream.ts";
import { Cluster, ClusterError, type ClusterFlags } from "./kube.ts";

export async function purgeQueue(name: string, flags: ClusterFlags & { nats?: string }): Promise<void> {
  const cluster = new Cluster(flags);
  const bot = (await cluster.bots()).find((b) => b.metadata.name === name);
  if (!bot) throw new ClusterError(`no Bot ${name} in namespace ${cluster.namespace}`);
  const pipeline = (await cluster.pipelines()).find((p) => p.metadata.name === bot.spec.pipeline);
  const url = flags.nats ?? process.env.NATS_URL ?? pipeline?.spec.nats.url;
  if (!url) throw new ClusterError(`no NATS URL: pass --nats (Pipeline ${bot.spec.pipeline} not found)`);
  let nc: Awaited<ReturnType<typeof connectNats>>;
  try {
    nc = await connectNats({ servers: url.split(",").map((s) => s.trim()), name: "petrelctl-clear" });
  } catch (error) {
    throw new ClusterError(
      `cannot reach NATS at ${url}: ${(error as Error).message} (from outside the cluster: kubectl port-forward to NATS and pass --nats nats://127.0.0.1:4222)`,
    );
  }
  try {
    const jsm = await jetstreamManager(nc);
    const subject = botSubject(bot.spec.pipeline, name);
    const result = await jsm.streams.purge(pipelineNames(bot.spec.pipeline).stream, { filter: subject });
    const n = result.purged;
    if (flags.json) process.stdout.write(`${JSON.stringify({ queue: name, purged: n })}\n`);
    else process.stdout.write(`${name}: cleared ${n} message(s) from its queue.\n`);
  } finally {
    await nc.close();
  }
}
