// `petrelctl up`: runs validated Pipeline, Bot and Exclusion resources on this machine. A private
// nats-server (or $NATS_URL), the same streams, consumers, exclusion buckets and rendered bot
// configurations as on Kubernetes, one process per bot replica, restarts, a live status, and an end
// condition for --until-drained.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import {
  botSubject,
  deadLetterSubject,
  pipelineNames,
  processGroups,
  renderProcessConfig,
} from "../../../bot-runtime/src/config/render.ts";
import type { BotResource, PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import {
  entryNames,
  openExclusionBuckets,
  putEntry,
  readEntry,
  readStats,
  removeEntry,
  summarizeStats,
} from "../../../bot-runtime/src/exclusions/buckets.ts";
import { exclusionEntries } from "../../../bot-runtime/src/exclusions/distribution.ts";
import {
  connectNats,
  deleteBotConsumer,
  ensureBotConsumer,
  ensurePipelineStreams,
  jetstreamManager,
} from "../../../bot-runtime/src/runtime/jetstream.ts";
import type { LocalBot, LocalConfig } from "./config.ts";
import { type BotSnapshot, drainBlockers, isDrained } from "./drain.ts";
import { addCounters, type BotCounters, ReplicaTotals, scrape, ZERO } from "./metrics.ts";
import {
  findNatsServer,
  freePort,
  type LocalNatsServer,
  NO_NATS_SERVER_HINT,
  startLocalNatsServer,
} from "./nats-server.ts";
import {
  fitWidth,
  formatElapsed,
  progressLine,
  renderSummary,
  renderTable,
  type StatusRow,
} from "./status.ts";
import { formatDelay, type Instance, Supervisor, type SupervisorEvent } from "./supervisor.ts";

const EXT = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const BOT_MAIN = fileURLToPath(new URL(`../../../bot-runtime/src/runtime/main${EXT}`, import.meta.url));

export interface Timing {
  /** Status refresh and end-condition checks. */
  refreshMs: number;
  /** Non-TTY progress lines. */
  progressEveryMs: number;
  /** --until-drained: how long everything must stay drained. */
  drainStableMs: number;
  stopGraceMs: number;
  backoffInitialMs: number;
  backoffMaxMs: number;
  stableAfterMs: number;
  maxCrashes: number;
}

export const DEFAULT_TIMING: Timing = {
  refreshMs: 1000,
  progressEveryMs: 5000,
  drainStableMs: 2000,
  stopGraceMs: 30_000,
  backoffInitialMs: 1000,
  backoffMaxMs: 30_000,
  stableAfterMs: 30_000,
  maxCrashes: 5,
};

export interface RunOptions {
  dataDir: string;
  mode: "follow" | "until-drained";
  /** Delete the pipelines' queues, dead letters and bot state before starting. */
  reset?: boolean;
  /** An existing NATS server (e.g. $NATS_URL) instead of a private one. */
  natsUrl?: string;
  /** Working directory of the bots (default: the current directory). */
  cwd?: string;
  /** --until-drained: give up after this long. */
  timeoutMs?: number;
  out?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Live table (default: when `out` is a TTY). */
  tty?: boolean;
  /** Install SIGINT/SIGTERM handlers (default true). */
  handleSignals?: boolean;
  /** Stops the run as Ctrl-C does. */
  signal?: AbortSignal;
  /** Extra node options for the bot processes (tests load test modules with it). */
  botNodeArgs?: readonly string[];
  botEnv?: NodeJS.ProcessEnv;
  timing?: Partial<Timing>;
  /** Called once every bot process is started. */
  onStarted?: (run: StartedRun) => void;
}

export interface StartedRun {
  natsUrl: string;
  natsPid: number | undefined;
  instances: readonly Instance[];
}

export interface RunResult {
  exitCode: number;
  outcome: "drained" | "interrupted" | "failed" | "timeout";
  rows: StatusRow[];
  natsUrl?: string;
}

interface BotRuntime {
  bot: LocalBot;
  pipeline: string;
  active: boolean;
  instances: Instance[];
  totals: Map<Instance, ReplicaTotals>;
  previous: BotCounters;
  backlog: number | undefined;
  deadLettersAtStart: number;
  deadLetters: number;
  /** Instances whose current process answered /readyz, with that process's pid. */
  ready: Map<Instance, number>;
}

/** A live process that is a petrelctl (a pid file left by a killed one may name a reused pid). */
function isPetrelctl(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("petrelctl");
  } catch {
    return true; // no /proc: assume the worst
  }
}

/** One petrelctl per data directory: two would share a NATS store and overwrite each other's configs. */
function acquireLock(dataDir: string): () => void {
  const file = join(dataDir, "petrelctl.pid");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (isPetrelctl(pid)) {
      throw new Error(`${dataDir} is in use by another petrelctl (pid ${pid}); use another --data-dir`);
    }
  }
  writeFileSync(file, `${process.pid}\n`);
  return () => rmSync(file, { force: true });
}

/** Messages per subject, read in one request (consistent across bots); undefined when NATS does not answer. */
async function subjectCounts(
  jsm: JetStreamManager,
  stream: string,
  filter: string,
): Promise<Record<string, number> | undefined> {
  try {
    const info = await jsm.streams.info(stream, { subjects_filter: filter });
    return (info.state.subjects as Record<string, number> | undefined) ?? {};
  } catch {
    return undefined;
  }
}

async function resetPipeline(jsm: JetStreamManager, pipeline: string): Promise<string[]> {
  const names = pipelineNames(pipeline);
  const doomed = [names.stream, names.deadLetterStream];
  const removed: string[] = [];
  for await (const name of jsm.streams.names()) {
    if (doomed.includes(name) || name.startsWith(`KV_${names.stateBucketPrefix}_`)) {
      await jsm.streams.delete(name);
      removed.push(name);
    }
  }
  return removed;
}

/** Removes consumers of bots no longer in the file (as the operator would). */
async function pruneConsumers(jsm: JetStreamManager, pipeline: string, keep: Set<string>): Promise<string[]> {
  const removed: string[] = [];
  for await (const info of jsm.consumers.list(pipelineNames(pipeline).stream)) {
    if (!keep.has(info.name)) {
      await deleteBotConsumer(jsm, pipeline, info.name);
      removed.push(info.name);
    }
  }
  return removed;
}

function explainNatsError(error: unknown): string {
  const message = (error as Error)?.message ?? String(error);
  if (/insufficient (storage )?resources/i.test(message)) {
    return `${message}: the Pipeline's stream.maxBytes plus deadLetter.maxBytes exceed what this disk can hold; lower them`;
  }
  return message;
}

export async function runLocal(config: LocalConfig, options: RunOptions): Promise<RunResult> {
  const timing: Timing = { ...DEFAULT_TIMING, ...options.timing };
  const out = options.out ?? process.stdout;
  const tty = options.tty ?? out.isTTY === true;
  const print = (line = "") => out.write(`${line}\n`);
  const dataDir = options.dataDir;
  const cwd = options.cwd ?? process.cwd();
  const shown = (path: string) => {
    const rel = relative(process.cwd(), path);
    return rel && !rel.startsWith("..") ? rel : path;
  };

  for (const warning of config.warnings) print(`warning: ${warning}`);

  mkdirSync(join(dataDir, "bots"), { recursive: true });
  mkdirSync(join(dataDir, "logs"), { recursive: true });
  const releaseLock = acquireLock(dataDir);

  let nats: LocalNatsServer | undefined;
  let nc: NatsConnection | undefined;
  let supervisor: Supervisor | undefined;
  const cleanups: Array<() => void> = [releaseLock];
  // Signals are ours from the start: a Ctrl-C while nats-server starts must still stop it.
  let interrupted = false;
  let wake: () => void = () => {};
  const requestStop = () => {
    if (interrupted) {
      if (supervisor) {
        print("Second interrupt: killing the bots.");
        supervisor.kill();
      }
      return;
    }
    interrupted = true;
    wake();
  };
  if (options.handleSignals !== false) {
    process.on("SIGINT", requestStop);
    process.on("SIGTERM", requestStop);
    cleanups.push(() => {
      process.removeListener("SIGINT", requestStop);
      process.removeListener("SIGTERM", requestStop);
    });
  }
  if (options.signal) {
    if (options.signal.aborted) interrupted = true;
    options.signal.addEventListener("abort", requestStop, { once: true });
  }
  try {
    // ---- NATS ----
    let natsUrl = options.natsUrl;
    if (!natsUrl) {
      const binary = findNatsServer();
      if (!binary) {
        print(NO_NATS_SERVER_HINT);
        return { exitCode: 1, outcome: "failed", rows: [] };
      }
      nats = await startLocalNatsServer({
        binary,
        dataDir,
        onStaleStopped: () => print("Stopped a nats-server left running by an earlier petrelctl."),
      });
      natsUrl = nats.url;
      print(`NATS: private nats-server ${natsUrl} (pid ${nats.pid}, store ${shown(nats.storeDir)})`);
    } else {
      print(`NATS: ${natsUrl} (from NATS_URL)`);
    }
    nc = await connectNats({ servers: natsUrl.split(",").map((s) => s.trim()), name: "petrelctl-up" });
    const jsm = await jetstreamManager(nc);

    // ---- streams and consumers ----
    const pipelines = new Map<string, PipelineResource>();
    for (const p of config.pipelines) {
      // A private server is a single node: stream replicas beyond 1 cannot be placed.
      const pipeline =
        nats && p.spec.stream.replicas > 1
          ? { ...p, spec: { ...p.spec, stream: { ...p.spec.stream, replicas: 1 } } }
          : p;
      pipelines.set(p.metadata.name, pipeline);
      if (options.reset) {
        const removed = await resetPipeline(jsm, p.metadata.name);
        if (removed.length > 0) print(`Reset pipeline ${p.metadata.name}: removed ${removed.join(", ")}`);
      }
      try {
        await ensurePipelineStreams(jsm, pipeline);
      } catch (error) {
        throw new Error(`pipeline ${p.metadata.name}: ${explainNatsError(error)}`);
      }
      const inputs = config.bots.filter((b) => b.hasInput && b.resource.spec.pipeline === p.metadata.name);
      const pruned = await pruneConsumers(
        jsm,
        p.metadata.name,
        new Set(inputs.map((b) => b.resource.metadata.name)),
      );
      if (pruned.length > 0) print(`Removed consumers of bots no longer defined: ${pruned.join(", ")}`);
      for (const b of inputs) await ensureBotConsumer(jsm, p.metadata.name, b.resource.metadata.name);
    }

    // ---- exclusions: in the buckets before any bot starts, so they apply from the first event ----
    for (const line of await writeExclusions(jsm, config)) print(line);

    // ---- bot processes ----
    const events: string[] = [];
    const onEvent = (e: SupervisorEvent) => {
      if (e.kind === "started") return;
      const line = `${e.time.toISOString().slice(11, 19)} ${e.message}`;
      if (tty) {
        events.push(line);
        events.splice(0, Math.max(0, events.length - 5));
      } else {
        print(line);
      }
    };
    const sup = new Supervisor({
      mainScript: BOT_MAIN,
      cwd,
      nodeArgs: options.botNodeArgs ?? [],
      ...(options.botEnv ? { env: options.botEnv } : {}),
      backoffInitialMs: timing.backoffInitialMs,
      backoffMaxMs: timing.backoffMaxMs,
      stableAfterMs: timing.stableAfterMs,
      maxCrashes: timing.maxCrashes,
      stopGraceMs: timing.stopGraceMs,
      onEvent,
      // A new metrics port for each restart: the one picked before may be taken by now (its process
      // crashing because of that), and would be again at every restart.
      async beforeRestart(spec) {
        const config = JSON.parse(readFileSync(spec.configFile, "utf8")) as { metricsPort: number };
        config.metricsPort = await freePort();
        writeFileSync(spec.configFile, `${JSON.stringify(config, null, 2)}\n`);
        spec.metricsPort = config.metricsPort;
      },
    });
    supervisor = sup;
    const runtimes: BotRuntime[] = [];
    const runtimeOf = new Map<BotResource, BotRuntime>();
    for (const bot of config.bots) {
      const spec = bot.resource.spec;
      const rt: BotRuntime = {
        bot,
        pipeline: spec.pipeline,
        active: spec.enabled && spec.replicas > 0,
        instances: [],
        totals: new Map(),
        previous: ZERO,
        backlog: undefined,
        deadLettersAtStart: 0,
        deadLetters: 0,
        ready: new Map(),
      };
      runtimes.push(rt);
      runtimeOf.set(bot.resource, rt);
    }
    // One process per replica of each group: a bot alone, or the bots sharing a `process`.
    const hasInput = new Map(config.bots.map((b) => [b.resource, b.hasInput]));
    for (const group of processGroups(config.bots.map((b) => b.resource)).groups) {
      const first = group.bots[0] as BotResource;
      if (!(first.spec.enabled && first.spec.replicas > 0)) continue;
      const pipeline = pipelines.get(group.pipeline) as PipelineResource;
      for (let replica = 0; replica < first.spec.replicas; replica++) {
        const suffix = replica === 0 ? "" : `.${replica}`;
        const metricsPort = await freePort();
        const rendered = renderProcessConfig(group, pipeline, {
          natsUrl,
          metricsPort,
          hasInput: (bot) => hasInput.get(bot) === true,
        });
        const configFile = join(dataDir, "bots", `${group.name}${suffix}.json`);
        writeFileSync(configFile, `${JSON.stringify(rendered, null, 2)}\n`);
        const instance = sup.add({
          bot: group.name,
          replica,
          configFile,
          logFile: join(dataDir, "logs", `${group.name}${suffix}.log`),
          metricsPort,
        });
        for (const bot of group.bots) {
          const rt = runtimeOf.get(bot) as BotRuntime;
          rt.instances.push(instance);
          rt.totals.set(instance, new ReplicaTotals());
        }
      }
    }

    const readDeadLetters = async () => {
      const counts = new Map<string, number>();
      for (const p of pipelines.keys()) {
        const subjects = await subjectCounts(jsm, pipelineNames(p).deadLetterStream, `petrel.${p}.dlq.>`);
        if (!subjects) continue;
        for (const rt of runtimes.filter((r) => r.pipeline === p)) {
          counts.set(
            rt.bot.resource.metadata.name,
            subjects[deadLetterSubject(p, rt.bot.resource.metadata.name)] ?? 0,
          );
        }
      }
      return counts;
    };
    for (const [bot, n] of await readDeadLetters()) {
      const rt = runtimes.find((r) => r.bot.resource.metadata.name === bot);
      if (rt) rt.deadLettersAtStart = n;
    }

    if (interrupted) {
      print("Interrupted before the bots started.");
      return { exitCode: 0, outcome: "interrupted", rows: [], natsUrl };
    }
    const started = Date.now();
    sup.startAll();
    const activeCount = runtimes.filter((r) => r.active).length;
    print(
      `Started ${activeCount} bot(s) in ${sup.instances.length} process(es); configs in ${shown(join(dataDir, "bots"))}, logs in ${shown(join(dataDir, "logs"))}`,
    );
    options.onStarted?.({ natsUrl, natsPid: nats?.pid, instances: sup.instances });

    let natsDied: string | undefined;
    void nats?.exited.then((r) => {
      natsDied = `nats-server exited unexpectedly (${r.signal ?? `code ${r.code}`}); see ${nats?.logFile}`;
      wake();
    });

    // ---- monitor ----
    let drainedSince: number | undefined;
    let lastTick = Date.now();
    let lastProgress = Date.now();
    let drawn = 0;
    let rows: StatusRow[] = [];
    let outcome: RunResult["outcome"] | undefined;
    let failure: string | undefined;

    const collectRows = async (): Promise<StatusRow[]> => {
      const now = Date.now();
      const dt = Math.max(0.001, (now - lastTick) / 1000);
      lastTick = now;
      await Promise.all(
        runtimes.flatMap((rt) =>
          rt.instances.map(async (instance) => {
            const pid = instance.pid;
            if (instance.state !== "running" || pid === undefined) {
              rt.ready.delete(instance);
              return;
            }
            const scraped = await scrape(instance.spec.metricsPort, rt.bot.resource.metadata.name);
            // The process may have been replaced while we waited; its numbers belong to the old pid.
            if (instance.pid !== pid) return;
            // A busy process that misses one scrape keeps its last readiness (keyed to its pid).
            if (!scraped) return;
            rt.totals.get(instance)?.update(pid, scraped.counters);
            if (scraped.ready) rt.ready.set(instance, pid);
            else rt.ready.delete(instance);
          }),
        ),
      );
      for (const p of pipelines.keys()) {
        const subjects = await subjectCounts(jsm, pipelineNames(p).stream, `petrel.${p}.bot.>`);
        for (const rt of runtimes.filter((r) => r.pipeline === p && r.bot.hasInput)) {
          // Unknown while NATS does not answer: never mistaken for an empty queue.
          rt.backlog = subjects ? (subjects[botSubject(p, rt.bot.resource.metadata.name)] ?? 0) : undefined;
        }
      }
      for (const [bot, n] of await readDeadLetters()) {
        const rt = runtimes.find((r) => r.bot.resource.metadata.name === bot);
        if (rt) rt.deadLetters = Math.max(0, n - rt.deadLettersAtStart);
      }
      return runtimes.map((rt) => {
        const total = totalsOf(rt);
        const inRate =
          rt.bot.hasInput && rt.active ? Math.max(0, total.received - rt.previous.received) / dt : undefined;
        const outRate = rt.active ? Math.max(0, total.sent - rt.previous.sent) / dt : undefined;
        rt.previous = total;
        return {
          bot: rt.bot.resource.metadata.name,
          pipeline: rt.pipeline,
          kind: rt.bot.kind,
          state: stateOf(rt),
          inRate,
          outRate,
          backlog: rt.bot.hasInput ? rt.backlog : undefined,
          received: total.received,
          sent: total.sent,
          dropped: total.dropped,
          errors: total.failed,
          deadLetters: rt.deadLetters,
          restarts: rt.instances.reduce((n, i) => n + i.restarts, 0),
        };
      });
    };

    const draw = (final = false) => {
      const header = `${[...pipelines.keys()].map((p) => `pipeline ${p}`).join(", ")} · ${natsUrl} · ${formatElapsed(Date.now() - started)}${final ? "" : " · Ctrl-C stops"}`;
      const lines = fitWidth([header, ...renderTable(rows), ...events], out.columns);
      if (drawn > 0) out.write(`\x1b[${drawn}A\r\x1b[J`);
      out.write(`${lines.join("\n")}\n`);
      drawn = lines.length;
    };

    while (!outcome) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timing.refreshMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (interrupted) {
        outcome = "interrupted";
        break;
      }
      if (natsDied) {
        outcome = "failed";
        failure = natsDied;
        break;
      }
      rows = await collectRows();
      if (tty) draw();
      else if (Date.now() - lastProgress >= timing.progressEveryMs) {
        lastProgress = Date.now();
        print(progressLine(Date.now() - started, rows));
      }
      if (options.mode !== "until-drained") continue;

      const snapshot = runtimes.map((rt) => snapshotOf(rt, shown));
      const blockers = drainBlockers(snapshot);
      if (blockers.length > 0) {
        outcome = "failed";
        failure = blockers.join("; ");
        break;
      }
      if (options.timeoutMs !== undefined && Date.now() - started > options.timeoutMs) {
        outcome = "timeout";
        failure = `not drained after ${formatDelay(options.timeoutMs)}`;
        break;
      }
      const drained = isDrained(snapshot);
      if (!drained) drainedSince = undefined;
      else {
        drainedSince ??= Date.now();
        if (Date.now() - drainedSince >= timing.drainStableMs) outcome = "drained";
      }
    }

    if (tty && rows.length > 0) draw(true);
    let exitCode = 0;
    if (outcome === "drained") {
      print("");
      print(`Drained after ${formatElapsed(Date.now() - started)}. Events per bot:`);
      for (const line of renderSummary(rows)) print(`  ${line}`);
      if (config.exclusions.length > 0) {
        // The bots write their final counts as they stop.
        await sup.stop();
        for (const line of await exclusionSummary(jsm, config)) print(line);
      }
      const dead = rows.filter((r) => r.deadLetters > 0);
      if (dead.length > 0) {
        exitCode = 1;
        print(
          `Dead letters appeared: ${dead.map((r) => `${r.bot} ${r.deadLetters}`).join(", ")}. Inspect them with \`petrelctl dlq list --pipeline ${[...new Set(dead.map((r) => r.pipeline))].join("|")} --nats <URL>\` while \`petrelctl up\` runs the pipeline (it prints the NATS URL); bot logs in ${shown(join(dataDir, "logs"))}.`,
        );
      }
    } else if (outcome === "failed" || outcome === "timeout") {
      exitCode = 1;
      print(`petrelctl up: ${failure}`);
      if (rows.length > 0) for (const line of renderSummary(rows)) print(`  ${line}`);
    } else {
      print("Stopping: bots drain in-flight messages (Ctrl-C again to kill them)…");
    }
    return { exitCode, outcome, rows, natsUrl };
  } finally {
    if (supervisor) await supervisor.stop();
    await nc?.close().catch(() => {});
    await nats?.stop();
    for (const cleanup of cleanups.reverse()) cleanup();
  }
}

/**
 * Writes each pipeline's exclusions into its bucket (the file's exclusions and nothing else: entries
 * left by an earlier run are removed) and clears the counts of earlier runs; returns what to print.
 */
async function writeExclusions(jsm: JetStreamManager, config: LocalConfig): Promise<string[]> {
  const lines: string[] = [];
  const pipelines = config.pipelines.map((p) => ({ name: p.metadata.name, labels: p.metadata.labels ?? {} }));
  const bots = config.bots.map((b) => ({
    name: b.resource.metadata.name,
    pipeline: b.resource.spec.pipeline,
    labels: b.resource.metadata.labels ?? {},
  }));
  const byPipeline = new Map<string, string[]>();
  const now = Date.now();
  for (const p of pipelines) {
    const { rules, statsStream } = await openExclusionBuckets(jsm, p.name);
    // Counts are per run, as the table's are.
    await jsm.streams.purge(statsStream);
    const wanted = new Set<string>();
    for (const x of config.exclusions) {
      const entry = exclusionEntries(
        x.resource.metadata.name,
        x.resource.spec,
        x.revision,
        pipelines,
        bots,
      ).get(p.name);
      if (!entry) continue;
      await putEntry(rules, entry);
      wanted.add(entry.name);
      const expiresAt = x.resource.spec.expiresAt;
      const expired = expiresAt !== undefined && Date.parse(expiresAt) <= now;
      const list = byPipeline.get(p.name) ?? [];
      list.push(`${entry.name}${expired ? ` (expired ${expiresAt})` : ""}`);
      byPipeline.set(p.name, list);
    }
    const stale: string[] = [];
    for (const name of await entryNames(rules)) {
      if (!wanted.has(name) && (await removeEntry(rules, name))) stale.push(name);
    }
    if (stale.length > 0)
      lines.push(`Removed exclusions no longer defined from pipeline ${p.name}: ${stale.join(", ")}`);
  }
  for (const [pipeline, names] of byPipeline)
    lines.push(`Exclusions of pipeline ${pipeline}: ${names.join(", ")}`);
  return lines;
}

/** What each exclusion matched, as the bots reported it. */
async function exclusionSummary(jsm: JetStreamManager, config: LocalConfig): Promise<string[]> {
  const lines: string[] = [];
  for (const p of config.pipelines) {
    const kv = await openExclusionBuckets(jsm, p.metadata.name);
    const counts: string[] = [];
    for (const x of config.exclusions) {
      const name = x.resource.metadata.name;
      if ((await readEntry(kv.rules, name)) === undefined) continue;
      const summary = summarizeStats(await readStats(jsm, kv, name), Date.now(), Number.POSITIVE_INFINITY);
      counts.push(`${name} ${summary.matched} (${x.resource.spec.action.type})`);
    }
    if (counts.length > 0)
      lines.push(`Exclusions matched in pipeline ${p.metadata.name}: ${counts.join(", ")}`);
  }
  return lines;
}

function totalsOf(rt: BotRuntime): BotCounters {
  return [...rt.totals.values()].reduce((acc, t) => addCounters(acc, t.total), ZERO);
}

function snapshotOf(rt: BotRuntime, shown: (path: string) => string): BotSnapshot {
  const spec = rt.bot.resource.spec;
  const totals = totalsOf(rt);
  return {
    name: rt.bot.resource.metadata.name,
    kind: rt.bot.kind,
    active: rt.active,
    replicas: rt.instances.map((i) => ({
      name: i.name,
      state: i.state,
      ready: i.state === "running" && rt.ready.get(i) === i.pid,
      consecutiveCrashes: i.consecutiveCrashes,
      logFile: shown(i.spec.logFile),
    })),
    collectorOk: totals.collectorOk,
    collectorError: totals.collectorError,
    collectsAgain: spec.interval !== undefined || spec.parameters.rate_limit !== undefined,
    backlog: rt.backlog,
  };
}

function stateOf(rt: BotRuntime): string {
  const spec = rt.bot.resource.spec;
  if (!spec.enabled) return "disabled";
  if (spec.replicas === 0) return "0 replicas";
  const states = rt.instances.map((i) => i.state);
  const n = rt.instances.length;
  const ready = rt.instances.filter((i) => i.state === "running" && rt.ready.get(i) === i.pid).length;
  // With replicas, how many of them are ready.
  const of = n > 1 ? ` ${ready}/${n}` : "";
  if (states.includes("failed")) return `failed${of}`;
  if (states.includes("error-stop")) return `error-stop${of}`;
  const waiting = rt.instances.filter((i) => i.state === "backoff");
  if (waiting.length > 0) {
    const next = Math.min(...waiting.map((i) => i.nextStartAt ?? Date.now()));
    return `restart in ${formatDelay(Math.max(0, Math.ceil((next - Date.now()) / 1000) * 1000))}${of}`;
  }
  if (states.every((s) => s === "stopped" || s === "stopping")) return "stopped";
  return `${ready === n ? "running" : "starting"}${of}`;
}
