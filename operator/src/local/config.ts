// Loads and validates the Kubernetes-style YAML of local mode: Pipeline, Bot and Exclusion resources,
// several per file. Problems name the file, line, document and field path, all of them at once.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isMap, LineCounter, parseAllDocuments } from "yaml";
import type { z } from "zod";
import { processGroups } from "../../../bot-runtime/src/config/render.ts";
import {
  Bot,
  type BotResource,
  Exclusion,
  type ExclusionResource,
  Pipeline,
  type PipelineResource,
} from "../../../bot-runtime/src/config/resources.ts";
import { selects } from "../../../bot-runtime/src/exclusions/distribution.ts";
import { ExclusionError, ExclusionSet } from "../../../bot-runtime/src/exclusions/exclusion-set.ts";
import { type BotKind, type BotModule, routeTypeMismatch } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule, listModules } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";

export interface LocalBot {
  resource: BotResource;
  module: BotModule;
  kind: BotKind;
  /** Collectors have no input queue. */
  hasInput: boolean;
  /** Where it was defined, for messages: "file:line". */
  origin: string;
}

export interface LocalExclusion {
  resource: ExclusionResource;
  /** A hash of its spec: the revision written with it into the pipelines' exclusion buckets. */
  revision: string;
  /** Where it was defined, for messages: "file:line". */
  origin: string;
}

export interface LocalConfig {
  pipelines: PipelineResource[];
  bots: LocalBot[];
  /** Exclusion resources, compiled and checked (written into the pipelines' buckets by `up`). */
  exclusions: LocalExclusion[];
  warnings: string[];
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface SourceFile {
  path: string;
  text: string;
}

export interface LoadOptions {
  /** Modules besides the catalogue's (tests). */
  extraModules?: readonly BotModule[];
  /** Directory with Secret values for parametersFrom: <dir>/<secret>/<key>. */
  secretsDir?: string;
  /**
   * Leave parametersFrom unresolved and their parameters unchecked (`petrelctl check` on a cluster, where
   * the Secrets are the cluster's).
   */
  ignoreSecrets?: boolean;
}

type Path = ReadonlyArray<PropertyKey>;

interface ParsedDoc {
  file: string;
  index: number;
  value: Record<string, unknown>;
  /** Line of the deepest node that exists along `path`. */
  lineOf(path: Path): number;
}

const KINDS = ["Pipeline", "Bot", "Exclusion"] as const;
export function readSources(paths: readonly string[]): SourceFile[] {
  return paths.map((path) => {
    if (!existsSync(path)) throw new ConfigError([`${path}: no such file`]);
    return { path, text: readFileSync(path, "utf8") };
  });
}

function formatPath(path: Path): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out || "(document)";
}

function parseDocuments(sources: readonly SourceFile[], problems: string[]): ParsedDoc[] {
  const docs: ParsedDoc[] = [];
  for (const source of sources) {
    const lineCounter = new LineCounter();
    const parsed = parseAllDocuments(source.text, { lineCounter, prettyErrors: false });
    const list = Array.isArray(parsed) ? parsed : [parsed];
    list.forEach((doc, i) => {
      const index = i + 1;
      for (const error of doc.errors) {
        const line = lineCounter.linePos(error.pos[0]).line;
        problems.push(`${source.path}:${line}: document ${index}: YAML: ${error.message.split("\n")[0]}`);
      }
      if (doc.errors.length > 0 || doc.contents === null) return;
      if (!isMap(doc.contents)) {
        const line = lineCounter.linePos(doc.contents.range?.[0] ?? 0).line;
        problems.push(`${source.path}:${line}: document ${index}: expected a resource (a mapping)`);
        return;
      }
      const lineOf = (path: Path): number => {
        for (let n = path.length; n >= 0; n--) {
          const node = doc.getIn(path.slice(0, n) as unknown[], true) as { range?: [number] } | undefined;
          if (node?.range) return lineCounter.linePos(node.range[0]).line;
        }
        return 1;
      };
      docs.push({
        file: source.path,
        index,
        value: doc.toJS() as Record<string, unknown>,
        lineOf,
      });
    });
  }
  return docs;
}

function describe(doc: ParsedDoc): string {
  const kind = typeof doc.value.kind === "string" ? doc.value.kind : "resource";
  const meta = doc.value.metadata as { name?: unknown } | undefined;
  const name = typeof meta?.name === "string" ? ` ${meta.name}` : "";
  return `document ${doc.index} (${kind}${name})`;
}

function where(doc: ParsedDoc, path: Path): string {
  return `${doc.file}:${doc.lineOf(path)}: ${describe(doc)}`;
}

/** Fields present in the input that the schema dropped: typos that would otherwise pass silently. */
function unknownFields(input: unknown, output: unknown, path: PropertyKey[] = []): PropertyKey[][] {
  if (Array.isArray(input) && Array.isArray(output)) {
    return input.flatMap((item, i) => unknownFields(item, output[i], [...path, i]));
  }
  if (!isRecord(input) || !isRecord(output)) return [];
  const found: PropertyKey[][] = [];
  for (const key of Object.keys(input)) {
    if (!(key in output)) found.push([...path, key]);
    else found.push(...unknownFields(input[key], output[key], [...path, key]));
  }
  return found;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function valueAt(root: unknown, path: Path): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** zod's message, with "missing" said plainly when the value is absent. */
function issueText(issue: z.core.$ZodIssue, root: unknown): string {
  if (issue.code === "invalid_type" && valueAt(root, issue.path) === undefined) {
    return `required, but missing (expected ${issue.expected})`;
  }
  return issue.message;
}

/** Problems in file order, then line order, so they read like a compiler's. */
function byLocation(problems: string[], sources: readonly SourceFile[]): string[] {
  const key = (problem: string): [number, number] => {
    const file = sources.findIndex((s) => problem.startsWith(`${s.path}:`));
    const rest = file >= 0 ? problem.slice((sources[file] as SourceFile).path.length + 1) : "";
    return [file, Number.parseInt(rest, 10) || 0];
  };
  return problems
    .map((p, i) => ({ p, i, k: key(p) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.i - b.i)
    .map(({ p }) => p);
}

function validate<S extends z.ZodType>(
  schema: S,
  doc: ParsedDoc,
  problems: string[],
  skipUnknownUnder: readonly string[] = [],
): z.output<S> | undefined {
  const result = schema.safeParse(doc.value);
  if (!result.success) {
    for (const issue of result.error.issues) {
      problems.push(`${where(doc, issue.path)}: ${formatPath(issue.path)}: ${issueText(issue, doc.value)}`);
    }
    return undefined;
  }
  for (const path of unknownFields(doc.value, result.data)) {
    const text = formatPath(path);
    if (skipUnknownUnder.some((prefix) => text.startsWith(prefix))) continue;
    const siblings = valueAt(result.data, path.slice(0, -1));
    const hint = isRecord(siblings) ? suggestion(String(path.at(-1)), Object.keys(siblings)) : "";
    problems.push(`${where(doc, path)}: ${text}: unknown field${hint}`);
  }
  return result.data;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] as number;
      row[j] = Math.min(above + 1, (row[j - 1] as number) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] as number;
}

function suggestion(name: string, candidates: readonly string[]): string {
  const best = candidates
    .map((c) => ({ c, d: editDistance(name.toLowerCase(), c.toLowerCase()) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(name.length / 4)) ? ` (did you mean ${best.c}?)` : "";
}

function readSecret(secretsDir: string | undefined, name: string, key: string): string | undefined {
  if (!secretsDir) return undefined;
  const file = join(secretsDir, name, key);
  if (!existsSync(file)) return undefined;
  // Files written with `echo` end in a newline that is not part of the value.
  return readFileSync(file, "utf8").replace(/\r?\n$/, "");
}

/** Parses and validates every document; throws ConfigError listing all problems. */
export function loadLocalConfig(sources: readonly SourceFile[], options: LoadOptions = {}): LocalConfig {
  const extra = options.extraModules ?? [];
  const lookup = (name: string) =>
    extra.find((m) => m.id === name || m.intelmqModules.includes(name)) ?? findModule(name);
  const problems: string[] = [];
  const warnings: string[] = [];
  const docs = parseDocuments(sources, problems);

  const pipelines = new Map<string, PipelineResource>();
  const botDocs: Array<{ doc: ParsedDoc; bot: BotResource }> = [];
  const exclusionDocs: Array<{ doc: ParsedDoc; exclusion: ExclusionResource }> = [];
  for (const doc of docs) {
    const kind = doc.value.kind;
    if (kind === "Exclusion") {
      const exclusion = validate(Exclusion, doc, problems);
      if (exclusion) exclusionDocs.push({ doc, exclusion });
      continue;
    }
    if (kind !== "Pipeline" && kind !== "Bot") {
      problems.push(
        `${where(doc, ["kind"])}: kind: ${kind === undefined ? "missing" : `unknown kind ${JSON.stringify(kind)}`}; expected ${KINDS.join(", ")}`,
      );
      continue;
    }
    if (kind === "Pipeline") {
      const pipeline = validate(Pipeline, doc, problems);
      if (!pipeline) continue;
      if (pipelines.has(pipeline.metadata.name)) {
        problems.push(
          `${where(doc, ["metadata", "name"])}: Pipeline ${pipeline.metadata.name} is defined twice`,
        );
        continue;
      }
      pipelines.set(pipeline.metadata.name, pipeline);
    } else {
      // Parameters are checked against the module's own schema below.
      const bot = validate(Bot, doc, problems, ["spec.parameters"]);
      if (bot) botDocs.push({ doc, bot });
    }
  }
  if (docs.length === 0 && problems.length === 0) {
    problems.push(
      `${sources.map((s) => s.path).join(", ")}: no resources (expected Pipeline and Bot documents)`,
    );
  } else if (pipelines.size === 0 && problems.length === 0) {
    problems.push(`${sources.map((s) => s.path).join(", ")}: no Pipeline resource; every Bot needs one`);
  }

  const bots: LocalBot[] = [];
  const accepted: Array<{ doc: ParsedDoc; bot: BotResource; local: LocalBot }> = [];
  const byName = new Map<string, LocalBot>();
  const moduleIds = [...extra, ...listModules()].map((m) => m.id);
  for (const { doc, bot } of botDocs) {
    const name = bot.metadata.name;
    const spec = bot.spec;
    if (byName.has(name)) {
      problems.push(`${where(doc, ["metadata", "name"])}: Bot ${name} is defined twice`);
      continue;
    }
    if (!pipelines.has(spec.pipeline) && pipelines.size > 0) {
      problems.push(
        `${where(doc, ["spec", "pipeline"])}: spec.pipeline: no Pipeline named ${spec.pipeline}${suggestion(spec.pipeline, [...pipelines.keys()])}`,
      );
    }
    const module = lookup(spec.module);
    if (!module) {
      // A close match is the likely fix; otherwise list what exists while the list is short.
      const hint =
        suggestion(spec.module, moduleIds) ||
        (moduleIds.length <= 40
          ? `; known modules: ${moduleIds.join(", ")}`
          : `; the ${moduleIds.length} known modules are listed in docs/bots.md`);
      problems.push(
        `${where(doc, ["spec", "module"])}: spec.module: unknown module ${JSON.stringify(spec.module)}${hint}`,
      );
      continue;
    }
    const parameters: Record<string, unknown> = { ...spec.parameters };
    const fromSecrets = new Set<PropertyKey>();
    for (const [i, from] of spec.parametersFrom.entries()) {
      if (options.ignoreSecrets) {
        fromSecrets.add(from.parameter);
        continue;
      }
      const value = readSecret(options.secretsDir, from.secretKeyRef.name, from.secretKeyRef.key);
      if (value === undefined) {
        const file = options.secretsDir
          ? join(options.secretsDir, from.secretKeyRef.name, from.secretKeyRef.key)
          : `<data-dir>/secrets/${from.secretKeyRef.name}/${from.secretKeyRef.key}`;
        problems.push(
          `${where(doc, ["spec", "parametersFrom", i])}: spec.parametersFrom[${i}]: local mode reads Secret ${from.secretKeyRef.name} key ${from.secretKeyRef.key} from ${file}, which does not exist`,
        );
        continue;
      }
      parameters[from.parameter] = value;
    }
    const schema = parameterSchema(module);
    const checked = schema.safeParse(parameters);
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        if (fromSecrets.has(issue.path[0] as PropertyKey)) continue;
        const path = ["spec", "parameters", ...issue.path];
        problems.push(
          `${where(doc, path)}: ${formatPath(path)}: ${issueText(issue, parameters)} (module ${module.id})`,
        );
      }
    } else {
      for (const path of unknownFields(parameters, checked.data)) {
        const full = ["spec", "parameters", ...path];
        const names = Object.keys(schema.shape).sort();
        const known = names.length > 0 ? `its parameters: ${names.join(", ")}` : "it takes no parameters";
        warnings.push(
          `${where(doc, full)}: ${formatPath(full)}: module ${module.id} has no such parameter (ignored); ${known}`,
        );
      }
    }
    if (spec.interval !== undefined && module.kind !== "collector") {
      warnings.push(
        `${where(doc, ["spec", "interval"])}: spec.interval only applies to collectors (ignored)`,
      );
    }
    const local: LocalBot = {
      resource: { ...bot, spec: { ...spec, parameters } },
      module,
      kind: module.kind,
      hasInput: module.kind !== "collector",
      origin: `${doc.file}:${doc.lineOf([])}`,
    };
    byName.set(name, local);
    bots.push(local);
    accepted.push({ doc, bot, local });
  }

  // Routing: destinations name bots of the same pipeline that take what this bot emits.
  const targeted = new Set<string>();
  for (const { doc, bot, local: source } of accepted) {
    const kind = source.kind;
    const entries = Object.entries(bot.spec.destinations);
    if (kind === "output" && entries.some(([, to]) => to.length > 0)) {
      problems.push(
        `${where(doc, ["spec", "destinations"])}: spec.destinations: ${bot.metadata.name} is an output; outputs have no destinations`,
      );
      continue;
    }
    const allowedPaths = new Set(["_default", "_on_error"]);
    if (source.module.kind === "expert") for (const p of source.module.paths ?? []) allowedPaths.add(p);
    const anyPath = source.module.kind === "expert" && source.module.pathsFromParameter !== undefined;
    for (const [path, targets] of entries) {
      if (!anyPath && !allowedPaths.has(path)) {
        warnings.push(
          `${where(doc, ["spec", "destinations", path])}: spec.destinations.${path}: module ${source.module.id} does not emit on path ${path} (it emits on ${[...allowedPaths].join(", ")}); nothing will arrive there`,
        );
      }
      targets.forEach((target, i) => {
        const at = ["spec", "destinations", path, i];
        const dest = byName.get(target);
        if (!dest) {
          if (!botDocs.some((b) => b.bot.metadata.name === target)) {
            problems.push(
              `${where(doc, at)}: ${formatPath(at)}: no Bot named ${target}${suggestion(target, [...byName.keys()])}`,
            );
          }
          return;
        }
        targeted.add(target);
        if (dest.resource.spec.pipeline !== bot.spec.pipeline) {
          problems.push(
            `${where(doc, at)}: ${formatPath(at)}: ${target} belongs to pipeline ${dest.resource.spec.pipeline}, not ${bot.spec.pipeline}`,
          );
          return;
        }
        if (!dest.hasInput) {
          problems.push(
            `${where(doc, at)}: ${formatPath(at)}: ${target} is a collector; collectors have no input queue`,
          );
          return;
        }
        const mismatch = routeTypeMismatch(kind, path, dest.kind);
        if (mismatch) {
          problems.push(
            `${where(doc, at)}: ${formatPath(at)}: ${bot.metadata.name} (${kind}) sends ${mismatch.carries}s but ${target} (${dest.kind}) takes ${mismatch.takes}s`,
          );
        }
      });
    }
    if (kind !== "output" && !entries.some(([p, to]) => p !== "_on_error" && to.length > 0)) {
      warnings.push(
        `${where(doc, ["spec"])}: ${bot.metadata.name} has no destinations; its output is discarded`,
      );
    }
  }
  for (const bot of bots) {
    if (bot.hasInput && !targeted.has(bot.resource.metadata.name)) {
      warnings.push(`${bot.origin}: Bot ${bot.resource.metadata.name}: no bot sends to it`);
    }
  }

  for (const problem of processGroups(bots.map((b) => b.resource)).problems) problems.push(problem);

  const exclusions = checkExclusions(exclusionDocs, [...pipelines.values()], bots, problems, warnings);

  if (problems.length > 0) throw new ConfigError(byLocation(problems, sources));
  if (bots.length === 0)
    warnings.push(`${sources.map((s) => s.path).join(", ")}: no Bot resources; nothing to run`);
  return { pipelines: [...pipelines.values()], bots, exclusions, warnings };
}

/** The spec path an engine problem ("match.all[2]: regex: …") is about, for its line. */
function problemPath(problem: string): PropertyKey[] {
  const m = /^(match|action\.set|expiresAt)(?:\.(all|any))?(?:\[(\d+)\])?/.exec(problem);
  if (!m) return ["spec"];
  const path: PropertyKey[] = ["spec", ...(m[1] as string).split(".")];
  if (m[2]) path.push(m[2]);
  if (m[3] !== undefined) path.push(Number(m[3]));
  return path;
}

/**
 * Exclusions compiled as the bots will compile them (every problem named by file and line), unique by
 * name; warnings for scopes that select nothing and routes the applying bots cannot take.
 */
function checkExclusions(
  docs: ReadonlyArray<{ doc: ParsedDoc; exclusion: ExclusionResource }>,
  pipelines: readonly PipelineResource[],
  bots: readonly LocalBot[],
  problems: string[],
  warnings: string[],
): LocalExclusion[] {
  const out: LocalExclusion[] = [];
  const names = new Set<string>();
  for (const { doc, exclusion } of docs) {
    const name = exclusion.metadata.name;
    if (names.has(name)) {
      problems.push(`${where(doc, ["metadata", "name"])}: Exclusion ${name} is defined twice`);
      continue;
    }
    names.add(name);
    const spec = exclusion.spec;
    try {
      // Disabled ones too: enabling one must not be the moment it turns out broken.
      ExclusionSet.compile([{ name, spec: { ...spec, enabled: true } }]);
    } catch (error) {
      if (!(error instanceof ExclusionError)) throw error;
      for (const problem of error.problems) {
        const text = problem.startsWith(`${name}: `) ? problem.slice(name.length + 2) : problem;
        problems.push(`${where(doc, problemPath(text))}: spec.${text}`);
      }
      continue;
    }
    const scope = spec.scope;
    const selected = pipelines.filter((p) =>
      scope.pipelines
        ? scope.pipelines.includes(p.metadata.name)
        : selects(scope.pipelineSelector ?? {}, p.metadata.labels),
    );
    for (const [i, pipeline] of (scope.pipelines ?? []).entries()) {
      if (!pipelines.some((p) => p.metadata.name === pipeline)) {
        warnings.push(
          `${where(doc, ["spec", "scope", "pipelines", i])}: spec.scope.pipelines[${i}]: no Pipeline named ${pipeline}${suggestion(
            pipeline,
            pipelines.map((p) => p.metadata.name),
          )}; the exclusion does not apply there`,
        );
      }
    }
    if (selected.length === 0 && scope.pipelineSelector) {
      warnings.push(
        `${where(doc, ["spec", "scope"])}: spec.scope: selects no pipeline; the exclusion applies nowhere`,
      );
    }
    const inScope = bots.filter((b) => selected.some((p) => p.metadata.name === b.resource.spec.pipeline));
    const selector = scope.botSelector;
    const applying = selector
      ? inScope.filter((b) => selects(selector, b.resource.metadata.labels))
      : inScope.filter((b) => b.kind === "output");
    if (selected.length > 0 && applying.length === 0) {
      warnings.push(
        `${where(doc, ["spec", "scope"])}: spec.scope: no bot applies the exclusion (${selector ? "botSelector selects no bot" : "no output bot"} in ${selected.map((p) => p.metadata.name).join(", ")})`,
      );
    }
    if (spec.enabled && applying.some((b) => b.kind !== "expert" && b.kind !== "output")) {
      const others = applying.filter((b) => b.kind !== "expert" && b.kind !== "output");
      warnings.push(
        `${where(doc, ["spec", "scope", "botSelector"])}: spec.scope.botSelector: ${others.map((b) => `${b.resource.metadata.name} (${b.kind})`).join(", ")}: only experts and outputs apply exclusions`,
      );
    }
    const path = spec.action.path;
    if (spec.action.type === "route" && path !== undefined) {
      const stranded = applying.filter((b) => (b.resource.spec.destinations[path] ?? []).length === 0);
      if (stranded.length > 0) {
        warnings.push(
          `${where(doc, ["spec", "action", "path"])}: spec.action.path: ${stranded.map((b) => b.resource.metadata.name).join(", ")} ha${stranded.length === 1 ? "s" : "ve"} no destinations on path ${path}; events routed there are discarded`,
        );
      }
    }
    const revision = createHash("sha256").update(JSON.stringify(spec)).digest("hex").slice(0, 12);
    out.push({ resource: exclusion, revision, origin: `${doc.file}:${doc.lineOf([])}` });
  }
  return out;
}
