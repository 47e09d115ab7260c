// Python 3.11 number semantics that IntelMQ's harmonization relies on: int(x) and float(x) on the
// kinds of values a JSON document can hold, repr() of floats and ints, and str.strip().
// Behaviour was established against CPython 3.11 as an oracle (see pynumber.test.ts).

/**
 * Petrel rejects integers that a JS number cannot hold exactly. Python would accept them, but a
 * value beyond ±(2^53−1) would silently change when written to JSON and read back by JS consumers.
 */
export const PY_INT_OUT_OF_RANGE_DEVIATION =
  "integers outside ±(2^53−1) are rejected (undefined): they cannot round-trip through JSON numbers in JS";

/** CPython refuses to convert decimal strings with more digits than this (sys.get_int_max_str_digits()). */
const PY_INT_MAX_STR_DIGITS = 4300;

/**
 * Code points of the digit zero of every Unicode decimal-digit run (general category Nd) in the
 * Unicode 14.0 database that Python 3.11 ships. Each run holds the digits 0..9 consecutively.
 * A fixed table, not \p{Nd}, because newer Unicode versions in Node's ICU add digits Python rejects.
 */
const DECIMAL_ZEROS: readonly number[] = [
  0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50,
  0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40,
  0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0,
  0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50,
  0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950,
  0x1fbf0,
];

/** Decimal value of a Unicode digit, or -1. */
function unicodeDecimal(cp: number): number {
  for (const zero of DECIMAL_ZEROS) {
    if (cp < zero) return -1;
    if (cp <= zero + 9) return cp - zero;
  }
  return -1;
}

/** Python's str.isspace() for a single code point (what str.strip() removes). */
export function pyIsSpace(cp: number): boolean {
  if (cp <= 0x20) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
  if (cp < 0x85) return false;
  return (
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** Python's str.strip() with no argument. All its whitespace lies in the BMP, so UTF-16 units suffice. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && pyIsSpace(s.charCodeAt(start))) start++;
  while (end > start && pyIsSpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function stripAsciiSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isAsciiSpace(s.charCodeAt(start))) start++;
  while (end > start && isAsciiSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/**
 * Before parsing, int() and float() map non-ASCII whitespace to a space and non-ASCII decimal
 * digits to ASCII digits; ASCII is kept as is (so \x1c..\x1f stay and are then rejected). Any other
 * non-ASCII character makes the literal invalid, reported here as undefined.
 */
function toAsciiNumeral(s: string): string | undefined {
  let i = 0;
  while (i < s.length && s.charCodeAt(i) < 0x80) i++;
  if (i === s.length) return s;
  let out = s.slice(0, i);
  for (const ch of s.slice(i)) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) out += ch;
    else if (pyIsSpace(cp)) out += " ";
    else {
      const d = unicodeDecimal(cp);
      if (d < 0) return undefined;
      out += String.fromCharCode(0x30 + d);
    }
  }
  return out;
}

const INT_LITERAL = /^[+-]?[0-9]+(?:_[0-9]+)*$/;

function intFromString(raw: string): number | undefined {
  const ascii = toAsciiNumeral(raw);
  if (ascii === undefined) return undefined;
  const s = stripAsciiSpace(ascii);
  if (!INT_LITERAL.test(s)) return undefined;
  const negative = s.charCodeAt(0) === 0x2d;
  let digits = s.replace(/[+\-_]/g, "");
  if (digits.length > PY_INT_MAX_STR_DIGITS) return undefined;
  digits = digits.replace(/^0+(?=.)/, "");
  // 16 digits already exceed 2^53 when large; longer ones always do.
  if (digits.length > 16) return undefined;
  const n = Number(digits);
  if (n > Number.MAX_SAFE_INTEGER) return undefined;
  return negative ? 0 - n : n;
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
  if (!Number.isInteger(n)) throw new RangeError(`not an integer: ${n}`);
  // BigInt prints every digit where String() would switch to exponent notation.
  return BigInt(n).toString();
}
