// Python `json.dumps` / `json.loads` as CPython 3.11 behaves with default arguments. IntelMQ stores
// JSON and JSONDict fields as `json.dumps(value, sort_keys=True)` and validates them with
// `json.loads`, so Petrel reproduces the exact text and the exact accept/reject decision.
//
// Known deviations (asserted in pyjson.test.ts):
// - Integral JS numbers are written as ints (`1`, not `1.0`): JSON.parse has lost the distinction.
// - Python rejects nesting deeper than its recursion limit (~1000 minus the caller's stack depth);
//   Petrel accepts whatever JSON.parse accepts.
// - Object keys that look like array indices come first in parsed JS objects.
import { PY_INT_MAX_STR_DIGITS, pyFloatRepr, pyIntRepr } from "./pynumber.ts";
import { isPlainObject } from "./pyrepr.ts";

export interface PyJsonDumpsOptions {
  /** `sort_keys`: order dict keys by code point at every level. Default false. */
  sortKeys?: boolean;
  /** `ensure_ascii`: escape everything outside printable ASCII as `\uXXXX`. Default true. */
  ensureAscii?: boolean;
  /** Per-path float hints are deliberately unsupported: nested integral numbers are ints. */
  floatPaths?: never;
}

// Printable ASCII except `"` and `\`: written verbatim in either mode.
const PLAIN_JSON = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
// Per UTF-16 unit on purpose: astral characters become surrogate-pair escapes, as in Python.
const ESCAPE_ASCII = /[\\"\x00-\x1f\x7f-\uffff]/g;
const ESCAPE_UNICODE = /[\\"\x00-\x1f]/g;

function escapeUnit(c: string): string {
  switch (c) {
    case '"':
      return '\\"';
    case "\\":
      return "\\\\";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    case "\b":
      return "\\b";
    case "\f":
      return "\\f";
  }
  return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
}

function encodeString(s: string, ensureAscii: boolean): string {
  if (PLAIN_JSON.test(s)) return '"' + s + '"';
  return '"' + s.replace(ensureAscii ? ESCAPE_ASCII : ESCAPE_UNICODE, escapeUnit) + '"';
}

function encodeNumber(x: number): string {
  if (Number.isInteger(x)) return pyIntRepr(x);
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return pyFloatRepr(x);
}

/**
 * Orders strings by code point, as Python compares `str`. UTF-16 unit order only differs when the
 * first differing units are both surrogates or U+E000..U+FFFF, so only then decode code points.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length - b.length;
  const ua = a.charCodeAt(i);
  const ub = b.charCodeAt(i);
  if (ua < 0xd800 || ub < 0xd800) return ua - ub;
  // Restart at the code point containing i: a shared high surrogate may pair in one string only.
  let j = i > 0 && (a.charCodeAt(i - 1) & 0xfc00) === 0xd800 ? i - 1 : i;
  while (j < a.length && j < b.length) {
    const ca = a.codePointAt(j)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca - cb;
    j += ca > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

function encode(value: unknown, sortKeys: boolean, ensureAscii: boolean): string {
  switch (typeof value) {
    case "string":
      return encodeString(value, ensureAscii);
    case "number":
      return encodeNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ", ";
          out += encode(value[i], sortKeys, ensureAscii);
        }
        return out + "]";
      }
      if (isPlainObject(value)) {
        const keys = Object.keys(value);
        if (sortKeys) keys.sort(compareCodePoints);
        let out = "{";
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          if (i > 0) out += ", ";
          out += encodeString(k, ensureAscii) + ": " + encode(value[k], sortKeys, ensureAscii);
        }
        return out + "}";
      }
      break;
    }
  }
  throw new TypeError(`pyJsonDumps: unsupported value of type ${typeof value}`);
}

/** Python `json.dumps(value, sort_keys=..., ensure_ascii=...)` with default separators. */
export function pyJsonDumps(value: unknown, opts?: PyJsonDumpsOptions): string {
  return encode(value, opts?.sortKeys ?? false, opts?.ensureAscii ?? true);
}

// json.loads raises for an integer literal longer than int() converts.
const LONG_DIGIT_RUN = new RegExp(`[0-9]{${PY_INT_MAX_STR_DIGITS + 1}}`);
const NON_FINITE_TOKEN = /NaN|Infinity/;

const WS = /[ \t\n\r]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
// A complete string token; JSON.parse then checks its escapes and control characters.
const STRING = /"[^"\\]*(?:\\.[^"\\]*)*"/sy;

class Fail extends Error {}
const FAIL = new Fail();

// Recursive descent over Python's grammar: JSON plus the NaN, Infinity and -Infinity constants.
class Parser {
  readonly text: string;
  pos = 0;
  constructor(text: string) {
    this.text = text;
  }

  ws(): void {
    WS.lastIndex = this.pos;
    WS.test(this.text);
    this.pos = WS.lastIndex;
  }

  literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  value(): unknown {
    const c = this.text[this.pos];
    switch (c) {
      case "{":
        return this.object();
      case "[":
        return this.array();
      case '"':
        return this.string();
      case "n":
        if (this.literal("null")) return null;
        break;
      case "t":
        if (this.literal("true")) return true;
        break;
      case "f":
        if (this.literal("false")) return false;
        break;
      case "N":
        if (this.literal("NaN")) return Number.NaN;
        break;
      case "I":
        if (this.literal("Infinity")) return Infinity;
        break;
      case "-":
        if (this.literal("-Infinity")) return -Infinity;
        return this.number();
      default:
        return this.number();
    }
    throw FAIL;
  }

  number(): number {
    NUMBER.lastIndex = this.pos;
    const m = NUMBER.exec(this.text);
    if (!m) throw FAIL;
    const token = m[0];
    if (m[1] === undefined && m[2] === undefined) {
      const digits = token.length - (token.charCodeAt(0) === 45 ? 1 : 0);
      if (digits > PY_INT_MAX_STR_DIGITS) throw FAIL;
    }
    this.pos += token.length;
    return Number(token);
  }

  string(): string {
    STRING.lastIndex = this.pos;
    const m = STRING.exec(this.text);
    if (!m) throw FAIL;
    this.pos += m[0].length;
    try {
      return JSON.parse(m[0]) as string;
    } catch {
      throw FAIL;
    }
  }

  array(): unknown[] {
    this.pos++;
    const out: unknown[] = [];
    this.ws();
    if (this.literal("]")) return out;
    for (;;) {
      this.ws();
      out.push(this.value());
      this.ws();
      if (this.literal("]")) return out;
      if (!this.literal(",")) throw FAIL;
    }
  }

  object(): Record<string, unknown> {
    this.pos++;
    const out: Record<string, unknown> = {};
    this.ws();
    if (this.literal("}")) return out;
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') throw FAIL;
      const key = this.string();
      this.ws();
      if (!this.literal(":")) throw FAIL;
      this.ws();
      const v = this.value();
      // An own data property even for "__proto__", as JSON.parse creates it.
      Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      this.ws();
      if (this.literal("}")) return out;
      if (!this.literal(",")) throw FAIL;
    }
  }
}

function slowParse(text: string): unknown | undefined {
  const p = new Parser(text);
  try {
    p.ws();
    const v = p.value();
    p.ws();
    return p.pos === text.length ? v : undefined;
  } catch (e) {
    // Too deep for the JS stack: Python fails long before that depth as well.
    if (e instanceof Fail || e instanceof RangeError) return undefined;
    throw e;
  }
}

/**
 * Python `json.loads(text)`: the parsed value (NaN and Infinity as JS numbers), or undefined when
 * Python would raise.
 */
export function pyJsonLoads(text: string): unknown | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return NON_FINITE_TOKEN.test(text) ? slowParse(text) : undefined;
  }
  // JSON.parse has no integer length limit; recheck with the tokenizer only when it could matter.
  if (text.length > PY_INT_MAX_STR_DIGITS && LONG_DIGIT_RUN.test(text)) return slowParse(text);
  return value;
}

/** Whether Python `json.loads(text)` succeeds. */
export function pyJsonLoadsOk(text: string): boolean {
  return pyJsonLoads(text) !== undefined;
}
