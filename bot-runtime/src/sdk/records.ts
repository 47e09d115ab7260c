// Splitting reports into parser records. The report's base64 `raw` is decoded chunk by chunk, so a
// large report is never held in memory a second time as one decoded string.
import { Parser as CsvParser } from "csv-parse";
import { pyJsonDumps, pyJsonLoads } from "../event/compat/pyjson.ts";
import { pyIsSpace, pyStrip } from "../event/compat/pystring.ts";
import type { Report } from "../event/message.ts";
import type { ParserRecord } from "./bot.ts";

const CHUNK_CHARS = 1 << 20; // base64 characters per decoded chunk (a multiple of 4)

/** The report's raw data as decoded text chunks (UTF-8; invalid bytes replaced, NUL and BOM kept). */
export function* reportText(report: Report): Generator<string> {
  const raw = report.get("raw");
  if (typeof raw !== "string") return;
  // ignoreBOM keeps a leading U+FEFF in the text, as Python decodes it.
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
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

/** IntelMQ's default parse: lines stripped (Python's strip), empty and ignored ones skipped; raw is the line. */
export function* lines(report: Report, options: LineOptions = {}): Generator<ParserRecord<string>> {
  const prefixes = options.ignorePrefixes ?? [];
  for (const line of reportLines(report)) {
    const text = pyStrip(line);
    if (text === "" || prefixes.some((p) => text.startsWith(p))) continue;
    yield { value: text, raw: text };
  }
}

/** The report's whole text as Python's json.loads reads it (NaN and Infinity included). */
export function reportJson(report: Report): unknown {
  const text = [...reportText(report)].join("");
  const data = pyJsonLoads(text);
  if (data === undefined) throw new SyntaxError("the report is not valid JSON");
  return data;
}

/** A line of a report whose comment lines are kept (see linesWithComments). */
export interface CommentedLine extends ParserRecord<string> {
  /** The line is a comment: context for the lines after it, not data. */
  readonly comment: boolean;
}

/**
 * Lines as `lines()` gives them, for formats whose comment lines (a header) belong to every record, as
 * IntelMQ keeps them (ParserBot's tempdata and recover_line): each line's raw is the comment lines seen so
 * far and the line, joined by "\n". Comment lines are yielded too (`comment: true`, their raw lists them
 * among the comments and once more as the line, as IntelMQ recovers a failed one), so a parser can read
 * what they say; a parser that does not returns nothing for them.
 */
export function* linesWithComments(
  report: Report,
  isComment: (line: string) => boolean,
): Generator<CommentedLine> {
  let prefix = "";
  for (const { value } of lines(report)) {
    const comment = isComment(value);
    if (comment) prefix += `${value}\n`;
    yield { value, raw: prefix + value, comment };
  }
}

/** IntelMQ's parse_json: the report is one JSON array; each element is a record, raw is `[element]`. */
export function* jsonArray(report: Report): Generator<ParserRecord<unknown>> {
  const data = reportJson(report);
  if (!Array.isArray(data)) throw new Error("the report is not a JSON array");
  for (const value of data) yield { value, raw: pyJsonDumps([value]) };
}

/**
 * IntelMQ's parse_json_stream: one JSON value per line (Python's json.loads); raw is the line. Blank lines
 * are skipped (IntelMQ fails the whole report on one); a line that is not JSON is a failed record.
 */
export function* jsonLines(report: Report): Generator<ParserRecord<unknown>> {
  for (const line of reportLines(report)) {
    if (line.trim() === "") continue;
    const value = pyJsonLoads(line);
    if (value === undefined) {
      yield { value: undefined, raw: line, error: new SyntaxError(`not a JSON value: ${line}`) };
    } else {
      yield { value, raw: line };
    }
  }
}

// ---- CSV ----

export interface CsvRecordOptions {
  /** Field delimiter of the reader (one character, default ","). */
  delimiter?: string;
  /** Delimiter of the re-serialised `raw` (default: `delimiter`). The generic CSV parser writes ",". */
  rawDelimiter?: string;
  /**
   * How the text is cleaned before splitting, as IntelMQ does it:
   * - "strip" (default, ParserBot.parse_csv): the whole text stripped, NUL characters removed;
   * - "generic" (the generic CSV parser): NULs removed, lines starting with `#` (after blanks) and blank
   *   lines dropped, leading blanks of every line removed.
   */
  cleanup?: "strip" | "generic";
  /** Lines starting with one of these are skipped ("strip" cleanup; ParserBot's _ignore_lines_starting). */
  ignorePrefixes?: readonly string[];
  /** Leading lines taken as header: not parsed, but written before every record's raw. */
  headerLines?: number;
}

const BATCH_CHARS = 1 << 16;

/** The report text cut after every "\n" (the last piece may lack it). */
function* newlinePieces(report: Report): Generator<string> {
  let carry = "";
  for (const chunk of reportText(report)) {
    const text = carry === "" ? chunk : carry + chunk;
    let start = 0;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", start)) {
      yield text.slice(start, i + 1);
      start = i + 1;
    }
    carry = text.slice(start);
  }
  if (carry !== "") yield carry;
}

function withoutNul(s: string): string {
  return s.includes("\0") ? s.replaceAll("\0", "") : s;
}

const COMMENT_LINE = /^[ \t]*#/;

// The generic CSV parser's three multi-line regex substitutions, applied piece by piece: they only ever
// look at one "\n"-terminated line, so the result is the same.
function* genericCleanup(pieces: Iterable<string>): Generator<string> {
  for (const piece of pieces) {
    let s = withoutNul(piece);
    if (COMMENT_LINE.test(s)) continue;
    let i = 0;
    while (s.charCodeAt(i) === 0x20 || s.charCodeAt(i) === 0x09) i++;
    if (i > 0) s = s.slice(i);
    if (s === "" || s === "\n") continue;
    yield s;
  }
}

/**
 * Python's str.strip() of the whole text (given in pieces), then NULs removed, as IntelMQ's parsers
 * clean a report; trailing whitespace is held back until more text follows it.
 */
export function* stripCleanup(pieces: Iterable<string>): Generator<string> {
  let started = false;
  let pending = "";
  for (const piece of pieces) {
    let s = piece;
    if (!started) {
      let i = 0;
      while (i < s.length && pyIsSpace(s.charCodeAt(i))) i++;
      if (i === s.length) continue;
      s = s.slice(i);
      started = true;
    }
    let end = s.length;
    while (end > 0 && pyIsSpace(s.charCodeAt(end - 1))) end--;
    if (end === 0) {
      pending += s;
      continue;
    }
    const out = pending + s.slice(0, end);
    pending = s.slice(end);
    yield withoutNul(out);
  }
}

/**
 * The line ending IntelMQ writes recovered CSV lines with: the only kind of line break in the text,
 * or "\r\n" when there are none or several kinds (io.StringIO's `newlines`).
 */
function lineEndingOf(pieces: Iterable<string>): string {
  const newline = /\r\n|\r|\n/g;
  let seen: string | undefined;
  let pendingCr = false;
  for (const piece of pieces) {
    let text = piece;
    if (pendingCr) {
      text = "\r" + text;
      pendingCr = false;
    }
    if (text.endsWith("\r")) {
      // Might be the first half of "\r\n": decide with the next piece.
      text = text.slice(0, -1);
      pendingCr = true;
    }
    newline.lastIndex = 0;
    for (let m = newline.exec(text); m !== null; m = newline.exec(text)) {
      if (seen === undefined) seen = m[0];
      else if (seen !== m[0]) return "\r\n";
    }
  }
  if (pendingCr) {
    if (seen === undefined) seen = "\r";
    else if (seen !== "\r") return "\r\n";
  }
  return seen ?? "\r\n";
}

/** Lines with their endings, split at "\r\n", "\r" and "\n" (io.StringIO(newline='') iteration). */
function* terminatedLines(pieces: Iterable<string>): Generator<string> {
  // One regex per call: generators interleave, a shared lastIndex would not survive that.
  const lineBreak = /[\r\n]/g;
  let carry = "";
  for (const piece of pieces) {
    const text = carry === "" ? piece : carry + piece;
    let start = 0;
    lineBreak.lastIndex = 0;
    for (let m = lineBreak.exec(text); m !== null; m = lineBreak.exec(text)) {
      let end = m.index + 1;
      if (m[0] === "\r") {
        if (end === text.length) break; // "\r\n" may continue in the next piece
        if (text.charCodeAt(end) === 0x0a) end++;
      }
      yield text.slice(start, end);
      start = end;
      lineBreak.lastIndex = end;
    }
    carry = text.slice(start);
  }
  if (carry !== "") yield carry;
}

function withoutLineEnding(line: string): string {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 0x0a || line.charCodeAt(end - 1) === 0x0d)) end--;
  return line.slice(0, end);
}

/**
 * A Python csv.writer (excel dialect) for one row: fields quoted when they hold the delimiter, a quote or
 * a character of the line terminator; a row of one empty field is written `""`.
 */
export function csvRowWriter(delimiter: string, lineTerminator: string): (row: readonly string[]) => string {
  const special = new RegExp(
    `[${[delimiter, '"', ...lineTerminator].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}]`,
  );
  return (row) => {
    if (row.length === 1 && row[0] === "") return `""${lineTerminator}`;
    let out = "";
    for (let i = 0; i < row.length; i++) {
      const field = row[i] as string;
      if (i > 0) out += delimiter;
      out += special.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
    }
    return out + lineTerminator;
  };
}

function csvParseOptions(delimiter: string, lineEnding: string) {
  // Python's csv reader: quotes inside unquoted fields are text, rows may differ in length, any of
  // \r\n, \n, \r ends a row, empty rows yield nothing a parser would see. When the text has only one
  // kind of line break ("\n" or "\r" alone), csv-parse needs to look for that one only.
  return {
    delimiter,
    quote: '"',
    escape: '"',
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    record_delimiter: lineEnding === "\n" || lineEnding === "\r" ? [lineEnding] : ["\r\n", "\n", "\r"],
  };
}

/**
 * CSV rows of a report, as IntelMQ's CSV parsing yields them: each record's value is the row's fields,
 * its raw the row written back by Python's csv writer with the report's own line ending, after the
 * header lines (IntelMQ's recover_line_csv). Streams: the text is decoded twice (once to find the line
 * ending), never held whole.
 */
export function* csvRecords(
  report: Report,
  options: CsvRecordOptions = {},
): Generator<ParserRecord<string[]>> {
  const delimiter = options.delimiter ?? ",";
  if ([...delimiter].length !== 1)
    throw new Error(`the CSV delimiter must be one character, got ${JSON.stringify(delimiter)}`);
  const prefixes = options.ignorePrefixes ?? [];
  const cleaned = () =>
    options.cleanup === "generic"
      ? genericCleanup(newlinePieces(report))
      : stripCleanup(newlinePieces(report));
  const lineEnding = lineEndingOf(cleaned());
  const writeRow = csvRowWriter(options.rawDelimiter ?? delimiter, lineEnding);

  const headerCount = options.headerLines ?? 0;
  const headers: string[] = [];
  // The text handed to csv-parse, in batches of whole lines; fills `headers` on the way.
  function* body(collectHeaders: boolean): Generator<string> {
    let skipped = 0;
    let batch = "";
    for (const line of terminatedLines(cleaned())) {
      if (skipped < headerCount) {
        skipped++;
        if (collectHeaders) headers.push(withoutLineEnding(line));
        continue;
      }
      if (prefixes.length > 0 && prefixes.some((p) => line.startsWith(p))) continue;
      batch += line;
      if (batch.length >= BATCH_CHARS) {
        yield batch;
        batch = "";
      }
    }
    if (batch !== "") yield batch;
  }

  // csv-parse emits a row only after body() has passed the header lines.
  let headerPrefix: string | undefined;
  let count = 0;
  const quoteNotClosed = (error: unknown) => (error as { code?: string }).code === "CSV_QUOTE_NOT_CLOSED";
  try {
    for (const row of csvRows(body(true), delimiter, lineEnding)) {
      headerPrefix ??= headers.map((h) => h + lineEnding).join("");
      count++;
      yield { value: row, raw: headerPrefix + writeRow(row) };
    }
  } catch (error) {
    if (!quoteNotClosed(error)) throw error;
    // Python's reader ends a quoted field left open at the end of the text there. Parsing again with the
    // quote closed gives that row; the rows before it were yielded already.
    headerPrefix ??= headers.map((h) => h + lineEnding).join("");
    let seen = 0;
    for (const row of csvRows(closedQuote(body(false)), delimiter, lineEnding)) {
      if (seen++ < count) continue;
      yield { value: row, raw: headerPrefix + writeRow(row) };
    }
  }
}

/** csv-parse's parser core, fed synchronously (no stream machinery between the text and the rows). */
interface CsvParseCore {
  parse(
    buffer: Buffer | undefined,
    end: boolean,
    push: (record: string[]) => void,
    close: () => void,
  ): Error | undefined;
}

/** The rows of CSV text given in batches (a row may span batches). */
function* csvRows(batches: Iterable<string>, delimiter: string, lineEnding: string): Generator<string[]> {
  const core = (new CsvParser(csvParseOptions(delimiter, lineEnding)) as unknown as { api: CsvParseCore })
    .api;
  const rows: string[][] = [];
  const push = (record: string[]) => {
    rows.push(record);
  };
  const close = () => {};
  for (const batch of batches) {
    const error = core.parse(Buffer.from(batch), false, push, close);
    yield* rows;
    rows.length = 0;
    if (error !== undefined) throw error;
  }
  const error = core.parse(undefined, true, push, close);
  yield* rows;
  rows.length = 0;
  if (error !== undefined) throw error;
}

function* closedQuote(batches: Iterable<string>): Generator<string> {
  yield* batches;
  yield '"';
}
