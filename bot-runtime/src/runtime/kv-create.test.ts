// The pipelined KV create against a real nats-server: it stores only new keys, what it stores is what
// the library reads, and every other outcome is left to the library's create (delete markers included).
import { Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { natsForTests } from "../../test-support/jetstream-fixture.ts";
import { KvCreateFastPath } from "./kv-create.ts";

const encoder = new TextEncoder();

describe("KV create fast path", () => {
  const nats = natsForTests();

  it("stores a new key once and answers exists afterwards, also after a delete", async () => {
    const kv = await new Kvm(nats.nc).create("fast_create", { history: 1, ttl: 60_000 });
    const fast = new KvCreateFastPath(nats.nc);
    expect(await fast.create("$KV.fast_create.abc", encoder.encode("1"))).toBe("stored");
    expect((await kv.get("abc"))?.string()).toBe("1");
    expect(await fast.create("$KV.fast_create.abc", encoder.encode("2"))).toBe("exists");
    await expect(kv.create("abc", "2")).rejects.toThrow(/wrong last sequence/);
    // A delete leaves a marker: the fast path says exists, the library's create then succeeds.
    await kv.delete("abc");
    expect(await fast.create("$KV.fast_create.abc", encoder.encode("3"))).toBe("exists");
    await kv.create("abc", "3");
    expect((await kv.get("abc"))?.string()).toBe("3");
    const creates = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fast.create(`$KV.fast_create.k${i % 100}`, encoder.encode("x"))),
    );
    expect(creates.filter((c) => c === "stored")).toHaveLength(100);
    fast.close();
  });

  it("rejects when nothing stores the subject, and when no answer comes", async () => {
    const fast = new KvCreateFastPath(nats.nc, 300);
    await expect(fast.create("$KV.no_such_bucket.k", encoder.encode("x"))).rejects.toThrow(
      /refused|no answer/,
    );
    fast.close();
  });
});
