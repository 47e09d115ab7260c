// Leader election over a coordination.k8s.io/v1 Lease, as client-go's: a candidate takes the lease when
// it has no holder or its holder has not renewed it for a lease duration (measured on the candidate's
// own clock, from when it last saw the lease change); the leader renews it every retry period and
// steps down if renewing fails for the renew deadline. Stopping releases the lease at once.

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { errorText } from "./errors.ts";
import { statusCode } from "./kube.ts";

export interface LeaderElectionOptions {
  namespace: string;
  /** The Lease's name (the election id). */
  name: string;
  /** This candidate (default: hostname and a random id). */
  identity?: string;
  /** Defaults as controller-runtime: 15 s, 10 s, 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface LeaderCallbacks {
  onStartedLeading(): void;
  /** Leadership lost (renewing failed); not called when stop() releases it. */
  onStoppedLeading(): void;
}

export class LeaderElector {
  readonly identity: string;
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #name: string;
  readonly #durationMs: number;
  readonly #renewDeadlineMs: number;
  readonly #retryMs: number;
  readonly #log: Logger;
  readonly #callbacks: LeaderCallbacks;
  #leader = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** The lease as last seen, and when (this process's clock). */
  #observed = "";
  #observedAt = 0;
  #lastRenew = 0;

  constructor(
    kubeConfig: KubeConfig,
    options: LeaderElectionOptions,
    log: Logger,
    callbacks: LeaderCallbacks,
  ) {
    this.#api = kubeConfig.makeApiClient(CoordinationV1Api);
    this.#namespace = options.namespace;
    this.#name = options.name;
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.#durationMs = options.leaseDurationMs ?? 15_000;
    this.#renewDeadlineMs = options.renewDeadlineMs ?? 10_000;
    this.#retryMs = options.retryPeriodMs ?? 2_000;
    this.#log = log.child({ lease: `${this.#namespace}/${this.#name}`, identity: this.identity });
    this.#callbacks = callbacks;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Campaigns until stopped: acquires, then renews. */
  start(): void {
    this.#schedule(0);
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.#tick().finally(() => {
        this.#running = undefined;
      });
    }, delayMs);
  }

  async #tick(): Promise<void> {
    const now = Date.now();
    let ok = false;
    try {
      ok = await this.#tryAcquireOrRenew(now);
    } catch (error) {
      this.#log.warn({ err: errorText(error) }, "Could not read or update the leader lease.");
    }
    if (this.#stopped) return;
    if (ok) {
      this.#lastRenew = now;
      if (!this.#leader) {
        this.#leader = true;
        this.#log.info("Became the leader.");
        this.#callbacks.onStartedLeading();
      }
    } else if (this.#leader && Date.now() - this.#lastRenew > this.#renewDeadlineMs) {
      this.#leader = false;
      this.#stopped = true;
      this.#log.error("Lost the leader lease (renewing failed); stepping down.");
      this.#callbacks.onStoppedLeading();
      return;
    }
    this.#schedule(this.#retryMs);
  }

  #spec(now: number, previous: V1Lease["spec"], holding: boolean): V1Lease["spec"] {
    return {
      holderIdentity: this.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.#durationMs / 1000)),
      acquireTime: new V1MicroTime(holding && previous?.acquireTime ? new Date(previous.acquireTime) : now),
      renewTime: new V1MicroTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (holding ? 0 : 1),
    };
  }

  async #tryAcquireOrRenew(now: number): Promise<boolean> {
    const where = { namespace: this.#namespace, name: this.#name };
    let lease: V1Lease;
    try {
      lease = await this.#api.readNamespacedLease(where);
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
      const spec = this.#spec(now, undefined, false);
      try {
        await this.#api.createNamespacedLease({
          namespace: this.#namespace,
          body: {
            metadata: { name: this.#name, namespace: this.#namespace },
            spec: { ...spec, leaseTransitions: 0 },
          },
        });
      } catch (createError) {
        if (statusCode(createError) === 409) return false;
        throw createError;
      }
      return true;
    }
    const spec = lease.spec ?? {};
    const seen = JSON.stringify([spec.holderIdentity, String(spec.renewTime), spec.leaseTransitions]);
    if (seen !== this.#observed) {
      this.#observed = seen;
      this.#observedAt = now;
    }
    const holder = spec.holderIdentity ?? "";
    const holding = holder === this.identity;
    const durationMs = (spec.leaseDurationSeconds ?? 15) * 1000;
    if (holder !== "" && !holding && this.#observedAt + durationMs > now) return false;
    try {
      await this.#api.replaceNamespacedLease({
        ...where,
        body: { metadata: lockedMeta(lease), spec: this.#spec(now, spec, holding) },
      });
    } catch (error) {
      if (statusCode(error) === 409) return false;
      throw error;
    }
    return true;
  }

  /**
   * Stops campaigning; a leader hands the lease back so another candidate takes over at once (unless
   * `release` is false: then the lease runs out, as after a crash).
   */
  async stop(release = true): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
    if (!this.#leader) return;
    this.#leader = false;
    if (!release) return;
    try {
      const where = { namespace: this.#namespace, name: this.#name };
      const lease = await this.#api.readNamespacedLease(where);
      if (lease.spec?.holderIdentity !== this.identity) return;
      const now = new V1MicroTime();
      await this.#api.replaceNamespacedLease({
        ...where,
        body: {
          metadata: lockedMeta(lease),
          spec: {
            holderIdentity: "",
            leaseDurationSeconds: 1,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: lease.spec?.leaseTransitions ?? 0,
          },
        },
      });
      this.#log.info("Released the leader lease.");
    } catch (error) {
      this.#log.warn({ err: errorText(error) }, "Could not release the leader lease; it expires by itself.");
    }
  }
}

/** Name and resourceVersion: a replace fails with a conflict if the lease changed since it was read. */
function lockedMeta(lease: V1Lease) {
  return {
    name: lease.metadata?.name,
    namespace: lease.metadata?.namespace,
    resourceVersion: lease.metadata?.resourceVersion,
  };
}
