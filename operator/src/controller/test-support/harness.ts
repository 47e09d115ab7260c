// The operator's integration tests: a real kube-apiserver (with the CRDs from crds/ applied by
// kubectl) and a real nats-server, and operators running in this process against them.
import { fileURLToPath } from "node:url";
import type { V1Deployment } from "@kubernetes/client-node";
import { pino } from "pino";
import { startNatsServer, type TestNatsServer } from "../../../../bot-runtime/test-support/nats-server.ts";
import { type ControlPlane, startControlPlane } from "../../../test-support/control-plane.ts";
import { Operator, type OperatorOptions } from "../operator.ts";

const CRDS = fileURLToPath(new URL("../../../../crds/", import.meta.url));

/** kubectl's JSON output, which the tests read by path. */
// biome-ignore lint/suspicious/noExplicitAny: objects of any kind, read field by field in assertions
export type KubeJson = Record<string, any>;

export interface TestEnv {
  plane: ControlPlane;
  nats: TestNatsServer;
  namespace: string;
  kubectl(args: string[], input?: string): Promise<string>;
  /** kubectl get … -o json, parsed. */
  get<T = KubeJson>(kind: string, name: string): Promise<T>;
  /** Whether the object exists. */
  exists(kind: string, name: string): Promise<boolean>;
  apply(yaml: string): Promise<void>;
  /** An operator against this environment (stopped by stop()). */
  operator(options?: Partial<OperatorOptions>): Promise<Operator>;
  stop(): Promise<void>;
}

/** Starts the control plane and nats-server, installs the CRDs and creates the test namespace. */
export async function startEnv(namespace = "petrel"): Promise<TestEnv> {
  const [plane, nats] = await Promise.all([startControlPlane(), startNatsServer()]);
  const operators: Operator[] = [];
  const kubectl = (args: string[], input?: string) =>
    plane.kubectl(args, input === undefined ? {} : { input });
  try {
    await kubectl(["apply", "--server-side", "-f", CRDS]);
    await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"]);
    await kubectl(["create", "namespace", namespace]);
    // Established CRDs may still answer 429 while their storage initializes.
    await waitFor("the CRDs served", async () => {
      await kubectl(["get", "-n", namespace, "pipelines,bots,exclusions"]);
      return true;
    });
  } catch (error) {
    await Promise.all([plane.stop(), nats.dispose()]);
    throw error;
  }
  const env: TestEnv = {
    plane,
    nats,
    namespace,
    kubectl,
    get: async (kind, name) =>
      JSON.parse(await kubectl(["get", "-n", namespace, kind, name, "-o", "json", "--show-managed-fields"])),
    exists: async (kind, name) =>
      (await kubectl(["get", "-n", namespace, kind, "--ignore-not-found", "-o", "name", name])).trim() !== "",
    apply: async (yaml) => {
      await kubectl(["apply", "--server-side", "-n", namespace, "-f", "-"], yaml);
    },
    operator: async (options = {}) => {
      const operator = new Operator({
        kubeConfig: plane.kubeConfig,
        namespace,
        natsUrl: nats.url,
        botImage: "registry.example/petrel:test",
        resyncMs: 1_000,
        leaderElection: false,
        log: pino({ level: process.env.PETREL_TEST_LOG ?? "silent" }),
        ...options,
      });
      operators.push(operator);
      await operator.start();
      return operator;
    },
    stop: async () => {
      await Promise.all(operators.map((o) => o.stop()));
      await Promise.all([plane.stop(), nats.dispose()]);
    },
  };
  return env;
}

/** Polls `check` until it returns a value other than undefined or false; fails with the last value seen. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${String((last as Error)?.message ?? JSON.stringify(last))}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The condition of a type from an object's status. */
export function condition(obj: { status?: { conditions?: KubeJson[] } }, type: string) {
  return obj.status?.conditions?.find((c) => c.type === type);
}

/** Plays the Deployment controller and kubelet: reports every replica of the Deployment updated and ready. */
export async function markReady(env: TestEnv, name: string): Promise<void> {
  const d = await env.get<V1Deployment>("deployment", name);
  const n = d.spec?.replicas ?? 1;
  const status = {
    observedGeneration: d.metadata?.generation,
    replicas: n,
    updatedReplicas: n,
    readyReplicas: n,
    availableReplicas: n,
  };
  await env.kubectl([
    "patch",
    "-n",
    env.namespace,
    "deployment",
    name,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status }),
  ]);
}
