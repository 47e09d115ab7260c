// Reaching the cluster from petrelctl: kubeconfig, context and namespace as kubectl takes them, and the
// Petrel resources read from it.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from "@kubernetes/client-node";
import type { Command } from "commander";
import type {
  BotResource,
  ExclusionSpecT,
  PipelineResource,
} from "../../../../bot-runtime/src/config/resources.ts";
import { PooledKubeConfig } from "../../controller/kube-config.ts";

export const GROUP = "petrel.dev";
export const VERSION = "v1alpha1";

export interface ClusterFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  json?: boolean;
}

/** The flags every cluster verb takes (kubectl's names). */
export function withClusterFlags(command: Command): Command {
  return command
    .option("--kubeconfig <file>", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config, or in-cluster)")
    .option("--context <name>", "kubeconfig context to use")
    .option("-n, --namespace <name>", "namespace (default: the context's, else default)")
    .option("--json", "print JSON for scripts instead of tables");
}

/** A Bot as stored in the cluster: the spec as Petrel defines it, plus metadata and status. */
export interface ClusterBot {
  metadata: BotResource["metadata"] & { uid?: string; generation?: number };
  spec: BotResource["spec"];
  status?: {
    state?: string;
    replicas?: number;
    readyReplicas?: number;
    backlog?: number;
    selector?: string;
    module?: string;
    observedGeneration?: number;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

export interface ClusterPipeline {
  metadata: PipelineResource["metadata"];
  spec: PipelineResource["spec"];
  status?: Record<string, unknown>;
}

/** An Exclusion as stored in the cluster (its spec as the API server keeps it: not validated here). */
export interface ClusterExclusion {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; generation?: number; labels?: Record<string, string> };
  spec: ExclusionSpecT;
  status?: {
    observedGeneration?: number;
    pipelines?: string[];
    bots?: number;
    matchedEvents?: number;
    lastMatchTime?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
  };
}

export class ClusterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ClusterError";
  }
}

export class Cluster {
  readonly namespace: string;
  readonly custom: CustomObjectsApi;
  readonly apps: AppsV1Api;
  readonly core: CoreV1Api;
  readonly server: string;

  constructor(flags: ClusterFlags) {
    const kc = new PooledKubeConfig();
    if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
    if (flags.context) {
      if (!kc.getContextObject(flags.context))
        throw new ClusterError(`no context ${flags.context} in the kubeconfig`);
      kc.setCurrentContext(flags.context);
    }
    const current = kc.getContextObject(kc.getCurrentContext());
    this.namespace = flags.namespace ?? current?.namespace ?? "default";
    this.server = kc.getCurrentCluster()?.server ?? "(no cluster)";
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.apps = kc.makeApiClient(AppsV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
  }

  /** Runs a request; failures say which server and namespace, and what Kubernetes answered. */
  async call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      const e = error as { code?: number; body?: unknown; message?: string };
      let reason = e.message ?? String(error);
      if (typeof e.body === "string") {
        try {
          reason = (JSON.parse(e.body) as { message?: string }).message ?? reason;
        } catch {
          // not JSON: keep the message
        }
      }
      throw new ClusterError(`${what} in namespace ${this.namespace} at ${this.server}: ${reason}`);
    }
  }

  async bots(): Promise<ClusterBot[]> {
    const list = (await this.call("listing Bots", () =>
      this.custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: "bots",
      }),
    )) as { items: ClusterBot[] };
    return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  async pipelines(): Promise<ClusterPipeline[]> {
    const list = (await this.call("listing Pipelines", () =>
      this.custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: "pipelines",
      }),
    )) as { items: ClusterPipeline[] };
    return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  async exclusions(): Promise<ClusterExclusion[]> {
    const list = (await this.call("listing Exclusions", () =>
      this.custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: "exclusions",
      }),
    )) as { items: ClusterExclusion[] };
    return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** Creates an Exclusion; one of the same name is an error (petrelctl never overwrites one). */
  async createExclusion(body: object, name: string): Promise<void> {
    try {
      await this.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: "exclusions",
        body,
      });
    } catch (error) {
      if ((error as { code?: number }).code === 409) {
        throw new ClusterError(
          `Exclusion ${name} exists already in namespace ${this.namespace}: remove it first (petrelctl exclusion remove ${name}) or edit it (kubectl edit exclusion ${name})`,
        );
      }
      await this.call(`creating Exclusion ${name}`, () => Promise.reject(error));
    }
  }

  /** Deletes an Exclusion; false when there is none of that name. */
  async deleteExclusion(name: string): Promise<boolean> {
    try {
      await this.custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: this.namespace,
        plural: "exclusions",
        name,
      });
      return true;
    } catch (error) {
      if ((error as { code?: number }).code === 404) return false;
      return this.call(`deleting Exclusion ${name}`, () => Promise.reject(error));
    }
  }

  /** A JSON merge patch of a Bot's spec (petrelctl acts for the user, as kubectl patch would). */
  async patchBotSpec(name: string, spec: Record<string, unknown>): Promise<void> {
    await this.call(`patching Bot ${name}`, () =>
      this.custom.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, namespace: this.namespace, plural: "bots", name, body: { spec } },
        mergePatch,
      ),
    );
  }

  /** The Deployments the operator made for a Bot (found by owner reference, not by name). */
  async deploymentsOf(bot: ClusterBot): Promise<V1Deployment[]> {
    const list = await this.call("listing Deployments", () =>
      this.apps.listNamespacedDeployment({ namespace: this.namespace }),
    );
    return list.items.filter((d) => d.metadata?.ownerReferences?.some((o) => o.uid === bot.metadata.uid));
  }

  /** Rolls a Deployment's pods as `kubectl rollout restart` does (an annotation on the pod template). */
  async restartDeployment(name: string, at: Date): Promise<void> {
    const body = {
      spec: {
        template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": at.toISOString() } } },
      },
    };
    await this.call(`restarting Deployment ${name}`, () =>
      this.apps.patchNamespacedDeployment({ name, namespace: this.namespace, body }, strategicMergePatch),
    );
  }
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
const strategicMergePatch = setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch);
