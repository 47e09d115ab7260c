import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { testTempDir } from "../../../bot-runtime/test-support/temp-dir.ts";
import { loadLocalConfig } from "../local/config.ts";
import { ImportInputError, importIntelmq, type SourceText } from "./intelmq.ts";
import { standIn, writeSecrets } from "./test-support/stand-ins.ts";

function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
}
function source(name: string): SourceText {
  return { path: name, text: fixture(name) };
}
function inline(text: string): SourceText {
  return { path: "runtime.yaml", text };
}
interface Resource {
  kind: string;
  metadata: { name: string };
  spec: { destinations?: Record<string, string[]>; parameters?: Record<string, unknown> };
}
function resources(yaml: string): Resource[] {
  return parseAllDocuments(yaml).map((d) => d.toJS() as Resource);
}

const JETSTREAM =
  "Petrel queues messages in NATS JetStream (the Pipeline's spec.nats and spec.stream), not in Redis or AMQP";
const STATISTICS = "Petrel bots export their counters as Prometheus metrics instead of Redis statistics";
const LOGS = "Petrel bots log JSON lines to stdout (kubectl logs, petrelctl up's log files)";
const noPetrelBot = (module: string) =>
  `module ${module} has no Petrel bot yet: emitted with the IntelMQ module and its parameters as they are; petrelctl up and the operator refuse this Bot until such a bot exists`;
const credential = (key: string, secret: string) =>
  `parameter ${key} looks like a credential: not written to the YAML; the Bot reads it from key ${key} of Secret ${secret}, which you must create`;
const LOCAL_SECRETS =
  "(petrelctl up reads Secret values from files instead: <data-dir>/secrets/<secret>/<key>)";

describe("petrelctl import intelmq: runtime.yaml (IntelMQ ≥ 3)", () => {
  const result = importIntelmq({ runtime: source("runtime.yaml") });

  it("prints one Pipeline and one Bot per IntelMQ bot", () => {
    expect(result.yaml).toBe(fixture("runtime.expected.yaml"));
    expect(result.counts).toEqual({ bots: 9, mapped: 8, unmapped: 1 });
  });

  it("reports every item it could not carry over, one line each, in file order", () => {
    expect(result.report).toEqual([
      `runtime.yaml:5: global: source_pipeline_broker: "redis": dropped: ${JETSTREAM}`,
      `runtime.yaml:6: global: destination_pipeline_broker: "redis": dropped: ${JETSTREAM}`,
      `runtime.yaml:7: global: destination_pipeline_host: "10.1.2.3": dropped: ${JETSTREAM}`,
      'runtime.yaml:8: global: process_manager: "intelmq": dropped: the operator (or petrelctl up) runs the bots',
      `runtime.yaml:14: global: logging_path: "/var/log/intelmq/": dropped: ${LOGS}`,
      `runtime.yaml:15: global: statistics_host: "10.1.2.3": dropped: ${STATISTICS}`,
      `runtime.yaml:16: global: statistics_password: (value hidden): dropped: ${STATISTICS}`,
      "runtime.yaml:19: bot Blocklist_SSH: renamed to blocklist-ssh: Petrel names are lowercase DNS labels (a-z, 0-9 and -)",
      'runtime.yaml:52: bot deduplicator: parameter bypass: the text "false" means true to IntelMQ (Python takes any non-empty text as true); left out: set true or false',
      `runtime.yaml:55: bot deduplicator: ${credential("redis_cache_password", "deduplicator-credentials")}`,
      "runtime.yaml:66: bot taxonomy: rate_limit: 2: dropped: Petrel does not pause between messages",
      "runtime.yaml:89: bot events-file: parameter rotate_daily: true: module outputs.file has no such parameter: left out",
      "runtime.yaml:103: bot misp-feed: run_mode scheduled: IntelMQ collects once per start, and cron outside IntelMQ starts it; Petrel without an interval collects once per start as well (rate_limit 3600 is unused, as in IntelMQ): set spec.schedule to the crontab's time (UTC) for Petrel to run it on that timetable",
      `runtime.yaml:106: bot misp-feed: ${credential("misp_key", "misp-feed-credentials")}`,
      "runtime.yaml:109: bot misp-feed: destination queue misp-parser-queue (path _default): no bot reads this queue: left out",
      `runtime.yaml:113: bot tor-nodes: ${noPetrelBot("intelmq.bots.experts.tor_nodes.expert")}`,
    ]);
    expect(result.hints).toEqual([
      "kubectl create secret generic deduplicator-credentials --from-literal=redis_cache_password='…'",
      "kubectl create secret generic misp-feed-credentials --from-literal=misp_key='…'",
      LOCAL_SECRETS,
    ]);
  });

  it("never writes a credential into the YAML", () => {
    for (const secret of ["correct-horse", "8d7f2e41a9c05b36", "hunter2"]) {
      expect(result.yaml).not.toContain(secret);
      expect(result.report.join("\n")).not.toContain(secret);
    }
  });

  it("loads with loadLocalConfig once the missing modules exist", () => {
    const secretsDir = testTempDir("petrel-import-");
    expect(writeSecrets(result.yaml, secretsDir)).toBe(2);
    const config = loadLocalConfig([{ path: "imported.yaml", text: result.yaml }], {
      secretsDir,
      extraModules: [standIn("intelmq.bots.experts.tor_nodes.expert", "expert")],
    });
    expect(config.bots.map((b) => b.resource.metadata.name)).toEqual([
      "blocklist-ssh",
      "blocklist-parser",
      "deduplicator",
      "taxonomy",
      "split-by-taxonomy",
      "events-file",
      "quarantine-file",
      "misp-feed",
      "tor-nodes",
    ]);
    // The filter's named path is kept: experts.filter declares it, so it is routed without a warning.
    expect(
      config.bots.find((b) => b.resource.metadata.name === "split-by-taxonomy")?.resource.spec.destinations,
    ).toEqual({
      _default: ["events-file"],
      filter_no_match: ["quarantine-file"],
    });
    expect(config.warnings).toEqual([
      expect.stringMatching(/misp-feed has no destinations; its output is discarded/),
      expect.stringMatching(/Bot tor-nodes: no bot sends to it/),
    ]);
  });
});

describe("petrelctl import intelmq: pipeline.conf, runtime.conf and defaults.conf (IntelMQ 1.x/2.x)", () => {
  const result = importIntelmq(
    { runtime: source("runtime.conf"), pipeline: source("pipeline.conf"), defaults: source("defaults.conf") },
    { pipeline: "feodo" },
  );

  it("prints the same resources as for IntelMQ 3", () => {
    expect(result.yaml).toBe(fixture("conf.expected.yaml"));
    expect(result.counts).toEqual({ bots: 6, mapped: 6, unmapped: 0 });
  });

  it("reports what Petrel replaces; null defaults are not reported", () => {
    const dropped = (line: number, setting: string, why: string) =>
      `defaults.conf:${line}: global: ${setting}: dropped: ${why}`;
    const processed = "Petrel counts processed messages in Prometheus metrics instead of periodic log lines";
    expect(result.report).toEqual([
      dropped(3, 'destination_pipeline_broker: "redis"', JETSTREAM),
      dropped(4, "destination_pipeline_db: 2", JETSTREAM),
      dropped(5, 'destination_pipeline_host: "192.0.2.10"', JETSTREAM),
      dropped(7, "destination_pipeline_port: 6379", JETSTREAM),
      dropped(17, "log_processed_messages_count: 1000", processed),
      dropped(18, "log_processed_messages_seconds: 600", processed),
      dropped(19, 'logging_handler: "file"', LOGS),
      dropped(21, 'logging_path: "/var/log/intelmq/"', LOGS),
      dropped(22, 'logging_syslog: "/dev/log"', LOGS),
      dropped(23, 'process_manager: "intelmq"', "the operator (or petrelctl up) runs the bots"),
      dropped(25, 'source_pipeline_broker: "redis"', JETSTREAM),
      dropped(26, "source_pipeline_db: 2", JETSTREAM),
      dropped(27, 'source_pipeline_host: "192.0.2.10"', JETSTREAM),
      dropped(29, "source_pipeline_port: 6379", JETSTREAM),
      dropped(31, "statistics_database: 3", STATISTICS),
      dropped(32, 'statistics_host: "192.0.2.10"', STATISTICS),
      dropped(34, "statistics_port: 6379", STATISTICS),
      `runtime.conf:38: bot deduplicator-expert: ${credential("redis_cache_password", "deduplicator-expert-credentials")}`,
    ]);
    expect(result.hints).toEqual([
      "kubectl create secret generic deduplicator-expert-credentials --from-literal=redis_cache_password='…'",
      LOCAL_SECRETS,
    ]);
  });

  it("loads cleanly with loadLocalConfig: every module is known", () => {
    const secretsDir = testTempDir("petrel-import-");
    writeSecrets(result.yaml, secretsDir);
    const config = loadLocalConfig([{ path: "imported.yaml", text: result.yaml }], { secretsDir });
    expect(config.warnings).toEqual([]);
    expect(config.pipelines.map((p) => p.metadata.name)).toEqual(["feodo"]);
    const dedup = config.bots.find((b) => b.resource.metadata.name === "deduplicator-expert");
    expect(dedup?.resource.spec.parameters.redis_cache_password).toBe("placeholder");
  });
});

describe("petrelctl import intelmq: single rules", () => {
  const run = (text: string) => importIntelmq({ runtime: inline(text) });
  const bot = (yaml: string, name: string) =>
    resources(yaml).find((r) => r.kind === "Bot" && r.metadata.name === name)?.spec;

  it("keeps valid ids, renames the others around them, and reports each rename", () => {
    const r = run(
      [
        "Web_Feed: {module: intelmq.bots.experts.taxonomy.expert}",
        "web-feed: {module: intelmq.bots.experts.taxonomy.expert}",
        "'Feed #3.': {module: intelmq.bots.experts.taxonomy.expert}",
      ].join("\n"),
    );
    expect(resources(r.yaml).map((d) => d.metadata.name)).toEqual([
      "intelmq",
      "web-feed-2",
      "web-feed",
      "feed--3",
    ]);
    expect(r.report).toEqual([
      "runtime.yaml:1: bot Web_Feed: renamed to web-feed-2 (web-feed is bot web-feed): Petrel names are lowercase DNS labels (a-z, 0-9 and -)",
      "runtime.yaml:3: bot Feed #3.: renamed to feed--3: Petrel names are lowercase DNS labels (a-z, 0-9 and -)",
    ]);
  });

  it("resolves every form of destination_queues and reports routes Petrel cannot run", () => {
    const r = run(`
collector:
  module: intelmq.bots.collectors.file.collector_file
  parameters: {rate_limit: 60, destination_queues: "parser-queue  shared-queue"}
parser:
  module: intelmq.bots.parsers.blocklistde.parser
  parameters:
    destination_queues: {_default: expert-queue expert-queue, _on_error: [output-queue]}
expert:
  module: intelmq.bots.experts.taxonomy.expert
  parameters: {destination_queues: [collector-queue, output-queue, shared-queue]}
output:
  module: intelmq.bots.outputs.file.output
  parameters: {destination_queues: [expert-queue]}
shared-a:
  module: intelmq.bots.experts.taxonomy.expert
  parameters: {source_queue: shared-queue}
shared-b:
  module: intelmq.bots.experts.taxonomy.expert
  parameters: {source_queue: shared-queue}
`);
    expect(bot(r.yaml, "collector")?.destinations).toEqual({ _default: ["parser"] });
    expect(bot(r.yaml, "parser")?.destinations).toEqual({ _default: ["expert"] });
    expect(bot(r.yaml, "expert")?.destinations).toEqual({ _default: ["output", "shared-a"] });
    expect(bot(r.yaml, "output")?.destinations).toBeUndefined();
    expect(r.report).toEqual([
      "runtime.yaml:4: bot collector: destination queue shared-queue (path _default): collector (collector) sends Reports on this path but shared-a (expert) takes Events: left out",
      "runtime.yaml:8: bot parser: destination queue expert-queue (path _default) is listed twice: sent once",
      "runtime.yaml:8: bot parser: destination queue output-queue (path _on_error): parser (parser) sends Reports on this path but output (output) takes Events: left out",
      "runtime.yaml:11: bot expert: destination queue collector-queue (path _default): collector is a collector; collectors have no input queue: left out",
      'runtime.yaml:14: bot output: destination_queues ["expert-queue"]: outputs have no destinations in Petrel: left out',
      "runtime.yaml:20: queue shared-queue: read by shared-a, shared-b, which share its messages in IntelMQ; in Petrel every bot has its own queue, so messages for it go to shared-a only: run shared-a with spec.replicas instead",
    ]);
  });

  it("converts values only where IntelMQ reads them the same way", () => {
    const r = run(`
out:
  module: intelmq.bots.outputs.file.output
  parameters: {hierarchical_output: "yes", keep_raw_field: "", message_with_type: "off", format_filename: maybe, single_key: 0}
dedup:
  module: intelmq.bots.experts.deduplicator.expert
  parameters: {redis_cache_ttl: " 3600 ", bypass: 1, redis_cache_port: "six"}
`);
    // single_key 0 is false to Python, as to Petrel.
    expect(bot(r.yaml, "out")?.parameters).toEqual({
      hierarchical_output: true,
      keep_raw_field: false,
      single_key: false,
    });
    expect(bot(r.yaml, "dedup")?.parameters).toEqual({ redis_cache_ttl: 3600, bypass: true });
    expect(r.report).toEqual([
      'runtime.yaml:4: bot out: parameter message_with_type: the text "off" means true to IntelMQ (Python takes any non-empty text as true); left out: set true or false',
      'runtime.yaml:4: bot out: parameter format_filename: the text "maybe" is not a boolean (IntelMQ took it as true); left out: set true or false',
      'runtime.yaml:7: bot dedup: parameter redis_cache_port: "six" is not valid: Invalid input: expected number, received string',
    ]);
  });

  it("maps error handling, threads, run modes and unknown keys", () => {
    const r = run(`
global: {error_dump_message: false, error_procedure: retry, logging_level: VERBOSE}
feed:
  module: intelmq.bots.collectors.file.collector_file
  group: Collector
  name: Feed
  colour: blue
  parameters: {error_retry_delay: 90, error_max_retries: "7", instances_threads: 3}
parse:
  module: intelmq.bots.parsers.blocklistde.parser
  run_mode: scheduled
  enabled: "no"
  parameters: {instances_threads: 4, logging_level: error}
nameless:
  group: Expert
`);
    expect(bot(r.yaml, "feed")).toMatchObject({
      parameters: { name: "Feed" },
      errorMaxRetries: 7,
      errorRetryDelay: "90s",
    });
    expect(bot(r.yaml, "parse")).toMatchObject({ replicas: 4, logLevel: "error" });
    expect(bot(r.yaml, "nameless")).toBeUndefined();
    expect(r.report).toEqual([
      "runtime.yaml:2: global: error_dump_message: false: dropped: Petrel always keeps a failed message, as a dead letter (petrelctl dlq)",
      'runtime.yaml:2: global: error_procedure: "retry" is not pass or stop: left out',
      'runtime.yaml:2: global: logging_level: "VERBOSE" is not a logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL): left out',
      "runtime.yaml:3: bot feed: no rate_limit: IntelMQ collects again right after each run; Petrel, without an interval, collects once per start: set spec.interval to poll",
      'runtime.yaml:7: bot feed: unknown key colour: "blue" (IntelMQ ignores it as well): left out',
      "runtime.yaml:8: bot feed: instances_threads: 3: left out (IntelMQ never runs collectors in threads; Petrel runs 1 to 100 replicas)",
      "runtime.yaml:11: bot parse: run_mode scheduled: IntelMQ processes one message per start; Petrel runs parsers, experts and outputs continuously: imported as continuous",
      'runtime.yaml:12: bot parse: enabled: "no" is not true or false: left out',
      "runtime.yaml:14: bot nameless: no module: IntelMQ cannot run it either; left out",
    ]);
  });

  it("is everything mapped: nothing reported", () => {
    const r = run("taxonomy:\n  module: intelmq.bots.experts.taxonomy.expert\n  enabled: true\n");
    expect(r.report).toEqual([]);
    expect(r.yaml).toContain("module: experts.taxonomy");
  });

  it("rejects unreadable input, naming file and line", () => {
    const fails = (text: string) => () => importIntelmq({ runtime: inline(text) });
    expect(fails("a:\n  module: x\n  parameters: [1\n")).toThrow(ImportInputError);
    // yaml notices the unclosed list where the file ends.
    expect(fails("a:\n  module: x\n  parameters: [1\n")).toThrow(
      /^runtime\.yaml:4: cannot be read: Flow sequence/,
    );
    expect(fails("a:\n  module: x\nb: [1, 2]\n")).toThrow("runtime.yaml:3: bot b: expected a mapping");
    expect(fails("a:\n  module: x\n  parameters: 5\n")).toThrow(
      "runtime.yaml:3: bot a: parameters: expected a mapping",
    );
    expect(fails("a:\n  x: 1\n  x: 2\n")).toThrow(
      /^runtime\.yaml:3: cannot be read: Map keys must be unique/,
    );
    expect(fails("")).toThrow("runtime.yaml:1: empty: no bots to import");
    expect(() => importIntelmq({ runtime: inline("{}") }, { pipeline: "Bad_Name" })).toThrow(
      /not a lowercase DNS label/,
    );
  });

  it("merges pipeline.conf into runtime.conf and reports its leftovers", () => {
    const r = importIntelmq({
      runtime: {
        path: "runtime.conf",
        text: '{"a": {"module": "intelmq.bots.experts.taxonomy.expert", "parameters": {"destination_queues": ["x-queue"]}}, "b": {"module": "intelmq.bots.outputs.file.output"}}',
      },
      pipeline: {
        path: "pipeline.conf",
        text: '{\n"a": {"destination-queues": "b-queue", "sources": 1},\n"ghost": {"source-queue": "ghost-queue"}\n}',
      },
    });
    expect(bot(r.yaml, "a")?.destinations).toEqual({ _default: ["b"] });
    expect(r.report).toEqual([
      'runtime.conf:1: bot a: parameter destination_queues: ["x-queue"] is replaced by pipeline.conf\'s destination-queues (pipeline.conf:2)',
      "pipeline.conf:2: bot a: unknown pipeline.conf key sources (IntelMQ knows source-queue and destination-queues): left out",
      "pipeline.conf:3: bot ghost: has queues in pipeline.conf but no entry in the runtime configuration: left out",
    ]);
  });
});
