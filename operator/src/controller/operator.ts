// The operator: informers feed a keyed work queue; workers run the Pipeline, Bot and Exclusion
// reconcilers, at most one reconcile per key at a time, failures retried with per-key backoff; everything
// is queued again every resync period and after each NATS reconnect. Only the leader's workers run.
import type { Server } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import { type Logger, pino } from "pino";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { AppliedMemo } from "./apply.ts";
import { reconcileBot } from "./bot-reconciler.ts";
import type { ControllerContext } from "./context.ts";
import { errorText } from "./errors.ts";
import { EventRouter } from "./events.ts";
import { ExclusionMemo, reconcileExclusion } from "./exclusion-reconciler.ts";
import { Informers } from "./informers.ts";
import { parseKey } from "./keys.ts";
import { Kube } from "./kube.ts";
import { type LeaderElectionOptions, LeaderElector } from "./leader.ts";
import { OperatorMetrics, serveOperatorHttp } from "./metrics.ts";
import { NatsPool } from "./nats-pool.ts";
import { reconcilePipeline } from "./pipeline-reconciler.ts";
import { StatusMemo } from "./status-events.ts";
import type { ModuleLookup } from "./validate.ts";
import { type RateLimits, WorkQueue } from "./workqueue.ts";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Watch one namespace; undefined: all. */
  namespace?: string;
  /** The operator connects here instead of each Pipeline's spec.nats.url (the bots still use that). */
  natsUrl?: string;
  natsCredentialsFile?: string;
  /** Image of bots that name none, nor their pipeline's defaults. */
  botImage?: string;
  /** Everything is reconciled again this often (default 1 min). */
  resyncMs?: number;
  /** Reconciles running at once, on different keys (default 4). */
  workers?: number;
  /** Port of /metrics, /healthz and /readyz (0: any free one); undefined: no HTTP server. */
  metricsPort?: number;
  /** Lease-based leader election; false: this instance reconciles alone without a lease. */
  leaderElection: LeaderElectionOptions | false;
  rateLimits?: Partial<RateLimits>;
  log?: Logger;
  /** Bot modules (default: the catalogue). */
  lookup?: ModuleLookup;
  /** Leadership was lost; the default stops the operator (main.ts exits the process). */
  onLostLeadership?: () => void;
}

export class Operator {
  readonly metrics: OperatorMetrics;
  readonly #options: OperatorOptions;
  readonly #log: Logger;
  readonly #queue: WorkQueue;
  readonly #informers: Informers;
  readonly #router: EventRouter;
  readonly #nats: NatsPool;
  readonly #ctx: ControllerContext;
  readonly #elector: LeaderElector | undefined;
  #server: Server | undefined;
  #workers: Promise<void>[] = [];
  #resync: NodeJS.Timeout | undefined;
  #leading = false;
  #stopped = false;

  constructor(options: OperatorOptions) {
    this.#options = options;
    this.#log = options.log ?? pino({ level: "info" });
    this.#queue = new WorkQueue(options.rateLimits);
    this.metrics = new OperatorMetrics(() => this.#queue.depth);
    const kube = new Kube(options.kubeConfig);
    this.#informers = new Informers(options.kubeConfig, kube, options.namespace, this.#log);
    this.#router = new EventRouter(this.#informers.caches, (key) => this.#queue.add(key));
    this.#nats = new NatsPool({
      ...(options.natsUrl ? { url: options.natsUrl } : {}),
      ...(options.natsCredentialsFile ? { credentialsFile: options.natsCredentialsFile } : {}),
      onReconnect: () => this.#router.requeueAll(),
      log: this.#log,
    });
    this.#ctx = {
      kube,
      caches: this.#informers.caches,
      nats: this.#nats,
      applied: new AppliedMemo(),
      exclusions: new ExclusionMemo(),
      statuses: new StatusMemo(),
      enqueue: (key) => this.#queue.add(key),
      log: this.#log,
      lookup: options.lookup ?? findModule,
      defaultImage: options.botImage,
      now: () => new Date(),
    };
    this.#elector = options.leaderElection
      ? new LeaderElector(options.kubeConfig, options.leaderElection, this.#log, {
          onStartedLeading: () => this.#lead(),
          onStoppedLeading: () => this.#lostLeadership(),
        })
      : undefined;
  }

  /** The port /metrics listens on (when served). */
  get port(): number | undefined {
    const address = this.#server?.address();
    return typeof address === "object" && address ? address.port : undefined;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  get identity(): string | undefined {
    return this.#elector?.identity;
  }

  /** Serves metrics, fills the caches, then campaigns for leadership (or leads at once). */
  async start(): Promise<void> {
    if (this.#options.metricsPort !== undefined) {
      this.#server = await serveOperatorHttp(
        this.metrics,
        this.#options.metricsPort,
        () => this.#informers.synced,
      );
    }
    this.#router.attach();
    await this.#informers.start();
    this.#log.info({ namespace: this.#options.namespace ?? "(all)" }, "Caches synced.");
    if (this.#stopped) return;
    if (this.#elector) this.#elector.start();
    else this.#lead();
  }

  #lead(): void {
    if (this.#stopped || this.#leading) return;
    this.#leading = true;
    this.metrics.leader.set(1);
    this.#router.requeueAll();
    const workers = this.#options.workers ?? 4;
    for (let i = 0; i < workers; i++) this.#workers.push(this.#work());
    const resyncMs = this.#options.resyncMs ?? 60_000;
    this.#resync = setInterval(() => this.#router.requeueAll(), resyncMs);
    this.#log.info({ workers, resyncMs }, "Reconciling.");
  }

  #lostLeadership(): void {
    this.#leading = false;
    this.metrics.leader.set(0);
    this.#queue.shutDown();
    clearInterval(this.#resync);
    if (this.#options.onLostLeadership) this.#options.onLostLeadership();
    else void this.stop();
  }

  async #work(): Promise<void> {
    for (;;) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      const { kind, namespace, name } = parseKey(key);
      const end = this.metrics.duration.startTimer({ kind });
      const log = this.#log.child({ kind, namespace, name });
      try {
        const ctx = { ...this.#ctx, log };
        const result =
          kind === "Bot"
            ? await reconcileBot(ctx, namespace, name)
            : kind === "Exclusion"
              ? await reconcileExclusion(ctx, namespace, name)
              : await reconcilePipeline(ctx, namespace, name);
        this.#queue.forget(key);
        if (result.requeueAfterMs !== undefined) {
          this.#queue.addAfter(key, result.requeueAfterMs);
          this.metrics.reconciles.inc({ kind, result: "requeue" });
        } else this.metrics.reconciles.inc({ kind, result: "success" });
      } catch (error) {
        this.metrics.reconciles.inc({ kind, result: "error" });
        const failures = this.#queue.limiter.failures(key);
        log.warn({ err: errorText(error), failures }, "Reconcile failed; retrying.");
        this.#queue.addRateLimited(key);
      } finally {
        end();
        this.#queue.done(key);
      }
    }
  }

  /** Finishes running reconciles, releases the lease, and closes watches, connections and the server. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#queue.shutDown();
    clearInterval(this.#resync);
    await Promise.all(this.#workers);
    await this.#elector?.stop();
    this.#leading = false;
    this.metrics.leader.set(0);
    await this.#informers.stop();
    await this.#nats.close();
    const server = this.#server;
    if (server) await new Promise((resolve) => server.close(resolve));
    this.#log.info("Operator stopped.");
  }
}
