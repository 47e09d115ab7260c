// Python 3.11 `re` patterns (str patterns, as IntelMQ bots compile them from their configuration)
// translated into equivalent JavaScript RegExps, so experts match exactly what IntelMQ matches.
//
// The translation parses the pattern the way Python's sre_parse does and writes every construct out
// explicitly instead of relying on JavaScript's differing defaults: `.` never matches "\n" only, `$`
// also matches before a final newline, `\d` `\s` `\w` `\b` are Unicode-aware with Python 3.11's
// tables, `{` that does not start a quantifier is a literal, `(?P<name>…)` and `(?P=name)` become
// named groups and back references, `\A` `\Z` become look-arounds, verbose mode (?x) is honoured.
// What Python rejects is rejected here with Python's reason; constructs without a JavaScript
// equivalent (atomic groups, possessive quantifiers, conditionals, \N{…}, ASCII-only case folding)
// are refused with a clear error instead of being matched differently.
//
// Known limits: look-behinds may be of variable width here (Python requires a fixed width); a
// repeated group whose body can match the empty string may iterate differently (JavaScript retries
// an empty iteration's alternatives, Python stops); Unicode tables are Node's (\p{L}, \p{N} for \w)
// where Python 3.11 has Unicode 14. Case-insensitive matching follows Unicode simple case folding,
// which equals Python's folding except for i, I, U+0130 and U+0131, handled explicitly.
import { PY_DIGIT_CLASS, PY_SPACE_CLASS } from "../event/compat/pystring.ts";

export class PythonRegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PythonRegexError";
  }
}

/** A compiled Python pattern: the equivalent RegExp and its groups as Python numbers them. */
export interface PythonRegex {
  /** The Python pattern as written. */
  readonly pattern: string;
  /** The JavaScript equivalent (flag v, plus i for IGNORECASE); search with pySearch(). */
  readonly regex: RegExp;
  /** The same with flag g, for pySearch's rare second attempt. */
  readonly global: RegExp;
  /** Number of capturing groups. */
  readonly groups: number;
  /** Group names and their numbers. */
  readonly groupIndex: ReadonlyMap<string, number>;
}

export interface PythonRegexOptions {
  /** re.IGNORECASE. */
  ignoreCase?: boolean;
}

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
  x: boolean;
  a: boolean;
}

const UNICODE_WORD = "[\\p{L}\\p{N}_]";
const ASCII_WORD = "[a-zA-Z0-9_]";
const ASCII_DIGIT = "[0-9]";
const ASCII_SPACE = "[\\t\\n\\v\\f\\r ]";
// Without the m flag (never set here), JavaScript's ^ and $ are the very start and end of the input.
const START = "^";
const END = "$";
const VERBOSE_SPACE = " \t\n\r\v\f";
const OCTAL = "01234567";
const DIGITS = "0123456789";
const HEX = /^[0-9a-fA-F]+$/;
const MAX_REPEAT = 4294967295;
const QUANTIFIER = /\{([0-9]*)(?:(,)([0-9]*))?\}/y;

type Last = "none" | "anchor" | "assert" | "atom" | "repeat";

function hexOf(cp: number): string {
  return cp.toString(16);
}

/** A code point as a RegExp atom that means exactly that character in every context. */
function literal(cp: number): string {
  if ((cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a) || cp === 0x5f) {
    return String.fromCodePoint(cp);
  }
  return `\\u{${hexOf(cp)}}`;
}

// Under IGNORECASE Python treats i, I, U+0130 and U+0131 as one letter; Unicode simple case folding
// (JavaScript's) pairs only i and I.
const DOTTED_I = [0x49, 0x69, 0x130, 0x131];
const DOTTED_I_CLASS = DOTTED_I.map((cp) => `\\u{${hexOf(cp)}}`).join("");

/** A literal code point, with Python's case-insensitive equivalents of the letter i where needed. */
function literalIn(cp: number, flags: Flags): string {
  return flags.i && DOTTED_I.includes(cp) ? `[${DOTTED_I_CLASS}]` : literal(cp);
}

function inner(cls: string): string {
  return cls.slice(1, -1);
}

/** One item of a character class, or a shorthand such as \d, as a v-flag class operand. */
interface ClassItem {
  kind: "char" | "set";
  cp: number;
  text: string;
}

class Translator {
  readonly #p: string;
  #pos = 0;
  #groups = 0;
  readonly #open = new Set<number>();
  readonly #names = new Map<string, number>();
  readonly global: Flags;

  constructor(pattern: string, ignoreCase: boolean) {
    this.#p = pattern;
    this.global = { i: ignoreCase, s: false, m: false, x: false, a: false };
  }

  get groups(): number {
    return this.#groups;
  }
  get names(): ReadonlyMap<string, number> {
    return this.#names;
  }

  error(message: string, at = this.#pos): PythonRegexError {
    return new PythonRegexError(`${message} at position ${at}`);
  }

  #peek(offset = 0): string | undefined {
    const cp = this.#p.codePointAt(this.#pos + offset);
    return cp === undefined ? undefined : String.fromCodePoint(cp);
  }

  #next(): string | undefined {
    const c = this.#peek();
    if (c !== undefined) this.#pos += c.length;
    return c;
  }

  #match(s: string): boolean {
    if (this.#p.startsWith(s, this.#pos)) {
      this.#pos += s.length;
      return true;
    }
    return false;
  }

  translate(): string {
    const out = this.#alternation(this.global, 0);
    if (this.#pos < this.#p.length) {
      // Only an unmatched ")" stops the top level early.
      throw this.error("unbalanced parenthesis");
    }
    if (this.global.a && this.global.i) {
      throw this.error("ASCII-only case-insensitive matching ((?a) with IGNORECASE) is not supported", 0);
    }
    return out;
  }

  #alternation(flags: Flags, depth: number): string {
    const branches: string[] = [];
    for (;;) {
      branches.push(this.#sequence(flags, depth, depth === 0 && branches.length === 0));
      if (!this.#match("|")) break;
    }
    return branches.join("|");
  }

  #skipVerbose(flags: Flags): void {
    if (!flags.x) return;
    for (;;) {
      const c = this.#peek();
      if (c !== undefined && VERBOSE_SPACE.includes(c)) {
        this.#pos++;
      } else if (c === "#") {
        while (this.#pos < this.#p.length && this.#p[this.#pos] !== "\n") this.#pos++;
      } else {
        return;
      }
    }
  }

  #sequence(flags: Flags, depth: number, first: boolean): string {
    let out = "";
    let last: Last = "none";
    let items = 0;
    for (;;) {
      this.#skipVerbose(flags);
      const start = this.#pos;
      const c = this.#peek();
      if (c === undefined || c === "|" || c === ")") return out;
      if (c === "*" || c === "+" || c === "?" || (c === "{" && this.#quantifierAhead())) {
        const quantifier = this.#quantifier();
        if (last === "none" || last === "anchor") throw this.error("nothing to repeat", start);
        if (last === "repeat") throw this.error("multiple repeat", start);
        if (last === "assert") {
          throw this.error("a repeated look-around assertion is not supported", start);
        }
        let lazy = "";
        if (this.#match("?")) lazy = "?";
        else if (this.#peek() === "+") {
          throw this.error("possessive quantifiers (Python 3.11) are not supported");
        }
        out += quantifier + lazy;
        last = "repeat";
        continue;
      }
      this.#next();
      if (c === "(") {
        const group = this.#group(flags, depth, first && items === 0);
        if (group === undefined) continue; // comment, or global flags
        out += group.text;
        last = group.last;
      } else if (c === "[") {
        out += this.#charClass(flags);
        last = "atom";
      } else if (c === ".") {
        out += flags.s ? "[\\s\\S]" : "[^\\n]";
        last = "atom";
      } else if (c === "^") {
        out += flags.m ? "(?<![^\\n])" : START;
        last = "anchor";
      } else if (c === "$") {
        out += flags.m ? "(?![^\\n])" : `(?=\\n?${END})`;
        last = "anchor";
      } else if (c === "\\") {
        const escaped = this.#escape(flags);
        out += escaped.text;
        last = escaped.last;
      } else {
        out += literalIn(c.codePointAt(0)!, flags);
        last = "atom";
      }
      items++;
    }
  }

  /** At "{": whether it starts a quantifier ({m}, {m,}, {,n}, {m,n}); otherwise it is a literal. */
  #quantifierAhead(): boolean {
    QUANTIFIER.lastIndex = this.#pos;
    return this.#p[this.#pos + 1] !== "}" && QUANTIFIER.test(this.#p);
  }

  #quantifier(): string {
    const start = this.#pos;
    const c = this.#next()!;
    if (c !== "{") return c;
    QUANTIFIER.lastIndex = start;
    const m = QUANTIFIER.exec(this.#p)!;
    this.#pos = start + m[0].length;
    const lo = m[1] ?? "";
    const hi = m[2] === undefined ? lo : (m[3] ?? "");
    const min = lo === "" ? 0 : Number(lo);
    const max = hi === "" ? Number.POSITIVE_INFINITY : Number(hi);
    if (min >= MAX_REPEAT || (Number.isFinite(max) && max >= MAX_REPEAT)) {
      throw this.error("the repetition number is too large", start);
    }
    if (max < min) throw this.error("min repeat greater than max repeat", start);
    if (m[2] === undefined) return `{${min}}`;
    return Number.isFinite(max) ? `{${min},${max}}` : `{${min},}`;
  }

  #group(flags: Flags, depth: number, atStart: boolean): { text: string; last: Last } | undefined {
    const start = this.#pos - 1;
    if (!this.#match("?")) return this.#capture(flags, depth, undefined);
    const c = this.#next();
    if (c === "P") {
      if (this.#match("<")) {
        const name = this.#groupName(">");
        if (this.#names.has(name)) throw this.error(`redefinition of group name '${name}'`);
        return this.#capture(flags, depth, name);
      }
      if (this.#match("=")) {
        const name = this.#groupName(")");
        const n = this.#names.get(name);
        if (n === undefined) throw this.error(`unknown group name '${name}'`);
        if (this.#open.has(n)) throw this.error("cannot refer to an open group");
        return { text: `(?:\\k<${name}>)`, last: "atom" };
      }
      throw this.error(
        c === undefined ? "unexpected end of pattern" : `unknown extension ?P${this.#peek() ?? ""}`,
      );
    }
    if (c === ":") return { text: `(?:${this.#body(flags, depth)})`, last: "atom" };
    if (c === "=" || c === "!") return { text: `(?${c}${this.#body(flags, depth)})`, last: "assert" };
    if (c === "<") {
      const d = this.#next();
      if (d === "=" || d === "!") return { text: `(?<${d}${this.#body(flags, depth)})`, last: "assert" };
      throw this.error(`unknown extension ?<${d ?? ""}`, start);
    }
    if (c === "#") {
      for (;;) {
        const d = this.#next();
        if (d === undefined) throw this.error("missing ), unterminated comment", start);
        if (d === ")") return undefined;
      }
    }
    if (c === "(") throw this.error("conditional groups (?(...)...) are not supported", start);
    if (c === ">") throw this.error("atomic groups (?>...) (Python 3.11) are not supported", start);
    if (c !== undefined && ("aiLmsux".includes(c) || c === "-")) {
      this.#pos -= c.length;
      return this.#flagGroup(flags, depth, atStart, start);
    }
    throw this.error(`unknown extension ?${c ?? ""}`, start);
  }

  #flagGroup(
    flags: Flags,
    depth: number,
    atStart: boolean,
    start: number,
  ): { text: string; last: Last } | undefined {
    const on = new Set<string>();
    const off = new Set<string>();
    let target = on;
    for (;;) {
      const c = this.#next();
      if (c === undefined) throw this.error("missing -, : or )");
      if (c === ")" || c === ":") {
        if (c === ")") {
          if (target === off) throw this.error("missing :");
          if (!atStart) throw this.error("global flags not at the start of the expression", start);
          this.#applyFlags(this.global, on, off);
          return undefined;
        }
        if (target === off && off.size === 0) throw this.error("missing flag");
        const scoped = { ...flags };
        this.#applyFlags(scoped, on, off);
        const body = this.#body(scoped, depth);
        let text = `(?:${body})`;
        if (scoped.i !== flags.i) text = `(?${scoped.i ? "i" : "-i"}:${body})`;
        if (scoped.a && scoped.i) {
          throw this.error(
            "ASCII-only case-insensitive matching ((?a) with IGNORECASE) is not supported",
            start,
          );
        }
        return { text, last: "atom" };
      }
      if (c === "-") {
        if (target === off) throw this.error("unknown flag");
        target = off;
        continue;
      }
      if (c === "L") throw this.error("bad inline flags: cannot use 'L' flag with a str pattern");
      if (!"aimsux".includes(c)) throw this.error(c.match(/[a-zA-Z]/) ? "unknown flag" : "missing -, : or )");
      if (target === off && (c === "a" || c === "u")) {
        throw this.error("bad inline flags: cannot turn off flags 'a', 'u' and 'L'");
      }
      target.add(c);
    }
  }

  #applyFlags(flags: Flags, on: ReadonlySet<string>, off: ReadonlySet<string>): void {
    if (on.has("a") && on.has("u"))
      throw this.error("bad inline flags: flags 'a', 'u' and 'L' are incompatible");
    for (const f of ["i", "s", "m", "x", "a"] as const) {
      if (on.has(f)) flags[f] = true;
      if (off.has(f)) flags[f] = false;
    }
    if (on.has("u")) flags.a = false;
  }

  #groupName(terminator: string): string {
    const end = this.#p.indexOf(terminator, this.#pos);
    if (end < 0) throw this.error(`missing ${terminator}, unterminated name`);
    const name = this.#p.slice(this.#pos, end);
    if (name === "") throw this.error("missing group name");
    if (!/^[\p{ID_Start}_][\p{ID_Continue}]*$/u.test(name))
      throw this.error(`bad character in group name '${name}'`);
    this.#pos = end + 1;
    return name;
  }

  #capture(flags: Flags, depth: number, name: string | undefined): { text: string; last: Last } {
    const n = ++this.#groups;
    if (name !== undefined) this.#names.set(name, n);
    this.#open.add(n);
    const body = this.#body(flags, depth);
    this.#open.delete(n);
    return { text: name === undefined ? `(${body})` : `(?<${name}>${body})`, last: "atom" };
  }

  /** A group's contents up to and including its ")". */
  #body(flags: Flags, depth: number): string {
    const start = this.#pos;
    const text = this.#alternation({ ...flags }, depth + 1);
    if (!this.#match(")")) throw this.error("missing ), unterminated subpattern", start - 1);
    return text;
  }

  // ---- escapes ----

  #hexEscape(kind: string, digits: number): number {
    const text = this.#p.slice(this.#pos, this.#pos + digits);
    if (text.length !== digits || !HEX.test(text)) throw this.error(`incomplete escape \\${kind}${text}`);
    this.#pos += digits;
    const cp = Number.parseInt(text, 16);
    if (cp > 0x10ffff) throw this.error(`bad escape \\${kind}${text}`);
    return cp;
  }

  #octal(first: string): number {
    let text = first;
    while (text.length < 3 && OCTAL.includes(this.#peek() ?? "x")) text += this.#next();
    const cp = Number.parseInt(text, 8);
    if (cp > 0o377) throw this.error(`octal escape value \\${text} outside of range 0-0o377`);
    return cp;
  }

  /** Escapes valid both inside and outside classes; undefined when `c` is not one of them. */
  #commonEscape(c: string): number | undefined {
    switch (c) {
      case "a":
        return 0x07;
      case "f":
        return 0x0c;
      case "n":
        return 0x0a;
      case "r":
        return 0x0d;
      case "t":
        return 0x09;
      case "v":
        return 0x0b;
      case "x":
        return this.#hexEscape("x", 2);
      case "u":
        return this.#hexEscape("u", 4);
      case "U":
        return this.#hexEscape("U", 8);
      case "N":
        throw this.error("named character escapes \\N{...} are not supported");
    }
    return undefined;
  }

  #shorthand(c: string, flags: Flags): string | undefined {
    switch (c) {
      case "d":
        return flags.a ? ASCII_DIGIT : PY_DIGIT_CLASS;
      case "D":
        return `[^${inner(flags.a ? ASCII_DIGIT : PY_DIGIT_CLASS)}]`;
      case "s":
        return flags.a ? ASCII_SPACE : PY_SPACE_CLASS;
      case "S":
        return `[^${inner(flags.a ? ASCII_SPACE : PY_SPACE_CLASS)}]`;
      case "w":
        return flags.a ? ASCII_WORD : UNICODE_WORD;
      case "W":
        return `[^${inner(flags.a ? ASCII_WORD : UNICODE_WORD)}]`;
    }
    return undefined;
  }

  #escape(flags: Flags): { text: string; last: Last } {
    const start = this.#pos - 1;
    const c = this.#next();
    if (c === undefined) throw this.error("bad escape (end of pattern)", start);
    const word = flags.a ? ASCII_WORD : UNICODE_WORD;
    switch (c) {
      case "A":
        return { text: START, last: "anchor" };
      case "Z":
        return { text: END, last: "anchor" };
      case "b":
        return { text: `(?:(?<=${word})(?!${word})|(?<!${word})(?=${word}))`, last: "anchor" };
      case "B":
        // Python 3.11's \B never matches in an empty string.
        return {
          text: `(?:(?<=${word})(?=${word})|(?<!${word})(?!${word}))(?!^$)`,
          last: "anchor",
        };
    }
    const set = this.#shorthand(c, flags);
    if (set !== undefined) return { text: set, last: "atom" };
    const common = this.#commonEscape(c);
    if (common !== undefined) return { text: literalIn(common, flags), last: "atom" };
    if (c === "0") return { text: literalIn(this.#octal("0"), flags), last: "atom" };
    if (DIGITS.includes(c)) {
      let digits = c;
      if (DIGITS.includes(this.#peek() ?? "x")) {
        digits += this.#next();
        if (OCTAL.includes(digits[0]!) && OCTAL.includes(digits[1]!) && OCTAL.includes(this.#peek() ?? "x")) {
          digits += this.#next();
          const cp = Number.parseInt(digits, 8);
          if (cp > 0o377) throw this.error(`octal escape value \\${digits} outside of range 0-0o377`, start);
          return { text: literalIn(cp, flags), last: "atom" };
        }
      }
      const group = Number(digits);
      if (group > this.#groups) throw this.error(`invalid group reference ${group}`, start + 1);
      if (this.#open.has(group)) throw this.error("cannot refer to an open group", start);
      return { text: `(?:\\${group})`, last: "atom" };
    }
    if (/^[a-zA-Z]$/.test(c)) throw this.error(`bad escape \\${c}`, start);
    return { text: literalIn(c.codePointAt(0)!, flags), last: "atom" };
  }

  // ---- character classes ----

  #classItem(flags: Flags): ClassItem {
    const start = this.#pos;
    const c = this.#next();
    if (c === undefined) throw this.error("unterminated character set");
    if (c !== "\\") return { kind: "char", cp: c.codePointAt(0)!, text: literal(c.codePointAt(0)!) };
    const e = this.#next();
    if (e === undefined) throw this.error("bad escape (end of pattern)", start);
    const set = this.#shorthand(e, flags);
    if (set !== undefined) return { kind: "set", cp: -1, text: set };
    let cp = this.#commonEscape(e);
    if (cp === undefined) {
      if (e === "b") cp = 0x08;
      else if (OCTAL.includes(e)) cp = this.#octal(e);
      else if (DIGITS.includes(e) || /^[a-zA-Z]$/.test(e)) throw this.error(`bad escape \\${e}`, start);
      else cp = e.codePointAt(0)!;
    }
    return { kind: "char", cp, text: literal(cp) };
  }

  #charClass(flags: Flags): string {
    const start = this.#pos - 1;
    const negate = this.#match("^");
    let out = "";
    let first = true;
    let dottedI = false;
    const covers = (lo: number, hi: number) => {
      if (flags.i && DOTTED_I.some((cp) => cp >= lo && cp <= hi)) dottedI = true;
    };
    for (;;) {
      if (this.#pos >= this.#p.length) throw this.error("unterminated character set", start);
      if (this.#peek() === "]" && !first) {
        this.#pos++;
        break;
      }
      first = false;
      const itemStart = this.#pos;
      const lo = this.#classItem(flags);
      if (lo.kind === "char") covers(lo.cp, lo.cp);
      if (!this.#match("-")) {
        out += lo.text;
        continue;
      }
      if (this.#pos >= this.#p.length) throw this.error("unterminated character set", start);
      if (this.#peek() === "]") {
        this.#pos++;
        out += lo.text + literal(0x2d);
        break;
      }
      const hi = this.#classItem(flags);
      if (lo.kind !== "char" || hi.kind !== "char" || hi.cp < lo.cp) {
        throw this.error(`bad character range ${this.#p.slice(itemStart, this.#pos)}`, itemStart);
      }
      covers(lo.cp, hi.cp);
      out += `${lo.text}-${hi.text}`;
    }
    if (dottedI) out += DOTTED_I_CLASS;
    return `[${negate ? "^" : ""}${out}]`;
  }
}

/**
 * Compiles a Python `re` pattern (str pattern, Python 3.11 syntax) into its JavaScript equivalent.
 * Throws PythonRegexError naming the problem and its position where Python would reject the pattern
 * or where it uses a construct JavaScript cannot express.
 */
export function compilePythonRegex(pattern: string, options: PythonRegexOptions = {}): PythonRegex {
  const translator = new Translator(pattern, options.ignoreCase ?? false);
  const source = translator.translate();
  let regex: RegExp;
  try {
    regex = new RegExp(source, translator.global.i ? "vi" : "v");
  } catch (error) {
    throw new PythonRegexError(`cannot be expressed in JavaScript: ${(error as Error).message}`);
  }
  const global = new RegExp(regex.source, `${regex.flags}g`);
  return { pattern, regex, global, groups: translator.groups, groupIndex: translator.names };
}

function isLead(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}
function isTrail(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Python's `pattern.search(text)`. V8 lets a match that can be empty start between the two halves of
 * a surrogate pair, a position Python (and the specification) never tries: such a match is skipped.
 */
export function pySearch(compiled: PythonRegex, text: string): RegExpExecArray | null {
  let m = compiled.regex.exec(text);
  while (m !== null && isTrail(text.charCodeAt(m.index)) && isLead(text.charCodeAt(m.index - 1))) {
    compiled.global.lastIndex = m.index + 1;
    m = compiled.global.exec(text);
  }
  return m;
}

/**
 * Python's `match.group(key)`: the text of a group by number or name, null when the group did not
 * take part in the match. Throws PythonRegexError ("no such group") like Python's IndexError.
 */
export function matchGroup(
  compiled: PythonRegex,
  match: RegExpExecArray,
  key: number | string,
): string | null {
  const index = typeof key === "number" ? key : compiled.groupIndex.get(key);
  if (index === undefined || index < 0 || index > compiled.groups)
    throw new PythonRegexError("no such group");
  return match[index] ?? null;
}
