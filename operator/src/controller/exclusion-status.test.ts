// An Exclusion's status from what the operator observed: the Active condition's reasons in their order
// of precedence, Expired and Invalid, and the sums of what the bots reported.
import { describe, expect, it } from "vitest";
import { summarizeStats } from "../../../bot-runtime/src/exclusions/buckets.ts";
import { type ExclusionObservation, exclusionStatus } from "./exclusion-status.ts";

const NOW = new Date("2026-12-05T12:00:00Z");

const base: ExclusionObservation = {
  generation: 2,
  enabled: true,
  invalid: undefined,
  expiresAt: undefined,
  pipelines: ["a", "b"],
  distributed: ["a", "b"],
  revisionInForce: "2",
  botSelector: false,
  selectedBots: 0,
  bots: 3,
  matched: 42,
  lastMatch: "2026-12-05T11:59:58.123Z",
  unavailable: undefined,
};

function active(o: Partial<ExclusionObservation>) {
  const status = exclusionStatus({ ...base, ...o }, undefined, NOW);
  const c = status.conditions?.find((x) => x.type === "Active");
  return [c?.status, c?.reason, c?.message];
}

describe("exclusionStatus", () => {
  it("is Applied while bots apply it, with the counts", () => {
    const status = exclusionStatus(base, undefined, NOW);
    expect(status).toMatchObject({
      observedGeneration: 2,
      pipelines: ["a", "b"],
      bots: 3,
      matchedEvents: 42,
      lastMatchTime: "2026-12-05T11:59:58.123Z",
    });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Active", "True", "Applied"],
      ["Expired", "False", "NotExpired"],
      ["Invalid", "False", "Compiled"],
    ]);
    expect(active({})[2]).toBe("3 bot(s) apply it in a, b");
  });

  it("says why it is not active, the most fundamental reason first", () => {
    expect(active({ unavailable: "pipeline a: connection refused" })).toEqual([
      "Unknown",
      "JetStreamUnavailable",
      "pipeline a: connection refused",
    ]);
    expect(active({ invalid: "match.all[0]: regex: …", distributed: [] })[1]).toBe("Invalid");
    expect(active({ enabled: false, distributed: [] })[1]).toBe("Disabled");
    expect(active({ expiresAt: "2026-12-05T11:00:00Z" })).toEqual([
      "False",
      "Expired",
      "stopped applying at 2026-12-05T11:00:00Z",
    ]);
    expect(active({ pipelines: [], distributed: [] })[1]).toBe("NoPipelines");
    expect(active({ botSelector: true, selectedBots: 0 })).toEqual([
      "False",
      "NoBots",
      "scope.botSelector selects no bot of a, b",
    ]);
    expect(active({ bots: 0 })).toEqual([
      "False",
      "NotApplied",
      "written for the output bots of a, b; no bot reports applying it yet (bots report every 5 s)",
    ]);
  });

  it("reports an invalid edit while the previous generation stays in force", () => {
    const status = exclusionStatus(
      { ...base, generation: 3, invalid: "action.set[0]: source.asn: …", revisionInForce: "2" },
      undefined,
      NOW,
    );
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason, c.message])).toEqual([
      [
        "Active",
        "True",
        "PreviousGenerationApplies",
        "generation 3 is invalid; 3 bot(s) keep applying generation 2",
      ],
      ["Expired", "False", "NotExpired", "no expiry"],
      ["Invalid", "True", "InvalidSpec", "action.set[0]: source.asn: …"],
    ]);
  });

  it("keeps lastTransitionTime while a condition's status stays", () => {
    const first = exclusionStatus(base, undefined, NOW);
    const later = exclusionStatus({ ...base, bots: 5 }, first.conditions, new Date(NOW.getTime() + 60_000));
    expect(later.conditions?.[0]?.lastTransitionTime).toBe("2026-12-05T12:00:00Z");
    const off = exclusionStatus({ ...base, bots: 0 }, later.conditions, new Date(NOW.getTime() + 120_000));
    expect(off.conditions?.[0]?.lastTransitionTime).toBe("2026-12-05T12:02:00Z");
  });
});

describe("summarizeStats", () => {
  it("sums matches over every process, takes the latest match, and counts bots with a fresh report", () => {
    const now = Date.parse("2026-12-05T12:00:00Z");
    const summary = summarizeStats(
      [
        { bot: "out", matched: 3, lastMatch: "2026-12-05T11:00:00.000Z", reportedAt: "2026-12-05T11:59:58Z" },
        { bot: "out", matched: 4, lastMatch: "2026-12-05T11:30:00.000Z", reportedAt: "2026-12-05T11:59:59Z" },
        {
          bot: "old",
          matched: 10,
          lastMatch: "2026-12-04T00:00:00.000Z",
          reportedAt: "2026-12-04T00:00:00Z",
        },
        { bot: "tax", matched: 0, reportedAt: "2026-12-05T11:59:59Z" },
      ],
      now,
      30_000,
      (bot) => bot !== "tax",
    );
    expect(summary).toEqual({ bots: ["out"], matched: 17, lastMatch: "2026-12-05T11:30:00.000Z" });
  });
});
