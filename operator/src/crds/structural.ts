// From the JSON Schema zod emits to a structural OpenAPI v3 schema: the subset of OpenAPI Kubernetes
// accepts in a CustomResourceDefinition (every node typed, no references, no `additionalProperties:
// false`, value validations only under anyOf/allOf). `structuralProblems` checks a schema against those
// rules independently of the conversion, so a test can hold the conversion to them.

export type JsonSchema = { [key: string]: unknown };

/** Formats Kubernetes validates with the same meaning as zod; others are dropped (zod's pattern stays). */
const KUBE_FORMATS = new Set(["date-time", "date", "ipv4", "ipv6", "uuid"]);

/** Keys of a structural schema node, in the order they are written. */
const KEY_ORDER = [
  "description",
  "type",
  "format",
  "enum",
  "default",
  "nullable",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
  "anyOf",
  "allOf",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "x-kubernetes-int-or-string",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-map-type",
  "x-kubernetes-list-type",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-validations",
] as const;
const KEPT = new Set<string>(KEY_ORDER);

/** Keywords with no structural equivalent that only annotate, that zod re-checks anyway, or that hold
 * the targets of references (inlined where they are used). */
const DROPPED = new Set([
  "$schema",
  "$defs",
  "definitions",
  "$id",
  "$comment",
  "id",
  "title",
  "examples",
  "readOnly",
  "writeOnly",
  "deprecated",
  "propertyNames",
  "contentEncoding",
  "contentMediaType",
]);

/** Validations that are allowed inside anyOf/allOf of a structural schema. */
const VALUE_KEYS = [
  "format",
  "enum",
  "minimum",
  "exclusiveMinimum",
  "maximum",
  "exclusiveMaximum",
  "multipleOf",
  "minLength",
  "maxLength",
  "pattern",
  "minItems",
  "maxItems",
  "minProperties",
  "maxProperties",
] as const;

/** Keys that say something about a node without shaping its values (kept from a union's outer node). */
const ANNOTATION_KEYS = ["description", "default", "nullable", "x-kubernetes-validations"] as const;

const isObject = (v: unknown): v is JsonSchema => typeof v === "object" && v !== null && !Array.isArray(v);

function ordered(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const key of KEY_ORDER) if (node[key] !== undefined) out[key] = node[key];
  return out;
}

function pick(node: JsonSchema, keys: readonly string[]): JsonSchema {
  const out: JsonSchema = {};
  for (const key of keys) if (node[key] !== undefined) out[key] = node[key];
  return out;
}

interface Context {
  root: JsonSchema;
  /** $refs being inlined (a cycle cannot be written without references). */
  expanding: string[];
}

function resolvePointer(root: JsonSchema, ref: string, path: string): JsonSchema {
  if (!ref.startsWith("#/")) throw new Error(`${path}: cannot inline the external reference ${ref}`);
  let node: unknown = root;
  for (const part of ref.slice(2).split("/")) {
    const key = part.replace(/~1/g, "/").replace(/~0/g, "~");
    node = isObject(node) ? node[key] : undefined;
  }
  if (!isObject(node)) throw new Error(`${path}: unresolved reference ${ref}`);
  return node;
}

/** Replaces a $ref by the schema it points to; sibling keys (a description) win over the target's. */
function inline(node: JsonSchema, ctx: Context, path: string): { node: JsonSchema; ref?: string } {
  const ref = node.$ref;
  if (typeof ref !== "string") return { node };
  if (ctx.expanding.includes(ref)) {
    throw new Error(`${path}: ${ref} refers to itself; a CRD schema cannot be recursive`);
  }
  const { $ref: _, ...siblings } = node;
  const target = inline(resolvePointer(ctx.root, ref, path), ctx, path);
  return { node: { ...target.node, ...siblings }, ref };
}

function typeOf(node: JsonSchema): string | undefined {
  if (typeof node.type === "string") return node.type;
  const values = Array.isArray(node.enum) ? node.enum : "const" in node ? [node.const] : undefined;
  if (!values || values.length === 0) return undefined;
  const types = new Set(values.map((v) => (Number.isInteger(v) ? "integer" : typeof v)));
  return types.size === 1 ? ([...types][0] as string) : undefined;
}

/** A schema that allows any value: `{}`, or one with only annotations. */
function isFreeForm(node: JsonSchema): boolean {
  return Object.keys(node).every((k) => DROPPED.has(k) || (ANNOTATION_KEYS as readonly string[]).includes(k));
}

/** Converts one schema node (and everything below it) into its structural form. */
export function toStructural(schema: JsonSchema, root: JsonSchema = schema): JsonSchema {
  return convert(schema, { root, expanding: [] }, "");
}

function convert(input: JsonSchema, ctx: Context, path: string): JsonSchema {
  const { node: resolved, ref } = inline(input, ctx, path);
  if (ref) ctx.expanding.push(ref);
  try {
    return convertResolved(resolved, ctx, path);
  } finally {
    if (ref) ctx.expanding.pop();
  }
}

function convertResolved(input: JsonSchema, ctx: Context, path: string): JsonSchema {
  let node = { ...input };
  if (Array.isArray(node.allOf)) node = mergeAllOf(node, ctx, path);
  if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf)) return convertUnion(node, ctx, path);

  if (Array.isArray(node.type)) {
    const types = (node.type as string[]).filter((t) => t !== "null");
    if (types.length < node.type.length) node.nullable = true;
    if (types.length !== 1)
      throw new Error(`${path}: a value of types ${types.join(", ")} is not structural`);
    node.type = types[0];
  }
  if (node.type === "null") throw new Error(`${path}: a null-only value is not structural`);
  if ("const" in node) {
    node.enum = [node.const];
    delete node.const;
  }
  if (node.type === undefined) {
    const inferred = typeOf(node);
    if (inferred) node.type = inferred;
  }

  for (const key of Object.keys(node)) {
    if (DROPPED.has(key)) delete node[key];
    else if (!KEPT.has(key))
      throw new Error(`${path || "/"}: ${key} has no equivalent in a structural schema`);
  }

  if (isFreeForm(node)) {
    return ordered({ ...node, "x-kubernetes-preserve-unknown-fields": true });
  }

  switch (node.type) {
    case "object": {
      const properties = isObject(node.properties) ? node.properties : undefined;
      if (properties) {
        node.properties = Object.fromEntries(
          Object.entries(properties).map(([name, sub]) => [
            name,
            convert(sub as JsonSchema, ctx, `${path}.${name}`),
          ]),
        );
      }
      if (Array.isArray(node.required)) {
        node.required = [...new Set(node.required as string[])];
        if ((node.required as string[]).length === 0) delete node.required;
      }
      const extra = node.additionalProperties;
      if (extra === false) {
        delete node.additionalProperties; // Kubernetes prunes unknown fields instead of rejecting them
      } else if (extra === true || (isObject(extra) && isFreeForm(extra))) {
        if (properties && Object.keys(properties).length > 0) {
          throw new Error(`${path}: an object cannot have both properties and arbitrary other fields`);
        }
        delete node.additionalProperties;
        node["x-kubernetes-preserve-unknown-fields"] = true;
      } else if (isObject(extra)) {
        if (properties && Object.keys(properties).length > 0) {
          throw new Error(`${path}: an object cannot have both properties and additionalProperties`);
        }
        node.additionalProperties = convert(extra, ctx, `${path}.*`);
      }
      break;
    }
    case "array": {
      if ("prefixItems" in node || Array.isArray(node.items)) {
        throw new Error(`${path}: tuples are not structural; use an object`);
      }
      if (!isObject(node.items)) throw new Error(`${path}: an array needs an items schema`);
      node.items = convert(node.items, ctx, `${path}[]`);
      break;
    }
    case "integer":
      // zod bounds every integer by the safe-integer range; Kubernetes integers are int64 anyway.
      if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
      if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
      break;
    case "string":
      if (typeof node.format === "string" && !KUBE_FORMATS.has(node.format)) delete node.format;
      // Kubernetes checks date-time itself; zod's equivalent pattern would only repeat it.
      if (node.format === "date-time") delete node.pattern;
      break;
    case "number":
    case "boolean":
      break;
    default:
      throw new Error(`${path}: cannot tell the type of ${JSON.stringify(input)}`);
  }
  return ordered(node);
}

/** allOf (zod's intersections) of objects: one object with all properties. */
function mergeAllOf(node: JsonSchema, ctx: Context, path: string): JsonSchema {
  const { allOf, ...rest } = node;
  const parts = (allOf as JsonSchema[]).map((p) => inline(p, ctx, path).node);
  if (!parts.every((p) => typeOf(p) === "object")) {
    throw new Error(`${path}: only intersections of objects can be expressed`);
  }
  const properties: JsonSchema = {};
  const required = new Set<string>();
  for (const part of parts) {
    for (const [name, sub] of Object.entries((part.properties as JsonSchema | undefined) ?? {})) {
      if (name in properties && JSON.stringify(properties[name]) !== JSON.stringify(sub)) {
        throw new Error(`${path}.${name}: intersected objects disagree about this property`);
      }
      properties[name] = sub;
    }
    for (const name of (part.required as string[] | undefined) ?? []) required.add(name);
  }
  return { ...rest, type: "object", properties, ...(required.size ? { required: [...required] } : {}) };
}

/**
 * Unions (anyOf/oneOf) become what a structural schema can say: one type with alternative value
 * validations under anyOf, int-or-string, a merged enum, or one object with every branch's properties.
 * The finer distinctions are left to zod (local mode and the operator check them).
 */
function convertUnion(node: JsonSchema, ctx: Context, path: string): JsonSchema {
  const { anyOf, oneOf, ...outer } = node;
  const flatten = (list: unknown): JsonSchema[] =>
    ((list as JsonSchema[] | undefined) ?? []).flatMap((b) => {
      const branch = inline(b, ctx, path).node;
      const nested = branch.anyOf ?? branch.oneOf;
      return nested && Object.keys(branch).length === 1 ? flatten(nested) : [branch];
    });
  let branches = [...flatten(anyOf), ...flatten(oneOf)];
  const annotations = pick(outer, [...ANNOTATION_KEYS]);
  const others = Object.keys(outer).filter(
    (k) => !(ANNOTATION_KEYS as readonly string[]).includes(k) && !DROPPED.has(k),
  );
  if (others.length > 0) throw new Error(`${path}: a union with ${others.join(", ")} beside it`);

  if (branches.some((b) => b.type === "null")) {
    annotations.nullable = true;
    branches = branches.filter((b) => b.type !== "null");
  }
  if (branches.length === 0) throw new Error(`${path}: an empty union`);
  if (branches.some(isFreeForm)) return convert(annotations, ctx, path);
  if (branches.length === 1) return convert({ ...(branches[0] as JsonSchema), ...annotations }, ctx, path);

  const types = new Set(branches.map(typeOf));
  if (types.has(undefined)) throw new Error(`${path}: a union branch without a type`);
  if (types.size === 2 && types.has("string") && types.has("integer")) {
    return intOrString(branches, annotations, ctx, path);
  }
  const numeric = [...types].every((t) => t === "integer" || t === "number");
  if (types.size > 1 && !numeric) {
    throw new Error(`${path}: a union of ${[...types].join(" and ")} is not structural`);
  }
  const type = numeric && types.size > 1 ? "number" : ([...types][0] as string);

  if (type === "object") return convert({ ...mergeObjects(branches, path), ...annotations }, ctx, path);
  if (type === "array") {
    const items = branches.map((b) => b.items);
    const bound = (key: string, pickBound: (...n: number[]) => number) => {
      const values = branches.map((b) => b[key]);
      return values.every((v) => typeof v === "number") ? pickBound(...(values as number[])) : undefined;
    };
    return convert(
      {
        ...annotations,
        type: "array",
        items: { anyOf: items },
        ...(bound("maxItems", Math.max) !== undefined ? { maxItems: bound("maxItems", Math.max) } : {}),
        ...(bound("minItems", Math.min) !== undefined ? { minItems: bound("minItems", Math.min) } : {}),
      },
      ctx,
      path,
    );
  }

  // Scalars of one type: a merged enum, or the branches' validations as alternatives.
  const converted = branches.map((b) => convert({ ...b, type }, ctx, path));
  const validations = converted.map((c) => pick(c, VALUE_KEYS));
  const result: JsonSchema = { ...annotations, type };
  if (validations.every((v) => Object.keys(v).length === 1 && Array.isArray(v.enum))) {
    result.enum = [...new Set(validations.flatMap((v) => v.enum as unknown[]))];
  } else if (validations.every((v) => Object.keys(v).length > 0)) {
    result.anyOf = validations;
  }
  return ordered(result);
}

/** Kubernetes' int-or-string: an integer, or a string with the string branch's validations. */
function intOrString(
  branches: JsonSchema[],
  annotations: JsonSchema,
  ctx: Context,
  path: string,
): JsonSchema {
  const strings = branches.filter((b) => typeOf(b) === "string");
  const integers = branches.filter((b) => typeOf(b) === "integer");
  if (strings.length !== 1 || integers.length !== 1) {
    throw new Error(`${path}: int-or-string needs exactly one string and one integer branch`);
  }
  const text = convert(strings[0] as JsonSchema, ctx, path);
  const number = convert(integers[0] as JsonSchema, ctx, path);
  const clash = Object.keys(pick(text, VALUE_KEYS)).filter((k) => k in pick(number, VALUE_KEYS));
  if (clash.length > 0) throw new Error(`${path}: both branches of int-or-string set ${clash.join(", ")}`);
  return ordered({
    ...annotations,
    ...pick(text, VALUE_KEYS),
    ...pick(number, VALUE_KEYS),
    anyOf: [{ type: "integer" }, { type: "string" }],
    "x-kubernetes-int-or-string": true,
  });
}

function mergeObjects(branches: JsonSchema[], path: string): JsonSchema {
  const byName = new Map<string, JsonSchema[]>();
  for (const branch of branches) {
    if (branch.additionalProperties !== undefined && branch.additionalProperties !== false) {
      throw new Error(`${path}: a union of maps is not supported`);
    }
    for (const [name, sub] of Object.entries((branch.properties as JsonSchema | undefined) ?? {})) {
      byName.set(name, [...(byName.get(name) ?? []), sub as JsonSchema]);
    }
  }
  const properties: JsonSchema = {};
  for (const [name, subs] of byName) {
    const distinct = [...new Map(subs.map((s) => [JSON.stringify(s), s])).values()];
    properties[name] = distinct.length === 1 ? distinct[0] : { anyOf: distinct };
  }
  const requiredIn = (b: JsonSchema) => new Set((b.required as string[] | undefined) ?? []);
  const required = [...byName.keys()].filter((name) => branches.every((b) => requiredIn(b).has(name)));
  return { type: "object", properties, ...(required.length ? { required } : {}) };
}

// ---- checking ----------------------------------------------------------------------------------------

/** Every field of apiextensions.k8s.io/v1 JSONSchemaProps. */
const JSON_SCHEMA_PROPS = new Set([
  "id",
  "$schema",
  "$ref",
  "description",
  "type",
  "format",
  "title",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "allOf",
  "oneOf",
  "anyOf",
  "not",
  "properties",
  "additionalProperties",
  "patternProperties",
  "dependencies",
  "additionalItems",
  "definitions",
  "externalDocs",
  "example",
  "nullable",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);
/** Fields of JSONSchemaProps that CRDs reject. */
const FORBIDDEN = [
  "id",
  "$schema",
  "$ref",
  "patternProperties",
  "dependencies",
  "additionalItems",
  "definitions",
];
/** What must not appear inside anyOf/allOf/oneOf/not. */
const FORBIDDEN_NESTED = [
  "type",
  "description",
  "default",
  "additionalProperties",
  "nullable",
  "title",
  "externalDocs",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
];
const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);
const JUNCTORS = ["anyOf", "allOf", "oneOf"] as const;

/**
 * Where `schema` (a CRD's openAPIV3Schema) breaks Kubernetes' rules for structural schemas and CRD
 * schemas in general; empty when the API server would accept it.
 */
export function structuralProblems(schema: JsonSchema): string[] {
  const problems: string[] = [];
  checkNode(schema, "", "root", problems);
  return problems;
}

function checkKeys(node: JsonSchema, at: string, problems: string[]) {
  for (const key of Object.keys(node)) {
    if (!JSON_SCHEMA_PROPS.has(key)) problems.push(`${at}: ${key} is not a JSONSchemaProps field`);
  }
  for (const key of FORBIDDEN) if (key in node) problems.push(`${at}: ${key} is not allowed in a CRD`);
  if (node.uniqueItems === true) problems.push(`${at}: uniqueItems: true is not allowed`);
  if (node.additionalProperties === false) problems.push(`${at}: additionalProperties: false is not allowed`);
  if (node.type === "null" || Array.isArray(node.type)) problems.push(`${at}: type must be a single type`);
  if (node.type !== undefined && !TYPES.has(node.type as string))
    problems.push(`${at}: unknown type ${node.type}`);
  if (node["x-kubernetes-preserve-unknown-fields"] === false) {
    problems.push(`${at}: x-kubernetes-preserve-unknown-fields must be true or absent`);
  }
  if (typeof node.pattern === "string") {
    try {
      new RegExp(node.pattern);
    } catch {
      problems.push(`${at}: pattern does not compile`);
    }
    // Kubernetes compiles patterns with Go's RE2: no lookaround, no backreferences.
    if (/\(\?[=!<]|\\[1-9]|\\k</.test(node.pattern))
      problems.push(`${at}: pattern is not RE2 (lookaround or backreference)`);
  }
}

function checkNode(node: JsonSchema, at: string, level: "root" | "field" | "item", problems: string[]) {
  const where = at || "(root)";
  checkKeys(node, where, problems);
  const intOrString = node["x-kubernetes-int-or-string"] === true;
  const preserve = node["x-kubernetes-preserve-unknown-fields"] === true;
  if (node.type === undefined && !intOrString && !preserve) problems.push(`${where}: no type`);
  if (intOrString && preserve) problems.push(`${where}: int-or-string cannot preserve unknown fields`);
  if (level === "root") {
    if (node.type !== "object") problems.push(`${where}: the root must be an object`);
    if (node.additionalProperties !== undefined)
      problems.push(`${where}: no additionalProperties at the root`);
  }
  if (node.type === "array" && !isObject(node.items))
    problems.push(`${where}: an array needs one items schema`);
  const properties = isObject(node.properties) ? node.properties : undefined;
  if (properties && Object.keys(properties).length > 0 && node.additionalProperties !== undefined) {
    problems.push(`${where}: properties and additionalProperties are mutually exclusive`);
  }
  if (Array.isArray(node.enum) && typeof node.type === "string") {
    for (const value of node.enum) {
      const actual = Number.isInteger(value) && node.type === "integer" ? "integer" : typeof value;
      const expected = node.type === "integer" ? "integer" : node.type;
      if (actual !== expected && !(node.type === "number" && typeof value === "number")) {
        problems.push(`${where}: enum value ${JSON.stringify(value)} is not a ${node.type}`);
      }
    }
  }
  if (Array.isArray(node.required)) {
    for (const name of node.required as string[]) {
      if (!properties || !(name in properties)) problems.push(`${where}: required ${name} is not a property`);
    }
  }
  checkListType(node, where, problems);

  // Value validations under junctors: no types or structure of their own, nothing the outside lacks.
  for (const junctor of JUNCTORS) {
    const branches = node[junctor];
    if (branches === undefined) continue;
    if (!Array.isArray(branches)) {
      problems.push(`${where}: ${junctor} must be a list`);
      continue;
    }
    const isIntOrStringPattern =
      junctor === "anyOf" &&
      intOrString &&
      JSON.stringify(branches) === '[{"type":"integer"},{"type":"string"}]';
    if (intOrString && junctor === "anyOf" && !isIntOrStringPattern) {
      problems.push(`${where}: int-or-string needs anyOf [{type: integer}, {type: string}] exactly`);
    }
    if (isIntOrStringPattern) continue;
    branches.forEach((branch, i) => {
      checkNested(branch as JsonSchema, node, `${where}.${junctor}[${i}]`, problems);
    });
  }
  if (node.not !== undefined) checkNested(node.not as JsonSchema, node, `${where}.not`, problems);

  if (properties) {
    for (const [name, sub] of Object.entries(properties)) {
      const path = `${at}.${name}`;
      if (!isObject(sub)) problems.push(`${path}: not a schema`);
      else if (level === "root" && name === "metadata") checkMetadata(sub, path, problems);
      else checkNode(sub, path, "field", problems);
    }
  }
  if (isObject(node.additionalProperties)) checkNode(node.additionalProperties, `${at}.*`, "field", problems);
  if (isObject(node.items)) checkNode(node.items, `${at}[]`, "item", problems);
}

function checkMetadata(node: JsonSchema, at: string, problems: string[]) {
  if (node.type !== "object") problems.push(`${at}: must be an object`);
  const rest = Object.keys(node).filter((k) => k !== "type" && k !== "description");
  const properties = isObject(node.properties) ? Object.keys(node.properties) : [];
  if (rest.some((k) => k !== "properties") || properties.some((p) => p !== "name" && p !== "generateName")) {
    problems.push(`${at}: metadata may only restrict name and generateName`);
  }
}

function checkNested(node: JsonSchema, outer: JsonSchema, at: string, problems: string[]) {
  if (!isObject(node)) {
    problems.push(`${at}: not a schema`);
    return;
  }
  checkKeys(node, at, problems);
  for (const key of FORBIDDEN_NESTED) if (key in node) problems.push(`${at}: ${key} is not allowed here`);
  const outerProperties = isObject(outer.properties) ? outer.properties : {};
  if (isObject(node.properties)) {
    for (const [name, sub] of Object.entries(node.properties)) {
      if (name === "metadata") problems.push(`${at}: metadata cannot be constrained here`);
      if (!(name in outerProperties)) problems.push(`${at}.${name}: not specified outside the ${at} junctor`);
      else checkNested(sub as JsonSchema, outerProperties[name] as JsonSchema, `${at}.${name}`, problems);
    }
  }
  if (node.items !== undefined) {
    if (!isObject(outer.items)) problems.push(`${at}: items not specified outside the junctor`);
    else checkNested(node.items as JsonSchema, outer.items, `${at}[]`, problems);
  }
  for (const junctor of JUNCTORS) {
    if (Array.isArray(node[junctor])) {
      (node[junctor] as JsonSchema[]).forEach((b, i) => {
        checkNested(b, outer, `${at}.${junctor}[${i}]`, problems);
      });
    }
  }
}

function checkListType(node: JsonSchema, at: string, problems: string[]) {
  const listType = node["x-kubernetes-list-type"];
  const keys = node["x-kubernetes-list-map-keys"];
  if (listType !== undefined && node.type !== "array") problems.push(`${at}: list-type on a non-array`);
  if (listType !== undefined && !["atomic", "set", "map"].includes(listType as string)) {
    problems.push(`${at}: unknown list-type ${listType}`);
  }
  if (keys !== undefined && listType !== "map") problems.push(`${at}: list-map-keys need list-type map`);
  if (listType !== "map") return;
  const items = node.items;
  if (!isObject(items) || items.type !== "object") {
    problems.push(`${at}: list-type map needs object items`);
    return;
  }
  if (!Array.isArray(keys) || keys.length === 0) {
    problems.push(`${at}: list-type map needs list-map-keys`);
    return;
  }
  const properties = (items.properties as JsonSchema | undefined) ?? {};
  const required = new Set((items.required as string[] | undefined) ?? []);
  if (items.nullable) problems.push(`${at}: items of a map list cannot be nullable`);
  for (const key of keys as string[]) {
    const sub = properties[key] as JsonSchema | undefined;
    if (!sub) problems.push(`${at}: list-map key ${key} is not a property of the items`);
    else if (sub.type === "object" || sub.type === "array")
      problems.push(`${at}: list-map key ${key} must be scalar`);
    else if (!required.has(key) && sub.default === undefined) {
      problems.push(`${at}: list-map key ${key} must be required or have a default`);
    }
  }
}

/** Calls `visit` for every schema node below `node` with its dotted path (`[]` for items, `*` for map values). */
export function walkSchema(
  node: JsonSchema,
  visit: (node: JsonSchema, path: string, parent: JsonSchema | undefined) => void,
  path = "",
  parent?: JsonSchema,
): void {
  visit(node, path, parent);
  if (isObject(node.properties)) {
    for (const [name, sub] of Object.entries(node.properties)) {
      walkSchema(sub as JsonSchema, visit, path ? `${path}.${name}` : name, node);
    }
  }
  if (isObject(node.additionalProperties)) walkSchema(node.additionalProperties, visit, `${path}.*`, node);
  if (isObject(node.items)) walkSchema(node.items, visit, `${path}[]`, node);
}
