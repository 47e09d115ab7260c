import { describe, expect, it } from "vitest";
import type { ConditionT } from "../../../bot-runtime/src/config/resources.ts";
import { conditionEvents } from "./status-events.ts";

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
