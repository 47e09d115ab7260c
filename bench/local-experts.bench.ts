// Every expert that needs no network in the real runtime: one bot process each on a private nats-server,
// queues pre-loaded with the same events, interleaved with experts.passthrough as the baseline of the
// same run. Databases and rule files the experts read are generated here (nothing is downloaded).
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asnRecord, geoRecord, writeMmdb } from "../bot-runtime/test-support/mmdb-writer.ts";
import { SAMPLE_EVENT } from "./event-model.bench.ts";
import { measureThroughput, type RunMeasurement, type Summary, summarise } from "./runtime/measure.ts";
import { type BenchNats, startBenchNats } from "./runtime/nats.ts";
import { BenchPipeline, type BotSpec } from "./runtime/pipeline.ts";

/** The issue's floor: 10× IntelMQ's taxonomy expert on this machine class. */
export const LOCAL_EXPERT_TARGET = 23_500;

export interface LocalExpertsBenchOptions {
  quick: boolean;
  log?: (line: string) => void;
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const encoder = new TextEncoder();

/** Feed events with an address, a host name and a URL each; every event differs. */
function expertEvents(n: number): Uint8Array[] {
  const base = JSON.parse(SAMPLE_EVENT) as Record<string, unknown>;
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const ip = `${10 + (i % 3) * 50}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const host = `host-${i}.cdn${i % 7}.example.co.uk`;
    base["source.ip"] = ip;
    base["source.fqdn"] = host;
    base["source.url"] = `http://${host}:8080/files/${i}/payload.exe?x=${i % 13}`;
    base["extra.sensor"] = i % 50;
    out.push(encoder.encode(JSON.stringify(base)));
  }
  return out;
}

// A rule file in IntelMQ's sieve language: 20 rules of the kinds real files use.
const SIEVE_RULES = `
if :exists source.fqdn && source.fqdn =~ '.*\\.example\\.co\\.uk$' { add extra.sieve_zone = 'uk' }
if source.ip << '10.0.0.0/8' { add extra.sieve_net = 'ten' }
if source.ip << '60.0.0.0/8' { add extra.sieve_net = 'sixty' }
if source.ip << '192.0.2.0/24' { drop }
if classification.type == 'c2-server' { update classification.identifier = 'c2' }
if classification.type == 'phishing' { path 'phishing' }
if feed.name :contains 'Feodo' { add extra.feodo = true }
if source.port == 443 { add protocol.application = 'https' }
if source.port > 60000 { add extra.high_port = true }
if source.asn :in [64496, 64497, 64511] { add extra.documentation_asn = true }
if malware.name :in ['zeus', 'emotet', 'dridex'] { add extra.banking = true }
if status != 'online' { add extra.offline = true }
if :notexists destination.ip { add extra.no_destination = true }
if source.asn == 64496 && source.geolocation.cc == 'DE' { add extra.home = true }
if feed.accuracy < 50 { drop }
if source.url =~ '\\.exe(\\?|$)' { add extra.executable = true }
if source.reverse_dns :contains 'example.net' { add extra.reverse_example = true }
if classification.identifier == 'zeus' || malware.name == 'zeus' { add extra.zeus = true }
if time.source :before '2000-01-01 00:00:00' { drop }
if extra.first_seen =~ '^2021-' { add extra.recent = true }
`;

// A modify configuration of the kind feeds need: classification fixes and a few derived fields.
const MODIFY_RULES = `[
  {"rulename": "c2 identifier from the malware family",
   "if": {"classification.type": "^c2-server$", "malware.name": "^(?P<family>[a-z]+)$"},
   "then": {"classification.identifier": "{matches[malware.name][family]}"}},
  {"rulename": "https port", "if": {"source.port": "^443$"}, "then": {"protocol.application": "https"}},
  {"rulename": "feodo feed", "if": {"feed.name": "^Feodo"}, "then": {"extra.feed_family": "feodo"}},
  {"rulename": "dach", "if": {"source.geolocation.cc": "^(DE|AT|CH)$"}, "then": {"extra.region": "dach"}},
  {"rulename": "online", "if": {"status": "^online$"}, "then": {"extra.active": true}},
  {"rulename": "offline", "if": {"status": "^offline$"}, "then": {"extra.active": false}},
  {"rulename": "reverse dns comment", "if": {"source.reverse_dns": "\\\\.example\\\\.net$"},
   "then": {"comment": "seen as {msg[source.reverse_dns]}"}},
  {"rulename": "phishing", "if": {"classification.type": "^phishing$"}, "then": {"extra.phish": true}},
  {"rulename": "no port", "if": {"source.port": ""}, "then": {"extra.portless": true}},
  {"rulename": "documentation AS", "if": {"source.asn": "^6449[6-9]$"}, "then": {"extra.doc_asn": true}}
]
`;

interface Case {
  module: string;
  parameters?: Record<string, unknown>;
  note?: string;
}

async function fixtures(dir: string): Promise<Record<string, string>> {
  const paths = {
    sieve: join(dir, "rules.sieve"),
    modify: join(dir, "modify.json"),
    ipasn: join(dir, "ipasn.dat"),
    city: join(dir, "city.mmdb"),
    asnMmdb: join(dir, "asn.mmdb"),
  };
  await writeFile(paths.sieve, SIEVE_RULES);
  await writeFile(paths.modify, MODIFY_RULES);
  // A routing table of 65,536 /24s (as many as a RIB dump's busiest /8s hold).
  const lines = ["; generated for the benchmark"];
  for (let i = 0; i < 65_536; i++) lines.push(`10.${i >> 8}.${i & 255}.0/24\t${64_512 + (i % 1000)}`);
  await writeFile(paths.ipasn, `${lines.join("\n")}\n`);
  const geo: Array<{ network: string; data: ReturnType<typeof geoRecord> }> = [];
  const asn: Array<{ network: string; data: ReturnType<typeof asnRecord> }> = [];
  for (let i = 0; i < 4096; i++) {
    const network = `10.${i >> 4}.${(i & 15) << 4}.0/20`;
    geo.push({
      network,
      data: geoRecord({
        country: ["DE", "FR", "NL", "AT"][i % 4] as string,
        city: { en: `City ${i}` },
        latitude: 50,
        longitude: 8,
      }),
    });
    asn.push({ network, data: asnRecord(64_512 + i, `Example AS ${i}`) });
  }
  await writeFile(paths.city, writeMmdb({ databaseType: "GeoLite2-City", networks: geo }));
  await writeFile(paths.asnMmdb, writeMmdb({ databaseType: "GeoLite2-ASN", networks: asn }));
  return paths;
}

function cases(files: Record<string, string>): Case[] {
  return [
    { module: "experts.taxonomy" },
    { module: "experts.deduplicator", note: "every event new: one KV create each" },
    {
      module: "experts.filter",
      parameters: {
        filter_key: "source.fqdn",
        filter_regex: true,
        filter_value: "cdn[0-9]\\.example\\.co\\.uk$",
        filter_action: "keep",
      },
      note: "regex on source.fqdn; every event matches",
    },
    { module: "experts.url" },
    {
      module: "experts.rfc1918",
      parameters: { fields: "source.ip", policy: "del" },
      note: "10/8: source.ip deleted",
    },
    { module: "experts.field_reducer", parameters: { type: "blacklist", keys: "raw,extra,feed.url" } },
    {
      module: "experts.modify",
      parameters: { configuration_path: files.modify },
      note: "10 rules, regex conditions and templates",
    },
    { module: "experts.sieve", parameters: { file: files.sieve }, note: "20 rules" },
    { module: "experts.domain_suffix", parameters: { field: "fqdn" }, note: "shipped public suffix list" },
    {
      module: "experts.format_field",
      parameters: {
        strip_columns: "malware.name,status",
        replace_column: "source.reverse_dns",
        old_value: "-",
        new_value: ".",
      },
    },
    {
      module: "experts.remove_affix",
      parameters: { remove_prefix: true, affix: "host-", field: "source.fqdn" },
    },
    {
      module: "experts.truncate_by_delimiter",
      parameters: { delimiter: ".", max_length: 20, field: "source.fqdn" },
    },
    {
      module: "experts.asn_lookup",
      parameters: { database: files.ipasn },
      note: "ipasn file, 65,536 prefixes",
    },
    {
      module: "experts.asn_lookup",
      parameters: { database: files.asnMmdb },
      note: "MaxMind DB ASN database",
    },
    {
      module: "experts.maxmind_geoip",
      parameters: { database: files.city, overwrite: true },
      note: "City database",
    },
  ];
}

async function runExpert(nats: BenchNats, id: string, spec: BotSpec, events: Uint8Array[]) {
  const pipeline = await BenchPipeline.create(nats.url, id, [spec], ["sink"]);
  try {
    await pipeline.preload(spec.name, events);
    const bot = pipeline.spawn(spec.name);
    return await measureThroughput({
      total: events.length,
      count: () => pipeline.queued("sink"),
      pids: { bot: bot.pid, broker: nats.pid },
      stallMs: 30_000,
    });
  } finally {
    await pipeline.destroy();
  }
}

export async function benchLocalExperts(options: LocalExpertsBenchOptions): Promise<string> {
  const log = options.log ?? (() => {});
  const n = options.quick ? 20_000 : 60_000;
  const reps = options.quick ? 1 : 3;
  const events = expertEvents(n);
  const dir = await mkdtemp(join(tmpdir(), "petrel-bench-experts-"));
  const nats = await startBenchNats();
  try {
    const all: Case[] = [
      { module: "experts.passthrough", note: "baseline: the runtime alone" },
      ...cases(await fixtures(dir)),
    ];
    const runs: RunMeasurement[][] = all.map(() => []);
    for (let r = 0; r < reps; r++) {
      for (const [i, c] of all.entries()) {
        const spec: BotSpec = {
          name: "bot",
          module: c.module,
          ...(c.parameters ? { parameters: c.parameters } : {}),
          // Parameters are chosen so that every event leaves on _default: the sink's count is the total.
          destinations: { _default: ["sink"] },
        };
        const result = await runExpert(nats, `local-${i}-${r}`, spec, events);
        (runs[i] as RunMeasurement[]).push(result);
        log(`  ${c.module}${c.note ? ` (${c.note})` : ""}: ${fmt(result.eventsPerSecond)} events/s`);
      }
    }
    const summaries: Summary[] = runs.map(summarise);
    const baseline = summaries[0] as Summary;
    const lines = [
      `## Local experts in the runtime (${fmt(n)} pre-loaded events of ~1.3 KB; median of ${reps})`,
      "",
      `Each expert is its own bot process on a private nats-server; target ${fmt(LOCAL_EXPERT_TARGET)} events/s.`,
      "Throughput counts events stored in the next queue; CPU per event: user + system of the bot process.",
      "",
      "| expert | parameters | events/s | min–max | bot µs/event | ÷ target | ÷ passthrough |",
      "|---|---|---:|---:|---:|---:|---:|",
    ];
    for (const [i, s] of summaries.entries()) {
      const c = all[i] as Case;
      lines.push(
        `| ${c.module} | ${c.note ?? ""} | ${fmt(s.eventsPerSecond)} | ${fmt(s.minEventsPerSecond)}–${fmt(s.maxEventsPerSecond)} | ` +
          `${fmt(s.cpuPerEvent.bot ?? 0, 1)} | ${(s.eventsPerSecond / LOCAL_EXPERT_TARGET).toFixed(2)} | ` +
          `${(s.eventsPerSecond / baseline.eventsPerSecond).toFixed(2)} |`,
      );
    }
    return lines.join("\n");
  } finally {
    await nats.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
