// IntelMQ's parse_relative, checked against IntelMQ itself.
import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { mentionsRelativeUnit, parseRelativeSeconds } from "./relative-time.ts";

const TEXTS = [
  "1 second",
  "7 seconds",
  "30 minutes",
  " 4 hours ",
  "1 hours",
  "2 days",
  "3 weeks",
  "1 month",
  "2 years",
  "10\tdays",
  "١٢ hours", // Arabic-Indic digits: Python's \d and int() take them
  "1 fortnight",
  "days",
  "1.5 hours",
  "-1 day",
  "1 dayss",
  "",
];

const ORACLE = `
import json, sys
from intelmq.lib.utils import parse_relative
for line in sys.stdin:
    try:
        print(json.dumps({"seconds": round(parse_relative(json.loads(line)) * 60, 6)}))
    except ValueError:
        print(json.dumps({"seconds": None}))
`;

describe("parseRelativeSeconds", () => {
  it("reads spans as IntelMQ's parse_relative does", async () => {
    const oracle = await runOracle<string, { seconds: number | null }>(ORACLE, TEXTS);
    const petrel = TEXTS.map((t) => ({ seconds: parseRelativeSeconds(t) ?? null }));
    expect(petrel).toEqual(oracle);
    expect(petrel.filter((p) => p.seconds !== null).length).toBeGreaterThan(8);
  });

  it("tells texts that name a unit", () => {
    expect(mentionsRelativeUnit("3 days")).toBe(true);
    expect(mentionsRelativeUnit("2024-01-01 10:00")).toBe(false);
  });
});
