/**
 * IntelMQ `DateTime` harmonization, reproduced value for value.
 *
 * Reference behaviour: intelmq 3.5.0 `intelmq.lib.harmonization.DateTime`, which relies on Python 3.11
 * `datetime.strptime` (module `_strptime`) and python-dateutil 4.0.0 `parser.parse(value, fuzzy=True)`.
 * This file is an independent TypeScript implementation of those semantics:
 *
 * - `intelmqDateTimeParse`: strptime fast path (input returned unchanged), else the fuzzy dateutil parser,
 *   then naive → UTC / aware → converted to UTC, printed like `datetime.isoformat()`.
 * - `isValidDateTime` / `sanitizeDateTime`: `DateTime.is_valid(v)` / `DateTime.sanitize(v)`.
 * - `convertDateTime`: `DateTime.convert(value, format)` (the parsers' `time_format` parameter).
 * - `strptime`: Python 3.11 `_strptime` in the C locale, every directive it knows.
 * - `isValidTimeFormat`: the syntax check of `intelmq.lib.datatypes.TimeFormat`.
 *
 * Environment assumptions and what is deliberately not reproduced:
 * - The host's local time zone is taken to be UTC (as on Petrel's machines). Python consults the local
 *   zone in three places: the default date (today, local), `time.tzname` (a zone name equal to the local
 *   abbreviation becomes aware) and `%Z` (local abbreviations accepted). With TZ=UTC all three reduce to
 *   what is implemented here; on a non-UTC host Python would differ (e.g. `CET` on a Berlin host).
 * - Two-digit years pivot around the year of `now`; dateutil freezes that year when it is imported.
 * - Unicode tables follow Python 3.11 (Unicode 14): decimal digits and whitespace come from pystring.ts,
 *   "other" digits are listed below; letters are JavaScript's `\p{L}` minus the letters added in Unicode
 *   15.0-17.0. Should Node move past Unicode 17, letters added later would count as letters here but not
 *   in Python.
 * - Case-insensitive matching of literal format text uses JavaScript's Unicode case folding, which differs
 *   from Python's `re.IGNORECASE` for a handful of non-ASCII letters.
 * - dateutil options IntelMQ never passes (dayfirst, yearfirst, tzinfos, ignoretz, custom parserinfo) have
 *   no equivalent here; the warning dateutil emits for an unknown zone name is not emitted.
 * - Every failure of the parse (including Python exceptions other than ValueError/OverflowError, such as
 *   decimal.InvalidOperation, that IntelMQ lets escape) yields `undefined`.
 */
import { pyFloatOrThrow, pyIntOrThrow, toAsciiNumeral } from "./pynumber.ts";
import { pyLen, pyStr } from "./pyrepr.ts";
import { inRanges, PY_DIGIT_CLASS, PY_SPACE_CLASS, pyDecimalValue, pyIsSpace } from "./pystring.ts";

// ---------------------------------------------------------------------------------------------------
// Character classes, pinned to Python 3.11 (Unicode 14.0)
// ---------------------------------------------------------------------------------------------------

/** Code points for which Python's str.isdigit() holds although they are not decimal digits. */
const OTHER_DIGIT_RANGES: readonly number[] = [
  0xb2, 0xb3, 0xb9, 0xb9, 0x1369, 0x1371, 0x19da, 0x19da, 0x2070, 0x2070, 0x2074, 0x2079, 0x2080, 0x2089,
  0x2460, 0x2468, 0x2474, 0x247c, 0x2488, 0x2490, 0x24ea, 0x24ea, 0x24f5, 0x24fd, 0x24ff, 0x24ff, 0x2776,
  0x277e, 0x2780, 0x2788, 0x278a, 0x2792, 0x10a40, 0x10a43, 0x10e60, 0x10e68, 0x11052, 0x1105a, 0x1f100,
  0x1f10a,
];

/** Letters (\p{L}) assigned in Unicode 15.0-17.0, which Python 3.11's str.isalpha() does not know. */
const LETTERS_AFTER_UNICODE_14: readonly number[] = [
  0x88f, 0x88f, 0xc5c, 0xc5c, 0xcdc, 0xcdc, 0x1c89, 0x1c8a, 0xa7cb, 0xa7cf, 0xa7d2, 0xa7d2, 0xa7d4, 0xa7d4,
  0xa7da, 0xa7dc, 0xa7f1, 0xa7f1, 0x105c0, 0x105f3, 0x10940, 0x10959, 0x10d4a, 0x10d65, 0x10d6f, 0x10d85,
  0x10ec2, 0x10ec7, 0x1123f, 0x11240, 0x11380, 0x11389, 0x1138b, 0x1138b, 0x1138e, 0x1138e, 0x11390, 0x113b5,
  0x113b7, 0x113b7, 0x113d1, 0x113d1, 0x113d3, 0x113d3, 0x11bc0, 0x11be0, 0x11db0, 0x11ddb, 0x11f02, 0x11f02,
  0x11f04, 0x11f10, 0x11f12, 0x11f33, 0x1342f, 0x1342f, 0x13441, 0x13446, 0x13460, 0x143fa, 0x16100, 0x1611d,
  0x16d40, 0x16d6c, 0x16ea0, 0x16eb8, 0x16ebb, 0x16ed3, 0x16ff2, 0x16ff3, 0x187f8, 0x187ff, 0x18cff, 0x18cff,
  0x18d09, 0x18d1e, 0x18d80, 0x18df2, 0x1b132, 0x1b132, 0x1b155, 0x1b155, 0x1df25, 0x1df2a, 0x1e030, 0x1e06d,
  0x1e4d0, 0x1e4eb, 0x1e5d0, 0x1e5ed, 0x1e5f0, 0x1e5f0, 0x1e6c0, 0x1e6de, 0x1e6e0, 0x1e6e2, 0x1e6e4, 0x1e6e5,
  0x1e6e7, 0x1e6ed, 0x1e6f0, 0x1e6f4, 0x1e6fe, 0x1e6ff, 0x2b739, 0x2b73f, 0x2cea2, 0x2cead, 0x2ebf0, 0x2ee5d,
  0x31350, 0x33479,
];

const LETTER = /^\p{L}$/u;

function isPyAlpha(ch: string): boolean {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
  return LETTER.test(ch) && !inRanges(cp, LETTERS_AFTER_UNICODE_14);
}

function isPyDigitCp(cp: number): boolean {
  return pyDecimalValue(cp) >= 0 || inRanges(cp, OTHER_DIGIT_RANGES);
}

/** Python str.isdigit(): non-empty, every code point a digit. */
function isPyDigitStr(s: string): boolean {
  if (s.length === 0) return false;
  for (const ch of s) if (!isPyDigitCp(ch.codePointAt(0)!)) return false;
  return true;
}

/** `int(s)` where the result is only compared or range-checked (huge values stay huge). */
function pyInt(s: string): number {
  // Short ASCII digit strings (nearly every call) skip the general grammar.
  if (s.length > 0 && s.length <= 15) {
    let v = 0;
    for (let i = 0; i < s.length; i++) {
      const d = s.charCodeAt(i) - 48;
      if (d < 0 || d > 9) return Number(pyIntOrThrow(s));
      v = v * 10 + d;
    }
    return v;
  }
  return Number(pyIntOrThrow(s));
}

// ---------------------------------------------------------------------------------------------------
// Proleptic Gregorian calendar (ordinal 1 = 0001-01-01, as Python's date.toordinal)
// ---------------------------------------------------------------------------------------------------

const MAX_ORDINAL = 3652059; // 9999-12-31
const DAYS_BEFORE_MONTH = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

function isLeap(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
}

function daysInMonth(y: number, m: number): number {
  if (m === 2) return isLeap(y) ? 29 : 28;
  return m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
}

function toOrdinal(y: number, m: number, d: number): number {
  const p = y - 1;
  return (
    p * 365 +
    Math.floor(p / 4) -
    Math.floor(p / 100) +
    Math.floor(p / 400) +
    DAYS_BEFORE_MONTH[m]! +
    (m > 2 && isLeap(y) ? 1 : 0) +
    d
  );
}

function fromOrdinal(n: number): [number, number, number] {
  let y = Math.floor((n - 1) / 365.2425) + 1;
  while (y > 1 && toOrdinal(y, 1, 1) > n) y--;
  while (toOrdinal(y + 1, 1, 1) <= n) y++;
  let rest = n - toOrdinal(y, 1, 1) + 1;
  let m = 1;
  while (rest > daysInMonth(y, m)) {
    rest -= daysInMonth(y, m);
    m++;
  }
  return [y, m, rest];
}

/** Monday = 0, like Python's date.weekday(). */
function weekdayOfOrdinal(n: number): number {
  return (n + 6) % 7;
}

function validDate(y: number, m: number, d: number): boolean {
  return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
}

/** A wall-clock date and time; all fields are already range-checked. */
interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
}

const US_PER_DAY = 86_400_000_000;

/** Shifts a wall time by `deltaUs` microseconds (|delta| well below 2^53); throws outside years 1..9999. */
function shiftWall(w: Wall, deltaUs: number): Wall {
  let ord = toOrdinal(w.year, w.month, w.day);
  let us = ((w.hour * 60 + w.minute) * 60 + w.second) * 1_000_000 + w.microsecond + deltaUs;
  const days = Math.floor(us / US_PER_DAY);
  ord += days;
  us -= days * US_PER_DAY;
  if (ord < 1 || ord > MAX_ORDINAL) throw new Error("date value out of range");
  const [year, month, day] = fromOrdinal(ord);
  const microsecond = us % 1_000_000;
  const secs = (us - microsecond) / 1_000_000;
  return {
    year,
    month,
    day,
    hour: Math.floor(secs / 3600),
    minute: Math.floor(secs / 60) % 60,
    second: secs % 60,
    microsecond,
  };
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/** `datetime.isoformat()` of an aware UTC datetime. */
function isoformatUtc(w: Wall): string {
  const base = `${pad(w.year, 4)}-${pad(w.month, 2)}-${pad(w.day, 2)}T${pad(w.hour, 2)}:${pad(w.minute, 2)}:${pad(w.second, 2)}`;
  return w.microsecond === 0 ? `${base}+00:00` : `${base}.${pad(w.microsecond, 6)}+00:00`;
}

/** Aware (offset in µs) or naive (null, taken as UTC) wall time → UTC isoformat, like IntelMQ does. */
function toUtcIso(w: Wall, offsetUs: number | null): string {
  if (offsetUs === null || offsetUs === 0) return isoformatUtc(w);
  if (Math.abs(offsetUs) >= US_PER_DAY) {
    throw new Error(
      "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)",
    );
  }
  return isoformatUtc(shiftWall(w, -offsetUs));
}

// ---------------------------------------------------------------------------------------------------
// strptime (Python 3.11 `_strptime`, C locale, local zone UTC)
// ---------------------------------------------------------------------------------------------------

/** Result of `strptime`: wall fields plus the `%z` offset (µs east of UTC), null when naive. */
export interface StrptimeResult {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
  utcOffsetMicroseconds: number | null;
}

const FULL_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const ABBR_WEEKDAYS = FULL_WEEKDAYS.map((d) => d.slice(0, 3));
const FULL_MONTHS = [
  "january",
  "february",
  "march",
  "april",
  "may",
  "june",
  "july",
  "august",
  "september",
  "october",
  "november",
  "december",
];
const ABBR_MONTHS = FULL_MONTHS.map((m) => m.slice(0, 3));

/** Alternation with longer names first (stable for equal lengths), like `_strptime` builds it. */
function alternation(names: readonly string[]): string {
  return [...names].sort((a, b) => b.length - a.length).join("|");
}

const D = PY_DIGIT_CLASS;
const DIRECTIVE_BODIES: Readonly<Record<string, string>> = {
  d: `3[0-1]|[1-2]${D}|0[1-9]|[1-9]| [1-9]`,
  f: "[0-9]{1,6}",
  H: `2[0-3]|[0-1]${D}|${D}`,
  I: "1[0-2]|0[1-9]|[1-9]",
  G: `${D}${D}${D}${D}`,
  j: `36[0-6]|3[0-5]${D}|[1-2]${D}${D}|0[1-9]${D}|00[1-9]|[1-9]${D}|0[1-9]|[1-9]`,
  m: "1[0-2]|0[1-9]|[1-9]",
  M: `[0-5]${D}|${D}`,
  S: `6[0-1]|[0-5]${D}|${D}`,
  U: `5[0-3]|[0-4]${D}|${D}`,
  W: `5[0-3]|[0-4]${D}|${D}`,
  w: "[0-6]",
  u: "[1-7]",
  V: `5[0-3]|0[1-9]|[1-4]${D}|${D}`,
  y: `${D}${D}`,
  Y: `${D}${D}${D}${D}`,
  z: `[+-]${D}${D}:?[0-5]${D}(?::?[0-5]${D}(?:\\.${D}{1,6})?)?|(?-i:Z)`,
  A: alternation(FULL_WEEKDAYS),
  a: alternation(ABBR_WEEKDAYS),
  B: alternation(FULL_MONTHS),
  b: alternation(ABBR_MONTHS),
  p: alternation(["am", "pm"]),
  Z: alternation(["utc", "gmt"]),
};

/** C-locale expansions of the composite directives. */
const COMPOSITE: Readonly<Record<string, string>> = {
  c: "%a %b %d %H:%M:%S %Y",
  x: "%m/%d/%y",
  X: "%H:%M:%S",
};

/** Characters `_strptime` backslash-escapes in the format before looking for directives. */
const REGEX_SPECIAL = new Set(["\\", ".", "^", "$", "*", "+", "?", "(", ")", "{", "}", "[", "]", "|"]);

interface CompiledFormat {
  regex: RegExp;
  groups: string[];
}

function translateFormat(format: string, original: string, groups: string[]): string {
  const chars = Array.from(format);
  let out = "";
  for (let k = 0; k < chars.length; k++) {
    const ch = chars[k]!;
    const cp = ch.codePointAt(0)!;
    if (pyIsSpace(cp)) {
      while (k + 1 < chars.length && pyIsSpace(chars[k + 1]!.codePointAt(0)!)) k++;
      out += `${PY_SPACE_CLASS}+`;
      continue;
    }
    if (ch !== "%") {
      out += REGEX_SPECIAL.has(ch) ? `\\${ch}` : ch;
      continue;
    }
    const directive = chars[k + 1];
    if (directive === undefined) throw new Error(`stray % in format '${original}'`);
    // Python escapes specials and rewrites whitespace first, so "%" + either reads as directive "\".
    if (REGEX_SPECIAL.has(directive) || pyIsSpace(directive.codePointAt(0)!)) {
      throw new Error(`'%' is a bad directive in format '${original}'`);
    }
    k++;
    if (directive === "%") {
      out += "%";
    } else if (directive in COMPOSITE) {
      out += translateFormat(COMPOSITE[directive]!, original, groups);
    } else if (directive in DIRECTIVE_BODIES) {
      if (groups.includes(directive)) {
        throw new Error(`redefinition of group name '${directive}' in format '${original}'`);
      }
      groups.push(directive);
      out += `(?<${directive}>${DIRECTIVE_BODIES[directive]})`;
    } else {
      throw new Error(`'${directive}' is a bad directive in format '${original}'`);
    }
  }
  return out;
}

const formatCache = new Map<string, CompiledFormat>();

function compileFormat(format: string): CompiledFormat {
  let compiled = formatCache.get(format);
  if (compiled) return compiled;
  const groups: string[] = [];
  const source = translateFormat(format, format, groups);
  compiled = { regex: new RegExp(`^(?:${source})`, "iu"), groups };
  if (formatCache.size >= 256) formatCache.clear();
  formatCache.set(format, compiled);
  return compiled;
}

function calcJulianFromUW(year: number, week: number, dayOfWeek: number, weekStartsMonday: boolean): number {
  let first = weekdayOfOrdinal(checkedOrdinal(year, 1, 1));
  let dow = dayOfWeek;
  if (!weekStartsMonday) {
    first = (first + 1) % 7;
    dow = (dow + 1) % 7;
  }
  const week0Length = (7 - first) % 7;
  if (week === 0) return 1 + dow - first;
  return 1 + week0Length + 7 * (week - 1) + dow;
}

function calcJulianFromV(isoYear: number, isoWeek: number, isoWeekday: number): [number, number] {
  const correction = weekdayOfOrdinal(checkedOrdinal(isoYear, 1, 4)) + 1 + 3;
  let ordinal = isoWeek * 7 + isoWeekday - correction;
  let year = isoYear;
  if (ordinal < 1) {
    ordinal += checkedOrdinal(year, 1, 1);
    year -= 1;
    ordinal -= checkedOrdinal(year, 1, 1);
  }
  return [year, ordinal];
}

/** `date(y, m, d).toordinal()` including Python's range checks. */
function checkedOrdinal(y: number, m: number, d: number): number {
  if (!(y >= 1 && y <= 9999)) throw new Error(`year ${y} is out of range`);
  if (!(m >= 1 && m <= 12)) throw new Error("month must be in 1..12");
  if (!validDate(y, m, d)) throw new Error("day is out of range for month");
  return toOrdinal(y, m, d);
}

/**
 * Python 3.11 `datetime.datetime.strptime(value, format)` in the C locale on a UTC host.
 * Supports every directive Python knows (a A b B c d f G H I j m M p S u U V w W x X y Y z Z %);
 * throws an Error wherever Python raises.
 */
export function strptime(value: string, format: string): StrptimeResult {
  const compiled = compileFormat(format);
  const match = compiled.regex.exec(value);
  if (!match) throw new Error(`time data '${value}' does not match format '${format}'`);
  if (match[0].length !== value.length) {
    throw new Error(`unconverted data remains: ${value.slice(match[0].length)}`);
  }
  const found = match.groups ?? {};
  let isoYear: number | null = null;
  let year: number | null = null;
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let fraction = 0;
  let gmtoff: number | null = null;
  let gmtoffFraction = 0;
  let isoWeek: number | null = null;
  let weekOfYear: number | null = null;
  let weekStartsMonday = false;
  let weekday: number | null = null;
  let julian: number | null = null;

  for (const key of compiled.groups) {
    const text = found[key]!;
    switch (key) {
      case "y": {
        const v = pyInt(text);
        year = v <= 68 ? v + 2000 : v + 1900;
        break;
      }
      case "Y":
        year = pyInt(text);
        break;
      case "G":
        isoYear = pyInt(text);
        break;
      case "m":
        month = pyInt(text);
        break;
      case "B":
        month = indexOrThrow(FULL_MONTHS, text) + 1;
        break;
      case "b":
        month = indexOrThrow(ABBR_MONTHS, text) + 1;
        break;
      case "d":
        day = pyInt(text);
        break;
      case "H":
        hour = pyInt(text);
        break;
      case "I": {
        hour = pyInt(text);
        const ampm = (found["p"] ?? "").toLowerCase();
        if (ampm === "" || ampm === "am") {
          if (hour === 12) hour = 0;
        } else if (ampm === "pm") {
          if (hour !== 12) hour += 12;
        }
        break;
      }
      case "M":
        minute = pyInt(text);
        break;
      case "S":
        second = pyInt(text);
        break;
      case "f":
        fraction = pyInt(text.padEnd(6, "0"));
        break;
      case "A":
        weekday = indexOrThrow(FULL_WEEKDAYS, text);
        break;
      case "a":
        weekday = indexOrThrow(ABBR_WEEKDAYS, text);
        break;
      case "w": {
        const v = pyInt(text);
        weekday = v === 0 ? 6 : v - 1;
        break;
      }
      case "u":
        weekday = pyInt(text) - 1;
        break;
      case "j":
        julian = pyInt(text);
        break;
      case "U":
      case "W":
        weekOfYear = pyInt(text);
        weekStartsMonday = key === "W";
        break;
      case "V":
        isoWeek = pyInt(text);
        break;
      case "z": {
        [gmtoff, gmtoffFraction] = parseZ(text);
        break;
      }
      // %Z (utc/gmt) and %p alone only name things; they do not change the resulting datetime.
    }
  }

  if (year === null && isoYear !== null) {
    if (isoWeek === null || weekday === null) {
      throw new Error(
        "ISO year directive '%G' must be used with the ISO week directive '%V' and a weekday directive ('%A', '%a', '%w', or '%u').",
      );
    }
    if (julian !== null) {
      throw new Error(
        "Day of the year directive '%j' is not compatible with ISO year directive '%G'. Use '%Y' instead.",
      );
    }
  } else if (weekOfYear === null && isoWeek !== null) {
    if (weekday === null) {
      throw new Error(
        "ISO week directive '%V' must be used with the ISO year directive '%G' and a weekday directive ('%A', '%a', '%w', or '%u').",
      );
    }
    throw new Error(
      "ISO week directive '%V' is incompatible with the year directive '%Y'. Use the ISO year '%G' instead.",
    );
  }

  let leapYearFix = false;
  let y: number;
  if (year === null && month === 2 && day === 29) {
    y = 1904; // a leap year stands in while computing, Python then puts 1900 back
    leapYearFix = true;
  } else {
    y = year ?? 1900;
  }

  if (julian === null && weekday !== null) {
    if (weekOfYear !== null) {
      julian = calcJulianFromUW(y, weekOfYear, weekday, weekStartsMonday);
    } else if (isoYear !== null && isoWeek !== null) {
      [y, julian] = calcJulianFromV(isoYear, isoWeek, weekday + 1);
    }
    if (julian !== null && julian <= 0) {
      y -= 1;
      julian += isLeap(y) ? 366 : 365;
    }
  }

  if (julian === null) {
    checkedOrdinal(y, month, day);
  } else {
    const ord = julian - 1 + checkedOrdinal(y, 1, 1);
    if (ord < 1 || ord > MAX_ORDINAL) throw new Error(`year ${ord < 1 ? 0 : 10000} is out of range`);
    [y, month, day] = fromOrdinal(ord);
  }
  if (leapYearFix) y = 1900;

  let offsetUs: number | null = null;
  if (gmtoff !== null) {
    offsetUs = gmtoff * 1_000_000 + gmtoffFraction;
    if (Math.abs(offsetUs) >= US_PER_DAY) {
      throw new Error(
        "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)",
      );
    }
  }
  if (!validDate(y, month, day)) throw new Error("day is out of range for month");
  // The directive regexes already bound hour and minute; %S admits the leap seconds 60 and 61.
  if (second > 59) throw new Error("second must be in 0..59");
  return {
    year: y,
    month,
    day,
    hour,
    minute,
    second,
    microsecond: fraction,
    utcOffsetMicroseconds: offsetUs,
  };
}

function indexOrThrow(names: readonly string[], text: string): number {
  const idx = names.indexOf(text.toLowerCase());
  if (idx < 0) throw new Error(`'${text.toLowerCase()}' is not in list`);
  return idx;
}

/** `%z` text → [seconds, microseconds] east of UTC, with Python's colon consistency rule. */
function parseZ(raw: string): [number, number] {
  if (raw === "Z") return [0, 0];
  // Digits may be any Unicode decimal digits; ASCII ones keep the positional logic simple. The
  // directive's regex admits nothing else outside ASCII, so the conversion cannot fail.
  let z = toAsciiNumeral(raw)!;
  if (z[3] === ":") {
    z = z.slice(0, 3) + z.slice(4);
    if (z.length > 5) {
      if (z[5] !== ":") throw new Error(`Inconsistent use of : in ${raw}`);
      z = z.slice(0, 5) + z.slice(6);
    }
  }
  const hours = pyInt(z.slice(1, 3));
  const minutes = pyInt(z.slice(3, 5));
  const secText = z.slice(5, 7);
  const seconds = secText === "" ? 0 : pyInt(secText);
  let off = hours * 3600 + minutes * 60 + seconds;
  const rest = z.slice(8);
  let frac = pyInt(rest + "0".repeat(Math.max(0, 6 - rest.length)));
  if (z.startsWith("-")) {
    off = -off;
    frac = -frac;
  }
  return [off, frac];
}

function wallOf(r: StrptimeResult): Wall {
  return {
    year: r.year,
    month: r.month,
    day: r.day,
    hour: r.hour,
    minute: r.minute,
    second: r.second,
    microsecond: r.microsecond,
  };
}

// ---------------------------------------------------------------------------------------------------
// IntelMQ fast path: DateTime.from_isoformat
// ---------------------------------------------------------------------------------------------------

const ISO_FORMAT_PLAIN = "%Y-%m-%dT%H:%M:%S+00:00";
const ISO_FORMAT_FRACTION = "%Y-%m-%dT%H:%M:%S.%f+00:00";

/** Integer value of a run of Unicode decimal digits, ignoring spaces (the `%d` " 5" form). */
function digitsValue(s: string): number {
  let v = 0;
  for (const ch of s) {
    const d = pyDecimalValue(ch.codePointAt(0)!);
    if (d >= 0) v = v * 10 + d;
  }
  return v;
}

const ISO_PLAIN = compileFormat(ISO_FORMAT_PLAIN);
const ISO_FRACTION = compileFormat(ISO_FORMAT_FRACTION);

/**
 * `strptime(value, <IntelMQ iso format>)` succeeds: the regex matches all of it and the fields make a
 * datetime (the regex already bounds hour and minute). Exception-free because it runs on the hot path.
 */
function matchesIsoFormat(value: string, compiled: CompiledFormat): boolean {
  const m = compiled.regex.exec(value);
  if (m === null || m[0].length !== value.length) return false;
  const g = m.groups!;
  const year = digitsValue(g["Y"]!);
  return (
    year >= 1 && validDate(year, digitsValue(g["m"]!), digitsValue(g["d"]!)) && digitsValue(g["S"]!) <= 59
  );
}

/** Whether IntelMQ's `from_isoformat` accepts the string (then IntelMQ keeps it unchanged). */
function passesIsoFastPath(value: string): boolean {
  return matchesIsoFormat(value, ISO_PLAIN) || matchesIsoFormat(value, ISO_FRACTION);
}

/** Digit value of the ASCII char at `i`, or -1. */
function digitAt(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

/**
 * Strict ASCII check for `YYYY-MM-DDTHH:MM:SS(.f{1,6})?+00:00` with a real calendar date; a `true` is
 * always right, a `false` only means "ask the full emulation".
 */
function isCanonicalUtc(v: string): boolean {
  const n = v.length;
  if (n !== 25 && (n < 27 || n > 32)) return false;
  if (
    v.charCodeAt(4) !== 45 ||
    v.charCodeAt(7) !== 45 ||
    v.charCodeAt(10) !== 84 ||
    v.charCodeAt(13) !== 58 ||
    v.charCodeAt(16) !== 58 ||
    v.charCodeAt(n - 6) !== 43 ||
    v.charCodeAt(n - 5) !== 48 ||
    v.charCodeAt(n - 4) !== 48 ||
    v.charCodeAt(n - 3) !== 58 ||
    v.charCodeAt(n - 2) !== 48 ||
    v.charCodeAt(n - 1) !== 48
  ) {
    return false;
  }
  const y0 = digitAt(v, 0);
  const y1 = digitAt(v, 1);
  const y2 = digitAt(v, 2);
  const y3 = digitAt(v, 3);
  const mo0 = digitAt(v, 5);
  const mo1 = digitAt(v, 6);
  const d0 = digitAt(v, 8);
  const d1 = digitAt(v, 9);
  const h0 = digitAt(v, 11);
  const h1 = digitAt(v, 12);
  const mi0 = digitAt(v, 14);
  const mi1 = digitAt(v, 15);
  const s0 = digitAt(v, 17);
  const s1 = digitAt(v, 18);
  if ((y0 | y1 | y2 | y3 | mo0 | mo1 | d0 | d1 | h0 | h1 | mi0 | mi1 | s0 | s1) < 0) return false;
  if (n !== 25) {
    if (v.charCodeAt(19) !== 46) return false;
    for (let i = 20; i < n - 6; i++) if (digitAt(v, i) < 0) return false;
  }
  const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
  const month = mo0 * 10 + mo1;
  const day = d0 * 10 + d1;
  if (year === 0 || month === 0 || month > 12 || day === 0) return false;
  if (h0 * 10 + h1 > 23 || mi0 > 5 || s0 > 5) return false;
  return day <= 28 || day <= daysInMonth(year, month);
}

// ---------------------------------------------------------------------------------------------------
// dateutil 4.0.0 parser, fuzzy mode (the only mode IntelMQ uses)
// ---------------------------------------------------------------------------------------------------

/** Internal: the parse gives up (dateutil's ValueError / IndexError and friends). */
class ParseFailure {
  readonly message: string;
  // Deliberately not an Error: fuzzy input fails often and stack capture would dominate the cost.
  constructor(message: string) {
    this.message = message;
  }
}

function fail(reason: string): never {
  throw new ParseFailure(reason);
}

/** List access that fails like Python's IndexError. */
function at(tokens: readonly string[], i: number): string {
  const t = tokens[i];
  if (t === undefined) fail("index out of range");
  return t;
}

/**
 * dateutil's lexer. Runs on code points; NULs are dropped and decimal digits pre-mapped to ASCII, which
 * changes nothing dateutil can observe (it only ever converts digit runs to numbers).
 */
function tokenize(input: string): string[] {
  const chars: string[] = [];
  for (const ch of input) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0) continue;
    const d = pyDecimalValue(cp);
    chars.push(d >= 0 ? String.fromCharCode(48 + d) : ch);
  }
  const isWord = (c: string): boolean => isPyAlpha(c);
  const isNum = (c: string): boolean => {
    const cp = c.codePointAt(0)!;
    return (cp >= 48 && cp <= 57) || inRanges(cp, OTHER_DIGIT_RANGES);
  };
  const tokens: string[] = [];
  let pos = 0;
  while (pos < chars.length) {
    const first = chars[pos++]!;
    let token = first;
    let state: "a" | "0" | "a." | "0." | null = null;
    let seenLetters = false;
    if (isWord(first)) state = "a";
    else if (isNum(first)) state = "0";
    else if (pyIsSpace(first.codePointAt(0)!)) token = " ";
    if (state !== null) {
      while (pos < chars.length) {
        const c = chars[pos]!;
        const last = token[token.length - 1];
        let take = false;
        if (state === "a") {
          seenLetters = true;
          if (isWord(c)) take = true;
          else if (c === ".") {
            take = true;
            state = "a.";
          }
        } else if (state === "0") {
          if (isNum(c)) take = true;
          else if (c === "." || (c === "," && pyLen(token) >= 2)) {
            take = true;
            state = "0.";
          }
        } else if (state === "a.") {
          seenLetters = true;
          if (c === "." || isWord(c)) take = true;
          else if (isNum(c) && last === ".") {
            take = true;
            state = "0.";
          }
        } else {
          if (c === "." || isNum(c)) take = true;
          else if (isWord(c) && last === ".") {
            take = true;
            state = "a.";
          }
        }
        if (!take) break;
        token += c;
        pos++;
      }
    }
    const pieces: string[] = [];
    if (
      (state === "a." || state === "0.") &&
      (seenLetters || countChar(token, ".") > 1 || token.endsWith(".") || token.endsWith(","))
    ) {
      const parts = token.split(/([.,])/);
      token = parts[0]!;
      for (const p of parts.slice(1)) if (p !== "") pieces.push(p);
    }
    if (state === "0." && !token.includes(".")) token = token.replace(/,/g, ".");
    tokens.push(token, ...pieces);
  }
  return tokens;
}

function countChar(s: string, ch: string): number {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

// Single punctuation characters plus the words dateutil skips.
const JUMP = new Set([..." .,;-/'", "at", "on", "and", "ad", "m", "t", "of", "st", "nd", "rd", "th"]);
const WEEKDAY_NAMES = new Map<string, number>();
for (const [i, full] of FULL_WEEKDAYS.entries()) {
  WEEKDAY_NAMES.set(full, i);
  WEEKDAY_NAMES.set(full.slice(0, 3), i);
}
const MONTH_NAMES = new Map<string, number>();
for (const [i, full] of FULL_MONTHS.entries()) {
  MONTH_NAMES.set(full, i + 1);
  MONTH_NAMES.set(full.slice(0, 3), i + 1);
}
MONTH_NAMES.set("sept", 9);
const HMS_NAMES = new Map<string, number>([
  ["h", 0],
  ["hour", 0],
  ["hours", 0],
  ["m", 1],
  ["minute", 1],
  ["minutes", 1],
  ["s", 2],
  ["second", 2],
  ["seconds", 2],
]);
const AMPM_NAMES = new Map<string, number>([
  ["am", 0],
  ["a", 0],
  ["pm", 1],
  ["p", 1],
]);
const UTC_ZONE_EXACT = ["UTC", "GMT", "Z", "z"];
const UTC_ZONE_LOWER = new Set(["utc", "gmt", "z"]);

const isJump = (t: string): boolean => JUMP.has(t.toLowerCase());
const weekdayOf = (t: string): number | undefined => WEEKDAY_NAMES.get(t.toLowerCase());
const monthOf = (t: string): number | undefined => MONTH_NAMES.get(t.toLowerCase());
const hmsOf = (t: string): number | undefined => HMS_NAMES.get(t.toLowerCase());
const ampmOf = (t: string): number | undefined => AMPM_NAMES.get(t.toLowerCase());
const isUtcZone = (t: string): boolean => UTC_ZONE_LOWER.has(t.toLowerCase());
const isPertain = (t: string): boolean => t.toLowerCase() === "of";

/** Exact decimal `coef × 10^exp` (exp ≤ 0 for parsed tokens), like Python's Decimal. */
interface Dec {
  coef: bigint;
  exp: number;
}

const DECIMAL_TOKEN = /^(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$/;
const FLOAT_WORD = /^(?:inf|infinity|nan)$/i;
const DEC_PRECISION = 28; // Python's default decimal context

/** Whether Python's float() accepts the token (decides dateutil's numeric branch). */
function tokenIsFloat(t: string): boolean {
  return DECIMAL_TOKEN.test(t) || FLOAT_WORD.test(t);
}

/** dateutil's `_to_decimal`: finite decimals only. */
function toDec(t: string): Dec {
  if (!DECIMAL_TOKEN.test(t)) fail(`Could not convert ${t} to decimal`);
  const dot = t.indexOf(".");
  if (dot < 0) return { coef: BigInt(t), exp: 0 };
  const frac = t.slice(dot + 1);
  return { coef: BigInt(`${t.slice(0, dot)}${frac}` || "0"), exp: -frac.length };
}

const pow10 = (k: number): bigint => 10n ** BigInt(k);

function decCmpInt(d: Dec, k: number): number {
  const rhs = BigInt(k) * pow10(-d.exp);
  return d.coef < rhs ? -1 : d.coef > rhs ? 1 : 0;
}

function decTrunc(d: Dec): number {
  return Number(d.exp >= 0 ? d.coef * pow10(d.exp) : d.coef / pow10(-d.exp));
}

/** Rounds to the context precision, half to even, as every Decimal operation result is. */
function decRound(d: Dec): Dec {
  const digits = d.coef.toString().length;
  if (digits <= DEC_PRECISION) return d;
  const drop = digits - DEC_PRECISION;
  const div = pow10(drop);
  let q = d.coef / div;
  const r = d.coef % div;
  const half = div / 2n;
  if (r > half || (r === half && q % 2n === 1n)) q += 1n;
  return { coef: q, exp: d.exp + drop };
}

/** `value % 1`; Python raises decimal.InvalidOperation when the integer part exceeds the precision. */
function decMod1(d: Dec): Dec {
  if (d.exp >= 0) {
    if (d.coef.toString().length + d.exp > DEC_PRECISION) fail("DivisionImpossible");
    return { coef: 0n, exp: 0 };
  }
  const scale = pow10(-d.exp);
  const q = d.coef / scale;
  if (q.toString().length > DEC_PRECISION) fail("DivisionImpossible");
  return decRound({ coef: d.coef % scale, exp: d.exp });
}

function decTimes60(d: Dec): Dec {
  return decRound({ coef: d.coef * 60n, exp: d.exp });
}

type YmdLabel = "Y" | "M" | "D";

/** dateutil's `_ymd` list: up to three date numbers plus which ones are known to be Y, M or D. */
class Ymd {
  values: number[] = [];
  centurySpecified = false;
  yearIdx: number | null = null;
  monthIdx: number | null = null;
  dayIdx: number | null = null;

  append(val: string | Dec | number, label?: YmdLabel): void {
    let lab = label;
    let num: number;
    if (typeof val === "string") {
      if (isPyDigitStr(val) && pyLen(val) > 2) {
        this.centurySpecified = true;
        if (lab !== undefined && lab !== "Y") fail("label");
        lab = "Y";
      }
      num = pyIntChecked(val);
    } else if (typeof val === "number") {
      num = val;
    } else {
      if (decCmpInt(val, 100) > 0) {
        this.centurySpecified = true;
        if (lab !== undefined && lab !== "Y") fail("label");
        lab = "Y";
      }
      num = decTrunc(val);
    }
    this.values.push(num);
    const idx = this.values.length - 1;
    if (lab === "M") {
      if (this.monthIdx !== null) fail("Month is already set");
      this.monthIdx = idx;
    } else if (lab === "D") {
      if (this.dayIdx !== null) fail("Day is already set");
      this.dayIdx = idx;
    } else if (lab === "Y") {
      if (this.yearIdx !== null) fail("Year is already set");
      this.yearIdx = idx;
    }
  }

  couldBeDay(v: Dec): boolean {
    if (this.dayIdx !== null) return false;
    let max = 31;
    if (this.monthIdx !== null) {
      const month = this.values[this.monthIdx]!;
      max = this.yearIdx === null ? daysInMonth(2000, month) : daysInMonth(this.values[this.yearIdx]!, month);
    }
    return decCmpInt(v, 1) >= 0 && decCmpInt(v, max) <= 0;
  }

  resolve(): [number | null, number | null, number | null] {
    const vals = this.values;
    const n = vals.length;
    const known: [YmdLabel, number][] = [];
    if (this.yearIdx !== null) known.push(["Y", this.yearIdx]);
    if (this.monthIdx !== null) known.push(["M", this.monthIdx]);
    if (this.dayIdx !== null) known.push(["D", this.dayIdx]);
    if ((n === known.length && n > 0) || (n === 3 && known.length === 2)) {
      if (n === 3 && known.length === 2) {
        const usedIdx = known.map(([, i]) => i);
        const usedLab = known.map(([l]) => l);
        const idx = [0, 1, 2].find((i) => !usedIdx.includes(i))!;
        const lab = (["Y", "M", "D"] as const).find((l) => !usedLab.includes(l))!;
        known.push([lab, idx]);
      }
      const get = (l: YmdLabel): number | null => {
        const e = known.find(([k]) => k === l);
        return e ? vals[e[1]]! : null;
      };
      return [get("Y"), get("M"), get("D")];
    }
    const m = this.monthIdx;
    if (n > 3) fail("More than three YMD values");
    let year: number | null = null;
    let month: number | null = null;
    let day: number | null = null;
    const v0 = vals[0]!;
    const v1 = vals[1]!;
    const v2 = vals[2]!;
    if (n === 1 || (m !== null && n === 2)) {
      let other: number;
      if (m !== null) {
        month = vals[m]!;
        other = m === 0 ? vals[n - 1]! : vals[m - 1]!; // Python's self[-1] when the month comes first
      } else {
        other = v0;
      }
      if (n > 1 || m === null) {
        if (other > 31) year = other;
        else day = other;
      }
    } else if (n === 2) {
      if (v0 > 31) [year, month] = [v0, v1];
      else if (v1 > 31) [month, year] = [v0, v1];
      else [month, day] = [v0, v1];
    } else if (n === 3) {
      if (m === 0) {
        if (v1 > 31) [month, year, day] = [v0, v1, v2];
        else [month, day, year] = [v0, v1, v2];
      } else if (m === 1) {
        if (v0 > 31) [year, month, day] = [v0, v1, v2];
        else [day, month, year] = [v0, v1, v2];
      } else if (m === 2) {
        if (v1 > 31) [day, year, month] = [v0, v1, v2];
        else [year, day, month] = [v0, v1, v2];
      } else if (v0 > 31 || this.yearIdx === 0) {
        [year, month, day] = [v0, v1, v2];
      } else if (v0 > 12) {
        [day, month, year] = [v0, v1, v2];
      } else {
        [month, day, year] = [v0, v1, v2];
      }
    }
    return [year, month, day];
  }
}

/** Python int() of a token; any failure is a parse failure. */
function pyIntChecked(s: string): number {
  try {
    return pyInt(s);
  } catch {
    return fail(`invalid integer ${s}`);
  }
}

interface ParseRes {
  year: number | null;
  month: number | null;
  day: number | null;
  weekday: number | null;
  hour: number | null;
  minute: number | null;
  second: number | null;
  microsecond: number | null;
  tzname: string | null;
  tzoffset: number | null;
  ampm: number | null;
}

function couldBeTzname(res: ParseRes, tzoffset: number | null, token: string): boolean {
  return (
    res.hour !== null &&
    res.tzname === null &&
    tzoffset === null &&
    pyLen(token) <= 5 &&
    (/^[A-Z]+$/.test(token) || UTC_ZONE_EXACT.includes(token))
  );
}

function adjustAmpm(hour: number, ampm: number): number {
  if (hour < 12 && ampm === 1) return hour + 12;
  if (hour === 12 && ampm === 0) return 0;
  return hour;
}

/** `I[.F]` seconds → [seconds, microseconds], the fraction truncated to six digits. */
function parseSecondsText(text: string): [number, number] {
  if (!text.includes(".")) return [pyIntChecked(text), 0];
  const parts = text.split(".");
  if (parts.length !== 2) fail("too many values to unpack");
  return [pyIntChecked(parts[0]!), pyIntChecked(parts[1]!.padEnd(6, "0").slice(0, 6))];
}

function parseMinSec(value: Dec): [number, number | null] {
  const minute = decTrunc(value);
  const rem = decMod1(value);
  return [minute, rem.coef === 0n ? null : decTrunc(decTimes60(rem))];
}

function findHmsIdx(idx: number, tokens: readonly string[]): number | null {
  const n = tokens.length;
  if (idx + 1 < n && hmsOf(tokens[idx + 1]!) !== undefined) return idx + 1;
  if (idx + 2 < n && tokens[idx + 1] === " " && hmsOf(tokens[idx + 2]!) !== undefined) return idx + 2;
  if (idx > 0 && hmsOf(tokens[idx - 1]!) !== undefined) return idx - 1;
  if (1 < idx && idx === n - 1 && tokens[idx - 1] === " " && hmsOf(tokens[idx - 2]!) !== undefined)
    return idx - 2;
  return null;
}

function assignHms(res: ParseRes, repr: string, hms: number): void {
  const value = toDec(repr);
  if (hms === 0) {
    res.hour = decTrunc(value);
    const rem = decMod1(value);
    if (rem.coef !== 0n) res.minute = decTrunc(decTimes60(rem));
  } else if (hms === 1) {
    [res.minute, res.second] = parseMinSec(value);
  } else if (hms === 2) {
    [res.second, res.microsecond] = parseSecondsText(repr);
  }
}

/** dateutil `_parse_numeric_token`; returns the index of the last token it consumed. */
function parseNumericToken(tokens: string[], start: number, ymd: Ymd, res: ParseRes): number {
  let idx = start;
  const repr = tokens[idx]!;
  const value = toDec(repr);
  const len = pyLen(repr);
  const n = tokens.length;
  const next = tokens[idx + 1];

  if (
    ymd.values.length === 3 &&
    (len === 2 || len === 4) &&
    res.hour === null &&
    (next === undefined || (next !== ":" && hmsOf(next) === undefined))
  ) {
    // 19990101T23[59]
    res.hour = pyIntChecked(repr.slice(0, 2));
    if (len === 4) res.minute = pyIntChecked(repr.slice(2));
  } else if (len === 6 || (len > 6 && repr.indexOf(".") === 6)) {
    // YYMMDD or HHMMSS[.ss]
    if (ymd.values.length === 0 && !repr.includes(".")) {
      ymd.append(repr.slice(0, 2));
      ymd.append(repr.slice(2, 4));
      ymd.append(repr.slice(4));
    } else {
      res.hour = pyIntChecked(repr.slice(0, 2));
      res.minute = pyIntChecked(repr.slice(2, 4));
      [res.second, res.microsecond] = parseSecondsText(repr.slice(4));
    }
  } else if (len === 8 || len === 12 || len === 14) {
    // YYYYMMDD[hhmm[ss]]
    ymd.append(repr.slice(0, 4), "Y");
    ymd.append(repr.slice(4, 6));
    ymd.append(repr.slice(6, 8));
    if (len > 8) {
      res.hour = pyIntChecked(repr.slice(8, 10));
      res.minute = pyIntChecked(repr.slice(10, 12));
      if (len > 12) res.second = pyIntChecked(repr.slice(12));
    }
  } else if (findHmsIdx(idx, tokens) !== null) {
    // 12h, 5 m, 30s, 12h04 ...
    const hmsIdx = findHmsIdx(idx, tokens)!;
    let hms: number;
    if (hmsIdx > idx) {
      hms = hmsOf(tokens[hmsIdx]!)!;
      idx = hmsIdx;
    } else {
      hms = hmsOf(tokens[hmsIdx]!)! + 1; // a preceding label names the unit before this number
    }
    assignHms(res, repr, hms);
  } else if (idx + 2 < n && next === ":") {
    // HH:MM[:SS[.ss]]
    res.hour = decTrunc(value);
    [res.minute, res.second] = parseMinSec(toDec(tokens[idx + 2]!));
    if (idx + 4 < n && tokens[idx + 3] === ":") {
      [res.second, res.microsecond] = parseSecondsText(tokens[idx + 4]!);
      idx += 2;
    }
    idx += 2;
  } else if (idx + 1 < n && (next === "-" || next === "/" || next === ".")) {
    const sep = next;
    ymd.append(repr);
    if (idx + 2 < n && !isJump(tokens[idx + 2]!)) {
      const second = tokens[idx + 2]!;
      if (isPyDigitStr(second)) {
        ymd.append(second);
      } else {
        const month = monthOf(second);
        if (month === undefined) fail("expected a month name");
        ymd.append(month, "M");
      }
      if (idx + 3 < n && tokens[idx + 3] === sep) {
        const third = at(tokens, idx + 4);
        const month = monthOf(third);
        if (month !== undefined) ymd.append(month, "M");
        else ymd.append(third);
        idx += 2;
      }
      idx += 1;
    }
    idx += 1;
  } else if (idx + 1 >= n || isJump(next!)) {
    const after = tokens[idx + 2];
    if (idx + 2 < n && ampmOf(after!) !== undefined) {
      res.hour = adjustAmpm(decTrunc(value), ampmOf(after!)!); // "12 am"
      idx += 1;
    } else {
      ymd.append(value);
    }
    idx += 1;
  } else if (ampmOf(next!) !== undefined && decCmpInt(value, 0) >= 0 && decCmpInt(value, 24) < 0) {
    res.hour = adjustAmpm(decTrunc(value), ampmOf(next!)!); // "12am"
    idx += 1;
  } else if (ymd.couldBeDay(value)) {
    ymd.append(value);
  }
  return idx;
}

interface DefaultDate {
  year: number;
  month: number;
  day: number;
}

function convertYear(year: number, centurySpecified: boolean, currentYear: number): number {
  if (year < 100 && !centurySpecified) {
    let y = year + Math.floor(currentYear / 100) * 100;
    if (y >= currentYear + 50) y -= 100;
    else if (y < currentYear - 50) y += 100;
    return y;
  }
  return year;
}

/** dateutil `parser._parse` with fuzzy=True, followed by `parserinfo.validate`. */
function dateutilTokens(timestr: string, currentYear: number): ParseRes {
  const res: ParseRes = {
    year: null,
    month: null,
    day: null,
    weekday: null,
    hour: null,
    minute: null,
    second: null,
    microsecond: null,
    tzname: null,
    tzoffset: null,
    ampm: null,
  };
  const l = tokenize(timestr);
  const n = l.length;
  const ymd = new Ymd();
  let i = 0;
  while (i < n) {
    const tok = l[i]!;
    if (tokenIsFloat(tok)) {
      i = parseNumericToken(l, i, ymd, res);
    } else if (weekdayOf(tok) !== undefined) {
      res.weekday = weekdayOf(tok)!;
    } else if (monthOf(tok) !== undefined) {
      ymd.append(monthOf(tok)!, "M");
      if (i + 1 < n) {
        const next = l[i + 1]!;
        if (next === "-" || next === "/") {
          // Jan-01[-99]
          ymd.append(at(l, i + 2));
          if (i + 3 < n && l[i + 3] === next) {
            ymd.append(at(l, i + 4));
            i += 2;
          }
          i += 2;
        } else if (i + 4 < n && next === " " && l[i + 3] === " " && isPertain(l[i + 2]!)) {
          // "Jan of 01": the number is a year
          const yearTok = l[i + 4]!;
          if (isPyDigitStr(yearTok)) {
            ymd.append(String(convertYear(pyIntChecked(yearTok), false, currentYear)), "Y");
          }
          i += 4;
        }
      }
    } else if (ampmOf(tok) !== undefined) {
      const hour = res.hour;
      if (res.ampm === null && hour !== null && hour >= 0 && hour <= 12) {
        res.hour = adjustAmpm(hour, ampmOf(tok)!);
        res.ampm = ampmOf(tok)!;
      }
    } else if (couldBeTzname(res, res.tzoffset, tok)) {
      res.tzname = tok;
      res.tzoffset = tok === "utc" || tok === "gmt" || tok === "z" ? 0 : null;
      const next = l[i + 1];
      if (next === "+" || next === "-") {
        // "GMT+3" means "my time +3 is GMT": flip the sign for the offset branch below.
        l[i + 1] = next === "+" ? "-" : "+";
        res.tzoffset = null;
        if (isUtcZone(tok)) res.tzname = null;
      }
    } else if (res.hour !== null && (tok === "+" || tok === "-")) {
      const signal = tok === "+" ? 1 : -1;
      const off = at(l, i + 1);
      const offLen = pyLen(off);
      let hourOff: number;
      let minOff: number;
      if (offLen === 4) {
        hourOff = pyIntChecked(off.slice(0, 2));
        minOff = pyIntChecked(off.slice(2));
      } else if (i + 2 < n && l[i + 2] === ":") {
        hourOff = pyIntChecked(off);
        minOff = pyIntChecked(at(l, i + 3));
        i += 2;
      } else if (offLen <= 2) {
        hourOff = pyIntChecked(off.slice(0, 2));
        minOff = 0;
      } else {
        fail("bad numeric offset");
      }
      res.tzoffset = signal * (hourOff * 3600 + minOff * 60);
      if (
        i + 5 < n &&
        isJump(l[i + 2]!) &&
        l[i + 3] === "(" &&
        l[i + 5] === ")" &&
        pyLen(l[i + 4]!) >= 3 &&
        couldBeTzname(res, null, l[i + 4]!)
      ) {
        res.tzname = l[i + 4]!; // "-0300 (BRST)"
        i += 4;
      }
      i += 1;
    }
    // Anything else is a jump word or fuzzy noise and is skipped.
    i += 1;
  }

  const [year, month, day] = ymd.resolve();
  res.year = year === null ? null : convertYear(year, ymd.centurySpecified, currentYear);
  res.month = month;
  res.day = day;

  if ((res.tzoffset === 0 && !res.tzname) || res.tzname === "Z" || res.tzname === "z") {
    res.tzname = "UTC";
    res.tzoffset = 0;
  } else if (res.tzoffset !== 0 && res.tzname && isUtcZone(res.tzname)) {
    res.tzoffset = 0;
  }
  return res;
}

/** Fuzzy dateutil parse → IntelMQ's UTC isoformat string. Throws on failure. */
function fuzzyToUtcIso(timestr: string, now: Date = new Date()): string {
  const def: DefaultDate = {
    year: now.getUTCFullYear(),
    month: now.getUTCMonth() + 1,
    day: now.getUTCDate(),
  };
  let res: ParseRes;
  try {
    res = dateutilTokens(timestr, def.year);
  } catch (e) {
    if (e instanceof ParseFailure) fail("Unknown string format");
    throw e;
  }
  const fields = [
    res.year,
    res.month,
    res.day,
    res.weekday,
    res.hour,
    res.minute,
    res.second,
    res.microsecond,
    res.tzname,
    res.tzoffset,
    res.ampm,
  ];
  if (fields.every((f) => f === null)) fail("String does not contain a date");

  const year = res.year ?? def.year;
  const month = res.month ?? def.month;
  let day = res.day;
  if (day === null) {
    // Python's monthrange(): rejects bad months, then the default day is clamped to the month's end.
    if (!(month >= 1 && month <= 12)) fail("bad month number; must be 1-12");
    day = Math.min(def.day, daysInMonth(year, month));
  }
  const hour = res.hour ?? 0;
  const minute = res.minute ?? 0;
  const second = res.second ?? 0;
  const microsecond = res.microsecond ?? 0;
  if (!(year >= 1 && year <= 9999)) fail(`year ${year} is out of range`);
  if (!(month >= 1 && month <= 12)) fail("month must be in 1..12");
  if (!validDate(year, month, day)) fail("day is out of range for month");
  if (!(hour >= 0 && hour <= 23)) fail("hour must be in 0..23");
  if (!(minute >= 0 && minute <= 59)) fail("minute must be in 0..59");
  if (!(second >= 0 && second <= 59)) fail("second must be in 0..59");
  let wall: Wall = { year, month, day, hour, minute, second, microsecond };
  if (res.weekday !== null && !res.day) {
    // relativedelta(weekday=N): the next such weekday, today included.
    const ord = toOrdinal(year, month, day);
    wall = shiftWall(wall, ((7 - weekdayOfOrdinal(ord) + res.weekday) % 7) * US_PER_DAY);
  }

  // On a UTC host a "UTC" name means local time = UTC; otherwise only an offset makes it aware.
  const offset = res.tzname === "UTC" ? 0 : res.tzoffset;
  return toUtcIso(wall, offset === null ? null : offset * 1_000_000);
}

// ---------------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------------

/**
 * IntelMQ's private `DateTime.__parse(value)`: the input itself when it passes the strptime fast path,
 * otherwise dateutil's fuzzy parse as a UTC isoformat string; `undefined` where Python gives None (or
 * raises). Missing date parts default to `now`'s UTC date, at midnight.
 */
export function intelmqDateTimeParse(value: string, now?: Date): string | undefined {
  if (isCanonicalUtc(value) || passesIsoFastPath(value)) return value;
  try {
    return fuzzyToUtcIso(value, now);
  } catch {
    return undefined;
  }
}

/**
 * IntelMQ `DateTime.is_valid(value)` (sanitize=False). A non-empty string is valid exactly when it passes
 * the strptime fast path (dateutil output always would), so dateutil never runs here.
 */
export function isValidDateTime(value: unknown): boolean {
  if (typeof value !== "string" || value.length === 0) return false;
  return isCanonicalUtc(value) || passesIsoFastPath(value);
}

/** IntelMQ `DateTime.sanitize(value)`; non-strings give `undefined` as in IntelMQ. */
export function sanitizeDateTime(value: unknown, now?: Date): string | undefined {
  if (typeof value !== "string") return undefined;
  return intelmqDateTimeParse(value, now) || undefined;
}

const TIME_CONVERSIONS = new Set([
  "timestamp",
  "windows_nt",
  "epoch_millis",
  "from_format",
  "from_format_midnight",
  "utc_isoformat",
  "fuzzy",
]);
const NEEDS_FORMAT = new Set(["from_format", "from_format_midnight"]);

/** IntelMQ `TimeFormat` validation of a parser's `time_format` parameter ("" or null mean fuzzy). */
export function isValidTimeFormat(spec: string | null | undefined): boolean {
  const parts = (spec || "fuzzy").split("|");
  const name = parts[0]!;
  const formatString = parts.length > 1 ? parts[1]! : "";
  if (!TIME_CONVERSIONS.has(name)) return false;
  if (NEEDS_FORMAT.has(name)) return formatString !== "";
  return formatString === "";
}

function requireString(value: string | number, what: string): string {
  if (typeof value !== "string") throw new TypeError(`${what} requires a string, not a number`);
  return value;
}

function roundHalfAway(x: number): number {
  return Math.sign(x) * Math.round(Math.abs(x));
}

/** Python `datetime.fromtimestamp(ts, timezone.utc)` (round half even to microseconds). */
function fromTimestamp(ts: number): Wall {
  if (Number.isNaN(ts)) throw new Error("Invalid value NaN (not a number)");
  if (!Number.isFinite(ts)) throw new Error("cannot convert float infinity to integer");
  let secs = Math.trunc(ts);
  let us = (ts - secs) * 1e6;
  const rounded = roundHalfAway(us);
  us = Math.abs(us - rounded) === 0.5 ? 2 * roundHalfAway(us / 2) : rounded;
  if (us >= 1e6) {
    us -= 1e6;
    secs += 1;
  } else if (us < 0) {
    us += 1e6;
    secs -= 1;
  }
  if (Math.abs(secs) >= 2 ** 63) throw new Error("timestamp out of range for platform time_t");
  const days = Math.floor(secs / 86400);
  const ord = toOrdinal(1970, 1, 1) + days;
  if (ord < 1 || ord > MAX_ORDINAL) throw new Error(`year ${ord < 1 ? 0 : 10000} is out of range`);
  const [year, month, day] = fromOrdinal(ord);
  const sod = secs - days * 86400;
  return {
    year,
    month,
    day,
    hour: Math.floor(sod / 3600),
    minute: Math.floor(sod / 60) % 60,
    second: sod % 60,
    microsecond: us,
  };
}

/** Python `int(value)` for str or number input (numbers that are integral count as Python ints). */
function pyIntOfValue(value: string | number): bigint {
  if (typeof value === "string") return pyIntOrThrow(value);
  if (Number.isNaN(value)) throw new Error("cannot convert float NaN to integer");
  if (!Number.isFinite(value)) throw new Error("cannot convert float infinity to integer");
  return BigInt(Math.trunc(value));
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** `datetime(1601, 1, 1, tzinfo=utc) + timedelta(seconds=int(value) * 10 ** -7)`. */
function fromWindowsNt(value: string | number): string {
  const ticks = Number(pyIntOfValue(value));
  if (!Number.isFinite(ticks)) throw new Error("int too large to convert to float");
  const seconds = ticks * 1e-7;
  // timedelta(seconds=float): exact integer part, then the fraction in µs, rounded half to even.
  const whole = Math.trunc(seconds);
  let totalUs = BigInt(whole) * 1_000_000n;
  const frac = seconds - whole;
  if (frac !== 0) {
    const fracUs = frac * 1e6;
    const fracWhole = Math.trunc(fracUs);
    totalUs += BigInt(fracWhole);
    const leftover = fracUs - fracWhole;
    if (leftover !== 0) {
      let r = roundHalfAway(leftover);
      if (Math.abs(r - leftover) === 0.5) {
        const odd = (totalUs & 1n) === 1n ? 1 : 0;
        r = 2 * roundHalfAway((leftover + odd) * 0.5) - odd;
      }
      totalUs += BigInt(r);
    }
  }
  const dayUs = BigInt(US_PER_DAY);
  const days = floorDiv(totalUs, dayUs);
  const ord = BigInt(toOrdinal(1601, 1, 1)) + days;
  if (ord < 1n || ord > BigInt(MAX_ORDINAL)) throw new Error("date value out of range");
  const [year, month, day] = fromOrdinal(Number(ord));
  const rest = Number(totalUs - days * dayUs);
  return isoformatUtc(shiftWall({ year, month, day, hour: 0, minute: 0, second: 0, microsecond: 0 }, rest));
}

/** IntelMQ `DateTime.from_epoch_millis`: picks seconds by the textual length; other lengths give None. */
function fromEpochMillis(value: string | number): string | undefined {
  const len = pyLen(typeof value === "string" ? value : pyStr(value));
  // IntelMQ converts before it looks at the length, so non-numbers raise whatever their length.
  const ts = pyIntOfValue(value);
  if (len !== 10 && len !== 12 && len !== 13) return undefined;
  const secs = len === 10 ? ts : floorDiv(ts, len === 12 ? 100n : 1000n);
  return isoformatUtc(fromTimestamp(Number(secs)));
}

/**
 * IntelMQ `DateTime.convert(value, format)`: the conversions behind a parser's `time_format`.
 * `format`: `timestamp`, `windows_nt`, `epoch_millis`, `from_format|<fmt>`, `from_format_midnight|<fmt>`,
 * `utc_isoformat`, `fuzzy` or null/undefined (fuzzy). Throws where Python raises; returns `undefined`
 * where IntelMQ returns None (epoch_millis with a length other than 10, 12 or 13).
 * `now` supplies the default date of the fuzzy parser.
 */
export function convertDateTime(
  value: string | number,
  format?: string | null,
  now?: Date,
): string | undefined {
  const fmt = format ?? "fuzzy";
  if (fmt.startsWith("from_format|")) {
    const r = strptime(requireString(value, "from_format"), fmt.slice(12));
    const offset = r.utcOffsetMicroseconds;
    return offset === null ? isoformatUtc(wallOf(r)) : toUtcIso(wallOf(r), offset);
  }
  if (fmt.startsWith("from_format_midnight|")) {
    const r = strptime(requireString(value, "from_format_midnight"), fmt.slice(21));
    return isoformatUtc({ ...wallOf(r), hour: 0, minute: 0, second: 0, microsecond: 0 });
  }
  switch (fmt) {
    case "timestamp": {
      const ts = typeof value === "string" ? pyFloatOrThrow(value) : value;
      return isoformatUtc(fromTimestamp(ts));
    }
    case "windows_nt":
      return fromWindowsNt(value);
    case "epoch_millis":
      return fromEpochMillis(value);
    case "utc_isoformat": {
      const s = requireString(value, "utc_isoformat");
      if (!passesIsoFastPath(s)) strptime(s, ISO_FORMAT_FRACTION); // raises Python's error message
      return s;
    }
    case "fuzzy": {
      const s = requireString(value, "fuzzy");
      try {
        return fuzzyToUtcIso(s, now);
      } catch (e) {
        if (e instanceof ParseFailure) throw new Error(`${e.message}: ${s}`);
        throw e;
      }
    }
    case "from_format":
    case "from_format_midnight":
      throw new TypeError(`${fmt} needs a format string: use '${fmt}|<format>'`);
    default:
      throw new Error(`unknown time conversion '${fmt}'`);
  }
}
