import { describe, expect, it } from "vitest";
import { sleep } from "./sleep.ts";

describe("sleep", () => {
  it("waits the time given", async () => {
    const start = performance.now();
    await sleep(50, new AbortController().signal);
    expect(performance.now() - start).toBeGreaterThanOrEqual(45);
  });

  it("ends at once when the signal aborts, also while waiting forever", async () => {
    const abort = new AbortController();
    const start = performance.now();
    const waiting = sleep(Number.POSITIVE_INFINITY, abort.signal);
    setTimeout(() => abort.abort(), 20);
    await waiting;
    expect(performance.now() - start).toBeLessThan(1_000);
    await sleep(60_000, abort.signal);
    expect(performance.now() - start).toBeLessThan(1_000);
  });
});
