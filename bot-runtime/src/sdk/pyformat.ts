// Python 3.11 `str.format` for configuration templates such as IntelMQ's modify expert's
// "{msg[source.ip]}" and "{matches[source.url][1]}": a template is parsed once (compileFormat) into
// literal text and replacement fields, and each field's value is rendered with Python's str(),
// repr(), ascii() and format-spec mini-language (fill, align, sign, z, #, 0, width, grouping,
// precision; s, d, b, o, x, X, c, n, e, E, f, F, g, G, % and the default). Also Python's `==` between
// JSON-like values, which such configurations use to compare field values, and IntelMQ's
// `key in message`.
//
// Values are JSON-like as the event API holds them. JavaScript cannot tell the float 1.0 from the
// int 1, so callers say which fields are floats (harmonization types Float/Accuracy); any other
// integral number is taken as an int.
import { pyFloatRepr } from "../event/compat/pynumber.ts";
import { isPlainObject, pyRepr, pyStr } from "../event/compat/pyrepr.ts";
import type { Message } from "../event/message.ts";

/** Python's ValueError/TypeError/IndexError/KeyError raised by str.format, with Python's message. */
export class PyFormatError extends Error {
  /** The Python exception type, e.g. "ValueError". */
  readonly pyType: string;
  constructor(pyType: string, message: string) {
    super(message);
    this.name = "PyFormatError";
    this.pyType = pyType;
  }
}

/** One `[key]` (index, digits become an int as in Python) or `.name` (attribute) after a field's name. */
export interface FieldAccessor {
  readonly kind: "index" | "attribute";
  readonly key: string | number;
}

export interface ReplacementField {
  /** The argument: a keyword name, a positional index, or "" for automatic numbering. */
  readonly arg: string | number;
  readonly accessors: readonly FieldAccessor[];
  readonly conversion: "s" | "r" | "a" | undefined;
  readonly spec: string;
  /** The field as written, for messages. */
  readonly text: string;
}

export type FormatPart = string | ReplacementField;

const valueError = (message: string) => new PyFormatError("ValueError", message);

function parseFieldName(name: string): { arg: string | number; accessors: FieldAccessor[] } {
  let i = 0;
  while (i < name.length && name[i] !== "." && name[i] !== "[") i++;
  const head = name.slice(0, i);
  const arg = /^[0-9]+$/.test(head) ? Number(head) : head;
  const accessors: FieldAccessor[] = [];
  while (i < name.length) {
    const c = name[i];
    if (c === ".") {
      let j = i + 1;
      while (j < name.length && name[j] !== "." && name[j] !== "[") j++;
      const attr = name.slice(i + 1, j);
      if (attr === "") throw valueError("Empty attribute in format string");
      accessors.push({ kind: "attribute", key: attr });
      i = j;
    } else if (c === "[") {
      const close = name.indexOf("]", i + 1);
      if (close < 0) throw valueError("Missing ']' in format string");
      const key = name.slice(i + 1, close);
      if (key === "") throw valueError("Empty attribute in format string");
      accessors.push({ kind: "index", key: /^[0-9]+$/.test(key) ? Number(key) : key });
      i = close + 1;
    } else {
      throw valueError("Only '.' or '[' may follow ']' in format field specifier");
    }
  }
  return { arg, accessors };
}

/** Parses a format string as Python's str.format does; throws PyFormatError with Python's message. */
export function parseFormat(template: string): FormatPart[] {
  const parts: FormatPart[] = [];
  let literal = "";
  let i = 0;
  const n = template.length;
  while (i < n) {
    const c = template[i]!;
    if (c === "}") {
      if (template[i + 1] !== "}") throw valueError("Single '}' encountered in format string");
      literal += "}";
      i += 2;
      continue;
    }
    if (c !== "{") {
      literal += c;
      i++;
      continue;
    }
    if (template[i + 1] === "{") {
      literal += "{";
      i += 2;
      continue;
    }
    if (i + 1 >= n) throw valueError("Single '{' encountered in format string");
    // The field name runs to ':', '!' or '}' outside brackets; inside [...] anything goes.
    const start = i + 1;
    let j = start;
    for (; j < n; j++) {
      const d = template[j];
      if (d === "[") {
        const close = template.indexOf("]", j + 1);
        if (close < 0) {
          j = n;
          break;
        }
        j = close;
      } else if (d === "{") {
        throw valueError("unexpected '{' in field name");
      } else if (d === "}" || d === ":" || d === "!") {
        break;
      }
    }
    if (j >= n) throw valueError("expected '}' before end of string");
    const name = template.slice(start, j);
    let conversion: "s" | "r" | "a" | undefined;
    if (template[j] === "!") {
      if (j + 1 >= n) throw valueError("end of string while looking for conversion specifier");
      const conv = template[j + 1]!;
      if (template[j + 2] !== ":" && template[j + 2] !== "}") {
        throw valueError(
          j + 2 >= n ? "unmatched '{' in format spec" : "expected ':' after conversion specifier",
        );
      }
      if (conv !== "s" && conv !== "r" && conv !== "a") {
        throw valueError(`Unknown conversion specifier ${conv}`);
      }
      conversion = conv;
      j += 2;
    }
    let spec = "";
    if (template[j] === ":") {
      let depth = 1;
      let k = j + 1;
      for (; k < n; k++) {
        if (template[k] === "{") depth++;
        else if (template[k] === "}" && --depth === 0) break;
      }
      if (k >= n) throw valueError("expected '}' before end of string");
      spec = template.slice(j + 1, k);
      j = k;
    }
    const text = template.slice(i, j + 1);
    const { arg, accessors } = parseFieldName(name);
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push({ arg, accessors, conversion, spec, text });
    i = j + 1;
  }
  if (literal !== "") parts.push(literal);
  return parts;
}

// ---- str(), repr(), ascii() ----

/** A value plus whether a number in it is a Python float even when integral. */
export interface PyValue {
  readonly value: unknown;
  readonly isFloat?: boolean;
}

function asciiEscape(s: string): string {
  return s.replace(/[^\x00-\x7f]/gu, (ch) => {
    const cp = ch.codePointAt(0)!;
    if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, "0")}`;
    if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
    return `\\U${cp.toString(16).padStart(8, "0")}`;
  });
}

/** Applies a !s, !r or !a conversion; the result is a str. */
export function pyConvert(v: PyValue, conversion: "s" | "r" | "a"): PyValue {
  if (conversion === "s") return { value: pyStr(v.value, v.isFloat) };
  const repr = pyRepr(v.value, v.isFloat);
  return { value: conversion === "r" ? repr : asciiEscape(repr) };
}

// ---- the format-spec mini-language ----

interface Spec {
  fill: string;
  align: string | undefined;
  sign: string | undefined;
  noNegZero: boolean;
  alternate: boolean;
  width: number;
  grouping: "," | "_" | undefined;
  precision: number | undefined;
  type: string;
  /** The "0" flag (or fill "0" with "=") pads digits, separators included. */
  zeroPadDigits: boolean;
}

function typeName(v: PyValue): string {
  const x = v.value;
  if (typeof x === "string") return "str";
  if (typeof x === "boolean") return "bool";
  if (typeof x === "number") return v.isFloat || !Number.isInteger(x) ? "float" : "int";
  if (x === null) return "NoneType";
  return Array.isArray(x) ? "list" : "dict";
}

// Parsed specs by default alignment and text: templates format the same few specs over and over.
const specCache = new Map<string, Spec>();

function parseSpec(spec: string, defaultAlign: string, type: string): Spec {
  const key = defaultAlign + spec;
  let parsed = specCache.get(key);
  if (parsed === undefined) {
    parsed = parseSpecText(spec, defaultAlign, type);
    if (specCache.size < 1000) specCache.set(key, parsed);
  }
  return parsed;
}

function parseSpecText(spec: string, defaultAlign: string, type: string): Spec {
  const cps = [...spec];
  let pos = 0;
  let fill = " ";
  let align: string | undefined;
  let fillSpecified = false;
  const isAlign = (c: string | undefined) => c === "<" || c === ">" || c === "=" || c === "^";
  if (cps.length >= 2 && isAlign(cps[1])) {
    fill = cps[0]!;
    align = cps[1];
    fillSpecified = true;
    pos = 2;
  } else if (isAlign(cps[0])) {
    align = cps[0];
    pos = 1;
  }
  let sign: string | undefined;
  if (cps[pos] === "+" || cps[pos] === "-" || cps[pos] === " ") sign = cps[pos++];
  let noNegZero = false;
  if (cps[pos] === "z") {
    noNegZero = true;
    pos++;
  }
  let alternate = false;
  if (cps[pos] === "#") {
    alternate = true;
    pos++;
  }
  if (!fillSpecified && cps[pos] === "0") {
    fill = "0";
    if (align === undefined && defaultAlign === ">") align = "=";
    pos++;
  }
  let widthText = "";
  while (pos < cps.length && /[0-9]/.test(cps[pos]!)) widthText += cps[pos++];
  let grouping: "," | "_" | undefined;
  if (cps[pos] === ",") {
    grouping = ",";
    pos++;
  }
  if (cps[pos] === "_") {
    if (grouping !== undefined) throw valueError("Cannot specify both ',' and '_'.");
    grouping = "_";
    pos++;
  }
  if (cps[pos] === "," && grouping === "_") throw valueError("Cannot specify both ',' and '_'.");
  let precision: number | undefined;
  if (cps[pos] === ".") {
    pos++;
    let text = "";
    while (pos < cps.length && /[0-9]/.test(cps[pos]!)) text += cps[pos++];
    if (text === "") throw valueError("Format specifier missing precision");
    precision = Number(text);
  }
  if (cps.length - pos > 1) {
    throw valueError(`Invalid format specifier '${spec}' for object of type '${type}'`);
  }
  const presentation = cps[pos] ?? "";
  if (grouping !== undefined && !"defgEGF%".includes(presentation) && presentation !== "") {
    if (!(grouping === "_" && "boxX".includes(presentation))) {
      throw valueError(`Cannot specify '${grouping}' with '${presentation}'.`);
    }
  }
  const effectiveAlign = align ?? defaultAlign;
  return {
    fill,
    align: effectiveAlign,
    sign,
    noNegZero,
    alternate,
    width: widthText === "" ? -1 : Number(widthText),
    grouping,
    precision,
    type: presentation,
    zeroPadDigits: fill === "0" && effectiveAlign === "=",
  };
}

function codePoints(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

function pad(body: string, spec: Spec): string {
  const missing = spec.width - codePoints(body);
  if (missing <= 0) return body;
  const left = spec.align === ">" ? missing : spec.align === "^" ? Math.floor(missing / 2) : 0;
  return spec.fill.repeat(left) + body + spec.fill.repeat(missing - left);
}

function group(digits: string, separator: string, every: number): string {
  let out = "";
  for (let i = digits.length; i > 0; i -= every) {
    const chunk = digits.slice(Math.max(0, i - every), i);
    out = out === "" ? chunk : chunk + separator + out;
  }
  return out;
}

/**
 * Lays out sign, prefix and digits (integer digits grouped, `rest` the fraction/exponent) in the
 * field, with Python's zero padding that continues the digit grouping.
 */
function layoutNumber(
  negative: boolean,
  prefix: string,
  intDigits: string,
  rest: string,
  spec: Spec,
): string {
  const signText = negative ? "-" : spec.sign === "+" ? "+" : spec.sign === " " ? " " : "";
  const every = spec.grouping === "_" && spec.type !== "" && "boxX".includes(spec.type) ? 4 : 3;
  let digits = spec.grouping === undefined ? intDigits : group(intDigits, spec.grouping, every);
  if (spec.zeroPadDigits && spec.width > 0) {
    const room = spec.width - signText.length - prefix.length - codePoints(rest);
    if (spec.grouping === undefined) {
      digits = digits.padStart(room, "0");
    } else {
      let raw = intDigits;
      while (group(raw, spec.grouping, every).length < room) raw = "0" + raw;
      digits = group(raw, spec.grouping, every);
    }
  }
  const body = signText + prefix + digits + rest;
  if (spec.align === "=") {
    const missing = spec.width - codePoints(body);
    return missing > 0 ? signText + prefix + spec.fill.repeat(missing) + digits + rest : body;
  }
  return pad(body, spec);
}

// ---- exact decimal digits of a double ----

const TEN = 10n;

/** |x| as numerator / 2^shift, exactly. */
function exactBinary(x: number): { num: bigint; shift: bigint } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const bits = view.getBigUint64(0);
  const exponent = Number((bits >> 52n) & 0x7ffn);
  const mantissa = bits & ((1n << 52n) - 1n);
  if (exponent === 0) return { num: mantissa, shift: 1074n };
  const e = exponent - 1075;
  const m = mantissa | (1n << 52n);
  return e >= 0 ? { num: m << BigInt(e), shift: 0n } : { num: m, shift: BigInt(-e) };
}

/** round-half-even(|x| * 10^scale) as a BigInt. */
function scaledRound(x: number, scale: number): bigint {
  const { num, shift } = exactBinary(x);
  let n = num;
  let d = 1n << shift;
  if (scale >= 0) n *= TEN ** BigInt(scale);
  else d *= TEN ** BigInt(-scale);
  const q = n / d;
  const r = n - q * d;
  if (2n * r > d || (2n * r === d && q % 2n === 1n)) return q + 1n;
  return q;
}

/** `count` significant digits of |x| > 0, correctly rounded, and the decimal exponent of the first. */
function significant(x: number, count: number): { digits: string; exp: number } {
  let exp = Math.floor(Math.log10(Math.abs(x)));
  // log10 can be off by one near powers of ten; fix with exact arithmetic.
  for (;;) {
    const n = scaledRound(x, count - 1 - exp);
    const text = n.toString();
    if (text.length > count) {
      exp++;
      continue;
    }
    if (text.length < count) {
      exp--;
      continue;
    }
    return { digits: text, exp };
  }
}

function shortest(x: number): { digits: string; exp: number } {
  const [mantissa, exponent] = Math.abs(x).toExponential().split("e") as [string, string];
  return { digits: mantissa.replace(".", ""), exp: Number(exponent) };
}

function exponentText(exp: number): string {
  return `e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/** Fixed notation from significant digits and the exponent of the first, with at least `fraction` decimals. */
function fixedFromDigits(digits: string, exp: number, fraction: number): { int: string; rest: string } {
  let intPart: string;
  let fracPart: string;
  if (exp >= 0) {
    const padded = digits.padEnd(exp + 1, "0");
    intPart = padded.slice(0, exp + 1);
    fracPart = padded.slice(exp + 1);
  } else {
    intPart = "0";
    fracPart = "0".repeat(-exp - 1) + digits;
  }
  fracPart = fracPart.padEnd(fraction, "0");
  return { int: intPart, rest: fracPart === "" ? "" : `.${fracPart}` };
}

/** Python's float formatting for one presentation type; returns integer digits and the rest. */
function floatBody(
  value: number,
  type: string,
  precision: number | undefined,
  alternate: boolean,
): { int: string; rest: string } {
  const x = type === "%" ? value * 100 : value;
  if (!Number.isFinite(x)) {
    const text = Number.isNaN(x) ? "nan" : "inf";
    const rest = type !== "" && "EFG".includes(type) ? text.toUpperCase() : text;
    return { int: "", rest: type === "%" ? `${rest}%` : rest };
  }
  const upper = type === "E" || type === "F" || type === "G";
  const t = type.toLowerCase();
  if (t === "f" || t === "%") {
    const p = precision ?? 6;
    const n = scaledRound(x, p)
      .toString()
      .padStart(p + 1, "0");
    const intPart = n.slice(0, n.length - p);
    const frac = n.slice(n.length - p);
    const rest = (p > 0 ? `.${frac}` : alternate ? "." : "") + (t === "%" ? "%" : "");
    return { int: intPart, rest: upper ? rest.toUpperCase() : rest };
  }
  if (t === "e") {
    const p = precision ?? 6;
    const { digits, exp } = x === 0 ? { digits: "0".repeat(p + 1), exp: 0 } : significant(x, p + 1);
    const frac = digits.slice(1);
    const rest = (frac !== "" ? `.${frac}` : alternate ? "." : "") + exponentText(exp);
    return { int: digits[0]!, rest: upper ? rest.toUpperCase() : rest };
  }
  // "g", "n", or no type ("" with a precision: like g, keeping ".0"; without: repr).
  const addDot0 = t === "";
  let digits: string;
  let exp: number;
  let useExp: boolean;
  let p: number;
  if (t === "" && precision === undefined) {
    ({ digits, exp } = x === 0 ? { digits: "0", exp: 0 } : shortest(x));
    p = digits.length;
    useExp = exp < -4 || exp >= 16;
  } else {
    p = precision === 0 ? 1 : (precision ?? 6);
    ({ digits, exp } = x === 0 ? { digits: "0", exp: 0 } : significant(x, p));
    digits = digits.replace(/0+$/, "") || "0";
    useExp = exp < -4 || exp + 1 > (addDot0 ? p - 1 : p);
  }
  if (alternate) digits = digits.padEnd(p, "0");
  let result: { int: string; rest: string };
  if (useExp) {
    const frac = digits.slice(1);
    result = { int: digits[0]!, rest: (frac !== "" ? `.${frac}` : alternate ? "." : "") + exponentText(exp) };
  } else {
    result = fixedFromDigits(digits, exp, 0);
    if (result.rest === "" && (addDot0 || alternate)) result.rest = addDot0 ? ".0" : ".";
  }
  return upper ? { int: result.int, rest: result.rest.toUpperCase() } : result;
}

function formatFloat(x: number, spec: Spec, typeLabel: string): string {
  const type = spec.type === "n" ? "g" : spec.type;
  if (type !== "" && !"eEfFgG%".includes(type)) {
    throw valueError(`Unknown format code '${spec.type}' for object of type '${typeLabel}'`);
  }
  let negative = x < 0 || Object.is(x, -0);
  const body = floatBody(x, type, spec.precision, spec.alternate);
  if (negative && spec.noNegZero && /^0*$/.test(body.int) && /^\.?0*(e[+-]\d+|%)?$/i.test(body.rest)) {
    negative = false;
  }
  return layoutNumber(negative, "", body.int, body.rest, spec);
}

function formatInt(x: number, spec: Spec, typeLabel: string): string {
  const type = spec.type;
  if (type !== "" && "eEfFgG%".includes(type)) return formatFloat(x, spec, typeLabel);
  if (type !== "" && !"bcdoxXn".includes(type)) {
    throw valueError(`Unknown format code '${type}' for object of type '${typeLabel}'`);
  }
  if (spec.precision !== undefined) throw valueError("Precision not allowed in integer format specifier");
  if (spec.noNegZero) throw valueError("Negative zero coercion (z) not allowed in integer format specifier");
  if (type === "c") {
    if (spec.sign !== undefined) throw valueError("Sign not allowed with integer format specifier 'c'");
    if (spec.alternate) throw valueError("Alternate form (#) not allowed with integer format specifier 'c'");
    if (x < 0 || x > 0x10ffff) throw new PyFormatError("OverflowError", "%c arg not in range(0x110000)");
    return layoutNumber(false, "", String.fromCodePoint(x), "", spec);
  }
  const magnitude = BigInt(Math.abs(x));
  const radix = type === "b" ? 2 : type === "o" ? 8 : type === "x" || type === "X" ? 16 : 10;
  let digits = magnitude.toString(radix);
  if (type === "X") digits = digits.toUpperCase();
  const prefix = spec.alternate && radix !== 10 ? `0${type === "b" ? "b" : type === "o" ? "o" : type}` : "";
  return layoutNumber(x < 0, prefix, digits, "", spec);
}

function formatStr(s: string, spec: Spec): string {
  if (spec.type !== "s" && spec.type !== "") {
    throw valueError(`Unknown format code '${spec.type}' for object of type 'str'`);
  }
  if (spec.sign !== undefined) throw valueError("Sign not allowed in string format specifier");
  if (spec.grouping !== undefined) throw valueError(`Cannot specify '${spec.grouping}' with 's'.`);
  if (spec.noNegZero) throw valueError("Negative zero coercion (z) not allowed in format specifier");
  if (spec.alternate) throw valueError("Alternate form (#) not allowed in string format specifier");
  if (spec.align === "=") throw valueError("'=' alignment not allowed in string format specifier");
  let body = s;
  if (spec.precision !== undefined && codePoints(body) > spec.precision) {
    body = [...body].slice(0, spec.precision).join("");
  }
  return pad(body, spec);
}

/** Python's `format(value, spec)` for JSON-like values. */
export function pyFormatValue(v: PyValue, spec: string): string {
  const x = v.value;
  const label = typeName(v);
  if (spec === "") {
    if (typeof x === "number" && label === "float") return pyFloatRepr(x);
    return pyStr(x, v.isFloat);
  }
  if (typeof x === "string") return formatStr(x, parseSpec(spec, "<", label));
  if (typeof x === "boolean") return formatInt(x ? 1 : 0, parseSpec(spec, ">", label), label);
  if (typeof x === "number") {
    const parsed = parseSpec(spec, ">", label);
    return label === "float" ? formatFloat(x, parsed, label) : formatInt(x, parsed, label);
  }
  throw new PyFormatError("TypeError", `unsupported format string passed to ${label}.__format__`);
}

// ---- ==, as Python compares JSON-like values ----

/** Python's `a == b` for JSON-like values (bools are the ints 0 and 1, ints equal floats). */
export function pyEquals(a: unknown, b: unknown): boolean {
  const na = typeof a === "boolean" ? Number(a) : a;
  const nb = typeof b === "boolean" ? Number(b) : b;
  if (typeof na === "number" || typeof nb === "number") return na === nb;
  if (typeof a === "string" || typeof b === "string" || a === null || b === null) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => pyEquals(item, b[i]));
  }
  if (typeof a === "object" && typeof b === "object" && isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((k) => Object.hasOwn(b, k) && pyEquals(a[k], b[k]));
  }
  return false;
}

// ---- `key in message` ----

/**
 * IntelMQ's `key in message` for a field name from a configuration: the exact field, or for a
 * JSONDict field's own name ("extra") any of its sub-keys ("extra.a" is absent when only "extra.a.b"
 * is set, as in IntelMQ; Message.has answers the same).
 */
export function fieldPresence(key: string): (message: Message) => boolean {
  if (key === "__type") return () => false;
  return (message) => message.has(key);
}
