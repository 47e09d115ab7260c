// intelmqctl's verbs against a cluster: start, stop, restart, reload, status, list, log, check, clear.
// A bot is a Bot resource; the whole pipeline ("botnet") is every Bot of the namespace (or of
// --pipeline); a group is collectors, parsers, experts or outputs. petrelctl acts for the user: it
// changes a Bot's spec (enabled) the way `kubectl patch` would, and rolls pods as `kubectl rollout
// restart` does; the operator does the rest.
import type { Command } from "commander";
import { stringify } from "yaml";
import type { BotKind } from "../../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../../bot-runtime/src/sdk/catalogue.ts";
import { ConfigError, loadLocalConfig } from "../../local/config.ts";
import { table } from "../table.ts";
import { registerExclusionCommands } from "./exclusion.ts";
import { Cluster, type ClusterBot, ClusterError, type ClusterFlags, withClusterFlags } from "./kube.ts";
import { printLogs } from "./logs.ts";
import { purgeQueue } from "./queues.ts";

const GROUPS: Record<string, BotKind> = {
  collectors: "collector",
  parsers: "parser",
  experts: "expert",
  outputs: "output",
};

interface SelectFlags extends ClusterFlags {
  group?: string;
  pipeline?: string;
}

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

export function kindOf(bot: ClusterBot): BotKind | undefined {
  return findModule(bot.spec.module)?.kind;
}

/** The Bots named, or of the group, or all (of --pipeline); unknown names are an error. */
export function selectBots(
  all: readonly ClusterBot[],
  names: readonly string[],
  flags: SelectFlags,
): ClusterBot[] {
  let bots = [...all];
  if (flags.pipeline) bots = bots.filter((b) => b.spec.pipeline === flags.pipeline);
  if (flags.group) {
    const kind = GROUPS[flags.group];
    if (!kind) throw new ClusterError(`unknown group ${flags.group}: use ${Object.keys(GROUPS).join(", ")}`);
    bots = bots.filter((b) => kindOf(b) === kind);
  }
  if (names.length > 0) {
    const missing = names.filter((n) => !bots.some((b) => b.metadata.name === n));
    if (missing.length > 0) {
      throw new ClusterError(
        `no Bot ${missing.join(", ")}${flags.pipeline ? ` in pipeline ${flags.pipeline}` : ""}${flags.group ? ` among the ${flags.group}` : ""} (petrelctl list bots shows them)`,
      );
    }
    bots = bots.filter((b) => names.includes(b.metadata.name));
  }
  return bots;
}

function selection(command: Command): Command {
  return withClusterFlags(command)
    .option("--group <group>", "only collectors, parsers, experts or outputs")
    .option("-p, --pipeline <name>", "only the bots of this pipeline");
}

function ready(bot: ClusterBot): string {
  const want = bot.spec.enabled ? bot.spec.replicas : 0;
  return `${bot.status?.readyReplicas ?? 0}/${want}`;
}

/** A Bot's state as intelmqctl would put it, from what the operator reported. */
export function stateOf(bot: ClusterBot): string {
  const degraded = bot.status?.conditions?.find((c) => c.type === "Degraded" && c.status === "True");
  if (degraded) return "failed";
  if (!bot.spec.enabled || bot.spec.replicas === 0) return "stopped";
  if (bot.status?.state) return bot.status.state.toLowerCase();
  return "pending";
}

function problemOf(bot: ClusterBot): string {
  const bad = bot.status?.conditions?.find(
    (c) => (c.type === "Degraded" && c.status === "True") || (c.type === "Ready" && c.status === "False"),
  );
  return bad ? `${bad.reason ?? bad.type}: ${bad.message ?? ""}`.trim() : "";
}

function statusRow(bot: ClusterBot) {
  return {
    bot: bot.metadata.name,
    pipeline: bot.spec.pipeline,
    kind: kindOf(bot) ?? "unknown",
    module: bot.spec.module,
    state: stateOf(bot),
    ready: ready(bot),
    backlog: bot.status?.backlog ?? null,
    problem: problemOf(bot),
  };
}

async function setEnabled(flags: SelectFlags, names: string[], enabled: boolean): Promise<void> {
  const cluster = new Cluster(flags);
  const bots = selectBots(await cluster.bots(), names, flags);
  const results: Array<{ bot: string; result: string }> = [];
  for (const bot of bots) {
    if (bot.spec.enabled === enabled) {
      results.push({ bot: bot.metadata.name, result: enabled ? "already started" : "already stopped" });
      continue;
    }
    await cluster.patchBotSpec(bot.metadata.name, { enabled });
    results.push({ bot: bot.metadata.name, result: enabled ? "started" : "stopped" });
  }
  if (flags.json) print(JSON.stringify(results));
  else if (results.length === 0) print("No bots selected.");
  else for (const r of results) print(`${r.bot}: ${r.result}`);
}

async function restart(flags: SelectFlags, names: string[], verb: "restarted" | "reloaded"): Promise<void> {
  const cluster = new Cluster(flags);
  const bots = selectBots(await cluster.bots(), names, flags);
  const now = new Date();
  const results: Array<{ bot: string; result: string }> = [];
  for (const bot of bots) {
    if (!bot.spec.enabled) {
      results.push({ bot: bot.metadata.name, result: "stopped; not restarted (petrelctl start starts it)" });
      continue;
    }
    const deployments = await cluster.deploymentsOf(bot);
    if (deployments.length === 0) {
      results.push({ bot: bot.metadata.name, result: "no Deployment yet (is the operator running?)" });
      continue;
    }
    for (const d of deployments) await cluster.restartDeployment(d.metadata?.name as string, now);
    results.push({ bot: bot.metadata.name, result: verb });
  }
  if (flags.json) print(JSON.stringify(results));
  else if (results.length === 0) print("No bots selected.");
  else for (const r of results) print(`${r.bot}: ${r.result}`);
}

async function status(flags: SelectFlags, names: string[]): Promise<void> {
  const cluster = new Cluster(flags);
  const rows = selectBots(await cluster.bots(), names, flags).map(statusRow);
  if (flags.json) {
    print(JSON.stringify(rows));
    return;
  }
  if (rows.length === 0) {
    print(`No bots in namespace ${cluster.namespace}.`);
    return;
  }
  for (const line of table(
    ["BOT", "PIPELINE", "KIND", "STATE", "READY", "BACKLOG", "PROBLEM"],
    rows.map((r) => [
      r.bot,
      r.pipeline,
      r.kind,
      r.state,
      r.ready,
      r.backlog === null ? "-" : String(r.backlog),
      r.problem,
    ]),
  ))
    print(line);
}

async function list(what: string, flags: SelectFlags): Promise<void> {
  const cluster = new Cluster(flags);
  const bots = selectBots(await cluster.bots(), [], flags);
  const rows = bots.map(statusRow);
  const queues = rows.filter((r) => r.kind !== "collector");
  const views: Record<string, () => [string[], string[][], unknown]> = {
    bots: () => [
      ["BOT", "PIPELINE", "KIND", "MODULE", "ENABLED"],
      bots.map((b) => [
        b.metadata.name,
        b.spec.pipeline,
        kindOf(b) ?? "unknown",
        b.spec.module,
        String(b.spec.enabled),
      ]),
      bots.map((b) => ({
        bot: b.metadata.name,
        pipeline: b.spec.pipeline,
        kind: kindOf(b) ?? "unknown",
        module: b.spec.module,
        enabled: b.spec.enabled,
      })),
    ],
    queues: () => [
      ["QUEUE", "PIPELINE", "BACKLOG"],
      queues.map((r) => [r.bot, r.pipeline, r.backlog === null ? "-" : String(r.backlog)]),
      queues.map((r) => ({ queue: r.bot, pipeline: r.pipeline, backlog: r.backlog })),
    ],
    "queues-and-status": () => [
      ["BOT", "PIPELINE", "STATE", "READY", "BACKLOG"],
      rows.map((r) => [
        r.bot,
        r.pipeline,
        r.state,
        r.ready,
        r.kind === "collector" || r.backlog === null ? "-" : String(r.backlog),
      ]),
      rows,
    ],
  };
  const view = views[what];
  if (!view) throw new ClusterError(`unknown list ${what}: use ${Object.keys(views).join(", ")}`);
  const [header, body, json] = view();
  if (flags.json) print(JSON.stringify(json));
  else for (const line of table(header, body)) print(line);
}

/**
 * intelmqctl check: the namespace's Pipelines and Bots validated as local mode validates YAML (modules,
 * parameters, destinations, pipelines), plus what the operator reported as degraded. Exit code 1 on
 * any problem.
 */
async function check(flags: ClusterFlags): Promise<void> {
  const cluster = new Cluster(flags);
  const [pipelines, bots] = await Promise.all([cluster.pipelines(), cluster.bots()]);
  const docs = [
    ...pipelines.map((p) => ({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: { name: p.metadata.name },
      spec: p.spec,
    })),
    ...bots.map((b) => ({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Bot",
      metadata: { name: b.metadata.name },
      spec: b.spec,
    })),
  ];
  const problems: string[] = [];
  const warnings: string[] = [];
  const source = `namespace ${cluster.namespace}`;
  try {
    // Secrets are the cluster's to resolve; check everything else.
    const text = docs.map((d) => stringify(d)).join("---\n");
    const config = loadLocalConfig([{ path: source, text }], { ignoreSecrets: true });
    warnings.push(...config.warnings);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  for (const bot of bots) {
    const problem = problemOf(bot);
    if (problem) problems.push(`Bot ${bot.metadata.name}: ${problem}`);
  }
  if (flags.json) print(JSON.stringify({ ok: problems.length === 0, problems, warnings }));
  else {
    for (const p of problems) print(`ERROR ${p}`);
    for (const w of warnings) print(`WARNING ${w}`);
    print(
      problems.length === 0
        ? `No problems found (${pipelines.length} pipeline(s), ${bots.length} bot(s) in ${source}).`
        : `${problems.length} problem(s) found.`,
    );
  }
  if (problems.length > 0) process.exitCode = 1;
}

export function registerClusterCommands(program: Command): void {
  const botsArg = "[bots...]";
  selection(program.command(`start ${botsArg}`))
    .description("Start bots (all of the namespace or --pipeline when none is named): sets spec.enabled")
    .action((names: string[], flags: SelectFlags) => setEnabled(flags, names, true));
  selection(program.command(`stop ${botsArg}`))
    .description("Stop bots: sets spec.enabled to false; their queues keep filling")
    .action((names: string[], flags: SelectFlags) => setEnabled(flags, names, false));
  // intelmqctl's enable/disable change the configuration only; in Petrel spec.enabled is both.
  selection(program.command(`enable ${botsArg}`))
    .description("Same as start (spec.enabled is what both start and enable change)")
    .action((names: string[], flags: SelectFlags) => setEnabled(flags, names, true));
  selection(program.command(`disable ${botsArg}`))
    .description("Same as stop")
    .action((names: string[], flags: SelectFlags) => setEnabled(flags, names, false));
  selection(program.command(`restart ${botsArg}`))
    .description("Restart bots' pods one by one (each drains its in-flight messages first)")
    .action((names: string[], flags: SelectFlags) => restart(flags, names, "restarted"));
  selection(program.command(`reload ${botsArg}`))
    .description(
      "Reload bots: on Kubernetes a rolling restart (each pod drains, then starts with the current configuration)",
    )
    .action((names: string[], flags: SelectFlags) => restart(flags, names, "reloaded"));
  selection(program.command(`status ${botsArg}`))
    .description("State, ready replicas, backlog and problems of bots")
    .action((names: string[], flags: SelectFlags) => status(flags, names));
  selection(program.command("list <what>"))
    .description("List bots, queues, or queues-and-status")
    .action((what: string, flags: SelectFlags) => list(what, flags));
  withClusterFlags(program.command("log <bot>"))
    .description("Print the logs of a bot's pods")
    .option("--tail <lines>", "lines from the end of each pod's log", "100")
    .option("-f, --follow", "keep printing new lines")
    .action((bot: string, flags: ClusterFlags & { tail: string; follow?: boolean }) => printLogs(bot, flags));
  withClusterFlags(program.command("check"))
    .description("Validate the namespace's Pipelines and Bots and report what the operator found wrong")
    .action((flags: ClusterFlags) => check(flags));
  withClusterFlags(program.command("clear <bot>"))
    .description("Delete every message waiting in a bot's queue")
    .option("--nats <url>", "NATS URL (default: $NATS_URL, else the Pipeline's spec.nats.url)")
    .action((bot: string, flags: ClusterFlags & { nats?: string }) => purgeQueue(bot, flags));
  registerExclusionCommands(program);
}
