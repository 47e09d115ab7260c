// Informers (client-node list+watch caches) for what the operator reads: Pipelines, Bots, Exclusions,
// and the Deployments, ConfigMaps and Services it manages (by label). An informer whose watch fails is
// started again after a growing delay; `start()` resolves once every cache holds its first full list.
import {
  AppsV1Api,
  CoreV1Api,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
  type V1ConfigMap,
  type V1Deployment,
  type V1Service,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { MANAGED_SELECTOR } from "./constants.ts";
import { errorText } from "./errors.ts";
import type { Kube } from "./kube.ts";
import type { RawObject } from "./parse.ts";

export type Cache<T> = Informer<T & KubernetesObject> & ObjectCache<T>;

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

class Watched<T extends KubernetesObject> {
  readonly cache: Cache<T>;
  readonly #name: string;
  readonly #log: Logger;
  #listed = false;
  #synced = false;
  #stopped = false;
  #retryMs = FIRST_RETRY_MS;
  #timer: NodeJS.Timeout | undefined;
  #lastError: unknown;

  constructor(
    name: string,
    kubeConfig: KubeConfig,
    path: string,
    list: () => Promise<KubernetesListObject<T>>,
    log: Logger,
    labelSelector?: string,
  ) {
    this.#name = name;
    this.#log = log;
    const listed = async () => {
      const result = await list();
      this.#listed = true;
      return result;
    };
    this.cache = makeInformer<T>(kubeConfig, path, listed, labelSelector) as Cache<T>;
    this.cache.on("change", () => {
      this.#retryMs = FIRST_RETRY_MS;
    });
    // After the first list, a failed watch is not started again by the library: restart it here. (A
    // failed first list is retried by start().)
    this.cache.on("error", (error: unknown) => {
      this.#lastError = error;
      if (this.#stopped || !this.#listed) return;
      this.#log.warn({ informer: this.#name, err: errorText(error) }, "Watch failed; restarting it.");
      this.#restartLater();
    });
  }

  get synced(): boolean {
    return this.#synced;
  }

  #restartLater(): void {
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#timer = setTimeout(() => {
      if (!this.#stopped) void this.cache.start();
    }, delay);
  }

  /** Starts, retrying until the first list succeeded. */
  async start(): Promise<void> {
    for (;;) {
      if (this.#stopped) return;
      await this.cache.start();
      if (this.#listed) {
        this.#synced = true;
        return;
      }
      this.#log.warn({ informer: this.#name, err: errorText(this.#lastError) }, "Listing failed; retrying.");
      const delay = this.#retryMs;
      this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.cache.stop();
  }
}

export interface Caches {
  pipelines: Cache<RawObject & KubernetesObject>;
  bots: Cache<RawObject & KubernetesObject>;
  exclusions: Cache<RawObject & KubernetesObject>;
  deployments: Cache<V1Deployment>;
  configMaps: Cache<V1ConfigMap>;
  services: Cache<V1Service>;
}

export class Informers {
  readonly caches: Caches;
  readonly #all: Watched<KubernetesObject>[];

  constructor(kubeConfig: KubeConfig, kube: Kube, namespace: string | undefined, log: Logger) {
    const apps = kubeConfig.makeApiClient(AppsV1Api);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const ns = namespace ? `/namespaces/${namespace}` : "";
    const labelSelector = MANAGED_SELECTOR;
    const pipelines = new Watched(
      "pipelines",
      kubeConfig,
      kube.listPath("Pipeline", namespace),
      () => kube.list("Pipeline", namespace) as never,
      log,
    );
    const bots = new Watched(
      "bots",
      kubeConfig,
      kube.listPath("Bot", namespace),
      () => kube.list("Bot", namespace) as never,
      log,
    );
    const exclusions = new Watched(
      "exclusions",
      kubeConfig,
      kube.listPath("Exclusion", namespace),
      () => kube.list("Exclusion", namespace) as never,
      log,
    );
    const deployments = new Watched<V1Deployment>(
      "deployments",
      kubeConfig,
      `/apis/apps/v1${ns}/deployments`,
      () =>
        namespace
          ? apps.listNamespacedDeployment({ namespace, labelSelector })
          : apps.listDeploymentForAllNamespaces({ labelSelector }),
      log,
      labelSelector,
    );
    const configMaps = new Watched<V1ConfigMap>(
      "configmaps",
      kubeConfig,
      `/api/v1${ns}/configmaps`,
      () =>
        namespace
          ? core.listNamespacedConfigMap({ namespace, labelSelector })
          : core.listConfigMapForAllNamespaces({ labelSelector }),
      log,
      labelSelector,
    );
    const services = new Watched<V1Service>(
      "services",
      kubeConfig,
      `/api/v1${ns}/services`,
      () =>
        namespace
          ? core.listNamespacedService({ namespace, labelSelector })
          : core.listServiceForAllNamespaces({ labelSelector }),
      log,
      labelSelector,
    );
    this.caches = {
      pipelines: pipelines.cache as Caches["pipelines"],
      bots: bots.cache as Caches["bots"],
      exclusions: exclusions.cache as Caches["exclusions"],
      deployments: deployments.cache,
      configMaps: configMaps.cache,
      services: services.cache,
    };
    this.#all = [
      pipelines,
      bots,
      exclusions,
      deployments,
      configMaps,
      services,
    ] as Watched<KubernetesObject>[];
  }

  get synced(): boolean {
    return this.#all.every((w) => w.synced);
  }

  /** Starts every informer; resolves when all hold their first list. */
  async start(): Promise<void> {
    await Promise.all(this.#all.map((w) => w.start()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.#all.map((w) => w.stop()));
  }
}
