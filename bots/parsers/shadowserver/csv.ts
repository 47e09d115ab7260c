// Shadowserver CSV as IntelMQ's ParserBot.parse_csv_dict reads it: the report text stripped (Python's
// str.strip()) and rid of NUL characters, cut into lines as io.StringIO(newline="") does, parsed by
// Python's csv reader (excel-style quoting, non-strict) and paired with the header row as
// csv.DictReader does. Each row keeps the last physical line it was read from, which is what IntelMQ
// puts in the event's raw (after the header). Streams: the text is decoded chunk by chunk, twice (the
// first pass finds the line ending that raw is written with).
import { pyIsSpace } from "../../../bot-runtime/src/event/compat/pystring.ts";
import type { Report } from "../../../bot-runtime/src/event/message.ts";
import { reportText, stripCleanup } from "../../../bot-runtime/src/sdk/records.ts";
import type { Row } from "./conversions.ts";

/** Python's csv.field_size_limit() default. */
const FIELD_LIMIT = 131072;

/** Lines with their endings ("\r\n", "\r" or "\n"), as iterating io.StringIO(text, newline="") gives them. */
function* physicalLines(chunks: Iterable<string>): Generator<string> {
  let carry = "";
  for (const chunk of chunks) {
    const text = carry + chunk;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x0a) {
        yield text.slice(start, i + 1);
        start = i + 1;
      } else if (c === 0x0d) {
        // "\r\n" may be split across chunks: decide when the next character is known.
        if (i + 1 === text.length) break;
        const end = text.charCodeAt(i + 1) === 0x0a ? i + 2 : i + 1;
        yield text.slice(start, end);
        start = end;
        i = end - 1;
      }
    }
    carry = text.slice(start);
  }
  if (carry !== "") yield carry;
}

/**
 * io.StringIO(text, newline="").newlines as IntelMQ reads it: the one kind of line break in the text,
 * else (none, or several kinds) "\r\n".
 */
function lineEndingOf(lines: Iterable<string>): string {
  let seen: string | undefined;
  for (const line of lines) {
    const ending = line.endsWith("\r\n")
      ? "\r\n"
      : line.endsWith("\n")
        ? "\n"
        : line.endsWith("\r")
          ? "\r"
          : "";
    if (ending === "") continue;
    if (seen === undefined) seen = ending;
    else if (seen !== ending) return "\r\n";
  }
  return seen ?? "\r\n";
}

// States of Python's csv reader (Modules/_csv.c) that a row can be in between characters.
const START_RECORD = 0;
const START_FIELD = 1;
const IN_FIELD = 2;
const IN_QUOTED_FIELD = 3;
const QUOTE_IN_QUOTED_FIELD = 4;
const EAT_CRNL = 5;

export interface CsvRow {
  readonly cells: string[];
  /** The physical line the row ended on (with its line ending). */
  readonly line: string;
}

/** Python's csv.reader over the lines (delimiter ",", quote '"', doubled quotes, not strict). */
export function* pythonCsvRows(lines: Iterable<string>): Generator<CsvRow> {
  let state = START_RECORD;
  let cells: string[] = [];
  let field = "";
  let lastLine = "";
  const save = () => {
    cells.push(field);
    field = "";
  };
  const add = (c: string) => {
    if (field.length >= FIELD_LIMIT) throw new Error(`field larger than field limit (${FIELD_LIMIT})`);
    field += c;
  };
  for (const line of lines) {
    lastLine = line;
    // Most lines hold no quote: then the reader only splits at the commas (the line's one line break,
    // if any, is its last character).
    if (state === START_RECORD && !line.includes('"')) {
      let end = line.length;
      if (line.charCodeAt(end - 1) === 0x0a) end--;
      if (line.charCodeAt(end - 1) === 0x0d) end--;
      const row = end === 0 ? [] : line.slice(0, end).split(",");
      for (const cell of row) {
        if (cell.length > FIELD_LIMIT) throw new Error(`field larger than field limit (${FIELD_LIMIT})`);
      }
      yield { cells: row, line };
      continue;
    }
    for (let i = 0; i <= line.length; i++) {
      // i === line.length is the end-of-line marker the reader feeds after each line.
      const eol = i === line.length;
      const c = eol ? "" : (line[i] as string);
      const newline = c === "\n" || c === "\r";
      if (state === START_RECORD) {
        // An empty line is an empty row; a normal character starts the first field.
        if (eol) continue;
        if (newline) {
          state = EAT_CRNL;
          continue;
        }
        state = START_FIELD;
      }
      switch (state) {
        case START_FIELD:
          if (eol || newline) {
            save();
            state = eol ? START_RECORD : EAT_CRNL;
          } else if (c === '"') state = IN_QUOTED_FIELD;
          else if (c === ",") save();
          else {
            add(c);
            state = IN_FIELD;
          }
          break;
        case IN_FIELD:
          if (eol || newline) {
            save();
            state = eol ? START_RECORD : EAT_CRNL;
          } else if (c === ",") {
            save();
            state = START_FIELD;
          } else add(c);
          break;
        case IN_QUOTED_FIELD:
          if (eol) break;
          if (c === '"') state = QUOTE_IN_QUOTED_FIELD;
          else add(c);
          break;
        case QUOTE_IN_QUOTED_FIELD:
          if (c === '"') {
            add(c);
            state = IN_QUOTED_FIELD;
          } else if (c === ",") {
            save();
            state = START_FIELD;
          } else if (eol || newline) {
            save();
            state = eol ? START_RECORD : EAT_CRNL;
          } else {
            add(c);
            state = IN_FIELD;
          }
          break;
        case EAT_CRNL:
          if (eol) state = START_RECORD;
          else if (!newline) {
            throw new Error("new-line character seen in unquoted field");
          }
          break;
      }
    }
    if (state === START_RECORD) {
      yield { cells, line };
      cells = [];
    }
  }
  // A quoted field left open at the end of the text ends there.
  if (state === IN_QUOTED_FIELD) {
    save();
    yield { cells, line: lastLine };
  }
}

export interface DictRecord {
  /** The header row (csv.DictReader's fieldnames), shared by all rows of the report. */
  readonly fieldnames: readonly string[];
  /** Column → value; null where the row is shorter than the header (csv.DictReader's restval). */
  readonly row: Row;
  /** IntelMQ's recover_line_csv_dict(): the header written back (all fields quoted), then the line. */
  readonly raw: string;
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Python's str.rstrip(). */
function pyRstrip(s: string): string {
  let end = s.length;
  while (end > 0 && pyIsSpace(s.charCodeAt(end - 1))) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** The rows of a report as csv.DictReader yields them (blank rows skipped), with IntelMQ's raw. */
export function* csvDictRecords(report: Report): Generator<DictRecord> {
  const lineEnding = lineEndingOf(physicalLines(stripCleanup(reportText(report))));
  let fieldnames: string[] | undefined;
  let header = "";
  for (const { cells, line } of pythonCsvRows(physicalLines(stripCleanup(reportText(report))))) {
    if (fieldnames === undefined) {
      fieldnames = cells;
      header = fieldnames.map(quoted).join(",") + lineEnding;
      continue;
    }
    if (cells.length === 0) continue;
    const row = new Map<string, string | null>();
    const n = Math.min(fieldnames.length, cells.length);
    for (let i = 0; i < n; i++) row.set(fieldnames[i] as string, cells[i] as string);
    for (let i = n; i < fieldnames.length; i++) row.set(fieldnames[i] as string, null);
    // The header line starts with a quote, so Python's strip() of the whole only trims the end.
    yield { fieldnames, row, raw: pyRstrip(header + line) };
  }
}
