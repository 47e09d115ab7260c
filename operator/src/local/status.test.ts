// The status text and the metrics arithmetic behind it.
import { describe, expect, it } from "vitest";
import { countersOf, parsePrometheus, ReplicaTotals, ZERO } from "./metrics.ts";
import {
  fitWidth,
  formatElapsed,
  progressLine,
  renderSummary,
  renderTable,
  type StatusRow,
} from "./status.ts";

const METRICS = `# HELP petrel_bot_messages_received_total Messages taken
# TYPE petrel_bot_messages_received_total counter
petrel_bot_messages_received_total{pipeline="demo",bot="p"} 12
petrel_bot_messages_sent_total{path="_default",pipeline="demo",bot="p"} 30
petrel_bot_messages_sent_total{path="other",pipeline="demo",bot="p"} 2
petrel_bot_messages_failed_total{pipeline="demo",bot="p"} 1
petrel_bot_messages_dead_lettered_total{reason="record-failed",pipeline="demo",bot="p"} 1
petrel_bot_collector_runs_total{result="ok",pipeline="demo",bot="p"} 3
petrel_bot_collector_runs_total{result="error",pipeline="demo",bot="p"} 1
petrel_bot_info{module="x",kind="parser",pipeline="demo",bot="p \\"q\\""} 1
`;

function row(overrides: Partial<StatusRow>): StatusRow {
  return {
    bot: "b",
    pipeline: "p",
    kind: "expert",
    state: "running",
    inRate: 0,
    outRate: 0,
    backlog: 0,
    received: 0,
    sent: 0,
    dropped: 0,
    errors: 0,
    deadLetters: 0,
    restarts: 0,
    ...overrides,
  };
}

describe("metrics", () => {
  it("sums a bot's counters over their labels", () => {
    expect(countersOf(parsePrometheus(METRICS))).toEqual({
      received: 12,
      sent: 32,
      dropped: 0,
      failed: 1,
      deadLettered: 1,
      collectorOk: 3,
      collectorError: 1,
    });
    expect(parsePrometheus(METRICS).at(-1)?.labels.bot).toBe('p "q"');
  });

  it("keeps the counts of a replica's earlier processes after a restart", () => {
    const totals = new ReplicaTotals();
    totals.update(100, { ...ZERO, received: 5 });
    totals.update(100, { ...ZERO, received: 8 });
    totals.update(200, { ...ZERO, received: 2 });
    expect(totals.total.received).toBe(10);
  });
});

describe("status text", () => {
  it("renders the live table with aligned columns", () => {
    const lines = renderTable([
      row({ bot: "feed", kind: "collector", inRate: undefined, outRate: 2.5, backlog: undefined }),
      row({ bot: "dedup", state: "restart in 2 s", inRate: 1234.4, outRate: 1000, backlog: 17, restarts: 1 }),
    ]);
    expect(lines).toEqual([
      "BOT    KIND       STATE           IN/S  OUT/S  BACKLOG  ERRORS  DEAD LETTERS  RESTARTS",
      "feed   collector  running            -    2.5        -       0             0         0",
      "dedup  expert     restart in 2 s  1234   1000       17       0             0         1",
    ]);
  });

  it("summarises progress in one line and names bots in trouble", () => {
    const line = progressLine(75_000, [
      row({ bot: "feed", kind: "collector", sent: 3 }),
      row({ bot: "x", state: "failed", backlog: 4 }),
      row({ bot: "out", kind: "output", sent: 42, deadLetters: 1 }),
      row({ bot: "off", state: "disabled", backlog: 6 }),
    ]);
    expect(line).toBe(
      "[1:15] 2/3 bots running · reports collected 3 · backlog 10 · events written 42 · dead letters 1 · restarts 0 · x failed",
    );
  });

  it("prints totals per bot at the end", () => {
    expect(
      renderSummary([row({ bot: "feed", kind: "collector", sent: 3 }), row({ received: 3, sent: 3 })]),
    ).toEqual([
      "BOT   KIND       RECEIVED  SENT  DROPPED  FAILED  DEAD LETTERS  RESTARTS",
      "feed  collector         -     3        0       0             0         0",
      "b     expert            3     3        0       0             0         0",
    ]);
  });

  it("formats elapsed time and fits lines to the terminal", () => {
    expect(formatElapsed(5_000)).toBe("0:05");
    expect(formatElapsed(3_725_000)).toBe("1:02:05");
    expect(fitWidth(["short", "x".repeat(50)], 30)).toEqual(["short", `${"x".repeat(28)}…`]);
    expect(fitWidth(["x".repeat(50)], undefined)).toEqual(["x".repeat(50)]);
  });
});
