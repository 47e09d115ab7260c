// What the API server does with an object's structural schema before storing it — prune unknown fields,
// apply defaults, check the OpenAPI validations — in a few lines, to test sample resources against the
// generated CRDs without a cluster. CEL rules (x-kubernetes-validations) are not evaluated here; their
// zod twins are, and the real API server checks them in the control-plane tests.
import type { JsonSchema } from "./structural.ts";

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const properties = (schema: JsonSchema) =>
  (schema.properties as Record<string, JsonSchema> | undefined) ?? {};

/** A copy of `value` without the fields `schema` does not declare (unless it preserves unknown fields). */
export function prune(schema: JsonSchema, value: unknown): unknown {
  if (schema["x-kubernetes-preserve-unknown-fields"] === true && schema.properties === undefined) {
    return structuredClone(value);
  }
  if (Array.isArray(value)) {
    return isObject(schema.items)
      ? value.map((v) => prune(schema.items as JsonSchema, v))
      : structuredClone(value);
  }
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const sub =
      properties(schema)[key] ??
      (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (sub) out[key] = prune(sub as JsonSchema, v);
    else if (schema["x-kubernetes-preserve-unknown-fields"] === true) out[key] = structuredClone(v);
  }
  return out;
}

/**
 * A copy of `value` with the schema's defaults filled in the way Kubernetes does: a missing field with a
 * default gets a copy of it, then defaulting goes on inside every field, the defaulted ones included.
 */
export function applyDefaults(schema: JsonSchema, value: unknown): unknown {
  if (Array.isArray(value)) {
    return isObject(schema.items) ? value.map((v) => applyDefaults(schema.items as JsonSchema, v)) : value;
  }
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const [key, sub] of Object.entries(properties(schema))) {
    if (out[key] === undefined && sub.default !== undefined) out[key] = structuredClone(sub.default);
  }
  for (const [key, v] of Object.entries(out)) {
    const sub =
      properties(schema)[key] ??
      (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
    if (sub) out[key] = applyDefaults(sub as JsonSchema, v);
  }
  return out;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Violations of the schema's OpenAPI validations, each as "path: problem"; empty when valid. */
export function schemaErrors(schema: JsonSchema, value: unknown, path = ""): string[] {
  const at = path || "(root)";
  if (value === null) return schema.nullable === true ? [] : [`${at}: must not be null`];
  const errors: string[] = [];
  const intOrString = schema["x-kubernetes-int-or-string"] === true;
  const type = schema.type as string | undefined;
  if (intOrString) {
    if (!Number.isInteger(value) && typeof value !== "string")
      return [`${at}: must be an integer or a string`];
  } else if (type !== undefined && !hasType(value, type)) {
    return [`${at}: must be of type ${type}`];
  }
  errors.push(...valueErrors(schema, value, at));
  for (const junctor of ["anyOf", "allOf", "oneOf"] as const) {
    const branches = schema[junctor] as JsonSchema[] | undefined;
    if (!branches || (intOrString && junctor === "anyOf")) continue;
    const passing = branches.filter((b) => schemaErrors({ ...b, type: undefined }, value, path).length === 0);
    if (junctor === "anyOf" && passing.length === 0) errors.push(`${at}: matches none of the alternatives`);
    if (junctor === "allOf" && passing.length < branches.length) errors.push(`${at}: fails an allOf branch`);
    if (junctor === "oneOf" && passing.length !== 1) errors.push(`${at}: must match exactly one alternative`);
  }

  if (Array.isArray(value) && isObject(schema.items)) {
    value.forEach((item, i) => {
      errors.push(...schemaErrors(schema.items as JsonSchema, item, `${path}[${i}]`));
    });
    const keys = schema["x-kubernetes-list-map-keys"] as string[] | undefined;
    if (schema["x-kubernetes-list-type"] === "map" && keys) {
      const seen = new Set<string>();
      for (const item of value) {
        const key = JSON.stringify(keys.map((k) => (isObject(item) ? item[k] : undefined)));
        if (seen.has(key)) errors.push(`${at}: duplicate entry ${key}`);
        seen.add(key);
      }
    }
  }
  if (isObject(value)) {
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (value[name] === undefined) errors.push(`${path ? `${path}.` : ""}${name}: required`);
    }
    for (const [key, v] of Object.entries(value)) {
      const sub =
        properties(schema)[key] ??
        (isObject(schema.additionalProperties) ? schema.additionalProperties : undefined);
      if (sub) errors.push(...schemaErrors(sub as JsonSchema, v, path ? `${path}.${key}` : key));
    }
  }
  return errors;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "integer":
      return Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    default:
      return typeof value === type;
  }
}

function valueErrors(schema: JsonSchema, value: unknown, at: string): string[] {
  const errors: string[] = [];
  const n = (key: string) => schema[key] as number | undefined;
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    errors.push(`${at}: must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(", ")}`);
  }
  if (typeof value === "string") {
    const length = [...value].length;
    if (n("maxLength") !== undefined && length > (n("maxLength") as number)) errors.push(`${at}: too long`);
    if (n("minLength") !== undefined && length < (n("minLength") as number)) errors.push(`${at}: too short`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern).test(value)) {
      errors.push(`${at}: must match ${schema.pattern}`);
    }
    if (schema.format === "date-time" && !(RFC3339.test(value) && !Number.isNaN(Date.parse(value)))) {
      errors.push(`${at}: must be an RFC 3339 date-time`);
    }
  }
  if (typeof value === "number") {
    const min = n("minimum");
    const max = n("maximum");
    if (min !== undefined && (schema.exclusiveMinimum === true ? value <= min : value < min)) {
      errors.push(`${at}: below the minimum ${min}`);
    }
    if (max !== undefined && (schema.exclusiveMaximum === true ? value >= max : value > max)) {
      errors.push(`${at}: above the maximum ${max}`);
    }
  }
  if (Array.isArray(value)) {
    if (n("maxItems") !== undefined && value.length > (n("maxItems") as number))
      errors.push(`${at}: too many items`);
    if (n("minItems") !== undefined && value.length < (n("minItems") as number))
      errors.push(`${at}: too few items`);
  }
  return errors;
}
