// Python 3.11 number semantics that IntelMQ's harmonization relies on: int(x) and float(x) on the
// kinds of values a JSON document can hold, and repr() of floats and ints.
// Behaviour was established against CPython 3.11 as an oracle (see pynumber.test.ts).
import { pyDecimalValue, pyIsAsciiSpace, pyIsSpace } from "./pystring.ts";

/**
 * Petrel rejects integers that a JS number cannot hold exactly. Python would accept them, but a
 * value beyond ±(2^53−1) would silently change when written to JSON and read back by JS consumers.
 */
export const PY_INT_OUT_OF_RANGE_DEVIATION =
  "integers outside ±(2^53−1) are rejected (undefined): they cannot round-trip through JSON numbers in JS";

/** CPython refuses to convert decimal strings with more digits than this (sys.get_int_max_str_digits()). */
export const PY_INT_MAX_STR_DIGITS = 4300;

function stripAsciiSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && pyIsAsciiSpace(s.charCodeAt(start))) start++;
  while (end > start && pyIsAsciiSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/**
 * Before parsing, int() and float() map non-ASCII whitespace to a space and non-ASCII decimal
 * digits to ASCII digits; ASCII is kept as is (so \x1c..\x1f stay and are then rejected). Any other
 * non-ASCII character makes the literal invalid, reported here as undefined.
 */
export function toAsciiNumeral(s: string): string | undefined {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) < 0x80) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (const ch of s.slice(i)) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out += ch;
    else if (pyIsSpace(cp)) out += " ";
    else {
      const d = pyDecimalValue(cp);
      if (d < 0) return undefined;
      out += String.fromCharCode(0x30 + d);
    }
  }
  return out;
}

const INT_LITERAL = /^[+-]?[0-9]+(?:_[0-9]+)*$/;

/** `s` as an optional "-" and ASCII digits when int(s) accepts its syntax, else undefined. */
function intLiteral(raw: string): string | undefined {
  const ascii = toAsciiNumeral(raw);
  if (ascii === undefined) return undefined;
  const s = stripAsciiSpace(ascii);
  if (!INT_LITERAL.test(s)) return undefined;
  const digits = s.replace(/[+\-_]/g, "");
  return s.charCodeAt(0) === 0x2d ? `-${digits}` : digits;
}

function intFromString(raw: string): number | undefined {
  const literal = intLiteral(raw);
  if (literal === undefined) return undefined;
  const negative = literal.charCodeAt(0) === 0x2d;
  let digits = negative ? literal.slice(1) : literal;
  if (digits.length > PY_INT_MAX_STR_DIGITS) return undefined;
  digits = digits.replace(/^0+(?=.)/, "");
  // 16 digits already exceed 2^53 when large; longer ones always do.
  if (digits.length > 16) return undefined;
  const n = Number(digits);
  if (n > Number.MAX_SAFE_INTEGER) return undefined;
  return negative ? 0 - n : n;
}

/** Python int(s) for a str, exact at any size; throws Python's ValueError message where it raises. */
export function pyIntOrThrow(s: string): bigint {
  const literal = intLiteral(s);
  if (literal === undefined) throw new Error(`invalid literal for int() with base 10: '${s}'`);
  const digits = literal.length - (literal.charCodeAt(0) === 0x2d ? 1 : 0);
  if (digits > PY_INT_MAX_STR_DIGITS) {
    throw new Error(`Exceeds the limit (${PY_INT_MAX_STR_DIGITS} digits) for integer string conversion`);
  }
  return BigInt(literal);
}

/**
 * Python int(value) for a JSON-like value, or undefined where Python raises.
 * Results outside ±(2^53−1) are undefined too: see PY_INT_OUT_OF_RANGE_DEVIATION.
 */
export function pyInt(value: unknown): number | undefined {
  if (typeof value === "string") return intFromString(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    const t = Math.trunc(value);
    if (t > Number.MAX_SAFE_INTEGER || t < -Number.MAX_SAFE_INTEGER) return undefined;
    // Python has no negative zero integer.
    return t === 0 ? 0 : t;
  }
  if (typeof value === "boolean") return value ? 1 : 0;
  return undefined;
}

const FLOAT_LITERAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const FLOAT_SPECIAL = /^([+-]?)(?:(inf|infinity)|nan)$/i;

/** float() accepts "_" only with an ASCII digit on both sides; returns the literal without them. */
function dropUnderscores(s: string): string | undefined {
  if (!s.includes("_")) return s;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) !== 0x5f) continue;
    const before = i > 0 ? s.charCodeAt(i - 1) : 0;
    const after = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
    if (!(before >= 0x30 && before <= 0x39 && after >= 0x30 && after <= 0x39)) return undefined;
  }
  return s.replaceAll("_", "");
}

function floatFromString(raw: string): number | undefined {
  const ascii = toAsciiNumeral(raw);
  if (ascii === undefined) return undefined;
  const joined = dropUnderscores(ascii);
  if (joined === undefined) return undefined;
  const s = stripAsciiSpace(joined);
  // Number() is correctly rounded like CPython's strtod once the syntax has been checked.
  if (FLOAT_LITERAL.test(s)) return Number(s);
  const special = FLOAT_SPECIAL.exec(s);
  if (special === null) return undefined;
  if (special[2] === undefined) return Number.NaN;
  return special[1] === "-" ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

/** Python float(s) for a str; throws Python's ValueError message where it raises. */
export function pyFloatOrThrow(s: string): number {
  const f = floatFromString(s);
  if (f === undefined) throw new Error(`could not convert string to float: '${s}'`);
  return f;
}

/** Python float(value) for a JSON-like value, or undefined where Python raises. */
export function pyFloat(value: unknown): number | undefined {
  if (typeof value === "string") return floatFromString(value);
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  return undefined;
}

/**
 * Python repr(float): the shortest round-tripping digits (as JS also picks them), printed
 * positionally when the decimal exponent is in [-4, 16) and in scientific form otherwise.
 */
export function pyFloatRepr(n: number): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Number.POSITIVE_INFINITY) return "inf";
  if (n === Number.NEGATIVE_INFINITY) return "-inf";
  if (n === 0) return Object.is(n, -0) ? "-0.0" : "0.0";
  const sign = n < 0 ? "-" : "";
  // String(n) yields the shortest digits; pull out digits and the decimal point position.
  const js = String(Math.abs(n));
  const e = js.indexOf("e");
  const mantissa = e === -1 ? js : js.slice(0, e);
  const exp10 = e === -1 ? 0 : Number(js.slice(e + 1));
  const dot = mantissa.indexOf(".");
  let digits = dot === -1 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  // Value is 0.<digits> * 10^point.
  let point = (dot === -1 ? mantissa.length : dot) + exp10;
  const lead = /^0*/.exec(digits)![0].length;
  digits = digits.slice(lead).replace(/0+$/, "");
  point -= lead;
  if (point > -4 && point <= 16) {
    if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
    if (point >= digits.length) return `${sign}${digits}${"0".repeat(point - digits.length)}.0`;
    return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
  }
  const x = point - 1;
  const frac = digits.length > 1 ? `.${digits.slice(1)}` : "";
  const xs = String(Math.abs(x)).padStart(2, "0");
  return `${sign}${digits[0]}${frac}e${x < 0 ? "-" : "+"}${xs}`;
}

/** Python repr(int) / str(int). Throws RangeError for a number that is not an integer. */
export function pyIntRepr(n: number | bigint): string {
  if (typeof n === "bigint") return n.toString();
  // "+ 0" turns -0 into 0: Python ints have no negative zero.
  if (Number.isSafeInteger(n)) return String(n + 0);
  if (!Number.isInteger(n)) throw new RangeError(`not an integer: ${n}`);
  // BigInt prints every digit where String() would switch to exponent notation.
  return BigInt(n).toString();
}
