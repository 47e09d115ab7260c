// How outputs turn an event into what they write: IntelMQ's OutputBot.export_event (single_key,
// keep_raw_field, hierarchical output, __type, JSONDict as string), plus Python's UTF-8 encoding with
// its error handlers (encoding_errors_mode) and its lenient base64 text decoding.

import { compareCodePoints, pyJsonDumps, pyJsonLoads } from "../event/compat/pyjson.ts";
import { pyFloatRepr } from "../event/compat/pynumber.ts";
import { pyStr } from "../event/compat/pyrepr.ts";
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
