// Entry point of the operator: `node operator/src/controller/main.ts [flags]` (flags in flags.ts, or
// --help). Runs until SIGTERM or SIGINT, then finishes running reconciles, hands the leader lease over
// and exits; exits with status 1 when it loses the lease, so that its pod restarts as a candidate.
import type { KubeConfig } from "@kubernetes/client-node";
import { type Logger, pino } from "pino";
import { parseFlags, USAGE } from "./flags.ts";
import { PooledKubeConfig } from "./kube-config.ts";
import { Operator } from "./operator.ts";

function kubeConfig(file: string | undefined): KubeConfig {
  const kc = new PooledKubeConfig();
  if (file) kc.loadFromFile(file);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

async function main(): Promise<void> {
  let settings: ReturnType<typeof parseFlags>;
  try {
    settings = parseFlags(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`petrel-operator: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (!settings) {
    process.stdout.write(USAGE);
    return;
  }
  const log: Logger = pino({ level: settings.logLevel, base: { component: "petrel-operator" } });
  const operator = new Operator({
    kubeConfig: kubeConfig(settings.kubeconfig),
    ...(settings.namespace ? { namespace: settings.namespace } : {}),
    ...(settings.natsUrl ? { natsUrl: settings.natsUrl } : {}),
    ...(settings.natsCredentialsFile ? { natsCredentialsFile: settings.natsCredentialsFile } : {}),
    ...(settings.botImage ? { botImage: settings.botImage } : {}),
    metricsPort: settings.metricsPort,
    resyncMs: settings.resyncMs,
    workers: settings.workers,
    leaderElection: settings.leaderElection,
    log,
    onLostLeadership: () => {
      log.error("Lost the leader lease; exiting.");
      void operator.stop().finally(() => process.exit(1));
    },
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Stopping.");
    void operator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: String(error) }, "Stopping failed.");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  if (!settings.botImage)
    log.warn("No --bot-image: bots that name no image (nor their pipeline) are reported.");
  await operator.start();
}

main().catch((error: unknown) => {
  console.error(
    JSON.stringify({ level: 60, msg: "Operator failed.", err: String((error as Error)?.stack ?? error) }),
  );
  process.exit(1);
});
