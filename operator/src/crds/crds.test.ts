import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { Bot, Exclusion, Pipeline } from "../../../bot-runtime/src/config/resources.ts";
import { customResourceDefinition, openApiSchema, RESOURCES, type ResourceDefinition } from "./crd.ts";
import { generatedCrds, leftoverCrds } from "./generate.ts";
import { type JsonSchema, structuralProblems, toStructural, walkSchema } from "./structural.ts";
import { applyDefaults, prune, schemaErrors } from "./validate.ts";

const root = new URL("../../../", import.meta.url);
const resource = (kind: string) => RESOURCES.find((r) => r.kind === kind) as ResourceDefinition;
const schemaOf = (kind: string) => openApiSchema(resource(kind));
interface Crd {
  metadata: { name: string };
  spec: {
    group: string;
    scope: string;
    names: { shortNames: string[]; categories: string[] };
    versions: Array<{
      name: string;
      subresources: { status?: object; scale?: object };
      selectableFields?: object[];
      additionalPrinterColumns: Array<{ name: string; priority?: number }>;
    }>;
  };
}
const crdOf = (kind: string) => customResourceDefinition(resource(kind)) as unknown as Crd;
/** The schema node at a path of property names below `schema`. */
const at = (schema: JsonSchema, ...path: string[]): JsonSchema =>
  path.reduce((node, name) => (node.properties as Record<string, JsonSchema>)[name] as JsonSchema, schema);
type Sample = { kind: string; metadata: { name: string; [key: string]: unknown } } & Record<string, unknown>;
const ZOD = { Pipeline, Bot, Exclusion } as const;

describe("generated CRDs", () => {
  it("are up to date in crds/ (run npm run crds)", () => {
    const files = generatedCrds();
    expect(files.size).toBe(3);
    for (const [path, content] of files) {
      expect(readFileSync(path, "utf8"), `${path} is stale: run npm run crds`).toBe(content);
    }
    expect(leftoverCrds(files), "files in crds/ the generator no longer writes").toEqual([]);
  });

  it("name, scope and version the three resources with short names and the petrel category", () => {
    const names = RESOURCES.map((r) => crdOf(r.kind));
    expect(names.map((c) => c.metadata.name)).toEqual([
      "pipelines.petrel.dev",
      "bots.petrel.dev",
      "exclusions.petrel.dev",
    ]);
    for (const crd of names) {
      expect(crd.spec.group).toBe("petrel.dev");
      expect(crd.spec.scope).toBe("Namespaced");
      expect(crd.spec.names.categories).toEqual(["petrel"]);
      expect(crd.spec.versions.map((v) => v.name)).toEqual(["v1alpha1"]);
      expect(crd.spec.versions[0]!.subresources.status).toEqual({});
    }
    const shortNames = names.flatMap((c) => c.spec.names.shortNames);
    expect(shortNames).toEqual(["ppl", "pb", "pex"]);
    // Built-in resources' short names (kubectl api-resources) must not be shadowed.
    const builtIn = [
      "po",
      "svc",
      "deploy",
      "rs",
      "sts",
      "ds",
      "cm",
      "ns",
      "no",
      "pv",
      "pvc",
      "sa",
      "ep",
      "ing",
    ];
    expect(shortNames.filter((s) => builtIn.includes(s))).toEqual([]);
  });

  it("give Bot the scale subresource and field selectors on pipeline and module", () => {
    const version = crdOf("Bot").spec.versions[0]!;
    expect(version.subresources.scale).toEqual({
      specReplicasPath: ".spec.replicas",
      statusReplicasPath: ".status.replicas",
      labelSelectorPath: ".status.selector",
    });
    expect(version.selectableFields).toEqual([{ jsonPath: ".spec.pipeline" }, { jsonPath: ".spec.module" }]);
    const schema = schemaOf("Bot");
    expect(at(schema, "spec", "replicas").type).toBe("integer");
    expect(at(schema, "status", "replicas").type).toBe("integer");
    expect(at(schema, "status", "selector").type).toBe("string");
    expect(crdOf("Pipeline").spec.versions[0]!.subresources.scale).toBeUndefined();
  });

  it("print the columns kubectl get shows, each pointing at a field of the schema", () => {
    const columns = (kind: string) =>
      crdOf(kind)
        .spec.versions[0]!.additionalPrinterColumns.filter((c) => !c.priority)
        .map((c) => c.name);
    expect(columns("Bot")).toEqual(["Module", "Pipeline", "State", "Ready", "Backlog", "Age"]);
    expect(columns("Pipeline")).toEqual(["Bots", "Ready", "Status", "Age"]);
    expect(columns("Exclusion")).toEqual(["Action", "Active", "Matches", "Expires", "Age"]);
    for (const r of RESOURCES) {
      const schema = schemaOf(r.kind);
      for (const column of r.printerColumns) {
        if (column.jsonPath.startsWith(".metadata.")) continue;
        const path = column.jsonPath
          .replace(/\[\?.*?\]/, "[]")
          .split(".")
          .slice(1);
        let node: JsonSchema | undefined = schema;
        for (const part of path) {
          const name = part.replace(/\[\]$/, "");
          node = (node?.properties as Record<string, JsonSchema> | undefined)?.[name];
          if (part.endsWith("[]")) node = node?.items as JsonSchema | undefined;
        }
        expect(node, `${r.kind} column ${column.name}: ${column.jsonPath}`).toBeDefined();
      }
    }
  });

  it("carry the CEL rules that catch mistakes at apply time", () => {
    const rules = (schema: JsonSchema) => {
      const found: string[] = [];
      walkSchema(schema, (node, path) => {
        for (const r of (node["x-kubernetes-validations"] as Array<{ rule: string }> | undefined) ?? []) {
          found.push(`${path}: ${r.rule}`);
        }
      });
      return found;
    };
    const bot = rules(schemaOf("Bot"));
    expect(bot).toContain("spec.pipeline: self == oldSelf");
    expect(bot).toContain("spec: !has(self.interval) || !has(self.schedule)");
    expect(bot.some((r) => r.startsWith(": size(self.metadata.name) <= 63"))).toBe(true);
    const exclusion = rules(schemaOf("Exclusion"));
    expect(exclusion).toContain("spec.action: self.type != 'route' || has(self.path)");
    expect(exclusion).toContain("spec.action: self.type != 'mark' || (has(self.set) && size(self.set) > 0)");
    expect(exclusion).toContain("spec.match.all[].cidr[]: isIP(self) || isCIDR(self)");
    expect(exclusion).toContain("spec.scope: has(self.pipelines) != has(self.pipelineSelector)");
    for (const kind of ["Pipeline", "Bot", "Exclusion"]) {
      for (const r of rules(schemaOf(kind))) expect(r, "CEL rules are single lines").not.toMatch(/\n/);
    }
  });
});

describe("the generated schemas", () => {
  it.each(["Pipeline", "Bot", "Exclusion"])("of %s are structural", (kind) => {
    const schema = schemaOf(kind);
    expect(structuralProblems(schema)).toEqual([]);
    // Only spec and status: metadata, apiVersion and kind are Kubernetes' business.
    expect(Object.keys(schema.properties as object)).toEqual([
      "apiVersion",
      "kind",
      "metadata",
      "spec",
      "status",
    ]);
    expect(at(schema, "metadata")).toEqual({ type: "object" });
    const forbidden: string[] = [];
    walkSchema(schema, (node, path) => {
      for (const key of [
        "$ref",
        "$defs",
        "$schema",
        "definitions",
        "const",
        "oneOf",
        "not",
        "propertyNames",
      ]) {
        if (key in node) forbidden.push(`${path}: ${key}`);
      }
      if (node.additionalProperties === false) forbidden.push(`${path}: additionalProperties: false`);
    });
    expect(forbidden).toEqual([]);
  });

  it.each(["Pipeline", "Bot", "Exclusion"])(
    "of %s describe every field, bound spec values and default no status",
    (kind) => {
      const schema = schemaOf(kind);
      const problems: string[] = [];
      walkSchema(schema, (node, path, parent) => {
        const isProperty = parent !== undefined && !path.endsWith("[]") && !path.endsWith(".*");
        if (isProperty && path !== "metadata" && !node.description) problems.push(`${path}: no description`);
        if (path.startsWith("status") && node.default !== undefined)
          problems.push(`${path}: a default in status`);
        if (!path.startsWith("spec")) return;
        if (node.type === "array" && node.maxItems === undefined)
          problems.push(`${path}: array without maxItems`);
        const stringy = node.type === "string" || node["x-kubernetes-int-or-string"] === true;
        if (stringy && node.maxLength === undefined && !node.enum && node.format !== "date-time") {
          problems.push(`${path}: string without maxLength`);
        }
      });
      expect(problems).toEqual([]);
    },
  );

  it("let free-form parameters through and type quantities as int-or-string", () => {
    const spec = at(schemaOf("Bot"), "spec");
    expect(at(spec, "parameters")).toMatchObject({
      type: "object",
      "x-kubernetes-preserve-unknown-fields": true,
    });
    expect(at(spec, "destinations").additionalProperties).toMatchObject({
      type: "array",
      items: { type: "string" },
    });
    expect(at(spec, "resources", "limits", "memory")).toMatchObject({
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
    });
    expect(at(spec, "ports")["x-kubernetes-list-type"]).toBe("map");
    const lastMatchTime = at(schemaOf("Exclusion"), "status", "lastMatchTime");
    expect(lastMatchTime).toMatchObject({ type: "string", format: "date-time" });
    expect(lastMatchTime.pattern).toBeUndefined();
  });
});

describe("toStructural", () => {
  const convert = (schema: z.ZodType) =>
    toStructural(z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" }) as JsonSchema);
  const root = (spec: JsonSchema): JsonSchema => ({ type: "object", properties: { spec } });

  it("inlines references", () => {
    const shared = z.object({ a: z.string().describe("A.") }).meta({ id: "Shared" });
    const json = z.toJSONSchema(z.object({ x: shared, y: shared }), { target: "openapi-3.0" }) as JsonSchema;
    expect(JSON.stringify(json)).toContain("$ref");
    const out = toStructural(json);
    expect(JSON.stringify(out)).not.toContain("$ref");
    expect(at(out, "y")).toMatchObject({
      type: "object",
      properties: { a: { type: "string" } },
    });
  });

  it("refuses recursive schemas, which a CRD cannot express", () => {
    const Node: z.ZodType = z.lazy(() => z.object({ children: z.array(Node) }));
    const json = z.toJSONSchema(z.object({ tree: Node }), { target: "openapi-3.0" }) as JsonSchema;
    expect(() => toStructural(json)).toThrow(/recursive/);
  });

  it("turns nullable, string and enum unions into structural forms", () => {
    const out = convert(
      z.object({
        n: z.string().max(3).nullable(),
        s: z.union([z.string().regex(/^a/), z.string().max(4)]),
        e: z.union([z.literal("x"), z.enum(["y", "z"])]),
        q: z.union([z.string().max(9), z.number().int().min(0)]),
      }),
    );
    expect(at(out, "n")).toEqual({ type: "string", nullable: true, maxLength: 3 });
    expect(at(out, "s")).toEqual({ type: "string", anyOf: [{ pattern: "^a" }, { maxLength: 4 }] });
    expect(at(out, "e")).toEqual({ type: "string", enum: ["x", "y", "z"] });
    expect(at(out, "q")).toEqual({
      minimum: 0,
      maxLength: 9,
      anyOf: [{ type: "integer" }, { type: "string" }],
      "x-kubernetes-int-or-string": true,
    });
    expect(structuralProblems(root(out))).toEqual([]);
  });

  it("merges object unions and keeps only what every branch requires", () => {
    const out = convert(
      z.discriminatedUnion("kind", [
        z.object({ kind: z.literal("a"), a: z.string() }),
        z.object({ kind: z.literal("b"), b: z.number() }),
      ]),
    );
    expect(out.type).toBe("object");
    expect(Object.keys(out.properties as object)).toEqual(["kind", "a", "b"]);
    expect(at(out, "kind")).toEqual({ type: "string", enum: ["a", "b"] });
    expect(out.required).toEqual(["kind"]);
    expect(structuralProblems(root(out))).toEqual([]);
  });

  it("refuses unions Kubernetes cannot type", () => {
    expect(() => convert(z.object({ x: z.union([z.string(), z.boolean()]) }))).toThrow(/not structural/);
  });

  it("drops additionalProperties: false and keeps records as additionalProperties", () => {
    const json = z.toJSONSchema(z.strictObject({ m: z.record(z.string(), z.number()) }), {
      target: "openapi-3.0",
      io: "output",
    }) as JsonSchema;
    const out = toStructural(json);
    expect(out.additionalProperties).toBeUndefined();
    expect(at(out, "m")).toEqual({ type: "object", additionalProperties: { type: "number" } });
  });
});

describe("structuralProblems", () => {
  const spec = (node: JsonSchema): JsonSchema => ({ type: "object", properties: { spec: node } });

  it("accepts a minimal structural schema", () => {
    expect(structuralProblems(spec({ type: "object", properties: { a: { type: "string" } } }))).toEqual([]);
  });

  it.each([
    ["a missing type", { type: "object", properties: { a: { description: "x" } } }, /no type/],
    ["$ref", { type: "object", properties: { a: { $ref: "#/x", type: "string" } } }, /\$ref is not allowed/],
    [
      "additionalProperties: false",
      { type: "object", additionalProperties: false },
      /additionalProperties: false/,
    ],
    [
      "properties with additionalProperties",
      { type: "object", properties: { a: { type: "string" } }, additionalProperties: { type: "string" } },
      /mutually exclusive/,
    ],
    [
      "a type inside anyOf",
      { type: "string", anyOf: [{ type: "string", pattern: "a" }] },
      /anyOf\[0\]: type is not allowed/,
    ],
    [
      "a property only inside anyOf",
      { type: "object", anyOf: [{ properties: { b: { pattern: "x" } } }] },
      /not specified outside/,
    ],
    ["an array without items", { type: "array" }, /needs one items schema/],
    [
      "a map-list key that may be missing",
      {
        type: "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        items: { type: "object", properties: { name: { type: "string" } } },
      },
      /must be required or have a default/,
    ],
    ["uniqueItems", { type: "array", items: { type: "string" }, uniqueItems: true }, /uniqueItems/],
    ["a lookahead pattern", { type: "string", pattern: "^(?!x)" }, /not RE2/],
    ["an unknown keyword", { type: "string", const: "x" }, /not a JSONSchemaProps field/],
  ])("rejects %s", (_, node, problem) => {
    expect(structuralProblems(spec(node as JsonSchema)).join("\n")).toMatch(problem);
  });

  it("allows untyped nodes only with int-or-string or preserve-unknown-fields", () => {
    expect(
      structuralProblems(
        spec({
          type: "object",
          properties: {
            q: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
            any: { "x-kubernetes-preserve-unknown-fields": true },
          },
        }),
      ),
    ).toEqual([]);
  });

  it("restricts metadata to name and generateName", () => {
    const schema = {
      type: "object",
      properties: { metadata: { type: "object", properties: { labels: { type: "object" } } } },
    };
    expect(structuralProblems(schema)).toEqual([expect.stringMatching(/only restrict name/)]);
  });
});

/** The resources of the demo plus samples using every part of the schemas. */
function samples(): Sample[] {
  const demo = parseAllDocuments(readFileSync(new URL("examples/demo.yaml", root), "utf8"));
  const docs = (Array.isArray(demo) ? demo : [demo]).map((d) => d.toJS() as Sample);
  return [
    ...docs,
    {
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: { name: "cert" },
      spec: {
        nats: {
          url: "nats://nats.petrel:4222",
          credentialsSecret: { name: "nats.creds", key: "petrel.creds" },
        },
        stream: { replicas: 3 },
        defaults: {
          image: "ghcr.io/example/petrel:0.1.0",
          imagePullPolicy: "IfNotPresent",
          imagePullSecrets: [{ name: "registry" }],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi", cpu: 1 } },
          logLevel: "info",
        },
      },
    },
    {
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Bot",
      metadata: { name: "syslog-in", namespace: "cert", labels: { role: "collector" } },
      spec: {
        pipeline: "cert",
        module: "collectors.tcp",
        parameters: { ip: "0.0.0.0", port: 5514, nested: { list: [1, "a"] } },
        parametersFrom: [{ parameter: "password", secretKeyRef: { name: "syslog", key: "password" } }],
        ports: [
          { name: "syslog", port: 5514 },
          { name: "syslog-udp", port: 5514, protocol: "UDP" },
        ],
        resources: { limits: { memory: "1Gi", "ephemeral-storage": "2Gi" } },
        schedule: "*/5 * * * *",
        replicas: 2,
        destinations: { _default: ["parse"] },
      },
      status: {
        observedGeneration: 3,
        state: "Running",
        replicas: 2,
        readyReplicas: 2,
        selector: "petrel.dev/bot=syslog-in",
        backlog: 0,
        module: "collectors.tcp",
        conditions: [
          {
            type: "Ready",
            status: "True",
            observedGeneration: 3,
            lastTransitionTime: "2025-01-01T00:00:00Z",
            reason: "AllReplicasReady",
            message: "",
          },
        ],
      },
    },
    {
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Exclusion",
      metadata: { name: "own-scanners" },
      spec: {
        scope: { pipelineSelector: {}, botSelector: { matchLabels: { "petrel.dev/notify": "true" } } },
        match: {
          all: [
            { field: "source.ip", cidr: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"] },
            { classification: { taxonomy: "information-gathering", type: "scanner" } },
          ],
          any: [
            { field: "source.fqdn", domainSuffix: ["example.org"] },
            { field: "source.url", wildcard: ["https://example.org/*"] },
            { field: "source.asn", oneOf: ["64496", "64497"] },
            { field: "destination.port", numeric: { gte: 1024, lt: 2048 } },
            { field: "feed.name", regex: "^Shadow", not: true },
            { field: "extra.tag", exists: true },
            { field: "feed.provider", equals: "Example" },
          ],
        },
        action: { type: "mark", set: [{ field: "extra.excluded_by", value: "own-scanners" }] },
        reason: "our own vulnerability scanners",
        owner: "soc@example.org",
        ticket: "RT#4711",
        expiresAt: "2030-06-30T00:00:00+02:00",
      },
      status: {
        pipelines: ["cert"],
        bots: 2,
        matchedEvents: 17,
        lastMatchTime: "2025-01-01T12:00:00.5Z",
        conditions: [
          {
            type: "Active",
            status: "True",
            lastTransitionTime: "2025-01-01T00:00:00Z",
            reason: "Applied",
            message: "applied by 2 bots",
          },
        ],
      },
    },
    {
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Exclusion",
      metadata: { name: "drop-test-feed" },
      spec: {
        scope: { pipelines: ["cert", "demo"] },
        match: { any: [{ field: "feed.name", equals: "Test" }] },
        reason: "test data",
      },
    },
  ];
}

describe("sample resources", () => {
  it("are valid for both the zod schemas and the CRD schemas", () => {
    for (const sample of samples()) {
      const kind = sample.kind as keyof typeof ZOD;
      const parsed = ZOD[kind].safeParse(sample);
      expect(parsed.error?.issues ?? [], `${kind} ${sample.metadata.name} (zod)`).toEqual([]);
      expect(schemaErrors(schemaOf(kind), sample), `${kind} ${sample.metadata.name} (CRD)`).toEqual([]);
    }
  });

  it("get the same defaults from the API server as from zod", () => {
    for (const sample of samples()) {
      const kind = sample.kind as keyof typeof ZOD;
      const schema = schemaOf(kind);
      const byKubernetes = applyDefaults(schema, prune(schema, sample)) as Record<string, unknown>;
      const byZod = JSON.parse(JSON.stringify(ZOD[kind].parse(sample)));
      expect(byKubernetes.spec, `${kind} ${sample.metadata.name}`).toEqual(byZod.spec);
    }
  });

  it.each([
    ["Pipeline", { stream: { storage: "disk" } }, /stream.storage: must be one of/],
    ["Pipeline", { stream: { maxAge: "7 days" } }, /stream.maxAge: must match/],
    ["Pipeline", { defaults: { resources: { limits: { memory: "1 GB" } } } }, /limits.memory: must match/],
    ["Bot", { pipeline: "demo" }, /module: required/],
    ["Bot", { pipeline: "demo", module: "x", replicas: 101 }, /replicas: above the maximum/],
    ["Bot", { pipeline: "demo", module: "x", ports: [{ name: "s", port: 0 }] }, /ports\[0\]\.port: below/],
    ["Bot", { pipeline: "Demo", module: "x" }, /pipeline: must match/],
    ["Exclusion", { scope: { pipelines: [] }, match: {}, reason: "x" }, /pipelines: too few items/],
    [
      "Exclusion",
      {
        scope: { pipelines: ["a"] },
        match: { all: [{ field: "raw", exists: true }] },
        reason: "x",
        expiresAt: "soon",
      },
      /expiresAt: must be an RFC 3339 date-time/,
    ],
    [
      "Exclusion",
      {
        scope: { pipelines: ["a"] },
        match: { all: [{ field: "raw", exists: true }] },
        action: { type: "block" },
        reason: "x",
      },
      /action.type: must be one of/,
    ],
  ])("%s spec %j is rejected by both", (kind, spec, problem) => {
    const sample = { apiVersion: "petrel.dev/v1alpha1", kind, metadata: { name: "x" }, spec };
    expect(ZOD[kind as keyof typeof ZOD].safeParse(sample).success).toBe(false);
    expect(schemaErrors(schemaOf(kind), sample).join("\n")).toMatch(problem);
  });
});
