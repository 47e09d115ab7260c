// `petrelctl log BOT`: the logs of a bot's pods, found through the selector the operator publishes in the
// Bot's status (the same one `kubectl scale` uses).
import { PassThrough } from "node:stream";
import { Log } from "@kubernetes/client-node";
import { PooledKubeConfig } from "../../controller/kube-config.ts";
import { Cluster, ClusterError, type ClusterFlags } from "./kube.ts";

export async function printLogs(
  name: string,
  flags: ClusterFlags & { tail: string; follow?: boolean },
): Promise<void> {
  const tail = Number(flags.tail);
  if (!Number.isInteger(tail) || tail < 0)
    throw new ClusterError(`--tail takes a number of lines, not ${flags.tail}`);
  const cluster = new Cluster(flags);
  const bot = (await cluster.bots()).find((b) => b.metadata.name === name);
  if (!bot) throw new ClusterError(`no Bot ${name} in namespace ${cluster.namespace}`);
  const selector = bot.status?.selector;
  if (!selector)
    throw new ClusterError(
      `Bot ${name} has no pods yet: its status has no selector (is the operator running?)`,
    );
  const pods = await cluster.call(`listing the pods of Bot ${name}`, () =>
    cluster.core.listNamespacedPod({ namespace: cluster.namespace, labelSelector: selector }),
  );
  const names = pods.items.map((p) => p.metadata?.name as string).sort();
  if (names.length === 0) throw new ClusterError(`Bot ${name} has no pods (selector ${selector})`);
  const kc = new PooledKubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  if (flags.context) kc.setCurrentContext(flags.context);
  const log = new Log(kc);
  // Several replicas: each line is prefixed with its pod, as `kubectl logs --prefix` does.
  const prefix = names.length > 1;
  await Promise.all(
    names.map(async (pod) => {
      const out = new PassThrough();
      let rest = "";
      out.on("data", (chunk: Buffer) => {
        const lines = (rest + chunk.toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) process.stdout.write(prefix ? `[${pod}] ${line}\n` : `${line}\n`);
      });
      const finished = new Promise<void>((resolve) => out.on("end", resolve));
      await cluster.call(`reading the log of pod ${pod}`, () =>
        log.log(cluster.namespace, pod, "bot", out, { follow: flags.follow === true, tailLines: tail }),
      );
      await finished;
      if (rest) process.stdout.write(prefix ? `[${pod}] ${rest}\n` : `${rest}\n`);
    }),
  );
}
