// Validation of local-mode YAML: every problem is reported at once, naming file, line, document and
// field path; routing that can never work is refused.
import { describe, expect, it } from "vitest";
import { ConfigError, loadLocalConfig } from "./config.ts";
import { pipelineYaml, type TestBot } from "./test-support/helpers.ts";
import { TEST_BOTS } from "./test-support/test-bots.ts";

function load(text: string, secretsDir?: string) {
  return loadLocalConfig([{ path: "p.yaml", text }], {
    extraModules: TEST_BOTS,
    ...(secretsDir ? { secretsDir } : {}),
  });
}

function problems(text: string): string[] {
  try {
    load(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

const good: TestBot[] = [
  {
    name: "feed",
    module: "test.lines_collector",
    parameters: { lines: ["x"] },
    destinations: { _default: ["parse"] },
  },
  { name: "parse", module: "test.ip_parser", destinations: { _default: ["tax"] } },
  { name: "tax", module: "intelmq.bots.experts.taxonomy.expert", destinations: { _default: ["out"] } },
  { name: "out", module: "test.jsonl_output", parameters: { file: "/dev/null" } },
];

describe("loadLocalConfig", () => {
  it("accepts a valid pipeline, resolves IntelMQ module paths and reads Exclusions", () => {
    const text = `${pipelineYaml("ok", good)}---\napiVersion: petrel.dev/v1alpha1\nkind: Exclusion\nmetadata: {name: nope}\nspec: {scope: {pipelines: [ok]}, match: {all: [{field: source.ip, cidr: [192.0.2.0/24]}]}, reason: r}\n`;
    const config = load(text);
    expect(config.pipelines.map((p) => p.metadata.name)).toEqual(["ok"]);
    expect(config.bots.map((b) => [b.resource.metadata.name, b.kind, b.hasInput])).toEqual([
      ["feed", "collector", false],
      ["parse", "parser", true],
      ["tax", "expert", true],
      ["out", "output", true],
    ]);
    expect(config.bots[2]?.module.id).toBe("experts.taxonomy");
    expect(config.exclusions.map((x) => [x.resource.metadata.name, x.resource.spec.action.type])).toEqual([
      ["nope", "drop"],
    ]);
    expect(config.exclusions[0]?.revision).toMatch(/^[0-9a-f]{12}$/);
    expect(config.warnings).toEqual([]);
  });

  it("checks Exclusions as the bots compile them, naming file, line and condition", () => {
    const exclusion = (name: string, spec: string) =>
      `---\napiVersion: petrel.dev/v1alpha1\nkind: Exclusion\nmetadata: {name: ${name}}\nspec:\n${spec}`;
    const text = [
      pipelineYaml("ok", good),
      exclusion(
        "bad-schema",
        "  scope: {pipelines: [ok]}\n  match:\n    all:\n      - {field: source.nope, equals: x}\n      - {field: source.ip, cidr: [192.0.2.0/33]}\n      - {field: source.fqdn, regex: '(x'}\n  reason: r\n",
      ),
      exclusion(
        "bad-value",
        "  scope: {pipelines: [ok]}\n  match: {any: [{field: feed.name, equals: x}]}\n  action:\n    type: mark\n    set: [{field: source.asn, value: many}]\n  reason: r\n",
      ),
      exclusion("bad-value", "  scope: {pipelines: [ok]}\n  match: {any: [{exists: true}]}\n  reason: r\n"),
    ].join("");
    expect(problems(text)).toEqual([
      "p.yaml:57: document 6 (Exclusion bad-schema): spec.match.all[0].field: not an event field: use a field of docs/event-format.md or extra.<name>",
      "p.yaml:58: document 6 (Exclusion bad-schema): spec.match.all[1].cidr[0]: not an IP address or CIDR network",
      "p.yaml:59: document 6 (Exclusion bad-schema): spec.match.all[2].regex: not a valid regular expression (JavaScript syntax)",
      'p.yaml:70: document 7 (Exclusion bad-value): spec.action.set[0]: source.asn: value "many" cannot be made a valid ASN: must be an autonomous system number, 1 to 4294967295',
      "p.yaml:78: document 8 (Exclusion bad-value): spec.match.any[0]: set field, except in a classification condition, which takes none",
    ]);
    const twice = `${pipelineYaml("ok", good)}${exclusion("x", "  scope: {pipelines: [ok]}\n  match: {any: [{field: feed.name, equals: a}]}\n  reason: r\n")}${exclusion("x", "  scope: {pipelines: [ok]}\n  match: {any: [{field: feed.name, equals: b}]}\n  reason: r\n")}`;
    expect(problems(twice)).toEqual(["p.yaml:60: document 7 (Exclusion x): Exclusion x is defined twice"]);
  });

  it("warns about exclusions that apply nowhere or route where nothing goes", () => {
    const exclusion = (name: string, spec: string) =>
      `---\napiVersion: petrel.dev/v1alpha1\nkind: Exclusion\nmetadata: {name: ${name}}\nspec:\n${spec}`;
    const text = [
      pipelineYaml("ok", good),
      exclusion(
        "typo",
        "  scope: {pipelines: [okk]}\n  match: {any: [{field: feed.name, equals: a}]}\n  reason: r\n",
      ),
      exclusion(
        "nobody",
        "  scope: {pipelineSelector: {}, botSelector: {matchLabels: {stage: x}}}\n  match: {any: [{field: feed.name, equals: a}]}\n  reason: r\n",
      ),
      exclusion(
        "review",
        "  scope: {pipelines: [ok]}\n  match: {any: [{field: feed.name, equals: a}]}\n  action: {type: route, path: review}\n  reason: r\n",
      ),
    ].join("");
    expect(load(text).warnings).toEqual([
      "p.yaml:54: document 6 (Exclusion typo): spec.scope.pipelines[0]: no Pipeline named okk (did you mean ok?); the exclusion does not apply there",
      "p.yaml:62: document 7 (Exclusion nobody): spec.scope: no bot applies the exclusion (botSelector selects no bot in ok)",
      "p.yaml:72: document 8 (Exclusion review): spec.action.path: out has no destinations on path review; events routed there are discarded",
    ]);
  });

  it("names file, line, document and field path of schema errors, all at once", () => {
    const text = `apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata: {name: p}
spec:
  stream:
    maxBytes: lots
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: Bad_Name}
spec:
  pipeline: p
  module: experts.taxonomy
  replicas: -1
  destination: {}
---
kind: Gadget
`;
    expect(problems(text)).toEqual([
      "p.yaml:6: document 1 (Pipeline p): spec.stream.maxBytes: a size such as 512Mi, 10Gi or 1000000",
      "p.yaml:10: document 2 (Bot Bad_Name): metadata.name: a lowercase DNS label: letters, digits and '-'",
      "p.yaml:14: document 2 (Bot Bad_Name): spec.replicas: Too small: expected number to be >=0",
      'p.yaml:17: document 3 (Gadget): kind: unknown kind "Gadget"; expected Pipeline, Bot, Exclusion',
    ]);
  });

  it("reports unknown fields with a suggestion, and YAML syntax errors with their line", () => {
    const bots: TestBot[] = [
      { name: "tax", module: "experts.taxonomy", extra: "  destination: {_default: []}" },
    ];
    expect(problems(pipelineYaml("p", bots))).toEqual([
      "p.yaml:19: document 2 (Bot tax): spec.destination: unknown field (did you mean destinations?)",
    ]);
    const broken = problems("apiVersion: petrel.dev/v1alpha1\nkind: Bot\nspec: [oops\n");
    expect(broken).toHaveLength(1);
    expect(broken[0]).toMatch(/^p\.yaml:4: document 1: YAML: Flow sequence/);
  });

  it("checks modules and their parameters", () => {
    const unknown = problems(pipelineYaml("p", [{ name: "x", module: "experts.nothing_like_it" }]));
    expect(unknown).toEqual([
      expect.stringMatching(
        /^p\.yaml:16: document 2 \(Bot x\): spec\.module: unknown module "experts\.nothing_like_it"; (known modules: (.*, )?experts\.taxonomy(, |$)|the \d+ known modules are listed in docs\/bots\.md$)/,
      ),
    ]);
    const bots: TestBot[] = [
      { name: "feed", module: "test.lines_colector", destinations: { _default: ["out"] } },
      { name: "out", module: "test.jsonl_output", parameters: { fiel: "x" } },
    ];
    expect(problems(pipelineYaml("p", bots))).toEqual([
      'p.yaml:16: document 2 (Bot feed): spec.module: unknown module "test.lines_colector" (did you mean test.lines_collector?)',
      "p.yaml:27: document 3 (Bot out): spec.parameters.file: required, but missing (expected string) (module test.jsonl_output)",
    ]);
    const typo: TestBot[] = [{ name: "tax", module: "experts.taxonomy", parameters: { verbose: true } }];
    expect(load(pipelineYaml("p", typo)).warnings).toEqual([
      "p.yaml:17: document 2 (Bot tax): spec.parameters.verbose: module experts.taxonomy has no such parameter (ignored); it takes no parameters",
      "p.yaml:15: document 2 (Bot tax): tax has no destinations; its output is discarded",
      "p.yaml:10: Bot tax: no bot sends to it",
    ]);
    const out: TestBot[] = [
      { name: "out", module: "test.jsonl_output", parameters: { file: "x", flie: "y" } },
    ];
    expect(load(pipelineYaml("p", out)).warnings[0]).toBe(
      "p.yaml:17: document 2 (Bot out): spec.parameters.flie: module test.jsonl_output has no such parameter (ignored); its parameters: file",
    );
  });

  it("refuses destinations that are missing, collectors, of another pipeline or of the wrong message type", () => {
    const bots: TestBot[] = [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ["x"] },
        destinations: { _default: ["tax", "parse", "feed"] },
      },
      { name: "parse", module: "test.ip_parser", destinations: { _default: ["parse", "tx"] } },
      { name: "tax", module: "experts.taxonomy", destinations: { _default: ["out"], _on_error: ["parse"] } },
      {
        name: "out",
        module: "test.jsonl_output",
        parameters: { file: "x" },
        destinations: { _default: ["tax"] },
      },
    ];
    expect(problems(pipelineYaml("p", bots))).toEqual([
      "p.yaml:18: document 2 (Bot feed): spec.destinations._default[0]: feed (collector) sends Reports but tax (expert) takes Events",
      "p.yaml:18: document 2 (Bot feed): spec.destinations._default[2]: feed is a collector; collectors have no input queue",
      "p.yaml:28: document 3 (Bot parse): spec.destinations._default[0]: parse (parser) sends Events but parse (parser) takes Reports",
      "p.yaml:28: document 3 (Bot parse): spec.destinations._default[1]: no Bot named tx (did you mean tax?)",
      "p.yaml:38: document 4 (Bot tax): spec.destinations._on_error[0]: tax (expert) sends Events but parse (parser) takes Reports",
      "p.yaml:48: document 5 (Bot out): spec.destinations: out is an output; outputs have no destinations",
    ]);
  });

  it("requires the Pipeline a Bot names", () => {
    const text = pipelineYaml("p", [{ name: "tax", module: "experts.taxonomy" }]).replace(
      "pipeline: p\n",
      "pipeline: q\n",
    );
    expect(problems(text)).toEqual([
      "p.yaml:15: document 2 (Bot tax): spec.pipeline: no Pipeline named q (did you mean p?)",
    ]);
    expect(problems(text.split("---\n")[1] as string)).toEqual([
      "p.yaml: no Pipeline resource; every Bot needs one",
    ]);
    expect(problems("# nothing here\n")).toEqual([
      "p.yaml: no resources (expected Pipeline and Bot documents)",
    ]);
  });

  it("reads parametersFrom Secrets from <data-dir>/secrets/<name>/<key>", async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { tmpdir } = await import("node:os");
    const dir = mkdtempSync(join(tmpdir(), "petrel-secrets-"));
    try {
      const bots: TestBot[] = [
        {
          name: "out",
          module: "test.jsonl_output",
          extra: "  parametersFrom:\n  - parameter: file\n    secretKeyRef: {name: out-creds, key: path}",
        },
      ];
      const text = pipelineYaml("p", bots);
      expect(() => load(text, dir)).toThrow(
        `spec.parametersFrom[0]: local mode reads Secret out-creds key path from ${join(dir, "out-creds", "path")}, which does not exist`,
      );
      mkdirSync(join(dir, "out-creds"));
      writeFileSync(join(dir, "out-creds", "path"), "/tmp/events.jsonl\n");
      expect(load(text, dir).bots[0]?.resource.spec.parameters.file).toBe("/tmp/events.jsonl");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
