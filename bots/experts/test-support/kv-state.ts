// ctx.state for tests of stateful experts (owner: the threshold/aggregate helper): buckets in a real
// nats-server's JetStream KV with the runtime's semantics (history 1, ttlMs as the bucket's max age,
// create refusing an existing key), counting the calls made.
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { BotContext, StateStore } from "../../../bot-runtime/src/sdk/bot.ts";

export interface KvCalls {
  get: number;
  put: number;
  create: number;
  delete: number;
}

/** A ctx.state over `nc` whose bucket names get `prefix`; `calls` counts every store call. */
export function kvState(nc: NatsConnection, prefix: string): { state: BotContext["state"]; calls: KvCalls } {
  const calls: KvCalls = { get: 0, put: 0, create: 0, delete: 0 };
  const state: BotContext["state"] = async (bucket, options) => {
    const kv = await new Kvm(nc).create(`${prefix}_${bucket}`, {
      history: 1,
      ...(options?.ttlMs ? { ttl: options.ttlMs } : {}),
    });
    const store: StateStore = {
      get: async (key) => {
        calls.get++;
        return (await kv.get(key))?.string();
      },
      put: async (key, value) => {
        calls.put++;
        await kv.put(key, value);
      },
      create: async (key, value) => {
        calls.create++;
        try {
          await kv.create(key, value);
          return true;
        } catch (error) {
          if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
          throw error;
        }
      },
      delete: async (key) => {
        calls.delete++;
        await kv.delete(key);
      },
    };
    return store;
  };
  return { state, calls };
}
