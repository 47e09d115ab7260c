// How outputs turn an event into what they write: IntelMQ's OutputBot.export_event (single_key,
// keep_raw_field, hierarchical output, __type, JSONDict as string), plus Python's UTF-8 encoding with
// its error handlers (encoding_errors_mode) and its lenient base64 text decoding.

import { compareCodePoints, pyJsonDumps, pyJsonLoads } from "../event/compat/pyjson.ts";
import { pyFloatRepr } from "../event/compat/pynumber.ts";
import { pyRepr, pyStr } from "../event/compat/pyrepr.ts";
import { type DateParts, datetimeStr, strftime } from "../event/compat/strftime.ts";
import { type Event, fieldDefinition } from "../event/message.ts";

export interface ExportOptions {
  /** Nest fields on their dots (hierarchical_output, message_hierarchical). */
  hierarchical?: boolean;
  /** Add "__type": "Event" (message_with_type). */
  withType?: boolean;
  /**
   * Each JSONDict field (extra) as one JSON string (message_jsondict_as_string). Only the value export
   * applies it: IntelMQ's text export never passes it on.
   */
  jsondictAsString?: boolean;
  /** Export just this field: "raw" decoded, "output" as the JSON it holds, any other as its value. */
  singleKey?: string | false | null;
  /** Keep the raw field in full exports (keep_raw_field); IntelMQ drops it by default. */
  keepRawField?: boolean;
}

const floatFields = new Map<string, boolean>();
/** Float-typed fields (feed.accuracy, …) are Python floats in IntelMQ: 100 is written 100.0. */
export function isFloatField(key: string): boolean {
  let known = floatFields.get(key);
  if (known === undefined) {
    const def = fieldDefinition("Event", key);
    known = def !== undefined && !def.subKey && (def.spec.type === "Float" || def.spec.type === "Accuracy");
    floatFields.set(key, known);
  }
  return known;
}

function jsonValue(key: string, value: unknown): string {
  if (typeof value === "number" && Number.isFinite(value) && isFloatField(key)) return pyFloatRepr(value);
  return pyJsonDumps(value, { sortKeys: true, ensureAscii: false });
}

function jsonKey(key: string): string {
  return pyJsonDumps(key, { ensureAscii: false });
}

interface Tree {
  [key: string]: Tree | { leaf: string };
}

function isLeaf(node: Tree | { leaf: string } | undefined): node is { leaf: string } {
  return node !== undefined && typeof (node as { leaf?: unknown }).leaf === "string";
}

function writeTree(tree: Tree): string {
  const keys = Object.keys(tree).sort(compareCodePoints);
  let out = "{";
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const node = tree[key];
    if (i > 0) out += ", ";
    out += `${jsonKey(key)}: ${isLeaf(node) ? node.leaf : writeTree(node as Tree)}`;
  }
  return out + "}";
}

/** Message.to_json: Python's json.dumps(…, ensure_ascii=False, sort_keys=True) of the event. */
function eventJson(event: Event, hierarchical: boolean, withType: boolean, keepRaw: boolean): string {
  const entries: Array<[string, string]> = [];
  if (withType) entries.push(["__type", '"Event"']);
  for (const [key, value] of event.entries()) {
    if (key === "raw" && !keepRaw) continue;
    entries.push([key, jsonValue(key, value)]);
  }
  if (!hierarchical) {
    entries.sort((a, b) => compareCodePoints(a[0], b[0]));
    return `{${entries.map(([k, v]) => `${jsonKey(k)}: ${v}`).join(", ")}}`;
  }
  const tree: Tree = {};
  for (const [key, leaf] of entries) {
    const parts = key === "__type" ? [key] : key.split(".");
    let node = tree;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] as string;
      const next = node[part];
      if (next === undefined || isLeaf(next)) node[part] = {};
      node = node[part] as Tree;
    }
    node[parts[parts.length - 1] as string] = { leaf };
  }
  return writeTree(tree);
}

const RAW = new Set(["raw"]);

/** Message.to_dict(hierarchical, with_type, jsondict_as_string) without raw unless it is kept. */
function eventDict(event: Event, options: ExportOptions): Record<string, unknown> {
  return event.toDict({
    hierarchical: options.hierarchical,
    withType: options.withType,
    jsondictAsString: options.jsondictAsString,
    ...(options.keepRawField ? {} : { omit: RAW }),
  });
}

function rawText(event: Event): string {
  const raw = event.get("raw");
  return typeof raw === "string" ? decodeUtf8Lenient(Buffer.from(raw, "base64")) : "";
}

function outputJson(event: Event): string {
  const output = event.get("output");
  if (typeof output !== "string") throw new TypeError("single_key output: the event has no output field");
  return output;
}

/** export_event(event, return_type=str): the text an output writes for the event. */
export function exportEventText(event: Event, options: ExportOptions = {}): string {
  const key = options.singleKey;
  if (key) {
    if (key === "raw") return rawText(event);
    if (key === "output") {
      const text = outputJson(event);
      const loaded = pyJsonLoads(text);
      return typeof loaded === "string" ? loaded : text;
    }
    const value = event.get(key);
    return pyStr(value === undefined ? null : value, isFloatField(key));
  }
  return eventJson(
    event,
    options.hierarchical === true,
    options.withType === true,
    options.keepRawField === true,
  );
}

/** export_event(event): the value an output sends (a dict unless single_key is set). */
export function exportEventValue(event: Event, options: ExportOptions = {}): unknown {
  const key = options.singleKey;
  if (key) {
    if (key === "raw") return rawText(event);
    if (key === "output") {
      const loaded = pyJsonLoads(outputJson(event));
      if (loaded === undefined) throw new SyntaxError("single_key output: the output field is not JSON");
      return loaded;
    }
    return event.get(key) ?? null;
  }
  return eventDict(event, options);
}

// ---- text encoding as Python does it ----

export const ENCODING_ERRORS = [
  "strict",
  "ignore",
  "replace",
  "backslashreplace",
  "namereplace",
  "xmlcharrefreplace",
  "surrogateescape",
  "surrogatepass",
] as const;
export type EncodingErrors = (typeof ENCODING_ERRORS)[number];

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Python's `text.encode("utf-8", errors)`. Only lone surrogates cannot be encoded; `errors` says what
 * becomes of them ("strict" throws).
 */
export function encodeUtf8(text: string, errors: EncodingErrors = "strict"): Buffer {
  if (text.isWellFormed()) return Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  let start = 0;
  for (const match of text.matchAll(LONE_SURROGATE)) {
    const cp = match[0].charCodeAt(0);
    parts.push(Buffer.from(text.slice(start, match.index), "utf8"));
    start = match.index + 1;
    const hex = cp.toString(16);
    // surrogateescape only maps U+DC80..U+DCFF (bytes that failed to decode); others stay errors.
    const mode = errors === "surrogateescape" && (cp < 0xdc80 || cp > 0xdcff) ? "strict" : errors;
    switch (mode) {
      case "ignore":
        break;
      case "replace":
        parts.push(Buffer.from("?"));
        break;
      case "backslashreplace":
      case "namereplace": // surrogates have no name
        parts.push(Buffer.from(`\\u${hex}`));
        break;
      case "xmlcharrefreplace":
        parts.push(Buffer.from(`&#${cp};`));
        break;
      case "surrogatepass":
        parts.push(Buffer.from([0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)]));
        break;
      case "surrogateescape":
        parts.push(Buffer.from([cp - 0xdc00]));
        break;
      default:
        throw new RangeError(
          `'utf-8' codec can't encode character '\\u${hex}' in position ${match.index}: surrogates not allowed`,
        );
    }
  }
  parts.push(Buffer.from(text.slice(start), "utf8"));
  return Buffer.concat(parts);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Length of the well-formed UTF-8 sequence at `i` (0 if none) and of its maximal valid prefix. */
function utf8SequenceAt(bytes: Uint8Array, i: number): { valid: number; prefix: number } {
  const b0 = bytes[i] as number;
  if (b0 < 0x80) return { valid: 1, prefix: 1 };
  let need: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 2;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 3;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return { valid: 0, prefix: 1 };
  for (let k = 1; k <= need; k++) {
    const b = bytes[i + k];
    if (b === undefined || b < lo || b > hi) return { valid: 0, prefix: k };
    lo = 0x80;
    hi = 0xbf;
  }
  return { valid: need + 1, prefix: need + 1 };
}

/** IntelMQ's base64_decode text: UTF-8, invalid bytes dropped (Python's errors="ignore"). */
export function decodeUtf8Lenient(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    let out = "";
    let start = 0;
    let i = 0;
    while (i < bytes.length) {
      const { valid, prefix } = utf8SequenceAt(bytes, i);
      if (valid > 0) {
        i += valid;
        continue;
      }
      out += Buffer.from(bytes.subarray(start, i)).toString("utf8");
      i += prefix;
      start = i;
    }
    return out + Buffer.from(bytes.subarray(start)).toString("utf8");
  }
}

// ---- Python str.format templates over an event: "{ev[source.asn]}" ----

export interface EventTemplateOptions {
  /** The name the template uses for the event ("ev" in IntelMQ's SMTP and AMQP outputs). */
  variable: string;
  /** What a missing field gives: "None" as the SMTP output (set_default_value), or an error (KeyError). */
  missing: "none" | "error";
  /** The parameter the template comes from, for error messages. */
  parameter: string;
  /**
   * The template sees a plain dict of the event's flat fields, as IntelMQ's file output fills file
   * names: a JSONDict field as a whole (extra) is no key of it, and these fields are datetimes (str()
   * of a datetime, or strftime after ':'), parsed from the field's text by `parse`.
   */
  flatDict?: { datetimes: ReadonlySet<string>; parse: (value: unknown) => DateParts };
}

type TemplatePart =
  | string
  | { key: string; conversion: "" | "s" | "r" | "a"; spec: string; datetime: boolean };

interface FormatSpec {
  fill: string;
  align: "" | "<" | ">" | "^" | "=";
  sign: "" | "+" | "-" | " ";
  alternate: boolean;
  zero: boolean;
  width: number;
  grouping: "" | "," | "_";
  precision: number | undefined;
  type: string;
}

const FORMAT_SPEC = /^(?:(.)?([<>^=]))?([+\- ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/su;

function parseFormatSpec(spec: string): FormatSpec | undefined {
  const m = FORMAT_SPEC.exec(spec);
  if (!m) return undefined;
  return {
    fill: m[1] ?? (m[5] ? "0" : " "),
    align: (m[2] ?? "") as FormatSpec["align"],
    sign: (m[3] ?? "") as FormatSpec["sign"],
    alternate: m[4] !== undefined,
    zero: m[5] !== undefined,
    width: m[6] ? Number(m[6]) : 0,
    grouping: (m[7] ?? "") as FormatSpec["grouping"],
    precision: m[8] === undefined ? undefined : Number(m[8]),
    type: m[9] ?? "",
  };
}

function pad(text: string, spec: FormatSpec, defaultAlign: "<" | ">", signLength = 0): string {
  const length = [...text].length;
  if (length >= spec.width) return text;
  const fill = spec.fill.repeat(spec.width - length);
  switch (spec.align || defaultAlign) {
    case "<":
      return text + fill;
    case "^": {
      const left = Math.floor((spec.width - length) / 2);
      return spec.fill.repeat(left) + text + spec.fill.repeat(spec.width - length - left);
    }
    case "=":
      return text.slice(0, signLength) + fill + text.slice(signLength);
    default:
      return fill + text;
  }
}

function group(digits: string, separator: string, every: number): string {
  if (!separator) return digits;
  let out = "";
  for (let i = digits.length; i > 0; i -= every)
    out = digits.slice(Math.max(0, i - every), i) + (out ? separator + out : "");
  return out;
}

function formatNumber(value: number, isFloat: boolean, spec: FormatSpec, what: string): string {
  const negative = value < 0 || Object.is(value, -0);
  const abs = Math.abs(value);
  const sign = negative ? "-" : spec.sign === "+" ? "+" : spec.sign === " " ? " " : "";
  let body: string;
  let prefix = "";
  const type = spec.type || (isFloat ? "" : "d");
  if ("bdoxX".includes(type) && type !== "" && !isFloat) {
    if (spec.precision !== undefined)
      throw new Error(`${what}: precision not allowed in integer format specifier`);
    const base = { b: 2, d: 10, o: 8, x: 16, X: 16 }[type as "b" | "d" | "o" | "x" | "X"];
    body = BigInt(abs).toString(base);
    if (type === "X") body = body.toUpperCase();
    if (spec.alternate && type !== "d") prefix = `0${type}`;
    body = group(body, spec.grouping, type === "d" ? 3 : 4);
  } else if ("eEfF%".includes(type) && type !== "") {
    const precision = spec.precision ?? 6;
    if (type === "%") body = `${(abs * 100).toFixed(precision)}%`;
    else if (type === "e" || type === "E") {
      const [mantissa, exponent] = abs.toExponential(precision).split("e") as [string, string];
      const x = Number(exponent);
      body = `${mantissa}e${x < 0 ? "-" : "+"}${String(Math.abs(x)).padStart(2, "0")}`;
      if (type === "E") body = body.toUpperCase();
    } else body = abs.toFixed(precision);
    if (spec.grouping) {
      const [int, frac] = body.split(/(?=[.%e])/, 2) as [string, string | undefined];
      body = group(int, spec.grouping, 3) + (frac ?? "");
    }
  } else if (type === "" && isFloat && spec.precision === undefined) {
    const repr = pyFloatRepr(abs);
    const [int, frac] = repr.split(/(?=[.e])/, 2) as [string, string | undefined];
    body = group(int, spec.grouping, 3) + (frac ?? "");
  } else {
    throw new Error(
      `${what}: the format specifier type ${JSON.stringify(type)} is not supported for numbers`,
    );
  }
  const head = sign + prefix;
  if (spec.zero && !spec.align && spec.width > 0) {
    if (spec.grouping) {
      // Python groups the padding zeros too: 00,064,496.
      const every = "bcoxX".includes(type) ? 4 : 3;
      const [int = "", rest = ""] = body.split(/(?=[.e%])/, 2) as [string, string | undefined];
      let digits = int.replaceAll(spec.grouping, "");
      while (head.length + group(digits, spec.grouping, every).length + rest.length < spec.width)
        digits = `0${digits}`;
      return head + group(digits, spec.grouping, every) + rest;
    }
    return pad(head + body, { ...spec, fill: "0", align: "=" }, ">", head.length);
  }
  return pad(head + body, spec, ">", head.length);
}

/** Python's format(value, spec) for the values an event holds (str, int, float, bool, None, list, dict). */
function pyFormat(value: unknown, isFloat: boolean, spec: string, what: string): string {
  if (spec === "") return pyStr(value, isFloat);
  const parsed = parseFormatSpec(spec);
  if (!parsed) throw new Error(`${what}: invalid format specifier ${JSON.stringify(spec)}`);
  if (typeof value === "string") {
    if (
      parsed.sign ||
      parsed.alternate ||
      parsed.grouping ||
      parsed.align === "=" ||
      (parsed.type && parsed.type !== "s")
    ) {
      throw new Error(`${what}: format specifier ${JSON.stringify(spec)} is not valid for text`);
    }
    const text = parsed.precision === undefined ? value : [...value].slice(0, parsed.precision).join("");
    return pad(text, parsed, "<");
  }
  if (typeof value === "number" || typeof value === "boolean") {
    const n = typeof value === "boolean" ? Number(value) : value;
    return formatNumber(n, isFloat || !Number.isInteger(n), parsed, what);
  }
  throw new Error(
    `${what}: a ${value === null ? "None" : Array.isArray(value) ? "list" : "dict"} value cannot be formatted with ${JSON.stringify(spec)}`,
  );
}

/** Python's ascii(): repr() with every non-ASCII character escaped. */
function pyAscii(value: unknown, isFloat: boolean): string {
  return pyRepr(value, isFloat).replace(/[^\x00-\x7f]/gu, (c) => {
    const cp = c.codePointAt(0) as number;
    if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, "0")}`;
    if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, "0")}`;
    return `\\U${cp.toString(16).padStart(8, "0")}`;
  });
}

/**
 * Compiles a Python format string whose replacement fields are `{ev[field]}`, with an optional
 * conversion (!s, !r, !a) and format specifier, as IntelMQ's outputs fill subjects, addresses and
 * routing keys with `template.format(ev=event)`. Anything else in braces is refused here, at start.
 */
export function compileEventTemplate(
  template: string,
  options: EventTemplateOptions,
): (event: Event) => string {
  const { variable, parameter } = options;
  const parts: TemplatePart[] = [];
  let literal = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    const next = template[i + 1];
    if ((c === "{" && next === "{") || (c === "}" && next === "}")) {
      literal += c;
      i++;
      continue;
    }
    if (c === "}") throw new Error(`${parameter}: single '}' encountered in format string`);
    if (c !== "{") {
      literal += c;
      continue;
    }
    // The field runs to the matching brace; a specifier may hold one nested {…}, which is refused below.
    let depth = 1;
    let end = i + 1;
    for (; end < template.length && depth > 0; end++) {
      if (template[end] === "{") depth++;
      else if (template[end] === "}") depth--;
    }
    if (depth > 0) throw new Error(`${parameter}: '{' without its '}' in format string`);
    const field = template.slice(i + 1, end - 1);
    const m = /^([^[.!:]*)\[([^\]]*)\](?:!([sra]))?(?::(.*))?$/su.exec(field);
    if (!m || m[1] !== variable) {
      throw new Error(
        `${parameter}: {${field}} is not supported; placeholders look like {${variable}[field]}`,
      );
    }
    const [, , key, conversion = "", spec = ""] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string | undefined,
    ];
    if (spec.includes("{"))
      throw new Error(`${parameter}: nested placeholders in {${field}} are not supported`);
    const definition = fieldDefinition("Event", key);
    if (!definition) throw new Error(`${parameter}: {${field}}: ${key} is not an event field`);
    const flatDict = options.flatDict;
    if (flatDict && definition.spec.type === "JSONDict" && !definition.subKey) {
      throw new Error(`${parameter}: {${field}}: ${key} is not a single field (IntelMQ fails with KeyError)`);
    }
    const datetime = flatDict?.datetimes.has(key) === true;
    if (datetime && (conversion === "r" || conversion === "a")) {
      throw new Error(`${parameter}: {${field}}: !${conversion} of a time is not supported`);
    }
    if (datetime && conversion === "" && spec !== "") {
      try {
        strftime({ year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0 }, spec);
      } catch (error) {
        throw new Error(`${parameter}: {${field}}: ${(error as Error).message}`);
      }
    } else if (spec !== "" && !parseFormatSpec(spec)) {
      throw new Error(`${parameter}: invalid format specifier ${JSON.stringify(spec)} in {${field}}`);
    }
    parts.push(literal, { key, conversion: conversion as "" | "s" | "r" | "a", spec, datetime });
    literal = "";
    i = end - 1;
  }
  parts.push(literal);
  if (parts.length === 1) return () => literal;
  return (event) => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") {
        out += part;
        continue;
      }
      let value = event.get(part.key);
      if (value === undefined) {
        if (options.missing === "error")
          throw new Error(`${parameter}: the event has no ${part.key} (KeyError)`);
        value = null;
      }
      const what = `${parameter}: {${variable}[${part.key}]}`;
      if (part.datetime) {
        const wall = (options.flatDict as NonNullable<EventTemplateOptions["flatDict"]>).parse(value);
        out +=
          part.conversion === "" && part.spec !== ""
            ? strftime(wall, part.spec)
            : pyFormat(datetimeStr(wall), false, part.spec, what);
        continue;
      }
      const isFloat = isFloatField(part.key);
      if (part.conversion === "") out += pyFormat(value, isFloat, part.spec, what);
      else {
        const converted =
          part.conversion === "s"
            ? pyStr(value, isFloat)
            : part.conversion === "r"
              ? pyRepr(value, isFloat)
              : pyAscii(value, isFloat);
        out += pyFormat(converted, false, part.spec, what);
      }
    }
    return out;
  };
}
