// ctx.state for tests of stateful experts: the runtime's own state store (runtime/state-store.ts) on a
// real nats-server's JetStream KV, counting the calls made.
import type { NatsConnection } from "@nats-io/nats-core";
import { countingStore, openStateStore } from "../../../bot-runtime/src/runtime/state-store.ts";
import type { BotContext } from "../../../bot-runtime/src/sdk/bot.ts";

export interface KvCalls {
  get: number;
  put: number;
  create: number;
  delete: number;
}

/** A ctx.state over `nc` whose bucket names get `prefix`; `calls` counts every store call. */
export function kvState(nc: NatsConnection, prefix: string): { state: BotContext["state"]; calls: KvCalls } {
  const calls: KvCalls = { get: 0, put: 0, create: 0, delete: 0 };
  const state: BotContext["state"] = async (bucket, options) =>
    countingStore(await openStateStore(nc, `${prefix}_${bucket}`, { ttlMs: options?.ttlMs }), calls);
  return { state, calls };
}
