// The operator's settings from command-line flags, each with an environment variable as fallback.
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { durationMs, LogLevel } from "../../../bot-runtime/src/config/resources.ts";
import type { LeaderElectionOptions } from "./leader.ts";

const SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export interface OperatorSettings {
  namespace: string | undefined;
  kubeconfig: string | undefined;
  natsUrl: string | undefined;
  natsCredentialsFile: string | undefined;
  botImage: string | undefined;
  metricsPort: number;
  resyncMs: number;
  workers: number;
  leaderElection: LeaderElectionOptions | false;
  logLevel: string;
}

export const USAGE = `Usage: node operator/src/controller/main.ts [flags]

Reconciles Petrel's Pipeline and Bot resources into Deployments, ConfigMaps, Services and JetStream
streams and consumers, and its Exclusions into the pipelines' exclusion buckets. Each flag falls back to
the environment variable named after it.

  --namespace NS                  watch only this namespace (PETREL_WATCH_NAMESPACE; default: all)
  --kubeconfig FILE               kubeconfig to use (KUBECONFIG; default: in-cluster, else ~/.kube/config)
  --nats-url URL                  connect to NATS here instead of each Pipeline's spec.nats.url (PETREL_NATS_URL)
  --nats-credentials FILE         the operator's NATS credentials file (PETREL_NATS_CREDENTIALS)
  --bot-image IMAGE               image of bots that name none (PETREL_BOT_IMAGE)
  --metrics-port N                port of /metrics, /healthz, /readyz (PETREL_METRICS_PORT; default 8080)
  --resync DURATION               reconcile everything this often (PETREL_RESYNC_PERIOD; default 1m)
  --workers N                     reconciles at once (PETREL_WORKERS; default 4)
  --leader-elect true|false       campaign for a Lease before reconciling (PETREL_LEADER_ELECT; default true)
  --leader-election-id NAME       the Lease's name (PETREL_LEADER_ELECTION_ID; default petrel-operator)
  --leader-election-namespace NS  the Lease's namespace (PETREL_LEADER_ELECTION_NAMESPACE; default: the
                                  operator pod's namespace, else --namespace, else default)
  --log-level LEVEL               trace, debug, info, warn, error (PETREL_LOG_LEVEL; default info)
  --help                          this text
`;

function integer(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function podNamespace(env: NodeJS.ProcessEnv): string | undefined {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  return existsSync(SERVICE_ACCOUNT_NAMESPACE)
    ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, "utf8").trim()
    : undefined;
}

/** The settings, or undefined when --help was asked for; throws naming a bad flag. */
export function parseFlags(argv: readonly string[], env: NodeJS.ProcessEnv): OperatorSettings | undefined {
  const str = { type: "string" } as const;
  const { values } = parseArgs({
    args: [...argv],
    options: {
      namespace: str,
      kubeconfig: str,
      "nats-url": str,
      "nats-credentials": str,
      "bot-image": str,
      "metrics-port": str,
      resync: str,
      workers: str,
      "leader-elect": str,
      "leader-election-id": str,
      "leader-election-namespace": str,
      "log-level": str,
      help: { type: "boolean" },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const pick = (flag: keyof typeof values, variable: string) => {
    const value = (values[flag] as string | undefined) ?? env[variable];
    return value === "" ? undefined : value;
  };
  const namespace = pick("namespace", "PETREL_WATCH_NAMESPACE");
  const elect = pick("leader-elect", "PETREL_LEADER_ELECT") ?? "true";
  if (elect !== "true" && elect !== "false")
    throw new Error(`--leader-elect: expected true or false, got ${elect}`);
  const resync = pick("resync", "PETREL_RESYNC_PERIOD") ?? "1m";
  let resyncMs: number;
  try {
    resyncMs = durationMs(resync);
  } catch {
    throw new Error(`--resync: expected a duration such as 30s or 5m, got ${JSON.stringify(resync)}`);
  }
  const logLevel = pick("log-level", "PETREL_LOG_LEVEL") ?? "info";
  if (!LogLevel.safeParse(logLevel).success) throw new Error(`--log-level: unknown level ${logLevel}`);
  return {
    namespace,
    kubeconfig: pick("kubeconfig", "KUBECONFIG"),
    natsUrl: pick("nats-url", "PETREL_NATS_URL"),
    natsCredentialsFile: pick("nats-credentials", "PETREL_NATS_CREDENTIALS"),
    botImage: pick("bot-image", "PETREL_BOT_IMAGE"),
    metricsPort: integer("metrics-port", pick("metrics-port", "PETREL_METRICS_PORT") ?? "8080", 0, 65535),
    resyncMs: Math.max(1000, resyncMs),
    workers: integer("workers", pick("workers", "PETREL_WORKERS") ?? "4", 1, 64),
    leaderElection:
      elect === "false"
        ? false
        : {
            name: pick("leader-election-id", "PETREL_LEADER_ELECTION_ID") ?? "petrel-operator",
            namespace:
              pick("leader-election-namespace", "PETREL_LEADER_ELECTION_NAMESPACE") ??
              podNamespace(env) ??
              namespace ??
              "default",
          },
    logLevel,
  };
}
