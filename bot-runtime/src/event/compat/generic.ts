// IntelMQ 3.5.0 GenericType.sanitize (intelmq/lib/harmonization.py), the base of most harmonization
// types' sanitizers, and the Python truthiness test (`if not value`) it starts with.
import { pyStr } from "./pyrepr.ts";
import { pyStrip } from "./pystring.ts";

/** Python truthiness of a JSON-like value: None, False, 0, 0.0, "", [] and {} are falsy. */
export function isPyFalsy(value: unknown): boolean {
  if (
    value === null ||
    value === undefined ||
    value === false ||
    value === 0 ||
    value === 0n ||
    value === ""
  ) {
    return true;
  }
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === "object" && Object.keys(value).length === 0;
}

/**
 * IntelMQ GenericType.sanitize: undefined for Python-falsy values, str.strip() for strings, Python
 * str() for everything else (see pyrepr.ts for its deviations).
 */
export function genericSanitize(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : pyStrip(value);
  if (isPyFalsy(value)) return undefined;
  return pyStr(value);
}
