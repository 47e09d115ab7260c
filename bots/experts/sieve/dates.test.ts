// Time values of :before/:after as IntelMQ 3.5 reads them (pendulum 3.3.0, then parse_relative).
// The expected readings below were recorded from pendulum 3.3.0 and IntelMQ's parse_relative: an ISO
// text is the instant (in UTC), a number the seconds counted back from now, null a value IntelMQ
// cannot read (its rule then fails every event that reaches it).
import { describe, expect, it } from "vitest";
import {
  compareInstants,
  fromIsoformat,
  isoformatUtc,
  parseDateSpec,
  parseRelative,
  shiftInstant,
} from "./dates.ts";

const PENDULUM_READINGS: readonly [string, string | number | null][] = [
  ["2024-01-02", "2024-01-02T00:00:00+00:00"],
  ["2024-01-02T10", "2024-01-02T10:00:00+00:00"],
  ["2024-01-02T1011", null],
  ["2024-01-02T101112", null],
  ["2024-01-02T10:11", "2024-01-02T10:11:00+00:00"],
  ["2024-01-02T10:11:12", "2024-01-02T10:11:12+00:00"],
  ["2024-01-02T10:11:12.5", "2024-01-02T10:11:12.500000+00:00"],
  ["2024-01-02T101112.5", null],
  ["2024-01-02 10:11", "2024-01-02T10:11:00+00:00"],
  ["2024-01-02 1011", null],
  ["2024-01-02T10:11Z", "2024-01-02T10:11:00+00:00"],
  ["2024-01-02T1011Z", null],
  ["2024-01-02T10:11:12+01", "2024-01-02T09:11:12+00:00"],
  ["2024-01-02T10:11:12+0130", "2024-01-02T08:41:12+00:00"],
  ["2024-01-02T10:11:12+01:30", "2024-01-02T08:41:12+00:00"],
  ["2024-01-02T101112+01:30", null],
  ["2024-01-02T101112+0130", null],
  ["2024-01-02T10Z", "2024-01-02T10:00:00+00:00"],
  ["2024-01-02T10+01", "2024-01-02T09:00:00+00:00"],
  ["20240102", "2024-01-02T00:00:00+00:00"],
  ["20240102T10", "2024-01-02T10:00:00+00:00"],
  ["20240102T1011", "2024-01-02T10:11:00+00:00"],
  ["20240102T101112", "2024-01-02T10:11:12+00:00"],
  ["20240102T10:11", "2024-01-02T10:11:00+00:00"],
  ["20240102T10:11:12", null],
  ["20240102T10:11:12.5", null],
  ["20240102T101112.5", "2024-01-02T10:11:12.500000+00:00"],
  ["20240102 10:11", "2024-01-02T10:11:00+00:00"],
  ["20240102 1011", "2024-01-02T10:11:00+00:00"],
  ["20240102T10:11Z", "2024-01-02T10:11:00+00:00"],
  ["20240102T1011Z", "2024-01-02T10:11:00+00:00"],
  ["20240102T10:11:12+01", null],
  ["20240102T10:11:12+0130", null],
  ["20240102T10:11:12+01:30", null],
  ["20240102T101112+01:30", "2024-01-02T08:41:12+00:00"],
  ["20240102T101112+0130", "2024-01-02T08:41:12+00:00"],
  ["20240102T10Z", "2024-01-02T10:00:00+00:00"],
  ["20240102T10+01", "2024-01-02T09:00:00+00:00"],
  ["2024-01", "2024-01-01T00:00:00+00:00"],
  ["2024-01T10", "2024-01-01T10:00:00+00:00"],
  ["2024-01T1011", null],
  ["2024-01T101112", null],
  ["2024-01T10:11", "2024-01-01T10:11:00+00:00"],
  ["2024-01T10:11:12", "2024-01-01T10:11:12+00:00"],
  ["2024-01T10:11:12.5", "2024-01-01T10:11:12.500000+00:00"],
  ["2024-01T101112.5", null],
  ["2024-01 10:11", "2024-01-01T10:11:00+00:00"],
  ["2024-01 1011", null],
  ["2024-01T10:11Z", "2024-01-01T10:11:00+00:00"],
  ["2024-01T1011Z", null],
  ["2024-01T10:11:12+01", "2024-01-01T09:11:12+00:00"],
  ["2024-01T10:11:12+0130", "2024-01-01T08:41:12+00:00"],
  ["2024-01T10:11:12+01:30", "2024-01-01T08:41:12+00:00"],
  ["2024-01T101112+01:30", null],
  ["2024-01T101112+0130", null],
  ["2024-01T10Z", "2024-01-01T10:00:00+00:00"],
  ["2024-01T10+01", "2024-01-01T09:00:00+00:00"],
  ["2024", "2024-01-01T00:00:00+00:00"],
  ["2024T10", null],
  ["2024T1011", null],
  ["2024T101112", null],
  ["2024T10:11", null],
  ["2024T10:11:12", null],
  ["2024T10:11:12.5", null],
  ["2024T101112.5", null],
  ["2024 10:11", "2024-01-01T10:11:00+00:00"],
  ["2024 1011", null],
  ["2024T10:11Z", null],
  ["2024T1011Z", null],
  ["2024T10:11:12+01", null],
  ["2024T10:11:12+0130", null],
  ["2024T10:11:12+01:30", null],
  ["2024T101112+01:30", null],
  ["2024T101112+0130", null],
  ["2024T10Z", null],
  ["2024T10+01", null],
  ["2024-01-02T10:11:12+24:00", null],
  ["2024-01-02T10:11:12+23:59", "2024-01-01T10:12:12+00:00"],
  ["2024-01-02T10:11:60", null],
  ["2024-01-02T10:60", null],
  ["2024-02-29", "2024-02-29T00:00:00+00:00"],
  ["2023-02-29", null],
  ["0001-01-01", "0001-01-01T00:00:00+00:00"],
  ["9999-12-31T23:59:59", "9999-12-31T23:59:59+00:00"],
  ["0000-01-01", null],
  ["2024-01-02t10:11", null],
  ["2024-01-02T10:11z", null],
  ["2024-01-02T10:11:12.", null],
  ["2024-01-02T10:11:12.1234567891", "2024-01-02T10:11:12.123456+00:00"],
  ["2024-01-02T10:11:12-00:00", "2024-01-02T10:11:12+00:00"],
  ["2024-01-02T10:11:12+1", null],
  ["2024/01/02", "2024-01-02T00:00:00+00:00"],
  ["2024/01/02 1:2:3", "2024-01-02T01:02:03+00:00"],
  ["2024/01/02 10:11:12.5", "2024-01-02T10:11:12.500000+00:00"],
  ["2024:01:02", "2024-01-02T00:00:00+00:00"],
  ["2024/01", null],
  ["2024/01/02T10:11", null],
  ["2024-01-02 ", null],
  ["P1D", 86400],
  ["PT", 0],
  ["P1DT", 86400],
  ["P1W", 604800],
  ["P1Y2M3DT4H5M6S", 36993906],
  ["P1W2D", null],
  ["P0D", 0],
  ["PT90S", 90],
  ["1 day", 86400],
  ["2 days", 172800],
  ["3 hours", 10800],
  ["10 seconds", 10],
  [" 1 day ", 86400],
  ["1 days ago", null],
  ["5 min", null],
  ["2 weekss", null],
  ["\u0663 days", 259200],
  ["1\tday", 86400],
  ["1 month", 2592000],
  ["2 years", 63072000],
  ["1 week", 604800],
  ["yesterday", null],
  ["2024-13-01", null],
  ["2024-01-01T24:00", null],
];

// What pendulum reads but Petrel refuses (deviation sieve-time-formats).
const REFUSED_BY_PETREL = new Set(["20240102T10:11", "20240102T10:11Z"]);

describe("sieve time values", () => {
  it("reads every value as pendulum and parse_relative do", () => {
    expect(PENDULUM_READINGS.length).toBeGreaterThan(100);
    for (const [text, expected] of PENDULUM_READINGS) {
      const spec = parseDateSpec(text);
      if (REFUSED_BY_PETREL.has(text)) {
        expect(expected, text).not.toBeNull();
        expect(spec, text).toBeUndefined();
        continue;
      }
      const actual =
        spec === undefined ? null : "instant" in spec ? isoformatUtc(spec.instant) : spec.before / 1_000_000;
      expect(actual, text).toEqual(expected);
    }
  });

  it("refuses the rarer forms pendulum reads (deviation sieve-time-formats)", () => {
    for (const text of [
      "2024-W01",
      "2024-W01-3",
      "2024-001",
      "2024001",
      "10:00",
      "10:00:00",
      "P1.5D",
      "2024-01-01/P1D",
    ]) {
      expect(parseDateSpec(text), text).toBeUndefined();
    }
  });

  it("reads 'now' as no time back", () => {
    expect(parseDateSpec("now")).toEqual({ before: 0 });
  });

  it("reads event times as DateTime.from_isoformat does", () => {
    expect(isoformatUtc(fromIsoformat("2024-05-01T10:00:00+00:00")!)).toBe("2024-05-01T10:00:00+00:00");
    expect(isoformatUtc(fromIsoformat("2024-05-01T10:00:00.000250+00:00")!)).toBe(
      "2024-05-01T10:00:00.000250+00:00",
    );
    // strptime takes one-digit fields and short fractions.
    expect(isoformatUtc(fromIsoformat("2024-5-1T1:2:3.5+00:00")!)).toBe("2024-05-01T01:02:03.500000+00:00");
    for (const bad of [
      "2024-05-01T10:00:00Z",
      "2024-05-01T10:00:00+01:00",
      "2024-05-01",
      "2024-02-30T00:00:00+00:00",
      "",
    ]) {
      expect(fromIsoformat(bad), bad).toBeUndefined();
    }
  });

  it("shifts times by relative amounts, microseconds and all", () => {
    const t = fromIsoformat("2024-02-28T23:59:59.999999+00:00")!;
    expect(isoformatUtc(shiftInstant(t, parseRelative("1 second")!)!)).toBe(
      "2024-02-29T00:00:00.999999+00:00",
    );
    expect(isoformatUtc(shiftInstant(t, -parseRelative("2 days")!)!)).toBe(
      "2024-02-26T23:59:59.999999+00:00",
    );
    expect(isoformatUtc(shiftInstant(fromIsoformat("0001-01-01T00:00:00.5+00:00")!, 500_000)!)).toBe(
      "0001-01-01T00:00:01+00:00",
    );
    expect(shiftInstant(fromIsoformat("0001-01-01T00:00:00+00:00")!, -1)).toBeUndefined();
    expect(
      shiftInstant(fromIsoformat("9999-12-31T23:59:59+00:00")!, parseRelative("1 second")!),
    ).toBeUndefined();
    expect(
      compareInstants(
        fromIsoformat("2024-01-01T00:00:00.000001+00:00")!,
        fromIsoformat("2024-01-01T00:00:00+00:00")!,
      ),
    ).toBeGreaterThan(0);
  });
});
