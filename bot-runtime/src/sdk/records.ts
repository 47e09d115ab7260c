// Splitting reports into parser records. The report's base64 `raw` is decoded chunk by chunk, so a
// large report is never held in memory a second time as one decoded string.
import { pyJsonDumps } from "../event/compat/pyjson.ts";
import type { Report } from "../event/message.ts";
import type { ParserRecord } from "./bot.ts";

const CHUNK_CHARS = 1 << 20; // base64 characters per decoded chunk (a multiple of 4)

/** The report's raw data as decoded text chunks (UTF-8; invalid bytes replaced, NUL kept). */
export function* reportText(report: Report): Generator<string> {
  const raw = report.get("raw");
  if (typeof raw !== "string") return;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  for (let i = 0; i < raw.length; i += CHUNK_CHARS) {
    const bytes = Buffer.from(raw.slice(i, i + CHUNK_CHARS), "base64");
    const text = decoder.decode(bytes, { stream: true });
    if (text) yield text;
  }
  const tail = decoder.decode();
  if (tail) yield tail;
}

// Python's str.splitlines() boundaries: \n, \r, \r\n, \v, \f, \x1c-\x1e, \x85, \u2028, \u2029.
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

/** Lines of the report as Python's splitlines() gives them (a final line break adds no empty line). */
export function* reportLines(report: Report): Generator<string> {
  let carry = "";
  for (const chunk of reportText(report)) {
    const parts = (carry + chunk).split(LINE_BREAK);
    // A chunk may end between \r and \n: keep the last part (and a trailing \r) for the next round.
    carry = parts.pop() ?? "";
    if (chunk.endsWith("\r") && carry === "") {
      const last = parts.pop();
      carry = `${last ?? ""}\r`;
    }
    yield* parts;
  }
  if (carry.endsWith("\r")) {
    yield carry.slice(0, -1);
  } else if (carry !== "") {
    yield carry;
  }
}

export interface LineOptions {
  /** Skip lines starting with any of these (after stripping), e.g. ["#", ";"]. */
  ignorePrefixes?: readonly string[];
}

/** IntelMQ's default parse: stripped lines, empty ones and ignored prefixes skipped; raw is the line. */
export function* lines(report: Report, options: LineOptions = {}): Generator<ParserRecord<string>> {
  const prefixes = options.ignorePrefixes ?? [];
  for (const line of reportLines(report)) {
    const text = line.trim();
    if (text === "" || prefixes.some((p) => text.startsWith(p))) continue;
    yield { value: text, raw: text };
  }
}

/** IntelMQ's parse_json: the report is one JSON array; each element is a record, raw is `[element]`. */
export function* jsonArray(report: Report): Generator<ParserRecord<unknown>> {
  const text = [...reportText(report)].join("");
  const data: unknown = JSON.parse(text);
  if (!Array.isArray(data)) throw new Error("the report is not a JSON array");
  for (const value of data) yield { value, raw: pyJsonDumps([value]) };
}

/** IntelMQ's parse_json_stream: one JSON value per line; raw is the line. */
export function* jsonLines(report: Report): Generator<ParserRecord<unknown>> {
  for (const line of reportLines(report)) {
    if (line.trim() === "") continue;
    try {
      yield { value: JSON.parse(line) as unknown, raw: line };
    } catch (error) {
      yield { value: undefined, raw: line, error: error as Error };
    }
  }
}
