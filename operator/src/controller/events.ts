// Which reconciles an informer event calls for. A Bot's spec or deletion: the bot, the bots sharing
// its process (before and after the change) and the bots sending to it; any change to a Bot, its
// status included: its Pipeline, whose status sums up its bots. A Pipeline's spec or deletion: the
// pipeline and its bots. A Deployment, ConfigMap or Service of the operator: the Bots owning it. An
// Exclusion's spec or deletion: the exclusion. A Pipeline appearing, going, or changing its labels or
// spec: the namespace's Exclusions (their scope may select it); a Bot appearing, going, or changing its
// labels: the namespace's Exclusions that choose bots by label. Status-only updates of a resource never
// queue that resource again, so writing status cannot loop.
import type { KubernetesObject } from "@kubernetes/client-node";
import { API_VERSION, DELETE_STREAMS_ANNOTATION } from "./constants.ts";
import type { Cache, Caches } from "./informers.ts";
import { botKey, exclusionKey, pipelineKey } from "./keys.ts";
import { isDeleting, type RawObject } from "./parse.ts";

type Verb = "add" | "update" | "delete";

interface Seen {
  /** What makes a reconcile of the resource itself necessary when it changes. */
  fingerprint: string;
  pipeline: string;
  /** Process group: spec.process or the bot's own name. */
  process: string;
}

function botSpec(raw: RawObject): {
  pipeline: string;
  process: string | undefined;
  destinations: Record<string, string[]>;
} {
  const spec = (raw.spec ?? {}) as {
    pipeline?: string;
    process?: string;
    destinations?: Record<string, string[]>;
  };
  return { pipeline: spec.pipeline ?? "", process: spec.process, destinations: spec.destinations ?? {} };
}

function fingerprint(raw: RawObject, extra = ""): string {
  const m = raw.metadata ?? {};
  return JSON.stringify([m.generation, isDeleting(raw), m.finalizers ?? [], extra]);
}

export class EventRouter {
  readonly #caches: Caches;
  readonly #enqueue: (key: string) => void;
  readonly #seen = new Map<string, Seen>();
  /** What of a Pipeline or Bot an Exclusion's scope reads (labels, existence), by uid. */
  readonly #scope = new Map<string, string>();

  constructor(caches: Caches, enqueue: (key: string) => void) {
    this.#caches = caches;
    this.#enqueue = enqueue;
  }

  attach(): void {
    const c = this.#caches;
    const verbs: Verb[] = ["add", "update", "delete"];
    for (const verb of verbs) {
      const on = (cache: Cache<KubernetesObject>, handle: (obj: KubernetesObject) => void) =>
        cache.on(verb as "add", handle);
      on(c.bots, (obj) => this.#onBot(verb, obj as RawObject));
      on(c.pipelines, (obj) => this.#onPipeline(verb, obj as RawObject));
      on(c.exclusions, (obj) => this.#onExclusion(verb, obj as RawObject));
      for (const child of [c.deployments, c.configMaps, c.services]) {
        on(child as Cache<KubernetesObject>, (obj) => this.#onChild(obj));
      }
    }
  }

  /** Queues every Pipeline, Bot and Exclusion (periodic resync, NATS reconnect). */
  requeueAll(): void {
    for (const p of this.#caches.pipelines.list()) this.#enqueue(pipelineKey(ns(p), name(p)));
    for (const b of this.#caches.bots.list()) this.#enqueue(botKey(ns(b), name(b)));
    for (const e of this.#caches.exclusions.list()) this.#enqueue(exclusionKey(ns(e), name(e)));
  }

  /** Whether what an Exclusion's scope reads of a Pipeline or Bot changed with this event. */
  #scopeChanged(verb: Verb, raw: RawObject, extra: unknown): boolean {
    const uid = raw.metadata?.uid ?? `${raw.kind}/${ns(raw)}/${name(raw)}`;
    const now = JSON.stringify([raw.metadata?.labels ?? {}, isDeleting(raw), extra]);
    const before = this.#scope.get(uid);
    if (verb === "delete") this.#scope.delete(uid);
    else this.#scope.set(uid, now);
    return verb !== "update" || before !== now;
  }

  /** Queues the namespace's Exclusions (those choosing bots by label only, with `botSelectorOnly`). */
  #requeueExclusions(namespace: string, botSelectorOnly: boolean): void {
    for (const e of this.#caches.exclusions.list(namespace) as RawObject[]) {
      const scope = (e.spec as { scope?: { botSelector?: unknown } } | undefined)?.scope;
      if (botSelectorOnly && scope?.botSelector === undefined) continue;
      this.#enqueue(exclusionKey(namespace, name(e)));
    }
  }

  #onExclusion(verb: Verb, raw: RawObject): void {
    const uid = raw.metadata?.uid ?? `Exclusion/${ns(raw)}/${name(raw)}`;
    const now: Seen = { fingerprint: fingerprint(raw), pipeline: "", process: "" };
    const before = this.#seen.get(uid);
    if (verb === "delete") this.#seen.delete(uid);
    else this.#seen.set(uid, now);
    if (verb === "update" && before?.fingerprint === now.fingerprint) return;
    this.#enqueue(exclusionKey(ns(raw), name(raw)));
  }

  #bots(namespace: string): RawObject[] {
    return this.#caches.bots.list(namespace) as RawObject[];
  }

  #onBot(verb: Verb, raw: RawObject): void {
    const namespace = ns(raw);
    const botName = name(raw);
    const uid = raw.metadata?.uid ?? `${namespace}/${botName}`;
    const spec = botSpec(raw);
    if (this.#scopeChanged(verb, raw, spec.pipeline)) this.#requeueExclusions(namespace, true);
    const now: Seen = {
      fingerprint: fingerprint(raw),
      pipeline: spec.pipeline,
      process: spec.process ?? botName,
    };
    const before = this.#seen.get(uid);
    if (verb === "delete") this.#seen.delete(uid);
    else this.#seen.set(uid, now);
    const changed = verb !== "update" || before?.fingerprint !== now.fingerprint;
    if (changed) {
      this.#enqueue(botKey(namespace, botName));
      const inGroup = (other: RawObject, g: Seen) => {
        const o = botSpec(other);
        return o.pipeline === g.pipeline && (o.process ?? name(other)) === g.process;
      };
      for (const other of this.#bots(namespace)) {
        const o = botSpec(other);
        const sendsHere =
          o.pipeline === spec.pipeline && Object.values(o.destinations).some((to) => to.includes(botName));
        if (inGroup(other, now) || (before && inGroup(other, before)) || sendsHere) {
          this.#enqueue(botKey(namespace, name(other)));
        }
      }
    }
    if (spec.pipeline) this.#enqueue(pipelineKey(namespace, spec.pipeline));
  }

  #onPipeline(verb: Verb, raw: RawObject): void {
    const namespace = ns(raw);
    const pipeline = name(raw);
    const uid = raw.metadata?.uid ?? `${namespace}/${pipeline}`;
    const annotation = raw.metadata?.annotations?.[DELETE_STREAMS_ANNOTATION] ?? "";
    // The spec too: a new NATS URL moves where the exclusions are written.
    if (this.#scopeChanged(verb, raw, raw.metadata?.generation)) this.#requeueExclusions(namespace, false);
    const now: Seen = { fingerprint: fingerprint(raw, annotation), pipeline, process: "" };
    const before = this.#seen.get(uid);
    if (verb === "delete") this.#seen.delete(uid);
    else this.#seen.set(uid, now);
    if (verb === "update" && before?.fingerprint === now.fingerprint) return;
    this.#enqueue(pipelineKey(namespace, pipeline));
    // Bots render from their pipeline's spec, and need it to exist.
    for (const bot of this.#bots(namespace)) {
      if (botSpec(bot).pipeline === pipeline) this.#enqueue(botKey(namespace, name(bot)));
    }
  }

  #onChild(obj: KubernetesObject): void {
    const namespace = obj.metadata?.namespace ?? "";
    for (const ref of obj.metadata?.ownerReferences ?? []) {
      if (ref.kind === "Bot" && ref.apiVersion === API_VERSION) this.#enqueue(botKey(namespace, ref.name));
    }
  }
}

function ns(obj: RawObject | KubernetesObject): string {
  return obj.metadata?.namespace ?? "";
}

function name(obj: RawObject | KubernetesObject): string {
  return obj.metadata?.name ?? "";
}
