// Python `repr()` / `str()` / `len(str())` of JSON-derived values, byte for byte as CPython 3.11
// computes them. IntelMQ hashes events over `repr(value)` and limits field sizes with
// `len(str(value))`, so Petrel must reproduce both exactly.
//
// Known deviations (asserted in pyrepr.test.ts):
// - Integral JS numbers are Python ints unless `asFloat` is set for a top-level number; nested
//   values carry no hint, so a nested Python float such as `1.0` reprs as `1`.
// - Integers beyond 2**53 are whatever double JSON.parse rounded them to.
// - Printability follows Node's ICU Unicode database (17.0 in Node 26), Python 3.11 uses 14.0:
//   characters assigned since 14.0 are literal here but `\x`/`\u`/`\U`-escaped by Python.
// - Object keys that look like array indices come first in JS objects, whatever the JSON order.
import { pyFloatRepr, pyIntRepr } from "./pynumber.ts";

// Printable ASCII except `'` and `\`: such a string reprs as itself in single quotes.
const PLAIN_ASCII = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

// What str.isprintable() rejects: categories Cc Cf Cs Co Cn Zl Zp Zs, with ASCII space allowed.
// The quote and the backslash are added per quote style.
const ESCAPE_IN_SINGLE = /[[\p{C}\p{Z}'\\]--[ ]]/gv;
const ESCAPE_IN_DOUBLE = /[[\p{C}\p{Z}"\\]--[ ]]/gv;

function hex(cp: number, width: number): string {
  return cp.toString(16).padStart(width, "0");
}

function escapeChar(c: string): string {
  switch (c) {
    case "\\":
    case "'":
    case '"':
      return "\\" + c;
    case "\t":
      return "\\t";
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
  }
  const cp = c.codePointAt(0)!;
  if (cp <= 0xff) return "\\x" + hex(cp, 2);
  if (cp <= 0xffff) return "\\u" + hex(cp, 4);
  return "\\U" + hex(cp, 8);
}

function strRepr(s: string): string {
  if (PLAIN_ASCII.test(s)) return "'" + s + "'";
  // Python switches to double quotes only when that avoids escaping.
  if (s.includes("'") && !s.includes('"')) return '"' + s.replace(ESCAPE_IN_DOUBLE, escapeChar) + '"';
  return "'" + s.replace(ESCAPE_IN_SINGLE, escapeChar) + "'";
}

function numberRepr(x: number, asFloat: boolean): string {
  return !asFloat && Number.isInteger(x) ? pyIntRepr(x) : pyFloatRepr(x);
}

/** A JSON-like dict: an object literal or JSON.parse result, not a class instance. */
export function isPlainObject(v: object): v is Record<string, unknown> {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function reprAny(value: unknown, asFloat: boolean): string {
  switch (typeof value) {
    case "string":
      return strRepr(value);
    case "number":
      return numberRepr(value, asFloat);
    case "boolean":
      return value ? "True" : "False";
    case "bigint":
      return value.toString();
    case "object": {
      if (value === null) return "None";
      if (Array.isArray(value)) {
        let out = "[";
        for (let i = 0; i < value.length; i++) {
          if (i > 0) out += ", ";
          out += reprAny(value[i], false);
        }
        return out + "]";
      }
      if (isPlainObject(value)) {
        let out = "{";
        let first = true;
        for (const k of Object.keys(value)) {
          if (!first) out += ", ";
          first = false;
          out += strRepr(k) + ": " + reprAny(value[k], false);
        }
        return out + "}";
      }
      break;
    }
  }
  throw new TypeError(`pyRepr: unsupported value of type ${typeof value}`);
}

/**
 * Python `repr()` of `value` as `json.loads` would have produced it. `asFloat` marks a top-level
 * integral number as a Python float (harmonization type Float); nested integral numbers are ints.
 */
export function pyRepr(value: unknown, asFloat = false): string {
  return reprAny(value, asFloat);
}

/** Python `str()` of `value`: strings are themselves, everything else is its repr. */
export function pyStr(value: unknown, asFloat = false): string {
  return typeof value === "string" ? value : reprAny(value, asFloat);
}

const SURROGATE_PAIR = /[\ud800-\udbff][\udc00-\udfff]/g;
const ANY_SURROGATE = /[\ud800-\udfff]/;

/** Python `len()` of a string: code points, with each lone surrogate counting as one. */
export function pyLen(s: string): number {
  if (!ANY_SURROGATE.test(s)) return s.length;
  let pairs = 0;
  for (const _ of s.matchAll(SURROGATE_PAIR)) pairs++;
  return s.length - pairs;
}
