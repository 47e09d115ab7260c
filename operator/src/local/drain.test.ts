// The end conditions of --until-drained, on snapshots.
import { describe, expect, it } from "vitest";
import { type BotSnapshot, drainBlockers, isDrained } from "./drain.ts";

function bot(overrides: Partial<BotSnapshot>): BotSnapshot {
  return {
    name: "b",
    kind: "expert",
    active: true,
    replicas: [{ name: "b", state: "running", ready: true, consecutiveCrashes: 0, logFile: "logs/b.log" }],
    collectorOk: 0,
    collectorError: 0,
    collectsAgain: false,
    backlog: 0,
    ...overrides,
  };
}

describe("--until-drained", () => {
  it("is drained when collectors ran, queues are empty and every replica is ready", () => {
    const feed = bot({ name: "feed", kind: "collector", backlog: undefined, collectorOk: 1 });
    expect(isDrained([feed, bot({})])).toBe(true);
    expect(isDrained([{ ...feed, collectorOk: 0 }, bot({})])).toBe(false);
    expect(isDrained([feed, bot({ backlog: 1 })])).toBe(false);
    // Unknown (NATS not answering) is not empty.
    expect(isDrained([feed, bot({ backlog: undefined })])).toBe(false);
    const starting = bot({
      replicas: [{ name: "b", state: "running", ready: false, consecutiveCrashes: 0, logFile: "l" }],
    });
    expect(isDrained([feed, starting])).toBe(false);
    expect(isDrained([feed, bot({ active: false, backlog: 7 })])).toBe(true);
  });

  it("gives up on bots given up, stopped by error_procedure, or a collector whose only run failed", () => {
    expect(drainBlockers([bot({})])).toEqual([]);
    const replica = { name: "x#1", ready: false, consecutiveCrashes: 5, logFile: "logs/x.1.log" };
    expect(
      drainBlockers([
        bot({ replicas: [{ ...replica, state: "failed" }] }),
        bot({ replicas: [{ ...replica, state: "error-stop" }] }),
        bot({ name: "feed", kind: "collector", collectorError: 1 }),
        bot({ name: "again", kind: "collector", collectorError: 1, collectsAgain: true }),
        bot({ active: false, replicas: [{ ...replica, state: "failed" }] }),
      ]),
    ).toEqual([
      "bot x#1 crashed 5 times and was given up (log logs/x.1.log)",
      "bot x#1 stopped itself (error_procedure: stop) (log logs/x.1.log)",
      "collector feed failed its run (log logs/b.log)",
    ]);
  });
});
