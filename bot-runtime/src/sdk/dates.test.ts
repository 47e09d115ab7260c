// The strict dateutil parse against python-dateutil itself.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { DateParseError, dateutilTokens, parseDateStrict } from "./dates.ts";

const driver = readFileSync(new URL("../../test-support/oracle/dateutil_parse.py", import.meta.url), "utf8");

// Timestamps as feeds write them, and text around them that the strict parser refuses.
const CORPUS = [
  "2024-05-01T10:00:00+00:00",
  "2024-05-01T10:00:00Z",
  "2024-05-01T10:00:00.123456Z",
  "2024-05-01T10:00:00.5+02:00",
  "2024-05-01 10:00:00",
  "2024-05-01 10:00",
  "2024-05-01",
  "2024/05/01 10:00:00 UTC",
  "2024-05-01 10:00:00 GMT",
  "2024-05-01 10:00:00 CEST",
  "2024-05-01 10:00:00 -0300",
  "2024-05-01 10:00:00 -03:00",
  "2024-05-01 10:00:00 -0300 (BRST)",
  "Wed, 01 May 2024 10:00:00 GMT",
  "Wed, 01 May 2024 10:00:00 +0000",
  "Wed May  1 08:00:00 2024 GMT",
  "Wed May  1 08:00:00 2024",
  "May 1 2024",
  "1 May 2024 10:00",
  "01.05.2024",
  "05/01/2024 10:00 PM",
  "05/01/2024 10:00 pm UTC",
  "10:00",
  "10h30",
  "20240501",
  "20240501T100000",
  "20240501100000",
  "1714550400",
  "2024-05-01T10:00:00+00:00 UTC",
  "yesterday",
  "2024-05-01 yesterday",
  "submitted 2024-05-01",
  "2024-05-01 pm",
  "at 10:00 on May 1st 2024",
  "May 1st, 2024",
  "2024-05-01T10:00:00 CEST+2",
  "2024-05-01 10:00:00 XYZABC",
  "2024-05-01 @ 10:00",
  "2024-05-01 (10:00)",
  "2024-13-01",
  "2024-02-30",
  "",
  "   ",
  "nan",
  "2024-05-01 10:00:00 UTC GMT",
  "Mittwoch, 1. Mai 2024",
  "2024-05-01T10:00:00.000",
  "2024-05-01T10:00:00.000+0000",
  "2024-05-01 10:00:00,123",
  "10 am",
  "10am 2024-05-01",
  "1st of May 2024",
  "May of 2024",
  "2024-05-01T10:00:00+00:00 extra",
  "Thu, 1 May 2024 10:00:00 +0000 (UTC)",
  "2024-05-01 10:00:00 UTC+2",
  "4:30:21.447",
  "2024-05-01T10:00:00+0000Z",
  "Z",
  "12h 2024-05-01",
  "2024-Jan-05",
  "05-Jan-2024 10:00:00",
  "2024-05-01 10:00:00 a",
  "2024-05-01 13:00 pm",
  "2024-05-01\t10:00:00",
  "2024-05-01 10:00:00 Europe/Berlin",
  "Last-Modified: Wed, 01 May 2024 10:00:00 GMT",
  "2024-05-01 10:00:00 123",
];

// Where the strict parser refuses but this module accepts: numbers it cannot place (see dates.ts).
const KNOWN_DIFFERENCES = ["2024May"];

function strictOutcome(value: string): { ok?: string; error?: string } {
  try {
    return { ok: parseDateStrict(value) };
  } catch (error) {
    return { error: error instanceof DateParseError ? "ParserError" : (error as Error).name };
  }
}

describe("parseDateStrict against dateutil.parser.parse", () => {
  let python: Array<{ ok?: string; error?: string }> = [];
  beforeAll(async () => {
    python = await runOracle(
      driver,
      [...CORPUS, ...KNOWN_DIFFERENCES].map((value) => ({ value })),
    );
  });

  it("accepts and refuses what dateutil does, with the same value", () => {
    const mismatches: string[] = [];
    CORPUS.forEach((value, i) => {
      const got = strictOutcome(value);
      if (JSON.stringify(got) !== JSON.stringify(python[i]))
        mismatches.push(`${JSON.stringify(value)}: ${JSON.stringify(got)} vs ${JSON.stringify(python[i])}`);
    });
    expect(mismatches).toEqual([]);
  });

  it("accepts text with numbers dateutil cannot place, which dateutil refuses", () => {
    KNOWN_DIFFERENCES.forEach((value, i) => {
      expect(python[CORPUS.length + i], value).toEqual({ error: "ParserError" });
      expect(strictOutcome(value).ok, value).toBeDefined();
    });
  });

  it("refuses what is not text", () => {
    expect(() => parseDateStrict(1714550400)).toThrow(TypeError);
    expect(() => parseDateStrict(null)).toThrow(TypeError);
  });

  it("splits text as dateutil's lexer does", () => {
    expect(dateutilTokens("Sep.20.2009 4:30:21.447")).toEqual([
      "Sep",
      ".",
      "20",
      ".",
      "2009",
      " ",
      "4",
      ":",
      "30",
      ":",
      "21.447",
    ]);
    expect(dateutilTokens("10,5 a.m.")).toEqual(["10.5", " ", "a", ".", "m", "."]);
  });
});
