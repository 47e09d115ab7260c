// ctx.state: a bot's key-value state in a JetStream KV bucket shared by its replicas (history 1; a TTL
// is the bucket's max age). The runtime opens it; tests of stateful bots open the same thing on their
// own nats-server, so they test the semantics bots get in production.
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { StateStore } from "../sdk/bot.ts";
import type { KvCreateFastPath } from "./kv-create.ts";

/** KV keys as nats.js accepts them (it also refuses a leading or trailing dot). */
const VALID_KV_KEY = /^[-/=.\w]+$/;

/**
 * Opens (creating if missing) the bucket `name` and returns the store over it. With `fast`, new keys
 * are created by a pipelined publish (one per key, see kv-create.ts) instead of a request each.
 */
export async function openStateStore(
  nc: NatsConnection,
  name: string,
  options: { ttlMs?: number | undefined; fast?: KvCreateFastPath | undefined } = {},
): Promise<StateStore> {
  const kv = await new Kvm(nc).create(name, { history: 1, ...(options.ttlMs ? { ttl: options.ttlMs } : {}) });
  const { fast } = options;
  const libraryCreate = async (key: string, value: string) => {
    try {
      await kv.create(key, value);
      return true;
    } catch (error) {
      if (/wrong last sequence|key exists/i.test((error as Error).message)) return false;
      throw error;
    }
  };
  return {
    get: async (key) => {
      // A deleted key reads back as its delete marker: absent, not an empty value.
      const entry = await kv.get(key);
      return entry?.operation === "PUT" ? entry.string() : undefined;
    },
    put: async (key, value) => {
      await kv.put(key, value);
    },
    create: (key, value) => {
      // The common case (a new key) without a request, and with one promise only; the library
      // decides everything else (an existing key, a delete marker).
      if (fast && VALID_KV_KEY.test(key) && !key.startsWith(".") && !key.endsWith(".")) {
        return fast
          .create(`$KV.${name}.${key}`, Buffer.from(value))
          .then((outcome) => outcome === "stored" || libraryCreate(key, value));
      }
      return libraryCreate(key, value);
    },
    delete: async (key) => {
      await kv.delete(key);
    },
  };
}

/** Wraps `store` so that `calls` counts each call by method (tests assert round trips with it). */
export function countingStore(
  store: StateStore,
  calls: Partial<Record<keyof StateStore, number>>,
): StateStore {
  const counted =
    <A extends unknown[], R>(method: keyof StateStore, call: (...args: A) => R) =>
    (...args: A): R => {
      calls[method] = (calls[method] ?? 0) + 1;
      return call(...args);
    };
  return {
    get: counted("get", (key: string) => store.get(key)),
    put: counted("put", (key: string, value: string) => store.put(key, value)),
    create: counted("create", (key: string, value: string) => store.create(key, value)),
    delete: counted("delete", (key: string) => store.delete(key)),
  };
}
