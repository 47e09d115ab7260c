// The operator's writes to the API server, all as server-side apply with one field manager: children
// (forced: the operator owns them), finalizers and status. Applies to a Pipeline, Bot or Exclusion carry
// its uid, so they never recreate a resource that was deleted meanwhile, and never touch its spec.
import { hostname } from "node:os";
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from "@kubernetes/client-node";
import { API_VERSION, FIELD_MANAGER, FINALIZER, GROUP, VERSION } from "./constants.ts";

export type Kind = "Pipeline" | "Bot" | "Exclusion";
const EVENT_COMPONENT = "petrel-operator";
const PLURAL: Record<Kind, string> = { Pipeline: "pipelines", Bot: "bots", Exclusion: "exclusions" };

export interface ResourceRef {
  kind: Kind;
  namespace: string;
  name: string;
  uid: string;
}

/** HTTP status of a client-node error (ApiException has code). */
export function statusCode(error: unknown): number | undefined {
  const e = error as { code?: unknown; statusCode?: unknown };
  if (typeof e?.code === "number") return e.code;
  return typeof e?.statusCode === "number" ? e.statusCode : undefined;
}

/** An Event about a resource, as `kubectl describe` and `kubectl get events` show it. */
export interface EventNote {
  type: "Normal" | "Warning";
  /** UpperCamelCase, e.g. the condition's reason. */
  reason: string;
  message: string;
}

export class Kube {
  readonly #objects: KubernetesObjectApi;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.#objects = KubernetesObjectApi.makeApiClient(kubeConfig);
    this.#custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Records an Event about the resource (core/v1, which kubectl describe lists). */
  async recordEvent(ref: ResourceRef, note: EventNote, now: Date): Promise<void> {
    await this.#core.createNamespacedEvent({
      namespace: ref.namespace,
      body: {
        metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
        involvedObject: {
          apiVersion: API_VERSION,
          kind: ref.kind,
          name: ref.name,
          namespace: ref.namespace,
          uid: ref.uid,
        },
        type: note.type,
        reason: note.reason,
        // The API server refuses messages longer than 1 KiB.
        message: note.message.length > 1024 ? `${note.message.slice(0, 1021)}...` : note.message,
        source: { component: EVENT_COMPONENT },
        reportingComponent: EVENT_COMPONENT,
        reportingInstance: hostname(),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }

  /** Server-side apply of a whole child object, taking over its fields from other managers. */
  apply<T extends KubernetesObject>(object: T): Promise<T> {
    return this.#objects.patch(
      object,
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      PatchStrategy.ServerSideApply,
    );
  }

  /** Deletes an object; one already gone is fine. */
  async delete(object: KubernetesObject): Promise<void> {
    try {
      await this.#objects.delete(object, undefined, undefined, undefined, undefined, "Background");
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
  }

  /** Adds or removes the operator's finalizer: the only metadata field it applies on a resource. */
  async setFinalizer(ref: ResourceRef, present: boolean): Promise<void> {
    const metadata = {
      name: ref.name,
      namespace: ref.namespace,
      uid: ref.uid,
      ...(present ? { finalizers: [FINALIZER] } : {}),
    };
    try {
      await this.#objects.patch(
        { apiVersion: API_VERSION, kind: ref.kind, metadata },
        undefined,
        undefined,
        FIELD_MANAGER,
        true,
        PatchStrategy.ServerSideApply,
      );
    } catch (error) {
      // Gone (or replaced by a new object of the same name) before the finalizer came off: nothing to do.
      if (!present && (statusCode(error) === 404 || statusCode(error) === 409)) return;
      throw error;
    }
  }

  /** Applies the whole status through the status subresource. */
  async applyStatus(ref: ResourceRef, status: object): Promise<void> {
    await this.#custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace: ref.namespace,
        plural: PLURAL[ref.kind],
        name: ref.name,
        body: {
          apiVersion: API_VERSION,
          kind: ref.kind,
          metadata: { name: ref.name, namespace: ref.namespace, uid: ref.uid },
          status,
        },
        fieldManager: FIELD_MANAGER,
        force: true,
      },
      setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
    );
  }

  listPath(kind: Kind, namespace: string | undefined): string {
    const ns = namespace ? `/namespaces/${namespace}` : "";
    return `/apis/${GROUP}/${VERSION}${ns}/${PLURAL[kind]}`;
  }

  /** Lists Pipelines, Bots or Exclusions (for informers). */
  async list(
    kind: Kind,
    namespace: string | undefined,
  ): Promise<{ metadata?: { resourceVersion?: string }; items: KubernetesObject[] }> {
    const request = { group: GROUP, version: VERSION, plural: PLURAL[kind] };
    const list = namespace
      ? await this.#custom.listNamespacedCustomObject({ ...request, namespace })
      : await this.#custom.listClusterCustomObject(request);
    return list as { metadata?: { resourceVersion?: string }; items: KubernetesObject[] };
  }
}
