// Differential tests: Petrel's DateTime harmonization against IntelMQ 3.5.0 itself (python oracle).
import { describe, expect, it } from "vitest";
import { picker, seededRandom } from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import {
  convertDateTime,
  intelmqDateTimeParse,
  isValidDateTime,
  isValidTimeFormat,
  sanitizeDateTime,
  strptime,
} from "./datetime.ts";

// A fixed "now" on both sides keeps the corpus deterministic: the day (31st) exercises dateutil's
// end-of-month clamping, and the year pins the two-digit-year pivot. Python gets it by wrapping
// dateutil.parser.parse (IntelMQ looks the function up at call time) and by setting the pivot year of
// the default parser; TZ is forced to UTC so time.tzname / %Z behave as on Petrel's hosts.
const FIXED_NOW = new Date(Date.UTC(2024, 0, 31, 17, 45, 12));

const ORACLE_PRELUDE = `
import sys, json, os, time, datetime
os.environ["TZ"] = "UTC"
time.tzset()
import dateutil.parser
from dateutil.parser import _parser
from intelmq.lib.harmonization import DateTime

FIXED = datetime.datetime(2024, 1, 31)
_original_parse = dateutil.parser.parse

def _parse_with_fixed_default(timestr, parserinfo=None, **kwargs):
    kwargs.setdefault("default", FIXED)
    return _original_parse(timestr, parserinfo, **kwargs)

dateutil.parser.parse = _parse_with_fixed_default
_parser.DEFAULTPARSER.info._year = 2024
_parser.DEFAULTPARSER.info._century = 2000
`;

const PARSE_ORACLE = `${ORACLE_PRELUDE}
private_parse = DateTime._DateTime__parse

def attempt(fn, fallback):
    try:
        return fn()
    except Exception:
        return fallback

for line in sys.stdin:
    v = json.loads(line)
    print(json.dumps({
        "parse": attempt(lambda: private_parse(v), None) if isinstance(v, str) else None,
        "valid": attempt(lambda: DateTime.is_valid(v), False),
        "validSanitized": attempt(lambda: DateTime.is_valid(v, sanitize=True), False),
        "sanitize": attempt(lambda: DateTime.sanitize(v), None),
    }))
`;

const CONVERT_ORACLE = `${ORACLE_PRELUDE}
for line in sys.stdin:
    value, fmt = json.loads(line)
    try:
        out = {"ok": DateTime.convert(value, fmt)}
    except Exception as e:
        out = {"error": type(e).__name__ + ": " + str(e)}
    print(json.dumps(out))
`;

interface ParseOracle {
  parse: string | null;
  valid: boolean;
  validSanitized: boolean;
  sanitize: string | null;
}

interface ConvertOracle {
  ok?: string | null;
  error?: string;
}

function uniq<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function buildParseCorpus(): string[] {
  const c: string[] = [];
  // Canonical forms, with and without microseconds, across the calendar.
  const dates = [
    "0001-01-01",
    "0099-12-31",
    "1000-06-15",
    "1899-12-31",
    "1900-02-28",
    "1900-02-29",
    "1970-01-01",
    "1999-12-31",
    "2000-02-29",
    "2021-02-28",
    "2021-02-29",
    "2021-02-30",
    "2021-04-30",
    "2021-04-31",
    "2021-05-05",
    "2021-12-31",
    "2024-02-29",
    "9999-12-31",
    "0000-01-01",
    "2021-00-10",
    "2021-13-01",
    "2021-05-00",
    "2021-05-32",
  ];
  const times = [
    "00:00:00",
    "10:00:00",
    "23:59:59",
    "24:00:00",
    "23:60:00",
    "23:59:60",
    "23:59:61",
    "12:34:56",
  ];
  for (const d of dates) for (const t of times) c.push(`${d}T${t}+00:00`);
  for (const frac of [
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "123456",
    "1234567",
    "12345678",
    "123456789",
    "000000",
    "0",
  ]) {
    c.push(
      `2021-05-05T10:00:00.${frac}+00:00`,
      `2021-05-05 10:00:00.${frac}`,
      `2021-05-05T10:00:00.${frac}Z`,
    );
  }
  // The strptime fast path's lenient directives.
  c.push(
    "2021-5-5T10:00:00+00:00",
    "2021-05-5T1:2:3+00:00",
    "2021-05- 5T10:00:00+00:00",
    "2021-05-05t10:00:00+00:00",
    "2021-1-1T0:0:0+00:00",
    "2021-01-01T00:00:00.+00:00",
    "2021-01-01T00:00:00+0000",
    "2021-01-01T00:00:00-00:00",
    "2021-01-01T00:00:00+00:00 ",
    " 2021-01-01T00:00:00+00:00",
    "2021-01-01T00:00:00+00:000",
    "21-01-01T00:00:00+00:00",
    "02021-01-01T00:00:00+00:00",
    "2021-01-01T00:00+00:00",
    "2021-01-01T00:00:00+01:00",
    "2021-01-01T00:00:00.000001+00:00",
    "2021-01-01T00:00:00.999999+00:00",
    "\u0662\u0660\u0662\u0661-05-05T10:00:00+00:00",
    "2021-\u0660\u0665-05T10:00:00+00:00",
    "\uff12\uff10\uff12\uff11-05-05T10:00:00+00:00",
    "2021-05-05T10:00:00.\u0661\u0662+00:00",
    "2021-05-05T10:00:00+\u0660\u0660:00",
  );
  // Time zones: named, numeric, unknown names (naive).
  const zones = [
    "Z",
    "z",
    "+02:00",
    "-0530",
    "+0000",
    "-00:00",
    "+05",
    "-3",
    "+1",
    "+23:59",
    "+24:00",
    "-2400",
    "+9999",
    "+12345",
    " UTC",
    " GMT",
    " CET",
    " EST",
    " PST",
    " BRST",
    " UTC+3",
    " GMT-5",
    " BRST+3",
    " -0300 (BRST)",
    " +0100 (CET)",
    " ABCDEF",
    " utc",
    " gmt",
    " +",
    " -",
    " +ab",
    " +1:30",
    " +01:3",
  ];
  for (const z of zones) {
    c.push(`2021-05-05 10:00:00${z}`, `2021-05-05T10:00${z}`, `May 5 2021 3pm${z}`);
  }
  // RFC 2822 and e-mail/HTTP styles.
  c.push(
    "Tue, 05 May 2021 10:00:00 +0200",
    "Wed, 05 May 2021 10:00:00 GMT",
    "Wed, 5 May 2021 10:00:00 -0000",
    "Mon, 31 Dec 2099 23:59:59 +1400",
    "Sun, 01 Jan 0001 00:30:00 +0100",
    "Fri, 31 Dec 9999 23:00:00 -0500",
    "Thu, 01 Jan 1970 00:00:00 +0000 (UTC)",
    "Sat, 29 Feb 2020 12:00:00 +0000",
    "Sat, 29 Feb 2021 12:00:00 +0000",
    "Sunday, 06-Nov-94 08:49:37 GMT",
    "Sun Nov  6 08:49:37 1994",
    "Tue May 05 10:00:00 CEST 2021",
  );
  // Common log and feed styles.
  c.push(
    "2021-05-05 10:00",
    "2021-05-05 10",
    "2021-05-05",
    "2021/05/05",
    "2021.05.05",
    "05/06/2021",
    "13/06/2021",
    "06/13/2021",
    "05-06-21",
    "05.06.21",
    "5 May 2021",
    "May 5 2021",
    "May 5, 2021",
    "5th of May 2021",
    "May 5th, 2021 at 10:00",
    "May 5 2021 3pm",
    "May 5 2021 3 pm",
    "May 5 2021 12am",
    "May 5 2021 12 pm",
    "May 5 2021 13pm",
    "May 5 2021 3:30:15.25 PM",
    "May 5 2021 10 a.m.",
    "May-05-2021",
    "05-May-2021",
    "2021-May-05",
    "May/05",
    "May 2021",
    "2021 May",
    "May",
    "Feb",
    "Feb 2023",
    "Feb 2024",
    "Feb 30",
    "29 Feb",
    "Apr",
    "June of 21",
    "June of 1999",
    "Jan of 75",
    "Jan of 74",
    "Jan of xx",
    "Sept 5",
    "September 5th",
    "01 Jan 00",
    "01 Jan 49",
    "01 Jan 74",
    "01 Jan 75",
    "01 Jan 99",
    "99-01-01",
    "01-99-Jan",
    "2021-05-05T101010",
    "20210505",
    "20210505T101010",
    "20210505T1010",
    "20210505T10",
    "20210505101010",
    "202105051010",
    "210505",
    "210505 101010.5",
    "101010",
    "19990101T235959.123",
    "10:00",
    "10:00:00",
    "10:30.5",
    "10:30:15,123",
    "10:30:15.1234567",
    "10h",
    "10h30",
    "10h 30m",
    "10 h 30 m 15 s",
    "1.5h",
    "2.25 hours",
    "5m",
    "45 minutes",
    "30.5s",
    "12 seconds",
    "Monday",
    "Mon",
    "Wednesday",
    "Tuesday 10:00",
    "Sunday 2021-05-05",
    "Friday 9999-12-31",
    "Thursday 9999-12-31",
    "noon",
    "3pm",
    "3 pm",
    "3 p.m.",
    "12am",
    "0am",
    "23pm",
    "25am",
    "10:00 am",
    "10:00 pm pm",
    "2021-05-05 10:00:00 am",
    "2021-05-05 22:00:00 pm",
    "1620208800",
    "1620208800000",
    "162020880000",
    "1",
    "12",
    "123",
    "1234",
    "12345",
    "1234567",
    "123456789",
    "12345678901",
    "0",
    "00",
    "000000",
    "31",
    "32",
    "99",
    "100",
    "101",
    "2021",
    "10000",
    "99999999",
    "2021-05-05T10:00:00.5",
    "2021-05-05T10:00:00,5",
    "2021-05-05 10:00:00.5 +01:00",
    "10,5",
    "10,5,6",
    "2021 05 05",
    "2021  05  05",
    "5 5 5",
    "1 2 3 4",
    "2021-05-05-05",
  );
  // Fuzzy parsing of dates embedded in text.
  c.push(
    "Today is January 1, 2047 at 8:21:00AM",
    "Scan detected on 2021-05-05 at 10:00 by sensor-3",
    "last seen: 05/06/2021 14:00 UTC (approx)",
    "ts=2021-05-05T10:00:00Z host=example.org",
    "botnet C2 2021-05-05 10:00:00 CEST reported",
    "The meeting is at 3 pm tomorrow",
    "a 2021-05-05",
    "I am 5 years old",
    "a.m. 2021",
    "report #12 of 2021-05-05",
    "malware.exe dropped 2021-05-05",
    "on the 5th of May",
    "feb 5 at noon",
    "x 10:00 y",
    "10:00 +0100 (BRST) extra",
    "inf",
    "nan 2021",
    "Infinity",
    "info 2021-05-05",
    "2021-05-05 NaN",
    "ab.cd 2021",
    "1.a",
    "1.a ",
    "a.1",
    "Sep.20.2009",
    "4.30.21.447",
    "Mar.5",
    "5.Mar",
  );
  // Garbage, empty and whitespace.
  c.push(
    "",
    " ",
    "   ",
    "\t",
    "\n",
    "\u00a0",
    "\u3000",
    "\x1c",
    "\x00",
    "2021-05-05\x00",
    "hello",
    "hello world",
    "foo bar baz",
    "-",
    "+",
    ":",
    "::",
    "/",
    ".",
    "...",
    "N/A",
    "null",
    "None",
    "true",
    "0x1F",
    "deadbeef",
    "192.168.0.1",
    "10.0.0.1:8080",
    "https://example.com/2021/05/05/page",
    "user@example.com",
    "a",
    "p",
    "m",
    "t",
    "at on and",
    "of",
    "Jan-",
    "Jan-x",
    "01-01-",
    "01-Foo",
    "01-Jan",
    "01-Jan-2021",
    "01/Jan/2021:10:00:00 +0000",
  );
  // Unicode.
  c.push(
    "\u0662\u0660\u0662\u0661-\u0660\u0665-\u0660\u0665",
    "\u0968\u0966\u0968\u0967 \u0966\u096b \u0966\u096b",
    "\uff12\uff10\uff12\uff11\u5e74\uff15\u6708\uff15\u65e5",
    "2021\u5e745\u67085\u65e5",
    "5 mai 2021",
    "5. Mai 2021",
    "\u00bd 2021",
    "\u00b2\u00b3 May",
    "May \u00b2\u00b3",
    "2021-05-\u00b2",
    "\u2460 May 2021",
    "\ud835\udfce\ud835\udfcf:\ud835\udfd0\ud835\udfd1",
    "\u{10a40}\u{10a41} 2021",
    "Mai\u0301 5 2021",
    "\u00c9t\u00e9 2021-05-05",
    "caf\u00e9 10:00",
    "\u{1F600} 2021-05-05",
    "2021-05-05 \u{1F600}",
    "\u2028 2021-05-05",
    "\u212a 2021-05-05",
    "\u0130 2021-05-05",
    "MAY 5 2021",
    "mAy 5 2021",
    "May\u{1E4D0} 5 2021",
    "May\u{1E4D0}.5 2021",
    "\u{31350}2021-05-05",
    "May\u{2B738} 5 2021",
  );
  // Decimal precision corners of dateutil's Decimal arithmetic.
  c.push(
    "10:30.99999999999999999999999999999",
    "10:30.9999999999999999999999999999",
    "1.99999999999999999999999999999h",
    "10:1234567890123456789012345678901.5",
    "10:1234567890123456789012345678901",
    "10:12345678901234567890123456789",
    "10:1234567890123456789012345678",
    "31.0000000000000000001 May",
    "May 31.5",
    "May 15.5",
    "100.5 May 5",
    "15.5-05",
    `${"9".repeat(40)}`,
    `May 5 ${"1".repeat(30)}`,
  );
  // Systematic combinations: date styles × times × zones.
  const monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const p2 = (n: number): string => String(n).padStart(2, "0");
  const dateStyles = (y: number, m: number, d: number): string[] => [
    `${y}-${p2(m)}-${p2(d)}`,
    `${d}/${m}/${y}`,
    `${p2(m)}/${p2(d)}/${y}`,
    `${d} ${monthNames[m - 1]} ${y}`,
    `${monthNames[m - 1]} ${d}, ${y}`,
    `${y}${p2(m)}${p2(d)}`,
  ];
  const combTimes = [" 10:00", "T23:59:59", " 3:04:05.123456789 PM", " 00:00:00.000001"];
  const combZones = ["", " +0530", "Z"];
  for (const [y, m, d] of [
    [2021, 5, 5],
    [1999, 12, 31],
    [2024, 2, 29],
    [2023, 2, 29],
    [2021, 11, 7],
  ] as const) {
    for (const ds of dateStyles(y, m, d)) {
      c.push(ds);
      for (const t of combTimes) for (const z of combZones) c.push(`${ds}${t}${z}`);
    }
  }
  return uniq(c);
}

/**
 * Deterministic random inputs: concatenations of date-ish atoms (numbers, separators, names, zone words,
 * noise) and single-site mutations of canonical values, to cover dateutil's state space broadly.
 */
function buildRandomCorpus(seed: number, size: number): string[] {
  const rnd = seededRandom(seed);
  const pick = picker(rnd);
  const digits = (): string => {
    const n = 1 + Math.floor(rnd() * (rnd() < 0.7 ? 4 : 14));
    let out = "";
    for (let i = 0; i < n; i++) out += String(Math.floor(rnd() * 10));
    return out;
  };
  const atoms: (() => string)[] = [
    digits,
    digits,
    digits,
    () => `${digits()}.${digits()}`,
    () => `${digits()},${digits()}`,
    () => pick([":", ":", "-", "/", " ", " ", ".", ",", "+", "T", "Z", "z", "(", ")"]),
    () => pick(["May", "jan", "Sept", "December", "Feb", "mar", "Mon", "friday", "Sun"]),
    () => pick(["am", "pm", "a", "p", "AM", "p.m.", "h", "m", "s", "hours", "minute", "seconds"]),
    () => pick(["of", "at", "on", "and", "th", "st", "t", "UTC", "GMT", "BRST", "CET", "ABCDEF", "utc"]),
    () =>
      pick(["foo", "x", "inf", "nan", "e", "Info", "\u0662", "\u00b2", "\u2460", "\u00a0", "\t", "\u00e9"]),
    () => pick(["2021", "1999", "05", "31", "29", "12", "00", "24", "60"]),
  ];
  const canonical = [
    "2021-05-05T10:00:00+00:00",
    "2024-02-29T23:59:59.123456+00:00",
    "0001-01-01T00:00:00+00:00",
  ];
  const patches = [
    "0",
    "1",
    "3",
    "9",
    " ",
    "-",
    ":",
    "t",
    ".",
    "+",
    "Z",
    "",
    "\u0663",
    "60",
    "13",
    "29",
    "31",
  ];
  const out: string[] = [];
  while (out.length < size) {
    if (rnd() < 0.75) {
      let v = "";
      const n = 1 + Math.floor(rnd() * 9);
      for (let i = 0; i < n; i++) v += pick(atoms)();
      out.push(v);
    } else {
      let v = pick(canonical);
      const at = Math.floor(rnd() * v.length);
      v = v.slice(0, at) + pick(patches) + v.slice(at + Math.floor(rnd() * 3));
      out.push(v);
    }
  }
  return out;
}

/**
 * Deliberate differences from IntelMQ (input, what Petrel's parse gives, one-line reason). Each entry is
 * added to the corpus and asserted. Empty: on this corpus Petrel agrees with IntelMQ on every input.
 */
const DEVIATIONS_PARSE: { input: string; petrel: string | undefined; reason: string }[] = [];

describe("DateTime parse / is_valid / sanitize vs IntelMQ", () => {
  it("agrees with IntelMQ on the corpus", async () => {
    const corpus = uniq([...buildParseCorpus(), ...DEVIATIONS_PARSE.map((d) => d.input)]);
    expect(corpus.length).toBeGreaterThanOrEqual(600);
    const oracle = await runOracle<string, ParseOracle>(PARSE_ORACLE, corpus);
    const deviations = new Map(DEVIATIONS_PARSE.map((d) => [d.input, d]));
    const mismatches: string[] = [];
    let agree = 0;
    corpus.forEach((v, k) => {
      const py = oracle[k]!;
      const parse = intelmqDateTimeParse(v, FIXED_NOW);
      const valid = isValidDateTime(v);
      const sanitized = sanitizeDateTime(v, FIXED_NOW);
      const validSanitized = isValidDateTime(sanitized);
      const same =
        parse === (py.parse ?? undefined) &&
        valid === py.valid &&
        sanitized === (py.sanitize ?? undefined) &&
        validSanitized === py.validSanitized;
      const deviation = deviations.get(v);
      if (deviation) {
        expect(same, `deviation ${JSON.stringify(v)} now agrees: drop it`).toBe(false);
        expect(parse, deviation.reason).toBe(deviation.petrel);
      } else if (same) {
        agree++;
      } else {
        mismatches.push(
          `${JSON.stringify(v)}: petrel ${JSON.stringify([parse, valid, sanitized, validSanitized])} intelmq ${JSON.stringify([py.parse, py.valid, py.sanitize, py.validSanitized])}`,
        );
      }
    });
    console.log(`DateTime parse corpus: ${corpus.length} inputs, ${agree} agree with IntelMQ`);
    expect(mismatches).toEqual([]);
    expect(agree).toBe(corpus.length - DEVIATIONS_PARSE.length);
  });

  it("agrees with IntelMQ on a seeded random corpus", async () => {
    const corpus = buildRandomCorpus(20240131, 1500);
    const oracle = await runOracle<string, ParseOracle>(PARSE_ORACLE, corpus);
    const mismatches: string[] = [];
    corpus.forEach((v, k) => {
      const py = oracle[k]!;
      const parse = intelmqDateTimeParse(v, FIXED_NOW);
      const valid = isValidDateTime(v);
      if (parse !== (py.parse ?? undefined) || valid !== py.valid) {
        mismatches.push(
          `${JSON.stringify(v)}: petrel ${JSON.stringify([parse, valid])} intelmq ${JSON.stringify([py.parse, py.valid])}`,
        );
      }
    });
    const parsed = oracle.filter((o) => o.parse !== null).length;
    console.log(
      `DateTime random corpus: ${corpus.length} inputs (${parsed} parseable), ${corpus.length - mismatches.length} agree with IntelMQ`,
    );
    expect(mismatches).toEqual([]);
  });

  it("treats non-strings like IntelMQ", async () => {
    const inputs: unknown[] = [0, 5, 1620208800, 1.5, null, true, false, [], {}];
    const oracle = await runOracle<unknown, ParseOracle>(PARSE_ORACLE, inputs);
    inputs.forEach((v, k) => {
      expect(isValidDateTime(v)).toBe(oracle[k]!.valid);
      expect(sanitizeDateTime(v, FIXED_NOW)).toBe(oracle[k]!.sanitize ?? undefined);
    });
  });
});

type ConvertCase = [string | number, string | null];

function buildConvertCorpus(): ConvertCase[] {
  const c: ConvertCase[] = [];
  const add = (fmt: string | null, values: (string | number)[]): void => {
    for (const v of values) c.push([v, fmt]);
  };
  add("timestamp", [
    "1620208800",
    1620208800,
    1620208800.5,
    "1620208800.123456789",
    "1620208800.0000005",
    "1620208800.0000015",
    0.0000005,
    0.0000015,
    1.0000005,
    "-1.5",
    -0.0000005,
    0,
    "0",
    " 1620208800 ",
    "1_620_208_800",
    "1__620",
    "1e9",
    "1E9",
    ".5",
    "5.",
    "inf",
    "nan",
    "-inf",
    "abc",
    "",
    253402300799,
    "253402300799.9999999",
    253402300799.75,
    253402300800,
    -62135596800,
    -62135596801,
    1e20,
    "\u0661\u0666\u0662\u0660\u0662\u0660\u0668\u0668\u0660\u0660",
  ]);
  add("windows_nt", [
    "132000000000000000",
    132000000000000000,
    "116444736000000000",
    "116444736000000005",
    "116444736000000015",
    "116444736000000025",
    "116444736000001234",
    "0",
    "1",
    "5",
    "15",
    "-1",
    "9999999",
    "2650467743999999999",
    "2650467744000000000",
    "abc",
    "1.5",
    1.5,
    " 42 ",
    "4_2",
    "",
  ]);
  add("epoch_millis", [
    "1620208800",
    "abc",
    "abcdefghij",
    "162020880012",
    "1620208800123",
    1620208800123,
    1620208800,
    "16202088001",
    "16202088001234",
    "-16202088001",
    "-162020880012",
    1620208800.5,
    "abcdefghij",
    "1620208800\n",
    "12345678.9",
    0.000012345678,
    "0000000000",
    "9999999999999",
  ]);
  const ff = (fmt: string, values: string[]): void => add(`from_format|${fmt}`, values);
  ff("%Y-%m-%d %H:%M:%S", [
    "2021-05-05 10:00:00",
    "2021-5-5 1:2:3",
    "2021-05-05  10:00:00",
    "2021-05-05\t10:00:00",
    "2021-05-05 10:00:60",
    "2021-02-29 10:00:00",
    "2021-05-05 10:00:00 ",
    "2021-05-05T10:00:00",
    "\u0662\u0660\u0662\u0661-05-05 10:00:00",
  ]);
  ff("%d/%m/%Y", ["05/06/2021", "5/6/2021", "31/04/2021", "29/02/2024"]);
  ff("%d/%m/%y", ["05/06/69", "05/06/68", "05/06/00", "05/06/2021"]);
  ff("%Y-%m-%dT%H:%M:%S%z", [
    "2021-05-05T10:00:00+0200",
    "2021-05-05T10:00:00-05:30",
    "2021-05-05T10:00:00Z",
    "2021-05-05T10:00:00z",
    "2021-05-05T10:00:00+01:00:30",
    "2021-05-05T10:00:00+01:00:30.5",
    "2021-05-05T10:00:00+010030.25",
    "2021-05-05T10:00:00+0100:30",
    "2021-05-05T10:00:00+01:0030",
    "2021-05-05T10:00:00+2359",
    "2021-05-05T10:00:00+2400",
    "2021-05-05T10:00:00-9959",
    "0001-01-01T00:30:00+01:00",
    "9999-12-31T23:00:00-01:00",
    "2021-05-05T10:00:00+0260",
  ]);
  ff("%Y-%m-%d %H:%M:%S %Z", [
    "2021-05-05 10:00:00 UTC",
    "2021-05-05 10:00:00 gmt",
    "2021-05-05 10:00:00 CET",
  ]);
  ff("%b %d %Y %I:%M %p", [
    "May 05 2021 03:00 PM",
    "may 5 2021 12:00 am",
    "MAY 5 2021 12:00 PM",
    "May 5 2021 13:00 PM",
  ]);
  ff("%B %d, %Y", ["September 5, 2021", "Sept 5, 2021", "february 29, 2021"]);
  ff("%a, %d %b %Y %H:%M:%S %z", ["Wed, 05 May 2021 10:00:00 +0200", "Xyz, 05 May 2021 10:00:00 +0200"]);
  ff("%A %d %B %Y", ["Wednesday 05 May 2021", "Sunday 05 May 2021"]);
  ff("%Y %j", ["2021 366", "2020 366", "2021 001", "2021 1", "2021 000", "9999 366"]);
  ff("%Y %U %w", ["2021 18 3", "2021 00 0", "2021 00 6", "2021 53 6"]);
  ff("%Y %W %a", ["2021 00 Mon", "2021 01 Sun", "2023 00 Sun"]);
  ff("%G %V %u", ["2021 01 1", "2020 53 7", "2021 00 1", "2019 01 1"]);
  ff("%G %V", ["2021 01"]);
  ff("%V %u %Y", ["01 1 2021"]);
  ff("%G %j %u", ["2021 001 1"]);
  ff("%c", ["Wed May  5 10:00:00 2021", "Wed May 5 10:00:00 2021"]);
  ff("%x", ["05/05/21"]);
  ff("%X", ["10:00:00"]);
  ff("%H%M%S", ["101010", "1010", "235960"]);
  ff("%Y%m%d", ["20210505", "2021055", "202155"]);
  ff("%d", ["312", "31", " 5"]);
  ff("%m-%d", ["02-29", "03-01"]);
  ff("%Y-%m-%d %%", ["2021-05-05 %", "2021-05-05 x"]);
  ff("[%Y] (%d) {%m} a|b ^$ *+?", ["[2021] (05) {05} a|b ^$ *+?"]);
  ff("%Y.%m.%d", ["2021.05.05", "2021x05x05"]);
  ff("%S.%f", ["05.1234567", "05.123456", "05.1"]);
  ff("%I", ["12", "1"]);
  ff("%p %I", ["PM 03", "am 12"]);
  ff(" %Y", ["2021", " 2021", "   2021"]);
  ff("%Y\u3000%m", ["2021\u3000\u3000\u300005", "2021 05"]);
  ff("%Q", ["x"]);
  ff("%", ["x"]);
  ff("%Y %", ["2021 "]);
  ff("%Y%.", ["2021."]);
  ff("%Y% m", ["2021 5"]);
  ff("%d %d", ["05 05"]);
  ff("", ["", "x"]);
  ff("T%H", ["t10", "T10"]);
  const mid = (fmt: string, values: string[]): void => add(`from_format_midnight|${fmt}`, values);
  mid("%d.%m.%Y", ["05.05.2021", "31.04.2021"]);
  mid("%Y-%m-%d %H:%M %z", ["2021-05-05 23:00 -0500", "2021-05-05 01:00 +0500"]);
  mid("%Y-%m-%dT%H:%M:%S", ["2021-05-05T23:59:59"]);
  mid("%Y", ["2021"]);
  add("utc_isoformat", [
    "2021-05-05T10:00:00+00:00",
    "2021-05-05T10:00:00.123+00:00",
    "2021-5-5T10:00:00+00:00",
    "2021-05-05T10:00:00Z",
    "2021-05-05 10:00:00",
    "",
  ]);
  const fuzzyValues = [
    "Tue, 05 May 2021 10:00:00 +0200",
    "2021-05-05T10:00:00+00:00",
    "2021-05-05",
    "May 5 2021 3pm",
    "10:00",
    "Feb",
    "garbage",
    "",
    "2021-02-30",
    "Fri, 31 Dec 9999 23:00:00 -0500",
    1620208800,
  ];
  add("fuzzy", fuzzyValues);
  add(null, fuzzyValues);
  add("foo", ["2021-05-05"]);
  add("", ["2021-05-05"]);
  add("from_format", ["2021-05-05"]);
  add("from_format_midnight", ["2021-05-05"]);
  add("from_format|%Y", [2021]);
  add("utc_isoformat", [1620208800]);
  return c;
}

/** Deliberate differences from IntelMQ's convert, asserted like DEVIATIONS_PARSE. Empty as well. */
const DEVIATIONS_CONVERT: { input: ConvertCase; petrel: ConvertOracle; reason: string }[] = [];

function petrelConvert(value: string | number, fmt: string | null): ConvertOracle {
  try {
    return { ok: convertDateTime(value, fmt, FIXED_NOW) ?? null };
  } catch (e) {
    return { error: String(e) };
  }
}

describe("DateTime.convert (time_format) vs IntelMQ", () => {
  it("agrees with IntelMQ on every conversion", async () => {
    const corpus = [...buildConvertCorpus(), ...DEVIATIONS_CONVERT.map((d) => d.input)];
    expect(corpus.length).toBeGreaterThanOrEqual(150);
    const oracle = await runOracle<ConvertCase, ConvertOracle>(CONVERT_ORACLE, corpus);
    const deviations = new Map(DEVIATIONS_CONVERT.map((d) => [JSON.stringify(d.input), d]));
    const mismatches: string[] = [];
    let agree = 0;
    corpus.forEach(([value, fmt], k) => {
      const py = oracle[k]!;
      const ts = petrelConvert(value, fmt);
      const same = "error" in py ? "error" in ts : "ok" in ts && ts.ok === py.ok;
      const deviation = deviations.get(JSON.stringify([value, fmt]));
      if (deviation) {
        expect(same, `deviation ${JSON.stringify([value, fmt])} now agrees: drop it`).toBe(false);
        expect(ts, deviation.reason).toEqual(deviation.petrel);
      } else if (same) {
        agree++;
      } else {
        mismatches.push(
          `${JSON.stringify([value, fmt])}: petrel ${JSON.stringify(ts)} intelmq ${JSON.stringify(py)}`,
        );
      }
    });
    console.log(`DateTime.convert corpus: ${corpus.length} cases, ${agree} agree with IntelMQ`);
    expect(mismatches).toEqual([]);
    expect(agree).toBe(corpus.length - DEVIATIONS_CONVERT.length);
  });
});

describe("time_format validation vs IntelMQ TimeFormat", () => {
  it("accepts and rejects the same specs", async () => {
    const specs = [
      "fuzzy",
      "",
      "timestamp",
      "timestamp|",
      "timestamp|x",
      "windows_nt",
      "epoch_millis",
      "utc_isoformat",
      "from_format",
      "from_format|",
      "from_format|%Y",
      "from_format|%Y|x",
      "from_format_midnight|%d.%m.%Y",
      "from_format_midnight",
      "foo",
      "None",
      "|",
      "|fuzzy",
      "fuzzy|",
      "fuzzy|x",
      "Fuzzy",
    ];
    const script = `
import sys, json
from intelmq.lib.datatypes import TimeFormat
for line in sys.stdin:
    spec = json.loads(line)
    try:
        TimeFormat(spec)
        print("true")
    except Exception:
        print("false")
`;
    const oracle = await runOracle<string, boolean>(script, specs);
    expect(specs.map((s) => isValidTimeFormat(s))).toEqual(oracle);
    expect(isValidTimeFormat(null)).toBe(true);
  });
});

describe("default date of the fuzzy parser", () => {
  it("uses today's UTC date like an unpatched IntelMQ", async () => {
    const inputs = ["10:00", "May 5", "Monday 10:00", "3pm", "Feb", "5", "2021"];
    const script = `
import sys, json, os, time, datetime
os.environ["TZ"] = "UTC"
time.tzset()
from intelmq.lib.harmonization import DateTime
for line in sys.stdin:
    v = json.loads(line)
    print(json.dumps([datetime.datetime.now().date().isoformat(), DateTime.sanitize(v)]))
`;
    const oracle = await runOracle<string, [string, string | null]>(script, inputs);
    inputs.forEach((v, k) => {
      const [today, expected] = oracle[k]!;
      expect(sanitizeDateTime(v, new Date(`${today}T12:00:00Z`))).toBe(expected ?? undefined);
    });
    // Without an explicit `now` the current UTC date is used.
    const before = new Date().toISOString().slice(0, 10);
    const got = intelmqDateTimeParse("10:00");
    const after = new Date().toISOString().slice(0, 10);
    expect([`${before}T10:00:00+00:00`, `${after}T10:00:00+00:00`]).toContain(got);
  });
});

describe("strptime", () => {
  it("returns Python's fields and offsets", () => {
    expect(strptime("2021-05-05T10:00:00.5-05:30", "%Y-%m-%dT%H:%M:%S.%f%z")).toEqual({
      year: 2021,
      month: 5,
      day: 5,
      hour: 10,
      minute: 0,
      second: 0,
      microsecond: 500000,
      utcOffsetMicroseconds: -(5 * 3600 + 30 * 60) * 1_000_000,
    });
    expect(strptime("Jan 2", "%b %d")).toMatchObject({
      year: 1900,
      month: 1,
      day: 2,
      utcOffsetMicroseconds: null,
    });
  });

  it("names the offending directive", () => {
    expect(() => strptime("x", "%Q")).toThrow("'Q' is a bad directive in format '%Q'");
    expect(() => strptime("x", "%Y %")).toThrow("stray % in format '%Y %'");
    expect(() => strptime("2021 5", "%Y% m")).toThrow("'%' is a bad directive");
  });
});

describe("isValidDateTime fast path", () => {
  it("accepts canonical values and rejects calendar errors without dateutil", () => {
    expect(isValidDateTime("2024-02-29T23:59:59+00:00")).toBe(true);
    expect(isValidDateTime("2024-02-29T23:59:59.000001+00:00")).toBe(true);
    expect(isValidDateTime("2023-02-29T23:59:59+00:00")).toBe(false);
    expect(isValidDateTime("2021-02-30T00:00:00+00:00")).toBe(false);
    expect(isValidDateTime("2021-05-05T10:00:00Z")).toBe(false);
    expect(isValidDateTime("2021-05-05 10:00:00")).toBe(false);
  });
});
