// Keeps or drops events by one field's value (equality or a Python regex search) and by the age of
// time.source, as IntelMQ's filter expert, including its named paths: besides _default an event goes
// to filter_match or filter_no_match, and the events the action removes from _default go to
// action_other.
import { z } from "zod";
import { intelmqDateTimeParse } from "../../bot-runtime/src/event/compat/datetime.ts";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert, type ExpertResult } from "../../bot-runtime/src/sdk/bot.ts";
import { isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import { fieldPresence, pyEquals } from "../../bot-runtime/src/sdk/pyformat.ts";
import { compilePythonRegex, type PythonRegex, pySearch } from "../../bot-runtime/src/sdk/pyregex.ts";
import { mentionsRelativeUnit, parseRelativeSeconds } from "../../bot-runtime/src/sdk/relative-time.ts";

const parameters = z.object({
  filter_key: z.string().nullable().default(null).describe("The field whose value is tested."),
  filter_value: z
    .union([z.string(), z.number(), z.boolean()])
    .nullable()
    .default(null)
    .describe(
      "The value the field must equal (Python ==: the number 80 does not equal the text '80'), or with filter_regex a Python regular expression searched in the field's text.",
    ),
  filter_action: z
    .enum(["drop", "keep"])
    .nullable()
    .default(null)
    .describe("drop: matching events leave _default; keep: only matching events stay on _default."),
  filter_regex: z
    .boolean()
    .nullable()
    .default(null)
    .describe("Treat filter_value as a Python regular expression, searched anywhere in the field's value."),
  not_before: z
    .string()
    .nullable()
    .default(null)
    .describe(
      "Drop events whose time.source is before this time: absolute ('2024-01-01T00:00:00+00:00') or relative to now ('2 days'; units second, minute, hour, day, week, month = 30 days, year = 365 days).",
    ),
  not_after: z
    .string()
    .nullable()
    .default(null)
    .describe(
      "Drop events whose time.source is after this time: absolute, or relative ('1 hour' drops events newer than an hour).",
    ),
});

type Params = z.output<typeof parameters>;

/** A moment to the microsecond: milliseconds since the epoch and the microseconds within. */
type Instant = readonly [ms: number, us: number];

const CANONICAL = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\+00:00$/;

function instantOf(iso: string): Instant | undefined {
  const m = CANONICAL.exec(iso);
  if (m === null) return undefined;
  const year = Number(m[1]);
  let ms = Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (year < 100) {
    // Date.UTC reads years 0-99 as 1900-1999.
    const date = new Date(ms);
    date.setUTCFullYear(year);
    ms = date.getTime();
  }
  const fraction = m[7] === undefined ? 0 : Number(m[7].padEnd(6, "0"));
  return [ms + Math.floor(fraction / 1000), fraction % 1000];
}

function compare(a: Instant, b: Instant): number {
  return a[0] - b[0] || a[1] - b[1];
}

/** now minus `us` microseconds. */
function ago(us: number): Instant {
  const total = Date.now() * 1000 - us;
  const ms = Math.floor(total / 1000);
  return [ms, total - ms * 1000];
}

type TimeLimit = { kind: "absolute"; at: Instant } | { kind: "relative"; us: number } | undefined;

/** IntelMQ's parse_timeattr: relative when any unit name occurs in the text, else an absolute time. */
function parseTimeLimit(name: string, text: string | null): TimeLimit {
  if (!text) return undefined;
  if (mentionsRelativeUnit(text)) {
    const seconds = parseRelativeSeconds(text);
    if (seconds === undefined) {
      throw new Error(`${name}: cannot read ${JSON.stringify(text)} as a relative time such as '3 days'`);
    }
    return { kind: "relative", us: seconds * 1_000_000 };
  }
  const iso = intelmqDateTimeParse(text);
  const at = iso === undefined ? undefined : instantOf(iso);
  if (at === undefined) throw new Error(`${name}: cannot read ${JSON.stringify(text)} as a date and time`);
  return { kind: "absolute", at };
}

function compileMatcher(params: Params): ((event: Event) => boolean) | undefined {
  const { filter_key: key, filter_value: value, filter_action: action } = params;
  let regex: PythonRegex | undefined;
  if (params.filter_regex) {
    if (typeof value !== "string")
      throw new Error("filter_value: with filter_regex it must be a regular expression");
    try {
      regex = compilePythonRegex(value);
    } catch (error) {
      throw new Error(
        `filter_value: ${JSON.stringify(value)} is not a usable regular expression: ${(error as Error).message}`,
      );
    }
  }
  if (key === null || value === null || action === null) return undefined;
  const asFloat = isFloatField(key);
  const present = fieldPresence(key);
  if (regex !== undefined) {
    const compiled = regex;
    return (event) => present(event) && pySearch(compiled, pyStr(event.get(key), asFloat)) !== null;
  }
  return (event) => present(event) && pyEquals(event.get(key), value);
}

export default defineExpert({
  id: "experts.filter",
  intelmqModules: ["intelmq.bots.experts.filter.expert"],
  kind: "expert",
  description:
    "Keeps or drops events by a field's value or by the age of time.source; sends them also to filter_match/filter_no_match (and action_other).",
  parameters,
  paths: ["filter_match", "filter_no_match", "action_other"],
  deviations: [
    {
      id: "naive-absolute-time-is-utc",
      summary:
        "An absolute not_before/not_after without a time zone is taken as UTC; IntelMQ fails on every event with a time.source (it cannot compare a naive with an aware datetime). Absolute times are read with IntelMQ's lenient (fuzzy) date parser.",
      reason:
        "The configuration has one obvious meaning (event times are UTC); failing every event helps nobody.",
    },
    {
      id: "filter-action-checked",
      summary:
        "filter_action must be drop or keep; IntelMQ silently disables the key/value filter for any other value (and passes every event) when a time filter is set.",
      reason: "A typo in the action should stop the bot at start, not let every event through unnoticed.",
    },
  ],
  create(params) {
    const notBefore = parseTimeLimit("not_before", params.not_before);
    const notAfter = parseTimeLimit("not_after", params.not_after);
    const matches = compileMatcher(params);
    // IntelMQ turns the time filter on for any value that is set, even an empty string.
    const timeFilter = params.not_before !== null || params.not_after !== null;
    if (matches === undefined && !timeFilter) {
      throw new Error(
        "no filter configured: set filter_key, filter_value and filter_action, or not_before/not_after",
      );
    }
    const keep = params.filter_action === "keep";

    function tooEarlyOrLate(time: Instant): boolean {
      if (notAfter?.kind === "absolute" && compare(time, notAfter.at) > 0) return true;
      if (notBefore?.kind === "absolute" && compare(time, notBefore.at) < 0) return true;
      if (notAfter?.kind === "relative" && compare(time, ago(notAfter.us)) > 0) return true;
      if (notBefore?.kind === "relative" && compare(time, ago(notBefore.us)) < 0) return true;
      return false;
    }

    return {
      process(event): ExpertResult {
        if (timeFilter && event.has("time.source")) {
          const time = instantOf(event.get("time.source") as string);
          if (time !== undefined && tooEarlyOrLate(time)) return undefined;
        }
        if (matches === undefined) return event;
        const matched = matches(event);
        // The same event on two paths: the second gets its own copy.
        if (keep) {
          return matched
            ? [
                { path: "filter_match", message: event },
                { path: "_default", message: event.copy() },
              ]
            : [
                { path: "action_other", message: event },
                { path: "filter_no_match", message: event.copy() },
              ];
        }
        return matched
          ? [
              { path: "action_other", message: event },
              { path: "filter_match", message: event.copy() },
            ]
          : [
              { path: "filter_no_match", message: event },
              { path: "_default", message: event.copy() },
            ];
      },
    };
  },
});
