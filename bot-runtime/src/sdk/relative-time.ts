// IntelMQ's `parse_relative`: a span written "N unit(s)" ("4 hours", "1 day", "30 minutes"), as several
// bots take it in their parameters (aggregate's timespan, filter's not_before/not_after, RT's
// search_not_older_than) and sieve in its rules. Units: second, minute, hour, day, week, month (30 days),
// year (365 days); Python's \d, \s and \w, so other scripts' digits count.
import { toAsciiNumeral } from "../event/compat/pynumber.ts";
import { pyStrip } from "../event/compat/pystring.ts";
import { compilePythonRegex, pySearch } from "./pyregex.ts";

/** Seconds per unit; IntelMQ counts in minutes, which gives the same spans to the microsecond. */
export const RELATIVE_TIME_UNITS: Readonly<Record<string, number>> = {
  second: 1,
  minute: 60,
  hour: 3600,
  day: 86_400,
  week: 7 * 86_400,
  month: 30 * 86_400,
  year: 365 * 86_400,
};

const RELATIVE_TIME = compilePythonRegex("^(\\d+)\\s+(\\w+[^s])s?$");

/** The span in seconds, or undefined where IntelMQ's parse_relative raises ValueError. */
export function parseRelativeSeconds(text: string): number | undefined {
  const m = pySearch(RELATIVE_TIME, pyStrip(text));
  if (m === null) return undefined;
  const unit = m[2] as string;
  if (!Object.hasOwn(RELATIVE_TIME_UNITS, unit)) return undefined;
  return Number(toAsciiNumeral(m[1] as string)) * (RELATIVE_TIME_UNITS[unit] as number);
}

/** IntelMQ's check for a relative time among other forms: any unit name occurs in the text. */
export function mentionsRelativeUnit(text: string): boolean {
  for (const unit in RELATIVE_TIME_UNITS) if (text.includes(unit)) return true;
  return false;
}
