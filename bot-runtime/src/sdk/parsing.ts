// Small pieces parser bots share: IntelMQ's lenient add, Python's list indexing and str.split, urljoin,
// and the differences from IntelMQ that many parsers have in common (declared by each bot that has them).
import { convertDateTime } from "../event/compat/datetime.ts";
import { pyIntOrThrow } from "../event/compat/pynumber.ts";
import { pyStrip } from "../event/compat/pystring.ts";
import { urlsplit, urlunsplit } from "../event/compat/urlsplit.ts";
import { Event, FieldError, type Message, Report } from "../event/message.ts";
import type { BotDeviation } from "./bot.ts";

/**
 * `event.add(key, value, raise_failure=False)`: an invalid value is left out and gives false (unknown keys
 * and existing values still throw).
 */
export function addIfValid(
  event: Message,
  key: string,
  value: unknown,
  options: { sanitize?: boolean } = {},
): boolean | undefined {
  try {
    return event.add(key, value, options);
  } catch (error) {
    if (error instanceof FieldError && error.code === "InvalidValue") return false;
    throw error;
  }
}

/**
 * IntelMQ's `MessageFactory.from_dict(value, default_type)`: an Event or Report (by "__type") whose fields
 * are each added as given when that is valid, else sanitized (an invalid value throws).
 */
export function messageFromDict(value: unknown, defaultType: "Event" | "Report"): Message {
  if (!isJsonObject(value))
    throw new TypeError(`a message must be a JSON object, got ${JSON.stringify(value)}`);
  const type = Object.hasOwn(value, "__type") ? value.__type : defaultType;
  if (type !== "Event" && type !== "Report") throw new Error(`invalid message type ${JSON.stringify(type)}`);
  const message = type === "Event" ? new Event() : new Report();
  for (const [key, field] of Object.entries(value)) {
    if (key === "__type") continue;
    if (!addIfValid(message, key, field, { sanitize: false })) message.add(key, field);
  }
  return message;
}

/**
 * A parser's `time_format` conversion (DateTime.convert) that remembers its results for the day: feeds
 * repeat their timestamps, and the conversion (dateutil's parser, often) is the costly part of a field.
 */
export function timeConverter(format: string): (value: string | number) => string | undefined {
  const times = new Map<string | number, string | undefined>();
  let day = "";
  return (value) => {
    const today = new Date().toISOString().slice(0, 10);
    if (today !== day || times.size > 10_000) {
      times.clear();
      day = today;
    }
    if (times.has(value)) return times.get(value);
    const time = convertDateTime(value, format);
    times.set(value, time);
    return time;
  };
}

const INT_LITERAL = /^[+-]?[\p{Nd}_]+$/u;

/** Python's int(text), or undefined where Python raises ValueError. */
export function pyIntOrUndefined(text: string): bigint | undefined {
  if (!INT_LITERAL.test(pyStrip(text))) return undefined;
  try {
    return pyIntOrThrow(text);
  } catch {
    return undefined;
  }
}

/** Python's IndexError. */
export class IndexError extends Error {
  constructor(message = "list index out of range") {
    super(message);
    this.name = "IndexError";
  }
}

/** `list[index]` as Python reads it: negative indices count from the end; out of range throws IndexError. */
export function item<T>(list: readonly T[], index: number): T {
  const i = index < 0 ? list.length + index : index;
  if (i < 0 || i >= list.length) throw new IndexError();
  return list[i] as T;
}

/** A JSON value that is an object (a Python dict), not an array or null. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What Python's `for x in value` visits in a JSON value: list items, dict keys, string characters. */
export function pyIterate(value: unknown, what = "value"): unknown[] {
  if (Array.isArray(value)) return value;
  if (isJsonObject(value)) return Object.keys(value);
  if (typeof value === "string") return [...value];
  throw new TypeError(`${what} is not iterable: ${JSON.stringify(value)}`);
}

/** `dict.get(key)` on a value that must be a dict (AttributeError otherwise, as `line.get(...)` raises). */
export function getField(value: unknown, key: string): unknown {
  if (!isJsonObject(value)) throw new TypeError(`expected a JSON object, got ${JSON.stringify(value)}`);
  return Object.hasOwn(value, key) ? value[key] : undefined;
}

/** `dict[key]`: a missing key throws (Python's KeyError). */
export function requireField(value: unknown, key: string): unknown {
  if (!isJsonObject(value)) throw new TypeError(`expected a JSON object, got ${JSON.stringify(value)}`);
  if (!Object.hasOwn(value, key)) throw new Error(`KeyError: '${key}'`);
  return value[key];
}

const PY_WHITESPACE = /[\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** Python's `str.split(sep)`; without `sep`, runs of whitespace separate and ends are dropped. */
export function pySplit(text: string, sep?: string | null): string[] {
  if (sep === undefined || sep === null) {
    return text.split(PY_WHITESPACE).filter((part) => part !== "");
  }
  if (sep === "") throw new Error("ValueError: empty separator");
  return text.split(sep);
}

// urllib.parse's scheme lists (Python 3.11) that urljoin consults.
const USES_RELATIVE = new Set(
  "|ftp|http|gopher|nntp|imap|wais|file|https|shttp|mms|prospero|rtsp|rtspu|sftp|svn|svn+ssh|ws|wss".split(
    "|",
  ),
);
const USES_NETLOC = new Set(
  "|ftp|http|gopher|nntp|telnet|imap|wais|file|mms|https|shttp|snews|prospero|rtsp|rtspu|rsync|svn|svn+ssh|sftp|nfs|git|git+ssh|ws|wss|itms-services".split(
    "|",
  ),
);

/**
 * Python's `urllib.parse.urljoin(base, ref)` for a reference without scheme or host (a relative path,
 * possibly with query or fragment), as parsers build links from a feed URL.
 */
export function urljoinPath(base: string, ref: string): string {
  if (base === "") return ref;
  if (ref === "") return base;
  const b = urlsplit(base);
  const r = urlsplit(ref);
  if (r.scheme !== "" || r.netloc !== "") throw new Error(`urljoinPath: ${ref} is not a relative reference`);
  if (!USES_RELATIVE.has(b.scheme)) return ref;
  const netloc = USES_NETLOC.has(b.scheme) ? b.netloc : "";
  if (r.path === "") {
    return urlunsplit({
      scheme: b.scheme,
      netloc,
      path: b.path,
      query: r.query !== "" ? r.query : b.query,
      fragment: r.fragment,
    });
  }
  const baseParts = b.path.split("/");
  if (baseParts[baseParts.length - 1] !== "") baseParts.pop();
  let segments: string[];
  if (r.path.startsWith("/")) segments = r.path.split("/");
  else {
    segments = [...baseParts, ...r.path.split("/")];
    segments = [
      segments[0] as string,
      ...segments.slice(1, -1).filter((s) => s !== ""),
      ...(segments.length > 1 ? [segments[segments.length - 1] as string] : []),
    ];
  }
  const resolved: string[] = [];
  for (const segment of segments) {
    if (segment === "..") resolved.pop();
    else if (segment !== ".") resolved.push(segment);
  }
  const last = segments[segments.length - 1];
  if (last === "." || last === "..") resolved.push("");
  return urlunsplit({
    scheme: b.scheme,
    netloc,
    path: resolved.join("/") || "/",
    query: r.query,
    fragment: r.fragment,
  });
}

// ---- differences from IntelMQ that several parsers share ----

/** IntelMQ's parser overrides process(): one bad record fails the whole report there. */
export const BAD_RECORD_DEAD_LETTERED: BotDeviation = {
  id: "bad-record-dead-lettered",
  summary:
    "A record that cannot be parsed is dead-lettered and the rest of the report still gives its events; IntelMQ's bot raises on it, which fails the whole report (the events before it were already sent).",
  reason:
    "Petrel's contract for every parser: bad lines go to the dead-letter stream with their raw text, nothing vanishes and one bad line does not hold up a report.",
};

/** IntelMQ's parser overrides process() and never applies default_fields. */
export const DEFAULT_FIELDS_APPLIED: BotDeviation = {
  id: "default-fields-applied",
  summary:
    "The default_fields parameter is applied to every event; IntelMQ's bot accepts the parameter but never adds its fields.",
  reason:
    "default_fields is a parameter of every parser; IntelMQ ignores it here by accident (the bot replaces process()).",
};

/** ParserBot.recover_line_json writes "[null]" for a failed element of a JSON list. */
export const DEAD_LETTER_KEEPS_ELEMENT: BotDeviation = {
  id: "dead-letter-keeps-element",
  summary:
    'A JSON element that fails is dead-lettered as itself (a one-element JSON list); IntelMQ dead-letters "[null]".',
  reason: "IntelMQ 3.5 has no current line for JSON lists, so its dead letter loses the data.",
};

/** ParserBot.recover_line joins the comment lines IntelMQ had collected by the end of the report. */
export const DEAD_LETTER_CONTEXT_SO_FAR: BotDeviation = {
  id: "dead-letter-context-so-far",
  summary:
    "A dead-lettered line carries the comment lines that came before it; IntelMQ writes every comment line of the report, also those after the line.",
  reason: "Petrel dead-letters a line when it fails, while the report is still being read (it streams).",
};
