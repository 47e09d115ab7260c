// `petrelctl exclusion list|add|remove|test`: the namespace's Exclusions with their state and counts,
// a new Exclusion from flags (checked as the operator and the bots check it before it is sent), removal,
// and which exclusions an event meets and why (from the cluster, or from local YAML), with grep's exit
// codes: 0 when one matches, 1 when none does, 2 on errors.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { isMap, parseAllDocuments, stringify } from "yaml";
import type { z } from "zod";
import {
  API_VERSION,
  durationMs,
  Exclusion,
  ExclusionSpec,
  type ExclusionSpecT,
  type LabelSelector,
} from "../../../../bot-runtime/src/config/resources.ts";
import { type Message, parseMessage } from "../../../../bot-runtime/src/event/message.ts";
import { selects } from "../../../../bot-runtime/src/exclusions/distribution.ts";
import {
  ExclusionError,
  ExclusionSet,
  type NamedExclusion,
  type Verdict,
} from "../../../../bot-runtime/src/exclusions/exclusion-set.ts";
import { table } from "../table.ts";
import { Cluster, ClusterError, type ClusterExclusion, type ClusterFlags, withClusterFlags } from "./kube.ts";

type Selector = z.infer<typeof LabelSelector>;

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Repeated flags, each also a comma-separated list. */
function items(values: readonly string[] | undefined): string[] {
  return (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

// ---- label selectors in kubectl's notation ----------------------------------------------------------

/** Splits at commas outside parentheses. */
function terms(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const c of text) {
    if (c === "(") depth++;
    if (c === ")") depth--;
    if (c === "," && depth === 0) {
      out.push(current);
      current = "";
    } else current += c;
  }
  out.push(current);
  return out.map((t) => t.trim()).filter(Boolean);
}

/**
 * A label selector as kubectl -l takes it: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`,
 * `!a`, joined by commas; the empty string selects everything.
 */
export function parseSelector(text: string, flag: string): Selector {
  const selector: Required<Selector> = { matchLabels: {}, matchExpressions: [] };
  for (const term of terms(text)) {
    let m = /^([^\s=!()]+)\s*(==|=)\s*([^\s=!()]*)$/.exec(term);
    if (m) {
      selector.matchLabels[m[1] as string] = m[3] as string;
      continue;
    }
    m = /^([^\s=!()]+)\s*!=\s*([^\s=!()]*)$/.exec(term);
    if (m) {
      selector.matchExpressions.push({ key: m[1] as string, operator: "NotIn", values: [m[2] as string] });
      continue;
    }
    m = /^([^\s=!()]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(term);
    if (m) {
      selector.matchExpressions.push({
        key: m[1] as string,
        operator: m[2] === "in" ? "In" : "NotIn",
        values: items([m[3] as string]),
      });
      continue;
    }
    m = /^(!?)([^\s=!()]+)$/.exec(term);
    if (m) {
      selector.matchExpressions.push({ key: m[2] as string, operator: m[1] ? "DoesNotExist" : "Exists" });
      continue;
    }
    throw new ClusterError(`${flag}: cannot read ${JSON.stringify(term)} (use a=b, a!=b, a in (x,y), a, !a)`);
  }
  return {
    ...(Object.keys(selector.matchLabels).length > 0 ? { matchLabels: selector.matchLabels } : {}),
    ...(selector.matchExpressions.length > 0 ? { matchExpressions: selector.matchExpressions } : {}),
  };
}

/** `--expires`: a duration from now (7d, 12h) or an RFC 3339 time; returned as RFC 3339. */
export function expiresAt(text: string, now = new Date()): string {
  if (/^\d+(ms|s|m|h|d)$/.test(text)) {
    return new Date(now.getTime() + durationMs(text)).toISOString().replace(/\.\d+Z$/, "Z");
  }
  if (
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text) &&
    !Number.isNaN(Date.parse(text))
  )
    return text;
  throw new ClusterError(
    `--expires: ${JSON.stringify(text)} is neither a duration (30m, 12h, 7d) nor an RFC 3339 time (2026-06-30T00:00:00Z)`,
  );
}

// ---- state of an exclusion ----------------------------------------------------------------------------

function conditionOf(x: ClusterExclusion, type: string) {
  return x.status?.conditions?.find((c) => c.type === type);
}

/** active, expired, invalid, disabled, or pending (written, not yet applied by any bot, or not yet seen). */
export function exclusionState(x: ClusterExclusion, now = Date.now()): string {
  if (conditionOf(x, "Invalid")?.status === "True") return "invalid";
  if (x.spec.enabled === false) return "disabled";
  if (conditionOf(x, "Expired")?.status === "True") return "expired";
  if (x.spec.expiresAt !== undefined && Date.parse(x.spec.expiresAt) <= now) return "expired";
  if (conditionOf(x, "Active")?.status === "True") return "active";
  return "pending";
}

function actionText(spec: ExclusionSpecT): string {
  const action = spec.action ?? { type: "drop" };
  if (action.type === "route") return `route:${action.path}`;
  if (action.type === "mark")
    return `mark:${(action.set ?? []).map((s) => `${s.field}=${s.value}`).join(",")}`;
  return "drop";
}

async function list(flags: ClusterFlags): Promise<void> {
  const cluster = new Cluster(flags);
  const exclusions = await cluster.exclusions();
  const rows = exclusions.map((x) => {
    const active = conditionOf(x, "Active");
    return {
      name: x.metadata.name,
      action: actionText(x.spec),
      state: exclusionState(x),
      matches: x.status?.matchedEvents ?? 0,
      bots: x.status?.bots ?? 0,
      lastMatch: x.status?.lastMatchTime ?? null,
      expires: x.spec.expiresAt ?? null,
      reason: x.spec.reason,
      owner: x.spec.owner ?? null,
      ticket: x.spec.ticket ?? null,
      pipelines: x.status?.pipelines ?? [],
      problem:
        conditionOf(x, "Invalid")?.status === "True"
          ? (conditionOf(x, "Invalid")?.message ?? "")
          : active && active.status !== "True"
            ? `${active.reason ?? ""}: ${active.message ?? ""}`
            : "",
    };
  });
  if (flags.json) {
    print(JSON.stringify(rows));
    return;
  }
  if (rows.length === 0) {
    print(`No exclusions in namespace ${cluster.namespace}.`);
    return;
  }
  for (const line of table(
    ["NAME", "ACTION", "STATE", "MATCHES", "LAST MATCH", "EXPIRES", "REASON"],
    rows.map((r) => [
      r.name,
      r.action,
      r.state === "pending" && r.problem ? `pending (${r.problem.split(":")[0]})` : r.state,
      String(r.matches),
      r.lastMatch ?? "-",
      r.expires ?? "-",
      r.reason,
    ]),
  ))
    print(line);
  for (const r of rows.filter((r) => r.state === "invalid")) print(`${r.name}: ${r.problem}`);
}

// ---- add ----------------------------------------------------------------------------------------------

interface AddFlags extends ClusterFlags {
  pipeline?: string[];
  pipelineSelector?: string;
  botSelector?: string;
  cidr?: string[];
  domain?: string[];
  field?: string;
  equals?: string[];
  regex?: string;
  any?: boolean;
  action: string;
  set?: string[];
  path?: string;
  reason?: string;
  owner?: string;
  ticket?: string;
  expires?: string;
  disabled?: boolean;
  dryRun?: boolean;
}

/** The Exclusion the flags describe; throws naming the flag at fault. */
export function exclusionFromFlags(name: string, flags: AddFlags, now = new Date()): object {
  const pipelines = items(flags.pipeline);
  if (pipelines.length > 0 === (flags.pipelineSelector !== undefined))
    throw new ClusterError(
      "choose the pipelines: --pipeline NAME (repeatable) or --pipeline-selector LABELS ('' for all), one of the two",
    );
  if (!flags.reason) throw new ClusterError("--reason is required: say why the exclusion exists");
  const conditions: Array<{ flag: string; condition: Record<string, unknown> }> = [];
  const cidr = items(flags.cidr);
  const domains = items(flags.domain);
  const equals = items(flags.equals);
  if (cidr.length > 0)
    conditions.push({ flag: "--cidr", condition: { field: flags.field ?? "source.ip", cidr } });
  if (domains.length > 0)
    conditions.push({
      flag: "--domain",
      condition: { field: flags.field ?? "source.fqdn", domainSuffix: domains },
    });
  if (equals.length > 0 || flags.regex !== undefined) {
    if (!flags.field) throw new ClusterError("--equals and --regex test the field named by --field");
    if (equals.length === 1)
      conditions.push({ flag: "--equals", condition: { field: flags.field, equals: equals[0] } });
    if (equals.length > 1)
      conditions.push({ flag: "--equals", condition: { field: flags.field, oneOf: equals } });
    if (flags.regex !== undefined)
      conditions.push({ flag: "--regex", condition: { field: flags.field, regex: flags.regex } });
  }
  if (conditions.length === 0)
    throw new ClusterError("no condition: give --cidr, --domain, or --field with --equals or --regex");
  const set = (flags.set ?? []).map((kv) => {
    const at = kv.indexOf("=");
    if (at <= 0) throw new ClusterError(`--set: expected field=value, got ${JSON.stringify(kv)}`);
    return { field: kv.slice(0, at), value: kv.slice(at + 1) };
  });
  const action: Record<string, unknown> = { type: flags.action };
  if (set.length > 0) action.set = set;
  if (flags.path !== undefined) action.path = flags.path;
  const spec: Record<string, unknown> = {
    scope: {
      ...(pipelines.length > 0
        ? { pipelines }
        : { pipelineSelector: parseSelector(flags.pipelineSelector ?? "", "--pipeline-selector") }),
      ...(flags.botSelector !== undefined
        ? { botSelector: parseSelector(flags.botSelector, "--bot-selector") }
        : {}),
    },
    match: { [flags.any ? "any" : "all"]: conditions.map((c) => c.condition) },
    action,
    reason: flags.reason,
    ...(flags.owner ? { owner: flags.owner } : {}),
    ...(flags.ticket ? { ticket: flags.ticket } : {}),
    ...(flags.expires ? { expiresAt: expiresAt(flags.expires, now) } : {}),
    ...(flags.disabled ? { enabled: false } : {}),
  };
  const object = { apiVersion: API_VERSION, kind: "Exclusion", metadata: { name }, spec };
  // Checked here as the API server and the bots will check it, naming the flag.
  const checked = Exclusion.safeParse(object);
  if (!checked.success) {
    throw new ClusterError(
      checked.error.issues.map((issue) => `${flagOf(issue.path, conditions)}: ${issue.message}`).join("; "),
    );
  }
  try {
    ExclusionSet.compile([{ name, spec: checked.data.spec }]);
  } catch (error) {
    if (error instanceof ExclusionError) throw new ClusterError(error.problems.join("; "));
    throw error;
  }
  return object;
}

const SPEC_FLAGS: Record<string, string> = {
  reason: "--reason",
  owner: "--owner",
  ticket: "--ticket",
  expiresAt: "--expires",
  enabled: "--disabled",
};

/** The flag a schema problem at `path` (of the Exclusion object) comes from. */
function flagOf(path: readonly PropertyKey[], conditions: ReadonlyArray<{ flag: string }>): string {
  const [top, part, sub, index] = path;
  if (top === "metadata") return "NAME";
  if (part === "match" && typeof index === "number") return conditions[index]?.flag ?? "--field";
  if (part === "action") return sub === "set" ? "--set" : sub === "path" ? "--path" : "--action";
  if (part === "scope")
    return sub === "botSelector"
      ? "--bot-selector"
      : sub === "pipelineSelector"
        ? "--pipeline-selector"
        : "--pipeline";
  return SPEC_FLAGS[String(part)] ?? path.map(String).join(".");
}

async function add(name: string, flags: AddFlags): Promise<void> {
  const object = exclusionFromFlags(name, flags);
  if (flags.dryRun) {
    process.stdout.write(stringify(object));
    return;
  }
  const cluster = new Cluster(flags);
  await cluster.createExclusion(object, name);
  const spec = (object as { spec: ExclusionSpecT }).spec;
  const where = spec.scope.pipelines
    ? `pipeline(s) ${spec.scope.pipelines.join(", ")}`
    : "the pipelines its selector chooses";
  print(
    `Exclusion ${name} created in namespace ${cluster.namespace}: ${actionText(spec)} at ${spec.scope.botSelector ? "the bots its selector chooses" : "the output bots"} of ${where}. The bots apply it within seconds; petrelctl exclusion list shows its state.`,
  );
}

async function remove(names: string[], flags: ClusterFlags): Promise<void> {
  const cluster = new Cluster(flags);
  const missing: string[] = [];
  for (const name of names) {
    if (await cluster.deleteExclusion(name))
      print(`Exclusion ${name} removed; the operator takes it off the bots.`);
    else missing.push(name);
  }
  if (missing.length > 0)
    throw new ClusterError(`no Exclusion ${missing.join(", ")} in namespace ${cluster.namespace}`);
}

// ---- test ---------------------------------------------------------------------------------------------

interface Candidate extends NamedExclusion {
  /** Why it does not apply now, if so: disabled, expired. */
  inactive?: string;
}

interface Source {
  exclusions: Candidate[];
  /** Exclusions that do not compile: name and problem. */
  invalid: Array<{ name: string; problem: string }>;
  /** Labels of pipelines by name, where known (for --pipeline with label selectors). */
  pipelineLabels: Map<string, Record<string, string>>;
}

function candidate(name: string, spec: ExclusionSpecT, now: number): Candidate {
  const inactive =
    spec.enabled === false
      ? "disabled"
      : spec.expiresAt !== undefined && Date.parse(spec.expiresAt) <= now
        ? `expired at ${spec.expiresAt}`
        : undefined;
  return { name, spec, ...(inactive ? { inactive } : {}) };
}

/** Exclusion documents of local YAML files (other kinds are skipped; Pipelines give their labels). */
export function exclusionsFromYaml(files: readonly string[], now = Date.now()): Source {
  const source: Source = { exclusions: [], invalid: [], pipelineLabels: new Map() };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      throw new ClusterError(`${file}: ${(error as Error).message}`);
    }
    for (const [i, doc] of parseAllDocuments(text).entries()) {
      if (doc.errors.length > 0)
        throw new ClusterError(`${file}: document ${i + 1}: YAML: ${doc.errors[0]?.message.split("\n")[0]}`);
      if (!isMap(doc.contents)) continue;
      const value = doc.toJS() as {
        kind?: string;
        metadata?: { name?: string; labels?: Record<string, string> };
      };
      if (value.kind === "Pipeline" && value.metadata?.name)
        source.pipelineLabels.set(value.metadata.name, value.metadata.labels ?? {});
      if (value.kind !== "Exclusion") continue;
      const name = value.metadata?.name ?? `document ${i + 1}`;
      const parsed = Exclusion.safeParse(value);
      if (!parsed.success) {
        source.invalid.push({
          name,
          problem: parsed.error.issues.map((x) => `${x.path.join(".")}: ${x.message}`).join("; "),
        });
        continue;
      }
      source.exclusions.push(candidate(name, parsed.data.spec, now));
    }
  }
  return source;
}

async function exclusionsFromCluster(flags: ClusterFlags, now = Date.now()): Promise<Source> {
  const cluster = new Cluster(flags);
  const [exclusions, pipelines] = await Promise.all([cluster.exclusions(), cluster.pipelines()]);
  const source: Source = {
    exclusions: [],
    invalid: [],
    pipelineLabels: new Map(pipelines.map((p) => [p.metadata.name, p.metadata.labels ?? {}])),
  };
  for (const x of exclusions) {
    const parsed = ExclusionSpec.safeParse(x.spec);
    if (!parsed.success) {
      source.invalid.push({
        name: x.metadata.name,
        problem: parsed.error.issues.map((i) => `spec.${i.path.join(".")}: ${i.message}`).join("; "),
      });
      continue;
    }
    source.exclusions.push(candidate(x.metadata.name, parsed.data, now));
  }
  return source;
}

export interface TestResult {
  matched: boolean;
  verdict: Verdict;
  matches: Array<{ name: string; action: string; reasons: string[] }>;
  /** Exclusions that would match if they applied now (disabled, expired). */
  inactive: Array<{ name: string; why: string; reasons: string[] }>;
  invalid: Array<{ name: string; problem: string }>;
  checked: number;
}

/** Which exclusions `event` meets and why; `pipeline`: only those whose scope covers it. */
export function testEvent(source: Source, event: Message, pipeline?: string, now = Date.now()): TestResult {
  const invalid = [...source.invalid];
  const labels = pipeline === undefined ? undefined : (source.pipelineLabels.get(pipeline) ?? {});
  const inScope = source.exclusions.filter((x) => {
    if (pipeline === undefined) return true;
    const scope = x.spec.scope;
    return scope.pipelines
      ? scope.pipelines.includes(pipeline)
      : selects(scope.pipelineSelector ?? {}, labels);
  });
  // One that does not compile must not hide the others: each is compiled alone first.
  const compiled = inScope.filter((x) => {
    try {
      ExclusionSet.compile([{ name: x.name, spec: { ...x.spec, enabled: true } }]);
      return true;
    } catch (error) {
      if (!(error instanceof ExclusionError)) throw error;
      invalid.push({ name: x.name, problem: error.problems.join("; ") });
      return false;
    }
  });
  const live = ExclusionSet.compile(compiled.filter((x) => !x.inactive));
  const dormant = compiled.filter((x) => x.inactive);
  const { verdict, hits } = live.apply(event.copy(), now);
  const wouldBe = ExclusionSet.compile(
    dormant.map((x) => {
      const { expiresAt: _expiresAt, ...spec } = x.spec;
      return { name: x.name, spec: { ...spec, enabled: true } };
    }),
  ).matches(event, now);
  return {
    matched: hits.length > 0,
    verdict,
    matches: hits.map((h) => ({
      name: h.name,
      action: actionText({ action: h.action } as ExclusionSpecT),
      reasons: h.reasons,
    })),
    inactive: wouldBe.map((h) => ({
      name: h.name,
      why: dormant.find((x) => x.name === h.name)?.inactive ?? "",
      reasons: h.reasons,
    })),
    invalid,
    checked: compiled.length,
  };
}

function readEvent(file: string | undefined): Message {
  let text: string;
  try {
    text = file === undefined || file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  } catch (error) {
    throw new ClusterError(`${file ?? "stdin"}: ${(error as Error).message}`);
  }
  try {
    return parseMessage(text.trim(), { mode: "sanitize", defaultType: "Event" });
  } catch (error) {
    throw new ClusterError(
      `${file === undefined || file === "-" ? "stdin" : file}: not an event (one JSON object, IntelMQ format): ${(error as Error).message}`,
    );
  }
}

function verdictText(verdict: Verdict): string {
  if (verdict.kind === "drop")
    return `dropped (by ${verdict.by.join(", ")}; a drop wins over route and mark)`;
  if (verdict.kind === "route") return `routed to path ${verdict.path} (by ${verdict.by.join(", ")})`;
  return verdict.marked.length > 0 ? `passes, marked by ${verdict.marked.join(", ")}` : "passes unchanged";
}

interface TestFlags extends ClusterFlags {
  event?: string;
  file?: string[];
  pipeline?: string;
}

async function test(flags: TestFlags): Promise<void> {
  try {
    const event = readEvent(flags.event);
    const source = flags.file ? exclusionsFromYaml(flags.file) : await exclusionsFromCluster(flags);
    const result = testEvent(source, event, flags.pipeline);
    if (flags.json) print(JSON.stringify(result));
    else {
      for (const m of result.matches) {
        print(`MATCH ${m.name} (${m.action})`);
        for (const reason of m.reasons) print(`  ${reason}`);
      }
      for (const m of result.inactive) {
        print(`would match ${m.name}, but it is ${m.why}`);
        for (const reason of m.reasons) print(`  ${reason}`);
      }
      for (const x of result.invalid)
        process.stderr.write(`warning: ${x.name} is invalid and was skipped: ${x.problem}\n`);
      const scope = flags.pipeline === undefined ? "" : ` covering pipeline ${flags.pipeline}`;
      print(
        result.matched
          ? `Result: ${verdictText(result.verdict)}; ${result.matches.length} of ${result.checked} exclusion(s)${scope} match.`
          : `No exclusion matches (${result.checked} checked${scope}).`,
      );
    }
    process.exitCode = result.matched ? 0 : 1;
  } catch (error) {
    process.stderr.write(`petrelctl: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}

export function registerExclusionCommands(program: Command): void {
  const exclusion = program
    .command("exclusion")
    .description("List, add, remove and test Exclusions (rules that drop, mark or reroute events)");
  withClusterFlags(exclusion.command("list"))
    .description("The namespace's Exclusions: action, state, matches, last match, expiry, reason")
    .action((flags: ClusterFlags) => list(flags));
  withClusterFlags(exclusion.command("add <name>"))
    .description("Create an Exclusion (checked before it is sent); the bots apply it within seconds")
    .option("--pipeline <name>", "a pipeline it covers (repeatable, or comma-separated)", collect)
    .option("--pipeline-selector <labels>", "the pipelines it covers, by label (a=b,c in (x,y); '' for all)")
    .option(
      "--bot-selector <labels>",
      "where it applies: the bots these labels choose (default: every output bot)",
    )
    .option("--cidr <networks>", "match --field (default source.ip) in these networks (repeatable)", collect)
    .option(
      "--domain <domains>",
      "match --field (default source.fqdn) at or below these domains (repeatable)",
      collect,
    )
    .option("--field <field>", "the event field --equals and --regex test (and --cidr, --domain, if given)")
    .option("--equals <value>", "match --field equal to this value (repeatable: one of them)", collect)
    .option("--regex <regex>", "match --field against this regular expression (JavaScript syntax)")
    .option("--any", "match when any condition holds (default: all of them)")
    .option("--action <action>", "drop, mark or route", "drop")
    .option("--set <field=value>", "mark: a field to set on matching events (repeatable)", collect)
    .option("--path <path>", "route: the path matching events leave on")
    .option("--reason <text>", "why the exclusion exists (required)")
    .option("--owner <who>", "who answers for it")
    .option("--ticket <ref>", "a ticket or case reference")
    .option("--expires <when>", "when it stops applying: a duration from now (7d, 12h) or an RFC 3339 time")
    .option("--disabled", "create it switched off (spec.enabled: false)")
    .option("--dry-run", "print the Exclusion as YAML instead of creating it")
    .action((name: string, flags: AddFlags) => add(name, flags));
  withClusterFlags(exclusion.command("remove <names...>"))
    .description("Delete Exclusions; the operator takes them off the bots")
    .action((names: string[], flags: ClusterFlags) => remove(names, flags));
  withClusterFlags(exclusion.command("test"))
    .description(
      "Which exclusions an event (JSON) matches and why; exit code 0: one matches, 1: none, 2: an error",
    )
    .option("-f, --event <file>", "the event, one JSON object ('-' or omitted: stdin)")
    .option(
      "--file <yaml>",
      "exclusions from this local YAML file instead of the cluster (repeatable)",
      collect,
    )
    .option("-p, --pipeline <name>", "only the exclusions whose scope covers this pipeline")
    .action((flags: TestFlags) => test(flags));
}
