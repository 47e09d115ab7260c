// Reports and Events: flat messages keyed by dotted field names, with IntelMQ's add/update/change
// rules, wire format (flat JSON with "__type") and deduplication hash.
import { hash as cryptoHash } from "node:crypto";
import { pyJsonDumps } from "./compat/pyjson.ts";
import { pyLen, pyRepr, pyStr } from "./compat/pyrepr.ts";
import {
  FIELD_NAME_PATTERN,
  type FieldSpec,
  fieldsOf,
  type MessageKind,
  REPORT_FIELDS_COPIED_TO_EVENTS,
} from "./harmonization.ts";
import { FIELD_TYPES, type FieldType } from "./types.ts";

export type FieldErrorCode = "InvalidKey" | "InvalidValue" | "KeyExists" | "KeyNotExists" | "InvalidMessage";

/** A problem with one field (or with the message as a whole), naming the field, the value and the rule. */
export class FieldError extends Error {
  readonly code: FieldErrorCode;
  readonly field: string;
  readonly value: unknown;
  readonly rule: string;
  constructor(code: FieldErrorCode, field: string, value: unknown, rule: string) {
    super(`${field}: ${describeValue(value)}${rule.startsWith(":") ? "" : " "}${rule}`);
    this.name = "FieldError";
    this.code = code;
    this.field = field;
    this.value = value;
    this.rule = rule;
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return "(no value)";
  const text = JSON.stringify(value) ?? String(value);
  return `value ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`;
}

/** Values that IntelMQ treats as "no value": adding them is a no-op (or a delete with overwrite). */
function isIgnoredValue(v: unknown): boolean {
  return v === null || v === undefined || v === "" || v === "-" || v === "N/A";
}

// Python's `$` also matches just before a final newline; JavaScript's does not.
function compilePythonRegex(source: string, flags: string): RegExp {
  if (source.slice(0, -1).replace(/\\\$/g, "").includes("$")) {
    throw new Error(`unsupported '$' inside field regex ${source}`);
  }
  return new RegExp(source.endsWith("$") ? `${source.slice(0, -1)}(?=\\n?$)` : source, flags);
}

interface CompiledField {
  readonly name: string;
  readonly spec: FieldSpec;
  readonly type: FieldType;
  readonly isJsonDict: boolean;
  /** `undefined` when the value is valid, else the rule it breaks. */
  check(value: unknown): string | undefined;
}

function compileField(name: string, spec: FieldSpec): CompiledField {
  const type = FIELD_TYPES[spec.type];
  const regex = spec.regex === undefined ? undefined : compilePythonRegex(spec.regex, "u");
  const iregex = spec.iregex === undefined ? undefined : compilePythonRegex(spec.iregex, "iu");
  const { length } = spec;
  const typeRule = `is not a valid ${spec.type}: must be ${type.rule}`;
  return {
    name,
    spec,
    type,
    isJsonDict: spec.type === "JSONDict",
    check(value) {
      if (!type.isValid(value)) return typeRule;
      if (length === undefined && regex === undefined && iregex === undefined) return undefined;
      const text = typeof value === "string" ? value : pyStr(value);
      if (length !== undefined && text.length > length && pyLen(text) > length) {
        return `is too long: at most ${length} characters`;
      }
      if (regex !== undefined && !regex.test(text)) return `does not match ${spec.regex}`;
      if (iregex !== undefined && !iregex.test(text))
        return `does not match ${spec.iregex} (case-insensitive)`;
      return undefined;
    },
  };
}

const compiled: Record<MessageKind, ReadonlyMap<string, CompiledField>> = {
  Event: new Map(Object.entries(fieldsOf("Event")).map(([k, s]) => [k, compileField(k, s)])),
  Report: new Map(Object.entries(fieldsOf("Report")).map(([k, s]) => [k, compileField(k, s)])),
};

interface FoundField {
  readonly field: CompiledField;
  readonly subKey: boolean;
}

// Field lookups happen several times per add (and for every extra.* key read), so their results are
// kept, with the fields' own: one map read, and sub-keys are tested against the key pattern once.
// Sub-keys come from events, so they are dropped when there are many.
const MAX_CACHED_SUB_KEYS = 10_000;

class FieldLookups {
  readonly #kind: MessageKind;
  #found = new Map<string, FoundField | null>();
  #subKeys = 0;

  constructor(kind: MessageKind) {
    this.#kind = kind;
    this.#reset();
  }

  #reset(): void {
    this.#found = new Map([...compiled[this.#kind]].map(([k, field]) => [k, { field, subKey: false }]));
    this.#subKeys = 0;
  }

  get(key: string): FoundField | undefined {
    const cached = this.#found.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const dot = key.indexOf(".");
    const parent = dot < 0 ? undefined : compiled[this.#kind].get(key.slice(0, dot));
    const found = parent?.isJsonDict && FIELD_NAME_PATTERN.test(key) ? { field: parent, subKey: true } : null;
    if (this.#subKeys >= MAX_CACHED_SUB_KEYS) this.#reset();
    this.#found.set(key, found);
    this.#subKeys++;
    return found ?? undefined;
  }
}

const FIELD_LOOKUPS: Record<MessageKind, FieldLookups> = {
  Event: new FieldLookups("Event"),
  Report: new FieldLookups("Report"),
};

/** The field definition for a key, or for the JSONDict field a sub-key (extra.x) belongs to. */
function lookup(kind: MessageKind, key: string): FoundField | undefined {
  return FIELD_LOOKUPS[kind].get(key);
}

const JSON_DICT_NAMES: Record<MessageKind, readonly string[]> = {
  Event: [...compiled.Event.values()].filter((f) => f.isJsonDict).map((f) => f.name),
  Report: [...compiled.Report.values()].filter((f) => f.isJsonDict).map((f) => f.name),
};

/** Whether a key names a JSONDict field as a whole (extra), which is present through its sub-keys. */
function isJsonDictName(kind: MessageKind, key: string): boolean {
  return JSON_DICT_NAMES[kind].includes(key);
}

function invalidKey(kind: MessageKind, key: string, value: unknown): FieldError {
  const dot = key.indexOf(".");
  const parent = dot > 0 ? compiled[kind].get(key.slice(0, dot)) : undefined;
  const rule = parent?.isJsonDict
    ? `: invalid key, sub-keys must match ${FIELD_NAME_PATTERN.source}`
    : `: no such field in ${kind === "Event" ? "an Event" : "a Report"}`;
  return new FieldError("InvalidKey", key, value, rule);
}

export interface AddOptions {
  /** Normalise the value with the field type's sanitizer first (default true). */
  sanitize?: boolean;
  /** true: replace an existing value; false: keep it; undefined: an existing value is an error. */
  overwrite?: boolean;
  /** Values to treat like "no value". */
  ignore?: readonly unknown[];
}

export interface HashOptions {
  filterKeys?: ReadonlySet<string> | readonly string[];
  filterType?: "blacklist" | "whitelist";
}

export interface DictOptions {
  hierarchical?: boolean;
  withType?: boolean;
  /** Render each JSONDict field (extra) as one JSON string instead of separate keys. */
  jsondictAsString?: boolean;
  /** Fields to leave out (outputs drop raw unless told to keep it). */
  omit?: ReadonlySet<string>;
}

const HASH_SEPARATOR = 0xc0;
const TYPE_KEY = "__type";

const NO_OPTIONS: AddOptions = {};

export abstract class Message {
  abstract readonly kind: MessageKind;
  // The wire object itself: "__type" first, then the fields in insertion order, so serialising is
  // one JSON.stringify call. A removed field stays as a key whose value is undefined (which
  // JSON.stringify leaves out): deleting would turn the object into a slow dictionary and rebuilding
  // it costs more than the rest of a typical expert. No field value is ever undefined otherwise.
  protected data: Record<string, unknown>;
  /** How many keys of `data` are removed fields (undefined). */
  private removed = 0;

  protected constructor(kind: MessageKind, data?: Record<string, unknown>) {
    this.data = data ?? { [TYPE_KEY]: kind };
  }

  /** Field names present, in insertion order. */
  keys(): string[] {
    const data = this.data;
    const keys: string[] = [];
    for (const key in data) if (key !== TYPE_KEY && data[key] !== undefined) keys.push(key);
    return keys;
  }

  *entries(): IterableIterator<[string, unknown]> {
    const data = this.data;
    for (const key in data) {
      const value = data[key];
      if (key !== TYPE_KEY && value !== undefined) yield [key, value];
    }
  }

  get size(): number {
    return Object.keys(this.data).length - 1 - this.removed;
  }

  /**
   * True if the field is set; for a JSONDict field (extra), if any of its sub-keys is set. As in
   * IntelMQ, a sub-key is present only when set itself ("extra.a" is absent when only "extra.a.b" is).
   */
  has(key: string): boolean {
    const data = this.data;
    if (Object.hasOwn(data, key)) return key !== TYPE_KEY && data[key] !== undefined;
    return isJsonDictName(this.kind, key) && this.hasSubKeys(key);
  }

  /** The value of a field; a JSONDict field (extra) is returned as JSON text of its sub-keys. */
  get(key: string): unknown {
    if (key === TYPE_KEY) return undefined;
    if (Object.hasOwn(this.data, key)) return this.data[key];
    if (isJsonDictName(this.kind, key) && this.hasSubKeys(key)) {
      return pyJsonDumps(this.toDict({ hierarchical: true })[key]);
    }
    return undefined;
  }

  private hasSubKeys(key: string): boolean {
    const data = this.data;
    const prefix = `${key}.`;
    for (const k in data) if (data[k] !== undefined && k.startsWith(prefix)) return true;
    return false;
  }

  /** Sets a field's value; a field that was removed is added again at the end, as a new key. */
  private put(key: string, value: unknown): void {
    if (this.removed > 0 && Object.hasOwn(this.data, key) && this.data[key] === undefined) this.compact();
    this.data[key] = value;
  }

  /** Drops the keys of removed fields. */
  private compact(): void {
    const data = this.data;
    const next: Record<string, unknown> = {};
    for (const k in data) if (data[k] !== undefined) next[k] = data[k];
    this.data = next;
    this.removed = 0;
  }

  /**
   * Adds a field with IntelMQ's semantics. Returns true when added, false when the value was kept
   * out (an existing value and `overwrite: false`), undefined when the value means "no value".
   * Throws FieldError for unknown keys, invalid values and (without `overwrite`) existing keys.
   */
  add(key: string, value: unknown, options: AddOptions = NO_OPTIONS): boolean | undefined {
    const { sanitize = true, overwrite, ignore } = options;
    const present = this.has(key);
    if (present && overwrite === undefined) {
      throw new FieldError("KeyExists", key, value, "is already set (use overwrite to replace it)");
    }
    if (present && overwrite === false) return false;
    if (isIgnoredValue(value)) {
      if (present && overwrite) this.remove(key);
      return undefined;
    }
    const found = lookup(this.kind, key);
    if (!found) throw invalidKey(this.kind, key, value);
    if (ignore?.includes(value)) return undefined;
    let v = value;
    if (!found.subKey) {
      if (sanitize) {
        v = found.field.type.sanitize(value);
        if (v === undefined || v === null) {
          throw new FieldError(
            "InvalidValue",
            key,
            value,
            `cannot be made a valid ${found.field.spec.type}: must be ${found.field.type.rule}`,
          );
        }
      }
      const broken = found.field.check(v);
      if (broken !== undefined) throw new FieldError("InvalidValue", key, v, broken);
    }
    if (found.field.isJsonDict && !found.subKey) {
      if (present && overwrite) this.remove(key);
      for (const [subKey, subValue] of Object.entries(JSON.parse(v as string) as Record<string, unknown>)) {
        this.put(`${key}.${subKey}`, subValue);
      }
    } else {
      this.put(key, v);
    }
    return true;
  }

  /** Sets each key, as given when valid, else sanitized; existing values are replaced. */
  update(fields: Record<string, unknown>): void {
    for (const [key, value] of Object.entries(fields)) {
      try {
        this.add(key, value, { sanitize: false, overwrite: true });
      } catch (error) {
        if (!(error instanceof FieldError) || error.code !== "InvalidValue") throw error;
        this.add(key, value, { sanitize: true, overwrite: true });
      }
    }
  }

  /** Replaces the value of an existing field. */
  change(key: string, value: unknown, sanitize = true): boolean | undefined {
    if (!this.has(key))
      throw new FieldError("KeyNotExists", key, value, "is not set, so it cannot be changed");
    return this.add(key, value, { overwrite: true, sanitize });
  }

  /** Removes a field (for a JSONDict field, all its sub-keys). Returns whether anything was removed. */
  remove(key: string): boolean {
    const data = this.data;
    if (Object.hasOwn(data, key)) {
      if (key === TYPE_KEY || data[key] === undefined) return false;
      data[key] = undefined;
      this.removed++;
      return true;
    }
    if (!isJsonDictName(this.kind, key)) return false;
    const prefix = `${key}.`;
    let any = false;
    for (const k in data) {
      if (data[k] !== undefined && k.startsWith(prefix)) {
        data[k] = undefined;
        this.removed++;
        any = true;
      }
    }
    return any;
  }

  /**
   * IntelMQ's message hash (SHA-256 hex): over the fields sorted by name, without time.observation,
   * each as name, 0xC0, Python repr() of the value, 0xC0. Dedup caches shared with IntelMQ agree.
   */
  hash(options: HashOptions = {}): string {
    const { filterType = "blacklist" } = options;
    const filter =
      options.filterKeys === undefined
        ? NO_HASH_FILTER
        : options.filterKeys instanceof Set
          ? options.filterKeys
          : new Set<string>(options.filterKeys);
    const plan = hashPlan(this.kind, this.keys(), filter, filterType === "whitelist");
    // NUL never occurs in a key or in a repr() (Python escapes it), so it marks the separators.
    let text = "";
    for (const part of plan) text += part.prefix + pyRepr(this.data[part.key], part.asFloat) + "\0";
    // Common case, all ASCII: the separators can be written as latin-1 0xC0 directly.
    const bytes = ASCII_ONLY.test(text)
      ? Buffer.from(text.replaceAll("\0", "\xc0"), "latin1")
      : utf8WithSeparators(text);
    return cryptoHash("sha256", bytes, "hex");
  }

  /** A plain object copy: flat or nested on dots, optionally with "__type" and extra as JSON text. */
  toDict(options: DictOptions = {}): Record<string, unknown> {
    const { hierarchical = false, withType = false, jsondictAsString = false, omit } = options;
    const out: Record<string, unknown> = {};
    if (withType) out[TYPE_KEY] = this.kind;
    const jsonDicts = new Map<string, Record<string, unknown>>();
    for (const [key, value] of this.entries()) {
      if (omit?.has(key)) continue;
      const dot = key.indexOf(".");
      const head = dot < 0 ? key : key.slice(0, dot);
      if (jsondictAsString && dot > 0 && compiled[this.kind].get(head)?.isJsonDict) {
        const group = jsonDicts.get(head) ?? {};
        jsonDicts.set(head, group);
        group[key.slice(dot + 1)] = value;
        continue;
      }
      if (!hierarchical) {
        out[key] = value;
        continue;
      }
      const parts = key.split(".");
      let node = out;
      for (let i = 0; i < parts.length - 1; i++) {
        const part = parts[i] as string;
        const next = node[part];
        if (typeof next !== "object" || next === null || Array.isArray(next)) node[part] = {};
        node = node[part] as Record<string, unknown>;
      }
      node[parts[parts.length - 1] as string] = value;
    }
    // IntelMQ renders these with json.dumps(ensure_ascii=False).
    for (const [head, group] of jsonDicts) out[head] = pyJsonDumps(group, { ensureAscii: false });
    return out;
  }

  /**
   * An independent copy (fields added, changed or removed on one do not show on the other). Values are
   * shared: the message API never changes a value in place.
   */
  copy(): this {
    if (this.removed > 0) this.compact();
    return newMessage(this.kind, { ...this.data }) as this;
  }

  /** Compact wire JSON: {"__type": kind, ...fields}. */
  serialize(): string {
    return JSON.stringify(this.data);
  }

  /** The wire object ("__type" and the fields set); the caller must not change it. */
  toJSON(): Record<string, unknown> {
    if (this.removed > 0) this.compact();
    return this.data;
  }
}

function isFloatType(type: string): boolean {
  return type === "Float" || type === "Accuracy";
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;

function utf8WithSeparators(text: string): Buffer {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) bytes[i] = HASH_SEPARATOR;
  return bytes;
}

/** One field of the hash: its name and separator, and whether its value reprs as a Python float. */
interface HashPart {
  key: string;
  prefix: string;
  asFloat: boolean;
}

interface HashPlan {
  kind: MessageKind;
  whitelist: boolean;
  /** The message's keys in the order they were read: events of one feed share it. */
  keys: string[];
  parts: HashPart[];
}

// The sorted, filtered field list of the last message hashed with each filter set: a feed's events
// have the same fields in the same order, so sorting and looking up types happens once per shape.
const NO_HASH_FILTER: ReadonlySet<string> = new Set();
const HASH_PLANS = new WeakMap<ReadonlySet<string>, HashPlan>();

function hashPlan(
  kind: MessageKind,
  keys: string[],
  filter: ReadonlySet<string>,
  whitelist: boolean,
): HashPart[] {
  const cached = HASH_PLANS.get(filter);
  if (cached && cached.kind === kind && cached.whitelist === whitelist && sameKeys(cached.keys, keys)) {
    return cached.parts;
  }
  const parts: HashPart[] = [];
  for (const key of [...keys].sort()) {
    if (key === "time.observation" || filter.has(key) !== whitelist) continue;
    const type = lookup(kind, key);
    const asFloat = type !== undefined && !type.subKey && isFloatType(type.field.spec.type);
    parts.push({ key, prefix: `${key}\0`, asFloat });
  }
  HASH_PLANS.set(filter, { kind, whitelist, keys, parts });
  return parts;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class Event extends Message {
  readonly kind = "Event" as const;
  constructor(data?: Record<string, unknown>) {
    super("Event", data);
  }

  /**
   * A new Event for a parser: copies the report's feed.*, rtir_id and time.observation (never raw),
   * plus `copyFields` (IntelMQ's copy_collector_provided_fields) where present.
   */
  static fromReport(report: Report, copyFields: readonly string[] = []): Event {
    const event = new Event();
    for (const key of REPORT_FIELDS_COPIED_TO_EVENTS) {
      if (report.has(key)) event.data[key] = report.get(key);
    }
    for (const key of copyFields) {
      if (report.has(key)) event.add(key, report.get(key), { sanitize: false, overwrite: true });
    }
    return event;
  }
}

export class Report extends Message {
  readonly kind = "Report" as const;
  constructor(data?: Record<string, unknown>) {
    super("Report", data);
  }

  /** A new Report stamped with time.observation = now (whole seconds, UTC), as collectors make them. */
  static create(now: Date = new Date()): Report {
    const report = new Report();
    report.data["time.observation"] = `${now.toISOString().slice(0, 19)}+00:00`;
    return report;
  }
}

export type ValidationMode = "strict" | "sanitize";

export interface ReadOptions {
  /** strict: values must already be valid (reading a message); sanitize: normalise each value (default strict). */
  mode?: ValidationMode;
  /** The type to assume when "__type" is missing; without it a missing "__type" is an error. */
  defaultType?: MessageKind;
}

function newMessage(kind: MessageKind, data?: Record<string, unknown>): Message {
  return kind === "Event" ? new Event(data) : new Report(data);
}

function messageKindOf(obj: Record<string, unknown>, defaultType: MessageKind | undefined): MessageKind {
  const t = obj[TYPE_KEY] ?? defaultType;
  if (t === "Event" || t === "Report") return t;
  if (t === undefined) {
    throw new FieldError("InvalidMessage", TYPE_KEY, undefined, 'is missing: say "Event" or "Report"');
  }
  throw new FieldError("InvalidMessage", TYPE_KEY, t, 'must be "Event" or "Report"');
}

/**
 * Builds a message from a decoded JSON object. In strict mode valid input is kept as it is (the
 * object becomes the message's storage when already in canonical shape); in sanitize mode every
 * field is added with sanitizing, as a parser would.
 */
export function messageFromObject(input: unknown, options: ReadOptions = {}): Message {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new FieldError("InvalidMessage", "(message)", input, "must be a JSON object");
  }
  const obj = input as Record<string, unknown>;
  const kind = messageKindOf(obj, options.defaultType);
  if (options.mode === "sanitize") {
    const message = newMessage(kind);
    for (const key in obj) if (key !== TYPE_KEY) message.add(key, obj[key]);
    return message;
  }
  const fields = compiled[kind];
  let canonical = Object.keys(obj)[0] === TYPE_KEY;
  for (const key in obj) {
    if (key === TYPE_KEY) continue;
    const value = obj[key];
    const field = fields.get(key);
    if (field !== undefined && !field.isJsonDict) {
      if (isIgnoredValue(value)) {
        canonical = false;
        continue;
      }
      const broken = field.check(value);
      if (broken !== undefined) throw new FieldError("InvalidValue", key, value, broken);
      continue;
    }
    const found = lookup(kind, key);
    if (!found) throw invalidKey(kind, key, value);
    // Sub-keys (extra.x) take any value; a JSONDict given whole must be exploded by the general path.
    if (!found.subKey || isIgnoredValue(value)) canonical = false;
  }
  if (canonical) return newMessage(kind, obj);
  const message = newMessage(kind);
  for (const key in obj) if (key !== TYPE_KEY) message.add(key, obj[key], { sanitize: false });
  return message;
}

/** Parses wire JSON into a Report or Event (see messageFromObject). */
export function parseMessage(text: string, options: ReadOptions = {}): Message {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch (error) {
    throw new FieldError(
      "InvalidMessage",
      "(message)",
      text,
      `is not valid JSON (${(error as Error).message})`,
    );
  }
  return messageFromObject(decoded, options);
}

/** The compiled definition of a field, for callers that validate single values (CLI, forms). */
export function fieldDefinition(
  kind: MessageKind,
  key: string,
): { spec: FieldSpec; type: FieldType; subKey: boolean } | undefined {
  const found = lookup(kind, key);
  return found && { spec: found.field.spec, type: found.field.type, subKey: found.subKey };
}
