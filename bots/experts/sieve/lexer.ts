// The character-level half of the sieve parser: whitespace and comment skipping, the terminal symbols
// (literals and the token patterns of the IntelMQ grammar) and error positions.
//
// IntelMQ parses sieve files with textX, a scannerless PEG parser: every terminal is matched where the
// parser happens to be, after skipping blanks and comments, and keywords are plain prefixes ("keepdrop"
// is `keep` followed by `drop`). A separate token stream would accept or reject different files, so
// the parser (parser.ts) asks this scanner for one terminal at a time instead. A failed terminal is
// remembered when it lies furthest into the file: that is where a syntax error is reported, as textX
// reports it.
import { PY_DIGIT_CLASS } from "../../../bot-runtime/src/event/compat/pystring.ts";

/** Python's `\w` (str.isalnum() or "_"), as the inside of a `u`/`v`-flag character class. */
export const PY_WORD_CHARS = "\\p{L}\\p{N}_";
/** Python's `\d` (Unicode decimal digits, Python 3.11's table). */
const PY_DIGIT = PY_DIGIT_CLASS;

// The token patterns of textX's base types and of the sieve grammar, anchored where the scanner is.
const KEY_LITERAL = /[a-z0-9_.]+/y;
const VARIABLE = /\$[a-z0-9_]+/y;
// Quotes inside a string are escaped with a backslash; the pattern backtracks exactly like textX's.
const STRING = /"(?:\\"|[^"])*"|'(?:\\'|[^'])*'/y;
const INT = /[-+]?[0-9]+/y;
const STRICT_FLOAT = new RegExp(
  `[+-]?(?:(?:(?:${PY_DIGIT}+\\.${PY_DIGIT}*|\\.${PY_DIGIT}+)(?:[eE][+-]?${PY_DIGIT}+)?)|(?:${PY_DIGIT}+[eE][+-]?${PY_DIGIT}+))(?<=[${PY_WORD_CHARS}.])(?![${PY_WORD_CHARS}.])`,
  "uy",
);
const BOOL = new RegExp(`(?:True|true|False|false|0|1)(?![${PY_WORD_CHARS}])`, "uy");
// A comment runs to the end of its line ("\n"; a "\r" belongs to the comment).
const COMMENT = /(?:#|\/\/)[^\n]*/y;

export interface Terminal {
  /** How the terminal is named in error messages. */
  readonly label: string;
  readonly pattern: RegExp;
}

export const TERMINALS = {
  key: { label: "a field name", pattern: KEY_LITERAL },
  variable: { label: "a $variable", pattern: VARIABLE },
  string: { label: "a quoted string", pattern: STRING },
  int: { label: "an integer", pattern: INT },
  float: { label: "a decimal number", pattern: STRICT_FLOAT },
  bool: { label: "true/false", pattern: BOOL },
} as const satisfies Record<string, Terminal>;

/** A sieve file that cannot be read: syntax errors and invalid values, with their place in the file. */
export class SieveSyntaxError extends Error {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  constructor(file: string, line: number, column: number, message: string) {
    super(`${file}:${line}:${column}: ${message}`);
    this.name = "SieveSyntaxError";
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

/** 1-based line and column of offsets in a text; columns count code points, as Python (and textX) do. */
export class LineIndex {
  readonly #text: string;
  readonly #lineStarts: number[] = [0];
  constructor(text: string) {
    this.#text = text;
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) this.#lineStarts.push(i + 1);
  }

  at(offset: number): { line: number; column: number } {
    const starts = this.#lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const lineStart = starts[lo]!;
    let column = 1;
    for (let i = lineStart; i < offset; i++) {
      const c = this.#text.charCodeAt(i);
      // The second half of a surrogate pair is part of the same code point.
      if (c < 0xdc00 || c > 0xdfff || i === lineStart) column++;
    }
    return { line: lo + 1, column };
  }
}

export class Scanner {
  readonly text: string;
  readonly file: string;
  pos = 0;
  /** The furthest offset at which a terminal failed, and what was expected there. */
  #furthest = -1;
  #expected: string[] = [];

  constructor(text: string, file: string) {
    this.text = text;
    this.file = file;
  }

  /** Skips blanks (space, tab, CR, LF: textX's set) and comments, each comment followed by blanks. */
  skip(): void {
    const text = this.text;
    let pos = this.pos;
    for (;;) {
      while (pos < text.length) {
        const c = text.charCodeAt(pos);
        if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
        pos++;
      }
      COMMENT.lastIndex = pos;
      if (!COMMENT.test(text)) break;
      pos = COMMENT.lastIndex;
    }
    this.pos = pos;
  }

  /** Matches `word` after blanks and comments. Keywords are prefixes here, as in textX. */
  literal(word: string): boolean {
    this.skip();
    if (this.text.startsWith(word, this.pos)) {
      this.pos += word.length;
      return true;
    }
    this.#fail(`'${word}'`);
    return false;
  }

  /** Matches a terminal after blanks and comments; returns its text. */
  terminal(terminal: Terminal): string | undefined {
    this.skip();
    const { pattern } = terminal;
    pattern.lastIndex = this.pos;
    const match = pattern.exec(this.text);
    if (match === null) {
      this.#fail(terminal.label);
      return undefined;
    }
    this.pos = pattern.lastIndex;
    return match[0];
  }

  /** True at the end of the text (after blanks and comments). */
  atEnd(): boolean {
    this.skip();
    if (this.pos >= this.text.length) return true;
    this.#fail("the end of the file");
    return false;
  }

  #fail(expected: string): void {
    if (this.pos > this.#furthest) {
      this.#furthest = this.pos;
      this.#expected = [expected];
    } else if (this.pos === this.#furthest && !this.#expected.includes(expected)) {
      this.#expected.push(expected);
    }
  }

  /** The syntax error at the furthest failure: what was expected there and what was found. */
  syntaxError(): SieveSyntaxError {
    const at = Math.max(this.#furthest, 0);
    const expected = this.#expected;
    const list =
      expected.length <= 1
        ? (expected[0] ?? "nothing")
        : `${expected.slice(0, -1).join(", ")} or ${expected[expected.length - 1]}`;
    return this.errorAt(at, `expected ${list}, found ${this.describeAt(at)}`);
  }

  /** An error positioned at `offset`. */
  errorAt(offset: number, message: string): SieveSyntaxError {
    const { line, column } = new LineIndex(this.text).at(offset);
    return new SieveSyntaxError(this.file, line, column, message);
  }

  /** The text at `offset`, shortened, for error messages. */
  describeAt(offset: number): string {
    if (offset >= this.text.length) return "the end of the file";
    const rest = this.text.slice(offset);
    const end = rest.search(/[\s]/);
    const word = end === -1 ? rest : rest.slice(0, Math.max(end, 1));
    return JSON.stringify(word.length > 30 ? `${word.slice(0, 30)}…` : word);
  }
}
