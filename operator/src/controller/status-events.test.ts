import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { ConditionT } from "../../../bot-runtime/src/config/resources.ts";
import type { ControllerContext } from "./context.ts";
import type { EventNote, ResourceRef } from "./kube.ts";
import { conditionEvents, StatusMemo, writeStatus } from "./status-events.ts";

const at = "2026-12-05T00:00:00Z";
const c = (
  type: string,
  status: "True" | "False",
  reason: string,
  message = `${reason} message`,
): ConditionT => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: at,
});
const progressing = [c("Ready", "False", "RolloutInProgress"), c("Degraded", "False", "NoProblems", "")];
const running = [c("Ready", "True", "Running"), c("Degraded", "False", "NoProblems", "")];
const invalid = [
  c("Ready", "False", "InvalidParameters"),
  c("Degraded", "True", "InvalidParameters", "bad ttl"),
];

describe("conditionEvents", () => {
  it("says nothing while a new resource starts, or while nothing changes", () => {
    expect(conditionEvents(undefined, progressing)).toEqual([]);
    expect(conditionEvents(running, running)).toEqual([]);
    expect(conditionEvents(invalid, invalid)).toEqual([]);
  });

  it("becoming Ready and leaving Ready are Normal, with the reason", () => {
    expect(conditionEvents(progressing, running)).toEqual([
      { type: "Normal", reason: "Running", message: "Running message" },
    ]);
    expect(conditionEvents(running, progressing)).toEqual([
      { type: "Normal", reason: "RolloutInProgress", message: "RolloutInProgress message" },
    ]);
    const stopped = [c("Ready", "True", "Stopped"), c("Degraded", "False", "NoProblems", "")];
    expect(conditionEvents(running, stopped)).toEqual([
      { type: "Normal", reason: "Stopped", message: "Stopped message" },
    ]);
  });

  it("a problem appearing or changing is a Warning, also on a new resource", () => {
    expect(conditionEvents(undefined, invalid)).toEqual([
      { type: "Warning", reason: "InvalidParameters", message: "bad ttl" },
    ]);
    expect(conditionEvents(running, invalid)).toEqual([
      { type: "Warning", reason: "InvalidParameters", message: "bad ttl" },
      { type: "Normal", reason: "InvalidParameters", message: "InvalidParameters message" },
    ]);
    const other = [c("Ready", "False", "InvalidParameters"), c("Degraded", "True", "NoImage", "no image")];
    expect(conditionEvents(invalid, other)).toEqual([
      { type: "Warning", reason: "NoImage", message: "no image" },
    ]);
    // The problem going away is said by Ready becoming True (or by nothing while still rolling out).
    expect(conditionEvents(invalid, progressing)).toEqual([]);
    expect(conditionEvents(invalid, running)).toEqual([
      { type: "Normal", reason: "Running", message: "Running message" },
    ]);
  });
});

describe("writeStatus", () => {
  // What the API server was asked to do, recorded in place of a Kube (the reconcilers and the real
  // API server are exercised together in operator.test.ts).
  const recorder = () => {
    const statuses: unknown[] = [];
    const events: EventNote[] = [];
    const ctx = {
      kube: {
        applyStatus: async (_ref: ResourceRef, status: unknown) => {
          statuses.push(status);
        },
        recordEvent: async (_ref: ResourceRef, note: EventNote) => {
          events.push(note);
        },
      },
      statuses: new StatusMemo(),
      log: pino({ level: "silent" }),
      now: () => new Date(at),
    } as unknown as ControllerContext;
    return { ctx, statuses, events };
  };
  const ref: ResourceRef = { kind: "Bot", namespace: "ns", name: "dedup", uid: "u1" };

  it("a reconcile that still sees the old status in the cache does not repeat the Event", async () => {
    const { ctx, statuses, events } = recorder();
    await writeStatus(ctx, ref, { conditions: running }, { conditions: invalid });
    // The cache has not caught up with that write yet: the same transition is seen again.
    await writeStatus(ctx, ref, { conditions: running }, { conditions: invalid });
    await Promise.resolve();
    expect(statuses).toHaveLength(2);
    expect(events.filter((e) => e.type === "Warning")).toEqual([
      { type: "Warning", reason: "InvalidParameters", message: "bad ttl" },
    ]);
    // A later change is still told, from what was written.
    await writeStatus(ctx, ref, { conditions: invalid }, { conditions: running });
    expect(events.at(-1)).toEqual({ type: "Normal", reason: "Running", message: "Running message" });
  });

  it("a resource re-created under the same name starts from its stored status; a deleted one is forgotten", async () => {
    const { ctx, events } = recorder();
    await writeStatus(ctx, ref, undefined, { conditions: invalid });
    await writeStatus(ctx, { ...ref, uid: "u2" }, undefined, { conditions: invalid });
    expect(events.filter((e) => e.type === "Warning")).toHaveLength(2);
    ctx.statuses.forget(ref);
    expect(ctx.statuses.written({ ...ref, uid: "u2" })).toBeUndefined();
  });

  it("writes nothing and tells nothing when the stored status is the one wanted", async () => {
    const { ctx, statuses, events } = recorder();
    await writeStatus(ctx, ref, { conditions: invalid }, { conditions: invalid });
    expect(statuses).toEqual([]);
    expect(events).toEqual([]);
  });
});
