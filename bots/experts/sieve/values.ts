// Python semantics of event values that the sieve language compares: equality across int, float and
// bool, hashability (for the set operators), str() and type names for error messages.
import { pyJsonDumps } from "../../../bot-runtime/src/event/compat/pyjson.ts";
import { isPlainObject, pyStr } from "../../../bot-runtime/src/event/compat/pyrepr.ts";

/** Python `a == b` for JSON-like values (True == 1 == 1.0). */
export function pyEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === "number" || ta === "boolean") && (tb === "number" || tb === "boolean")) {
    return Number(a) === Number(b);
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!pyEquals(a[i], b[i])) return false;
    return true;
  }
  if (ta === "object" && tb === "object" && a !== null && b !== null && !Array.isArray(b)) {
    const ka = Object.keys(a as object);
    const kb = Object.keys(b as object);
    if (ka.length !== kb.length) return false;
    const ob = b as Record<string, unknown>;
    const oa = a as Record<string, unknown>;
    return ka.every((k) => Object.hasOwn(ob, k) && pyEquals(oa[k], ob[k]));
  }
  return false;
}

/** Python's type name of a JSON-like value, for messages that mirror Python's. */
export function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return "NoneType";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return "str";
  if (Array.isArray(value)) return "list";
  return "dict";
}

/** "an int", "a str", "None": a value's Python type for messages. */
export function aTypeName(value: unknown): string {
  const name = pyTypeName(value);
  if (name === "NoneType") return "None";
  return `${name === "int" ? "an" : "a"} ${name}`;
}

/** Throws Python's TypeError for values a set cannot hold (lists and dicts). */
export function assertHashable(values: readonly unknown[]): void {
  for (const v of values) {
    if (typeof v === "object" && v !== null) throw new TypeError(`unhashable type: '${pyTypeName(v)}'`);
  }
}

export function pyIn(value: unknown, list: readonly unknown[]): boolean {
  for (const item of list) if (pyEquals(value, item)) return true;
  return false;
}

/**
 * The text a string operator sees for a non-string value: json.dumps() for a dict, str() for the
 * rest (`asFloat` for harmonization Float/Accuracy fields, whose integral values are floats).
 */
export function textOf(value: unknown, asFloat: boolean): string {
  if (typeof value === "string") return value;
  if (typeof value === "object" && value !== null && !Array.isArray(value) && isPlainObject(value)) {
    return pyJsonDumps(value);
  }
  return pyStr(value, asFloat);
}
