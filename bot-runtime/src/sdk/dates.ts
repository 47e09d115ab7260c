// Feed timestamps read the way several IntelMQ parsers read them: python-dateutil's `parser.parse(text)`
// *without* fuzzy=True (PhishTank, OpenPhish commercial, Spamhaus DROP, Team Cymru bogons). The event
// model only has the fuzzy parser (bot-runtime/src/event/compat/datetime.ts), which skips words it cannot
// use where the strict parser refuses the whole text. So the strict parse here is: the text must consist of
// tokens the strict parser accepts (numbers, month and weekday names, am/pm after an hour, a zone name or
// numeric offset after a time, dateutil's filler words and separators), and then its value is the fuzzy
// parser's, which is the same for such text.
//
// The token check follows dateutil's own lexer and the order of its checks, but does not replay every
// rule for numbers: text whose numbers cannot all be placed as date or time parts (e.g. "2024May", a
// fourth date number) is refused by the strict parser yet accepted here. Feeds write machine timestamps,
// where this does not arise; the test against dateutil (dates.test.ts) shows where the two agree. Parsers
// that use it declare the difference as STRICT_DATE_NUMBERS.
import { convertDateTime, isValidDateTime } from "../event/compat/datetime.ts";
import type { BotDeviation } from "./bot.ts";

/** Declared by the parsers that read dates with parseDateStrict. */
export const STRICT_DATE_NUMBERS: BotDeviation = {
  id: "strict-date-numbers",
  summary:
    "A date whose numbers cannot all be placed as date or time parts (e.g. \"2024May\") is read the way dateutil's lenient parser reads it; IntelMQ's strict dateutil call refuses it.",
  reason:
    "Petrel's strict date reading checks the words and separators of the text, then uses the event model's dateutil parser, which has only the lenient mode; machine-written feed timestamps are read the same.",
};

/** dateutil's ParserError (a ValueError): the text is not a date the strict parser reads. */
export class DateParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DateParseError";
  }
}

const WORD = /^\p{L}$/u;
const DIGIT = /^\p{Nd}$/u;
const SPACE = /^\s$/u;

/** dateutil's lexer (`_timelex.split`): runs of letters, runs of digits (with . and ,), single others. */
export function dateutilTokens(text: string): string[] {
  const chars = [...text].filter((c) => c !== "\0");
  const tokens: string[] = [];
  let i = 0;
  while (i < chars.length) {
    const first = chars[i] as string;
    i++;
    let state: "a" | "0" | "a." | "0.";
    if (WORD.test(first)) state = "a";
    else if (DIGIT.test(first)) state = "0";
    else {
      tokens.push(SPACE.test(first) ? " " : first);
      continue;
    }
    let token = first;
    let seenLetters = false;
    for (; i < chars.length; i++) {
      const c = chars[i] as string;
      if (state === "a") {
        seenLetters = true;
        if (WORD.test(c)) token += c;
        else if (c === ".") {
          token += c;
          state = "a.";
        } else break;
      } else if (state === "0") {
        if (DIGIT.test(c)) token += c;
        else if (c === "." || (c === "," && [...token].length >= 2)) {
          token += c;
          state = "0.";
        } else break;
      } else if (state === "a.") {
        seenLetters = true;
        if (c === "." || WORD.test(c)) token += c;
        else if (DIGIT.test(c) && token.endsWith(".")) {
          token += c;
          state = "0.";
        } else break;
      } else if (c === "." || DIGIT.test(c)) token += c;
      else if (WORD.test(c) && token.endsWith(".")) {
        token += c;
        state = "a.";
      } else break;
    }
    const rest: string[] = [];
    if (
      (state === "a." || state === "0.") &&
      (seenLetters || token.split(".").length > 2 || token.endsWith(".") || token.endsWith(","))
    ) {
      const parts = token.split(/([.,])/);
      token = parts[0] as string;
      for (const part of parts.slice(1)) if (part !== "") rest.push(part);
    }
    if (state === "0." && !token.includes(".")) token = token.replaceAll(",", ".");
    tokens.push(token, ...rest);
  }
  return tokens;
}

const JUMP = new Set([
  " ",
  ".",
  ",",
  ";",
  "-",
  "/",
  "'",
  "at",
  "on",
  "and",
  "ad",
  "m",
  "t",
  "of",
  "st",
  "nd",
  "rd",
  "th",
]);
const WEEKDAYS = new Set([
  ..."mon tue wed thu fri sat sun".split(" "),
  ..."monday tuesday wednesday thursday friday saturday sunday".split(" "),
]);
const MONTHS = new Set([
  ..."jan feb mar apr may jun jul aug sep sept oct nov dec".split(" "),
  ..."january february march april june july august september october november december".split(" "),
]);
const HMS = new Set(["h", "hour", "hours", "m", "minute", "minutes", "s", "second", "seconds"]);
const AMPM = new Set(["am", "a", "pm", "p"]);
const UTC_ZONES = new Set(["UTC", "GMT", "Z", "z"]);
const NUMBER = /^(?:\p{Nd}+(?:\.\p{Nd}*)?|\.\p{Nd}+)$/u;

function isNumber(token: string): boolean {
  return NUMBER.test(token);
}

function couldBeZoneName(token: string): boolean {
  return [...token].length <= 5 && (/^[A-Z]+$/.test(token) || UTC_ZONES.has(token));
}

/** Whether every token of the text is one the strict parser accepts (see the file comment). */
function strictTokensOk(tokens: readonly string[]): boolean {
  let hour: number | undefined;
  let zone = false;
  const n = tokens.length;
  const next = (i: number) => tokens[i + 1] ?? "";
  for (let i = 0; i < n; i++) {
    const token = tokens[i] as string;
    const lower = token.toLowerCase();
    if (isNumber(token)) {
      if (next(i) === ":" && i + 2 < n) {
        // HH:MM[:SS[.ss]]
        hour = Math.trunc(Number(token));
        i += next(i + 2) === ":" && i + 4 < n ? 4 : 2;
      } else if (next(i) === "-" || next(i) === "/" || next(i) === ".") {
        // 01-01[-01], 01-Jan[-01]: the parts after the separators belong to the date
        const separator = next(i);
        const part = tokens[i + 2];
        if (part !== undefined && !JUMP.has(part.toLowerCase())) {
          if (!/^\p{Nd}+$/u.test(part) && !MONTHS.has(part.toLowerCase())) return false;
          if (tokens[i + 3] === separator) i += 2;
          i += 1;
        }
        i += 1;
      } else if (HMS.has(next(i).toLowerCase())) {
        if (["h", "hour", "hours"].includes(next(i).toLowerCase())) hour = Math.trunc(Number(token));
        i += 1;
      } else if (next(i) === " " && AMPM.has((tokens[i + 2] ?? "").toLowerCase())) {
        hour = 0;
        i += 2;
      } else if (AMPM.has(next(i).toLowerCase())) {
        hour = 0;
        i += 1;
      } else if (
        token.length === 12 ||
        token.length === 14 ||
        (token.length > 6 && token.indexOf(".") === 6)
      ) {
        hour = 0;
      }
      continue;
    }
    if (WEEKDAYS.has(lower) || MONTHS.has(lower)) continue;
    if (AMPM.has(lower)) {
      // dateutil refuses am/pm without an hour, or after an hour beyond 12
      if (hour === undefined || hour > 12) return false;
      continue;
    }
    if (hour !== undefined && !zone && couldBeZoneName(token)) {
      zone = true;
      continue;
    }
    if (hour !== undefined && (token === "+" || token === "-")) {
      zone = true;
      i += next(i + 1) === ":" ? 3 : 1;
      // "-0300 (BRST)"
      if (JUMP.has(next(i)) && tokens[i + 2] === "(" && tokens[i + 4] === ")") i += 4;
      continue;
    }
    if (JUMP.has(lower)) continue;
    return false;
  }
  return true;
}

/**
 * `dateutil.parser.parse(value)` (not fuzzy) as IntelMQ's event model then stores it: the instant as a
 * UTC isoformat string. Throws DateParseError where dateutil raises its ParserError, TypeError for a
 * value that is not text. `now` supplies missing date parts (today, as dateutil does).
 */
export function parseDateStrict(value: unknown, now?: Date): string {
  if (typeof value !== "string") {
    throw new TypeError(`Parser must be a string or character stream, not ${typeof value}`);
  }
  // Timestamps already in IntelMQ's form (or with "Z" for UTC) are that instant; dateutil agrees.
  if (isValidDateTime(value)) return value;
  if (value.endsWith("Z") && isValidDateTime(`${value.slice(0, -1)}+00:00`))
    return `${value.slice(0, -1)}+00:00`;
  if (!strictTokensOk(dateutilTokens(value))) throw new DateParseError(`Unknown string format: ${value}`);
  let iso: string | undefined;
  try {
    iso = convertDateTime(value, "fuzzy", now);
  } catch (error) {
    if (error instanceof TypeError) throw error;
    throw new DateParseError((error as Error).message);
  }
  if (iso === undefined) throw new DateParseError(`Unknown string format: ${value}`);
  return iso;
}
