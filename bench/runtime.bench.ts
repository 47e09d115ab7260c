// Runtime benchmarks: bot processes on a private nats-server (IntelMQ's on a private Redis) with
// pre-loaded queues, measured between 5 % and 95 % of their outputs; CPU is read from /proc for every
// process involved, the broker included. Workloads run several times, interleaved, and medians are
// reported; ratios compare against baselines measured in the same run.
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CSV_PARSER_PARAMETERS,
  csvReport,
  csvReports,
  SHORT_CSV_PARSER_PARAMETERS,
  sampleEvents,
  shortCsvLine,
} from "./runtime/data.ts";
import { IntelmqPipeline } from "./runtime/intelmq.ts";
import { LineCounter } from "./runtime/lines.ts";
import { measureThroughput, type RunMeasurement, type Summary, summarise } from "./runtime/measure.ts";
import { type BenchNats, startBenchNats } from "./runtime/nats.ts";
import { BenchPipeline, type BotSpec, type RunningBot } from "./runtime/pipeline.ts";
import { peakRssBytes, rssBytes } from "./runtime/proc.ts";
import { RespClient, startRedis } from "./runtime/redis.ts";

export interface RuntimeBenchOptions {
  quick: boolean;
  /** Also run IntelMQ 3.5 on the same workloads. */
  vsIntelmq: boolean;
  /** Progress lines (stderr). */
  log?: (line: string) => void;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function mib(bytes: number): string {
  return bytes < 2 ** 20
    ? `${fmt(bytes / 2 ** 10, 0)} KiB`
    : `${fmt(bytes / 2 ** 20, bytes < 10 * 2 ** 20 ? 1 : 0)} MiB`;
}

interface Workload {
  label: string;
  run(rep: number): Promise<RunMeasurement>;
}

/** Runs each workload `reps` times, interleaved, so drifting load affects them alike. */
async function runInterleaved(workloads: Workload[], reps: number, log: (line: string) => void) {
  const runs: RunMeasurement[][] = workloads.map(() => []);
  for (let r = 0; r < reps; r++) {
    for (const [i, w] of workloads.entries()) {
      const result = await w.run(r);
      (runs[i] as RunMeasurement[]).push(result);
      log(
        `  ${w.label}: ${fmt(result.eventsPerSecond)} events/s, ` +
          `${fmt(result.totalCpuPerEvent, 1)} µs CPU/event (${Object.entries(result.cpuPerEvent)
            .map(([k, v]) => `${k} ${fmt(v, 1)}`)
            .join(", ")})`,
      );
    }
  }
  return runs.map(summarise);
}

// ---- one expert ----

async function petrelExpert(nats: BenchNats, id: string, spec: BotSpec, events: Uint8Array[]) {
  const pipeline = await BenchPipeline.create(nats.url, id, [spec], ["sink"]);
  try {
    await pipeline.preload(spec.name, events);
    const bot = pipeline.spawn(spec.name);
    return await measureThroughput({
      total: events.length,
      count: () => pipeline.queued("sink"),
      pids: { bot: bot.pid, broker: nats.pid },
    });
  } finally {
    await pipeline.destroy();
  }
}

async function intelmqTaxonomy(events: Uint8Array[]): Promise<RunMeasurement> {
  const redis = await startRedis();
  const client = await RespClient.connect(redis.port);
  const pipeline = IntelmqPipeline.create(redis.port, [
    { id: "taxonomy", module: "intelmq.bots.experts.taxonomy.expert", destinations: ["sink-queue"] },
  ]);
  try {
    await client.command("SELECT", "2");
    await client.pushAll(IntelmqPipeline.queue("taxonomy"), events);
    const bot = pipeline.spawn("taxonomy");
    return await measureThroughput({
      total: events.length,
      count: () => client.llen("sink-queue"),
      pids: { bot: bot.pid, broker: redis.pid },
      stallMs: 30_000,
    }).catch((error: Error) => {
      throw new Error(`${error.message}\n${pipeline.logTail("taxonomy")}`);
    });
  } finally {
    await pipeline.destroy();
    client.close();
    await redis.stop();
  }
}

export async function benchExperts(options: RuntimeBenchOptions): Promise<string> {
  const log = options.log ?? (() => {});
  const n = options.quick ? 30_000 : 150_000;
  const nIntelmq = options.quick ? 5_000 : 20_000;
  const reps = options.quick ? 1 : 5;
  const events = sampleEvents(n);
  const nats = await startBenchNats();
  const expert = (module: string, entry: BotSpec["entry"] = "runtime", work?: string): BotSpec => ({
    name: "bot",
    module,
    entry,
    destinations: { _default: ["sink"] },
    ...(work ? { env: { PETREL_BENCH_BARE_WORK: work } } : {}),
  });
  const workloads: Workload[] = [
    {
      label: "bare JetStream loop (consume → publish → ack, no event model)",
      run: (r) => petrelExpert(nats, `bare-${r}`, expert("experts.passthrough", "bare"), events),
    },
    {
      label: "bare loop + JSON.parse and JSON.stringify per event",
      run: (r) => petrelExpert(nats, `bare-json-${r}`, expert("experts.passthrough", "bare", "json"), events),
    },
    {
      label: "bare loop + event model (parse, strict validation, serialise)",
      run: (r) =>
        petrelExpert(nats, `bare-event-${r}`, expert("experts.passthrough", "bare", "event"), events),
    },
    {
      label: "**Petrel runtime + experts.passthrough**",
      run: (r) => petrelExpert(nats, `pass-${r}`, expert("experts.passthrough"), events),
    },
    {
      label: "**Petrel runtime + experts.taxonomy**",
      run: (r) => petrelExpert(nats, `tax-${r}`, expert("experts.taxonomy"), events),
    },
  ];
  if (options.vsIntelmq) {
    const few = events.slice(0, nIntelmq);
    workloads.push({ label: "IntelMQ 3.5 taxonomy expert (Redis)", run: () => intelmqTaxonomy(few) });
  }
  let summaries: Summary[];
  try {
    summaries = await runInterleaved(workloads, reps, log);
  } finally {
    await nats.stop();
  }
  const bare = summaries[0] as Summary;
  const taxonomy = summaries[4] as Summary;
  const intelmq = summaries[5];
  const pct = (ratio: number) => `${ratio >= 1 ? "+" : ""}${fmt((ratio - 1) * 100, 0)} %`;
  const lines = [
    `## One expert (${fmt(n)} pre-loaded events of ~1.2 KB${
      options.vsIntelmq ? `, IntelMQ ${fmt(nIntelmq)}` : ""
    }; median of ${reps})`,
    "",
    "Each bot is its own process; broker: nats-server (Petrel, file storage) or redis-server (IntelMQ).",
    "CPU per event: user + system time from /proc. Overhead: against the bare loop of the same run, in",
    "throughput (bare ÷ this) and in CPU per event summed over bot and broker (this ÷ bare).",
    "",
    "| workload | events/s | min–max | bot µs/event | broker µs/event | total µs/event | vs bare: throughput | vs bare: total CPU |" +
      (intelmq ? " Petrel taxonomy ÷ this |" : ""),
    "|---|---:|---:|---:|---:|---:|---:|---:|" + (intelmq ? "---:|" : ""),
  ];
  for (const [i, s] of summaries.entries()) {
    const w = workloads[i] as Workload;
    lines.push(
      `| ${w.label} | ${fmt(s.eventsPerSecond)} | ${fmt(s.minEventsPerSecond)}–${fmt(s.maxEventsPerSecond)} | ` +
        `${fmt(s.cpuPerEvent.bot ?? 0, 1)} | ${fmt(s.cpuPerEvent.broker ?? 0, 1)} | ${fmt(s.totalCpuPerEvent, 1)} | ` +
        `${pct(bare.eventsPerSecond / s.eventsPerSecond)} | ${pct(s.totalCpuPerEvent / bare.totalCpuPerEvent)} |` +
        (intelmq
          ? s === intelmq
            ? ` ${(taxonomy.eventsPerSecond / s.eventsPerSecond).toFixed(1)}× |`
            : " |"
          : ""),
    );
  }
  return lines.join("\n");
}

// ---- the P4 chain: generic CSV parser → deduplicator → taxonomy → file output ----

const CHAIN = ["parser", "dedup", "taxonomy", "output"] as const;

/** How the chain's bots are spread over processes: each alone, or groups sharing a process. */
type ChainLayout = ReadonlyArray<ReadonlyArray<(typeof CHAIN)[number]>>;
const SEPARATE: ChainLayout = CHAIN.map((bot) => [bot]);

async function petrelChain(
  nats: BenchNats,
  id: string,
  reports: Uint8Array[],
  total: number,
  stream: Record<string, unknown> = {},
  layout: ChainLayout = SEPARATE,
) {
  const file = join(tmpdir(), `petrel-bench-${id}-${process.pid}.jsonl`);
  const pipeline = await BenchPipeline.create(
    nats.url,
    id,
    [
      {
        name: "parser",
        module: "parsers.generic_csv",
        parameters: CSV_PARSER_PARAMETERS,
        destinations: { _default: ["dedup"] },
      },
      { name: "dedup", module: "experts.deduplicator", destinations: { _default: ["taxonomy"] } },
      { name: "taxonomy", module: "experts.taxonomy", destinations: { _default: ["output"] } },
      { name: "output", module: "outputs.file", parameters: { file }, destinations: {} },
    ],
    [],
    stream,
  );
  const lines = new LineCounter(file);
  try {
    await pipeline.preload("parser", reports);
    const pids: Record<string, number> = {};
    for (const group of layout) {
      pids[group.join("+")] =
        group.length === 1
          ? pipeline.spawn(group[0] as string).pid
          : pipeline.spawnProcess(group.join("-"), [...group]).pid;
    }
    pids.broker = nats.pid;
    return await measureThroughput({ total, count: () => lines.count(), pids });
  } finally {
    lines.close();
    await pipeline.destroy();
    await import("node:fs/promises").then((fs) => fs.rm(file, { force: true }));
  }
}

async function intelmqChain(reports: Uint8Array[], total: number): Promise<RunMeasurement> {
  const redis = await startRedis();
  const client = await RespClient.connect(redis.port);
  // The output writes into the pipeline's directory.
  let file = "";
  const pipeline = IntelmqPipeline.create(redis.port, (root) => {
    file = join(root, "events.txt");
    return [
      {
        id: "parser",
        module: "intelmq.bots.parsers.generic.parser_csv",
        parameters: CSV_PARSER_PARAMETERS,
        destinations: ["dedup-queue"],
      },
      {
        id: "dedup",
        module: "intelmq.bots.experts.deduplicator.expert",
        parameters: {
          filter_keys: "raw,time.observation",
          filter_type: "blacklist",
          redis_cache_host: "127.0.0.1",
          redis_cache_port: redis.port,
          redis_cache_db: 6,
          redis_cache_ttl: 86400,
        },
        destinations: ["taxonomy-queue"],
      },
      { id: "taxonomy", module: "intelmq.bots.experts.taxonomy.expert", destinations: ["output-queue"] },
      { id: "output", module: "intelmq.bots.outputs.file.output", parameters: { file }, destinations: [] },
    ];
  });
  const lines = new LineCounter(file);
  try {
    await client.command("SELECT", "2");
    await client.pushAll(IntelmqPipeline.queue("parser"), reports);
    const pids: Record<string, number> = {};
    for (const bot of CHAIN) pids[bot] = pipeline.spawn(bot).pid;
    pids.broker = redis.pid;
    return await measureThroughput({ total, count: () => lines.count(), pids, stallMs: 60_000 }).catch(
      (error: Error) => {
        throw new Error(`${error.message}\n${CHAIN.map((b) => `${b}: ${pipeline.logTail(b)}`).join("\n")}`);
      },
    );
  } finally {
    lines.close();
    await pipeline.destroy();
    client.close();
    await redis.stop();
  }
}

export async function benchChain(options: RuntimeBenchOptions): Promise<string> {
  const log = options.log ?? (() => {});
  const perReport = 1000;
  const reports = options.quick ? 20 : 100;
  const reportsIntelmq = options.quick ? 5 : 20;
  const reps = options.quick ? 1 : 3;
  const data = csvReports(reports, perReport);
  const nats = await startBenchNats();
  const workloads: Workload[] = [
    {
      label: "Petrel (stream storage: file, the default)",
      run: (r) => petrelChain(nats, `chain-${r}`, data, reports * perReport),
    },
    {
      label: "Petrel (stream storage: memory)",
      run: (r) =>
        petrelChain(nats, `chain-mem-${r}`, data, reports * perReport, {
          storage: "memory",
          maxBytes: "1Gi",
        }),
    },
    {
      label: "Petrel, experts and output sharing a process (`process:`), file storage",
      run: (r) =>
        petrelChain(nats, `chain-p3-${r}`, data, reports * perReport, {}, [
          ["parser"],
          ["dedup", "taxonomy", "output"],
        ]),
    },
    {
      label: "Petrel, whole chain in one process (`process:`), file storage",
      run: (r) => petrelChain(nats, `chain-p4-${r}`, data, reports * perReport, {}, [[...CHAIN]]),
    },
  ];
  if (options.vsIntelmq) {
    const few = data.slice(0, reportsIntelmq);
    workloads.push({
      label: "IntelMQ 3.5 (Redis)",
      run: () => intelmqChain(few, reportsIntelmq * perReport),
    });
  }
  let summaries: Summary[];
  try {
    summaries = await runInterleaved(workloads, reps, log);
  } finally {
    await nats.stop();
  }
  const petrel = summaries[0] as Summary;
  const lines = [
    `## P4 chain: generic CSV parser → deduplicator → taxonomy → file output (${fmt(reports)} reports × ${fmt(
      perReport,
    )} lines${options.vsIntelmq ? `, IntelMQ ${fmt(reportsIntelmq)} reports` : ""}; median of ${reps})`,
    "",
    "End to end: events written by the file output per second. CPU: µs per event of each process, and summed over all of them (broker included).",
    "",
    "Bots sharing a process show their CPU once, under the first of them (the others: `+`).",
    "",
    "| system | events/s | min–max | parser | dedup | taxonomy | output | broker | total µs/event | first row ÷ this |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const [i, s] of summaries.entries()) {
    // A process of several bots is keyed "a+b+c": its CPU goes under its first bot.
    const cpu = (bot: string) => {
      const key = Object.keys(s.cpuPerEvent).find((k) => k.split("+").includes(bot));
      if (key === undefined) return "";
      const group = key.split("+");
      if (group.length === 1) return fmt(s.cpuPerEvent[key] ?? 0, 1);
      return group[0] === bot ? `${fmt(s.cpuPerEvent[key] ?? 0, 1)} (${key})` : "+";
    };
    lines.push(
      `| ${(workloads[i] as Workload).label} | ${fmt(s.eventsPerSecond)} | ${fmt(s.minEventsPerSecond)}–${fmt(
        s.maxEventsPerSecond,
      )} | ${cpu("parser")} | ${cpu("dedup")} | ${cpu("taxonomy")} | ${cpu("output")} | ${cpu("broker")} | ${fmt(
        s.totalCpuPerEvent,
        1,
      )} | ${(petrel.eventsPerSecond / s.eventsPerSecond).toFixed(1)}× |`,
    );
  }
  return lines.join("\n");
}

// ---- parser memory on one large report ----

/** JetStream's file store refuses larger messages (nats-server's rlBadThresh, less the record framing). */
const MAX_FILE_STORE_MESSAGE = 32 * 2 ** 20 - 4096;

interface MemoryResult {
  lines: number;
  messageBytes: number;
  peakRss: number;
  rssAt: number[];
  eventsPerSecond: number;
}

async function parserMemory(nats: BenchNats, lines: number): Promise<MemoryResult> {
  const report = csvReport(
    (function* () {
      for (let i = 0; i < lines; i++) yield shortCsvLine(i);
    })(),
  );
  // The publisher would retry a refused message for ever: fail here instead.
  if (report.length > MAX_FILE_STORE_MESSAGE) {
    throw new Error(
      `a ${mib(report.length)} report exceeds JetStream's file store limit of 32 MiB per message`,
    );
  }
  const pipeline = await BenchPipeline.create(
    nats.url,
    `memory-${lines}`,
    [
      {
        name: "parser",
        module: "parsers.generic_csv",
        parameters: SHORT_CSV_PARSER_PARAMETERS,
        destinations: { _default: ["sink"] },
      },
    ],
    ["sink"],
  );
  let bot: RunningBot | undefined;
  try {
    await pipeline.preload("parser", [report]);
    bot = pipeline.spawn("parser");
    const pid = bot.pid;
    const marks = [0.1, 0.5, 0.9];
    const rssAt: number[] = [];
    const result = await measureThroughput({
      total: lines,
      count: () => pipeline.queued("sink"),
      pids: { parser: pid },
      pollMs: 100,
      onSample: (count) => {
        while (rssAt.length < marks.length && count >= (marks[rssAt.length] as number) * lines) {
          rssAt.push(rssBytes(pid) ?? 0);
        }
      },
    });
    return {
      lines,
      messageBytes: report.length,
      peakRss: peakRssBytes(pid) ?? 0,
      rssAt,
      eventsPerSecond: result.eventsPerSecond,
    };
  } finally {
    await pipeline.destroy();
  }
}

export async function benchParserMemory(options: RuntimeBenchOptions): Promise<string> {
  const log = options.log ?? (() => {});
  const sizes = options.quick ? [20_000, 200_000] : [100_000, 1_000_000];
  const nats = await startBenchNats();
  const results: MemoryResult[] = [];
  try {
    for (const lines of sizes) {
      const r = await parserMemory(nats, lines);
      log(`  ${fmt(lines)} lines: peak RSS ${mib(r.peakRss)}, ${fmt(r.eventsPerSecond)} events/s`);
      results.push(r);
    }
  } finally {
    await nats.stop();
  }
  const lines = [
    "## Parser memory: one report of many lines (parsers.generic_csv, one address per line)",
    "",
    "The report arrives as one JetStream message; its events are published while it is parsed, under the",
    "publisher's in-flight bound. RSS of the parser process from /proc (VmHWM for the peak).",
    "",
    "| report lines | message size | RSS at 10 % / 50 % / 90 % of events | peak RSS | events/s |",
    "|---:|---:|---:|---:|---:|",
  ];
  for (const r of results) {
    lines.push(
      `| ${fmt(r.lines)} | ${mib(r.messageBytes)} | ${r.rssAt.map(mib).join(" / ")} | ${mib(r.peakRss)} | ${fmt(
        r.eventsPerSecond,
      )} |`,
    );
  }
  const [small, large] = results as [MemoryResult, MemoryResult];
  lines.push(
    "",
    `${fmt(large.lines / small.lines)}× the lines: peak RSS ${(large.peakRss / small.peakRss).toFixed(2)}× ` +
      `(+${mib(large.peakRss - small.peakRss)}, of which the larger message itself accounts for ` +
      `${mib(large.messageBytes - small.messageBytes)} per copy held).`,
  );
  return lines.join("\n");
}

export async function benchRuntime(options: RuntimeBenchOptions): Promise<string[]> {
  return [await benchExperts(options), await benchChain(options), await benchParserMemory(options)];
}
