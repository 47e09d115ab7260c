// What the reconcilers share: the API writer, the informer caches, the NATS connections, the queue (to
// ask for other reconciles), the memory of what was applied, of exclusions written and of statuses written, and settings.
import type { Logger } from "pino";
import type { AppliedMemo } from "./apply.ts";
import type { ExclusionMemo } from "./exclusion-reconciler.ts";
import type { Caches } from "./informers.ts";
import type { Kube } from "./kube.ts";
import type { NatsPool } from "./nats-pool.ts";
import type { StatusMemo } from "./status-events.ts";
import type { ModuleLookup } from "./validate.ts";

export interface ControllerContext {
  kube: Kube;
  caches: Caches;
  nats: NatsPool;
  applied: AppliedMemo;
  /** When each Exclusion was last written to the buckets (its status is then refreshed sooner). */
  exclusions: ExclusionMemo;
  /** The conditions last written per resource, which Events are told from. */
  statuses: StatusMemo;
  enqueue(key: string): void;
  log: Logger;
  lookup: ModuleLookup;
  /** Image of bots that name none (flag --bot-image); undefined: such bots are reported. */
  defaultImage: string | undefined;
  now(): Date;
}

/** A reconcile's outcome: done, or to be repeated after a delay (errors are thrown). */
export interface ReconcileResult {
  requeueAfterMs?: number;
}
