// Times in sieve rules, as IntelMQ 3.5's sieve expert reads them:
// - `:before`/`:after` values go through pendulum.parse() (pendulum 3, strict: "now", ISO 8601 and a
//   few "YYYY/MM/DD hh:mm" forms), and, where that fails, IntelMQ's parse_relative ("3 days");
// - event values are read with IntelMQ's DateTime.from_isoformat (the canonical "+00:00" form);
// - `+=`/`-=` in add/update shift a time by a parse_relative amount.
// Instants are seconds since the epoch plus microseconds, so microsecond precision holds for any year.
import { strptime } from "../../../bot-runtime/src/event/compat/datetime.ts";
import { parseRelativeSeconds } from "../../../bot-runtime/src/sdk/relative-time.ts";

export interface Instant {
  /** Whole seconds since 1970-01-01T00:00:00Z. */
  readonly seconds: number;
  /** 0..999999 */
  readonly micro: number;
}

export function compareInstants(a: Instant, b: Instant): number {
  return a.seconds - b.seconds || a.micro - b.micro;
}

const SECONDS_PER_DAY = 86400;
// datetime's range: 0001-01-01 .. 9999-12-31T23:59:59.999999.
const MIN_SECONDS = -62135596800;
const MAX_SECONDS = 253402300799;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** An instant from wall-clock fields and a UTC offset in seconds; undefined where datetime() raises. */
function instantOf(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  micro: number,
  offsetSeconds: number,
): Instant | undefined {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  const seconds = daysFromCivil(year, month, day) * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
  return { seconds: seconds - offsetSeconds, micro };
}

/** `instant` moved by a signed number of microseconds; undefined outside datetime's range. */
export function shiftInstant(instant: Instant, microseconds: number): Instant | undefined {
  const totalMicro = instant.micro + (microseconds % 1_000_000);
  const carry = Math.floor(totalMicro / 1_000_000);
  const seconds = instant.seconds + Math.trunc(microseconds / 1_000_000) + carry;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return undefined;
  return { seconds, micro: totalMicro - carry * 1_000_000 };
}

export function nowInstant(): Instant {
  const ms = Date.now();
  const seconds = Math.floor(ms / 1000);
  return { seconds, micro: (ms - seconds * 1000) * 1000 };
}

/** Python's datetime.isoformat() of an instant in UTC: "YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00". */
export function isoformatUtc(instant: Instant): string {
  const days = Math.floor(instant.seconds / SECONDS_PER_DAY);
  let rest = instant.seconds - days * SECONDS_PER_DAY;
  // civil_from_days
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3600);
  rest -= hour * 3600;
  const minute = Math.floor(rest / 60);
  const second = rest - minute * 60;
  const p2 = (n: number) => String(n).padStart(2, "0");
  const fraction = instant.micro === 0 ? "" : `.${String(instant.micro).padStart(6, "0")}`;
  return `${String(year).padStart(4, "0")}-${p2(month)}-${p2(day)}T${p2(hour)}:${p2(minute)}:${p2(second)}${fraction}+00:00`;
}

// ---- event values: DateTime.from_isoformat ----

const CANONICAL_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{6}))?\+00:00$/;

/**
 * IntelMQ's DateTime.from_isoformat(value, True): strptime with "%Y-%m-%dT%H:%M:%S+00:00", else with
 * ".%f" before the offset. undefined where both raise ValueError.
 */
export function fromIsoformat(value: string): Instant | undefined {
  // Rules often test the same field more than once per event: the last reading is kept.
  if (value === lastIsoText) return lastIsoInstant;
  const instant = readIsoformat(value);
  lastIsoText = value;
  lastIsoInstant = instant;
  return instant;
}

let lastIsoText: string | undefined;
let lastIsoInstant: Instant | undefined;

function readIsoformat(value: string): Instant | undefined {
  const m = CANONICAL_UTC.exec(value);
  if (m !== null) {
    const micro = m[7] === undefined ? 0 : Number(m[7]);
    const instant = instantOf(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!, micro, 0);
    if (instant !== undefined) return instant;
  }
  // The general strptime accepts one-digit fields, Unicode digits and the like.
  for (const format of ["%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%dT%H:%M:%S.%f+00:00"]) {
    try {
      const t = strptime(value, format);
      const instant = instantOf(t.year, t.month, t.day, t.hour, t.minute, t.second, t.microsecond, 0);
      if (instant !== undefined) return instant;
    } catch {
      // Try the next format, as IntelMQ does.
    }
  }
  return undefined;
}

// ---- relative times: intelmq.lib.utils.parse_relative ----

/**
 * IntelMQ's parse_relative ("4 hours", "1 day", "30 minutes") as microseconds; undefined where it
 * raises ValueError.
 */
export function parseRelative(text: string): number | undefined {
  const seconds = parseRelativeSeconds(text);
  return seconds === undefined ? undefined : seconds * 1_000_000;
}

// ---- rule values: pendulum.parse, then parse_relative ----

/** A `:before`/`:after` value: a fixed instant, or an amount of time before the moment of the test. */
export type DateSpec = { readonly instant: Instant } | { readonly before: number };

// The ISO 8601 forms pendulum 3 reads that Petrel accepts too: extended (2024-05-01T10:20:30.5+02:00,
// also with a space, without day, seconds or minutes) and basic (20240501T102030Z) date-times.
const ISO_EXTENDED =
  /^(\d{4})-(\d{2})(?:-(\d{2}))?(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?(Z|[-+]\d{2}(?::?\d{2})?)?)?$/;
const ISO_BASIC =
  /^(\d{4})(\d{2})(\d{2})(?:[T ](\d{2})(?:(\d{2})(?:(\d{2})(?:[.,](\d+))?)?)?(Z|[-+]\d{2}(?::?\d{2})?)?)?$/;
const YEAR_ONLY = /^\d{4}$/;
// pendulum's "common" fallback: YYYY[/|:]MM[/|:]DD and " hh:mm[:ss][.f]".
const COMMON =
  /^(?:(?<year>\d{4})(?:[/:]?(?<month>\d{2})(?:[/:]?(?<day>\d{2})))?)?(?<time> ?(?<hour>\d{1,2}):(?<minute>\d{1,2})?(?::(?<second>\d{1,2}))?(?:[.|,](?<subsecond>\d{1,9}))?)?$/;
// ISO 8601 durations with whole numbers (weeks only on their own).
const DURATION =
  /^P(?:(?<weeks>\d+)W|(?:(?<years>\d+)Y)?(?:(?<months>\d+)M)?(?:(?<days>\d+)D)?(?:T(?:(?<hours>\d+)H)?(?:(?<minutes>\d+)M)?(?:(?<seconds>\d+)S)?)?)$/;

function microseconds(subsecond: string | undefined): number {
  return subsecond === undefined ? 0 : Number(subsecond.slice(0, 6).padEnd(6, "0"));
}

/** pendulum's ISO 8601 reading of a date or date-time, for the forms listed above. */
function parseIso8601(text: string): Instant | undefined {
  if (YEAR_ONLY.test(text)) return instantOf(Number(text), 1, 1, 0, 0, 0, 0, 0);
  const m = ISO_EXTENDED.exec(text) ?? ISO_BASIC.exec(text);
  if (m === null) return undefined;
  const [, year, month, day, hour, minute, second, subsecond, tz] = m;
  let offset = 0;
  if (tz !== undefined && tz !== "Z") {
    const digits = tz.slice(1).replace(":", "");
    offset =
      (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0")) * 60 * (tz[0] === "-" ? -1 : 1);
    // datetime allows offsets strictly within a day.
    if (Math.abs(offset) >= SECONDS_PER_DAY) return undefined;
  }
  const n = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
  return instantOf(
    Number(year),
    Number(month),
    n(day, 1),
    n(hour, 0),
    n(minute, 0),
    n(second, 0),
    microseconds(subsecond),
    offset,
  );
}

function parseCommon(text: string): Instant | undefined {
  const g = COMMON.exec(text)?.groups;
  if (g === undefined || g.year === undefined) return undefined;
  const year = Number(g.year);
  const month = g.month === undefined ? 1 : Number(g.month);
  const day = g.day === undefined ? 1 : Number(g.day);
  if (g.time === undefined) return instantOf(year, month, day, 0, 0, 0, 0, 0);
  if (g.minute === undefined) return undefined;
  return instantOf(
    year,
    month,
    day,
    Number(g.hour),
    Number(g.minute),
    g.second === undefined ? 0 : Number(g.second),
    microseconds(g.subsecond),
    0,
  );
}

function parseDuration(text: string): number | undefined {
  const g = DURATION.exec(text)?.groups;
  if (g === undefined || text === "P") return undefined;
  const n = (v: string | undefined) => (v === undefined ? 0 : Number(v));
  const days = n(g.days) + n(g.years) * 365 + n(g.months) * 30 + n(g.weeks) * 7;
  const seconds = days * SECONDS_PER_DAY + n(g.hours) * 3600 + n(g.minutes) * 60 + n(g.seconds);
  return seconds * 1_000_000;
}

/**
 * A `:before`/`:after` value as IntelMQ reads it: "now", an ISO 8601 date or date-time (UTC unless
 * it carries an offset), "YYYY/MM/DD[ hh:mm[:ss]]", an ISO 8601 duration ("P1DT2H") or a relative
 * time ("2 days") counted back from the moment of the test. undefined for anything else, including
 * the rarer forms pendulum also reads (week and ordinal dates, times without a date, intervals,
 * fractional durations).
 */
export function parseDateSpec(text: string): DateSpec | undefined {
  if (text === "now") return { before: 0 };
  const duration = parseDuration(text);
  if (duration !== undefined) return { before: duration };
  const iso = parseIso8601(text);
  if (iso !== undefined) return { instant: iso };
  // pendulum reads "a/b" as an interval (or fails on it); Petrel does not take intervals.
  const parts = text.split("/");
  if (parts.length === 2 && parts[0] !== "" && parts[1] !== "") return undefined;
  const common = parseCommon(text);
  if (common !== undefined) return { instant: common };
  const relative = parseRelative(text);
  return relative === undefined ? undefined : { before: relative };
}
