import { describe, expect, it } from "vitest";
import { RateLimiter, WorkQueue } from "./workqueue.ts";

describe("WorkQueue", () => {
  it("hands out a key once however often it was added while waiting", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
    expect(q.depth).toBe(0);
  });

  it("never hands out a key being processed; one added meanwhile comes back once it is done", async () => {
    const q = new WorkQueue();
    q.add("a");
    expect(await q.get()).toBe("a");
    q.add("a");
    q.add("a");
    expect(q.depth).toBe(0);
    q.add("b");
    expect(await q.get()).toBe("b");
    q.done("a");
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe("a");
    q.done("a");
    expect(q.depth).toBe(0);
  });

  it("wakes a waiting worker on add, and all of them on shutdown", async () => {
    const q = new WorkQueue();
    const waiting = [q.get(), q.get()];
    q.add("x");
    expect(await waiting[0]).toBe("x");
    q.shutDown();
    expect(await waiting[1]).toBeUndefined();
    expect(await q.get()).toBeUndefined();
    q.add("y");
    expect(q.depth).toBe(0);
  });

  it("adds after a delay, the earliest pending delay winning", async () => {
    const q = new WorkQueue();
    q.addAfter("a", 5_000);
    q.addAfter("a", 20);
    const started = Date.now();
    expect(await q.get()).toBe("a");
    expect(Date.now() - started).toBeLessThan(1_000);
    q.shutDown();
  });
});

describe("RateLimiter", () => {
  it("backs off per key exponentially from 5 ms up to the cap, until forgotten", () => {
    const limiter = new RateLimiter({ maxDelayMs: 100 });
    expect([1, 2, 3, 4, 5, 6].map(() => limiter.when("k"))).toEqual([5, 10, 20, 40, 80, 100]);
    expect(limiter.when("other")).toBe(5);
    expect(limiter.failures("k")).toBe(6);
    limiter.forget("k");
    expect(limiter.when("k")).toBe(5);
  });

  it("holds retries of all keys together to the rate once the burst is spent", () => {
    let now = 0;
    const limiter = new RateLimiter({ baseDelayMs: 1, qps: 10, burst: 3 }, () => now);
    expect([1, 2, 3].map((i) => limiter.when(`k${i}`))).toEqual([1, 1, 1]);
    expect(limiter.when("k4")).toBe(100);
    expect(limiter.when("k5")).toBe(200);
    now = 1_000;
    expect(limiter.when("k6")).toBe(1);
  });
});
