// Which inputs count as copies of finished ones: only around a disconnect, only what was finished
// before it or while the connection settled, and only for a while.
import { describe, expect, it } from "vitest";
import { CompletedInputs } from "./completed-inputs.ts";

const MINUTE = 60_000;

describe("CompletedInputs", () => {
  it("treats nothing as a copy while the connection never dropped", () => {
    const done = new CompletedInputs(8);
    done.completed("a:1:0:0", 0);
    expect(done.isCopy("a:1:0:0", 1)).toBe(false);
  });

  it("recognises inputs finished before a disconnect, and only those", () => {
    const done = new CompletedInputs(8);
    done.completed("a:1:0:0", 0);
    done.completed("a:2:0:0", 0);
    done.disconnected();
    expect(done.isCopy("a:1:0:0", 10)).toBe(true);
    expect(done.isCopy("a:2:0:0", 10)).toBe(true);
    expect(done.isCopy("a:3:0:0", 10)).toBe(false);
  });

  it("also suspects inputs finished while disconnected and shortly after the reconnect", () => {
    const done = new CompletedInputs(8);
    done.disconnected();
    done.completed("during", 1_000);
    done.reconnected(2_000);
    done.completed("settling", 2_000 + 29_000);
    done.completed("settled", 2_000 + 31_000);
    expect(done.isCopy("during", 40_000)).toBe(true);
    expect(done.isCopy("settling", 40_000)).toBe(true);
    expect(done.isCopy("settled", 40_000)).toBe(false);
  });

  it("forgets ten minutes after the reconnect", () => {
    const done = new CompletedInputs(8);
    done.completed("k", 0);
    done.disconnected();
    done.reconnected(1_000);
    expect(done.isCopy("k", 1_000 + 10 * MINUTE)).toBe(true);
    expect(done.isCopy("k", 1_000 + 10 * MINUTE + 1)).toBe(false);
    expect(done.isCopy("k", 1_000)).toBe(false);
  });

  it("remembers only the most recent inputs (bounded memory)", () => {
    const done = new CompletedInputs(3);
    for (const key of ["k1", "k2", "k3", "k4", "k5"]) done.completed(key, 0);
    done.disconnected();
    expect(["k1", "k2", "k3", "k4", "k5"].map((k) => done.isCopy(k, 1))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it("identifies an input by its Nats-Msg-Id, else by its stream sequence", () => {
    const info = { streamSequence: 42 };
    const withId = { headers: { get: (h: string) => (h === "Nats-Msg-Id" ? "up:7:0:0" : "") }, info };
    expect(CompletedInputs.key(withId as never)).toBe("up:7:0:0");
    expect(CompletedInputs.key({ info } as never)).toBe("#42");
  });
});
