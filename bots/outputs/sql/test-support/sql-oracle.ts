// Shared by the SQL output's tests: varied, deterministic events, and IntelMQ's SQL output run in
// library mode. Without the database driver in the oracle venv (psycopg2, PyMySQL), a recording
// stand-in takes the driver's place and the test replays what IntelMQ handed it, statement for
// statement, with Node's driver; with the driver installed, IntelMQ writes to the test server itself.

import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { Event } from "../../../../bot-runtime/src/event/message.ts";
import { type BotContext, DISCARD_METRICS, type Output } from "../../../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../../../bot-runtime/src/sdk/common-parameters.ts";
import { enumValues } from "../../../../bot-runtime/src/sdk/sql-schema.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../../../bot-runtime/test-support/intelmq-oracle.ts";
import { runOracle } from "../../../../bot-runtime/test-support/python-oracle.ts";
import sqlOutput from "../../sql.ts";

const CLASSIFICATIONS = [
  "malware-distribution",
  "c2-server",
  "scanner",
  "brute-force",
  "phishing",
  "infected-system",
];
const TLPS = ["WHITE", "GREEN", "AMBER", "RED"];
const TEXTS = [
  "plain",
  "ümlaut € and 日本語",
  `quote ' double " backslash \\ tab \t newline \n`,
  "emoji 🦆 outside the BMP",
];

/** Text holding the six characters \u0000 (no NUL): IntelMQ's PostgreSQL escaping changes it. */
export const BACKSLASH_U0000 = "literal backslash-u0000: \\u0000 in text";

function iso(seconds: number, micro?: number): string {
  const base = new Date(Date.UTC(2024, 4, 1) + seconds * 1000).toISOString().slice(0, 19);
  return micro === undefined ? `${base}+00:00` : `${base}.${String(micro).padStart(6, "0")}+00:00`;
}

/** Event number i of a deterministic, varied set: every value type, optional fields, awkward text. */
export function makeEvent(i: number): Event {
  const e = new Event();
  e.add("feed.name", `Feed ${i % 7}`);
  e.add("feed.provider", "Petrel tests");
  e.add("feed.accuracy", [100, 90.5, 0, 33.3][i % 4]);
  e.add("feed.code", `code-${i % 5}`);
  e.add("feed.url", `https://feeds.example.org/list/${i % 13}.txt`);
  e.add("time.observation", iso(i * 7));
  if (i % 3 !== 0) e.add("time.source", iso(i * 5, i % 5 === 0 ? (i * 7919) % 1_000_000 : undefined));
  e.add("classification.type", CLASSIFICATIONS[i % CLASSIFICATIONS.length]);
  if (i % 2 === 0) e.add("classification.identifier", `ident-${i % 11}`);
  e.add(
    "source.ip",
    i % 4 === 0 ? `2001:db8::${(i % 65535).toString(16)}` : `198.51.${(i >> 8) % 256}.${i % 256}`,
  );
  if (i % 5 === 0) e.add("source.network", i % 4 === 0 ? "2001:db8::/48" : `198.51.${(i >> 8) % 256}.0/24`);
  if (i % 2 === 1) e.add("source.port", (i * 31) % 65536);
  e.add("source.asn", 64496 + (i % 16));
  if (i % 6 === 1) e.add("source.as_name", `AS-EXAMPLE-${i % 9}`);
  if (i % 4 === 2) e.add("source.fqdn", `host${i}.example.net`);
  if (i % 8 === 3) e.add("source.url", `http://host${i}.example.net/path/${i}?q=${i % 3}`);
  if (i % 3 === 1) {
    e.add("source.geolocation.cc", ["AT", "DE", "NL", "US"][i % 4]);
    e.add("source.geolocation.latitude", 48.2082 + (i % 100) / 1000);
    e.add("source.geolocation.longitude", -16.3738 - (i % 50) / 7);
    e.add("source.geolocation.city", i % 2 === 0 ? "Wien" : "Düsseldorf");
  }
  if (i % 10 === 4) e.add("source.tor_node", i % 20 === 4);
  if (i % 9 === 2) {
    e.add("destination.ip", `203.0.113.${i % 256}`);
    e.add("destination.port", [22, 80, 443, 3389][i % 4]);
    e.add("protocol.transport", "tcp");
    e.add("protocol.application", ["ssh", "http", "https", "rdp"][i % 4]);
  }
  if (i % 7 === 5) e.add("malware.name", `malware-${i % 4}`);
  if (i % 14 === 5) e.add("malware.hash.md5", (i * 2654435761).toString(16).padStart(32, "0").slice(-32));
  e.add("severity", enumValues("severity")[i % 6]);
  e.add("tlp", TLPS[i % 4]);
  if (i % 5 === 3) e.add("event_description.text", TEXTS[i % TEXTS.length]);
  if (i % 50 === 9) e.add("rtir_id", i);
  e.add("extra.n", i);
  if (i % 2 === 0) e.add("extra.tags", ["a", `t${i % 3}`]);
  if (i % 5 === 1) e.add("extra.nested", { b: i % 2 === 0, a: [1, 2.5, null], ü: "x" });
  if (i % 7 === 2) e.add("extra.text", TEXTS[i % TEXTS.length]);
  // JSON escapes NUL as \u0000, which IntelMQ escapes once more for PostgreSQL.
  if (i % 97 === 11) e.add("extra.nul", "a\u0000b");
  if (i % 11 === 6) e.add("output", JSON.stringify({ line: i, text: TEXTS[i % TEXTS.length] }));
  e.add("raw", Buffer.from(`line ${i}, 198.51.100.${i % 256}\n`).toString("base64"));
  return e;
}

export function makeEvents(count: number, offset = 0): Event[] {
  return Array.from({ length: count }, (_, i) => makeEvent(i + offset));
}

/** The oracle: IntelMQ's SQLOutputBot over each case's events; see the file comment. */
const ORACLE = `
import sys, types
recorded = []

def stand_in(name):
    module = types.ModuleType(name)
    for error in ("Error", "InterfaceError", "InternalError", "OperationalError"):
        setattr(module, error, type(error, (Exception,), {}))
    class Cursor:
        def execute(self, query, values=None):
            recorded.append([query, None if values is None else list(values)])
    class Connection:
        autocommit = True
        def cursor(self):
            return Cursor()
        def commit(self):
            pass
        def rollback(self):
            pass
    module.connect = lambda **kwargs: Connection()
    return module

drivers = {}
try:
    import psycopg2, psycopg2.extras
    drivers["postgresql"] = "real"
except ImportError:
    sys.modules["psycopg2"] = stand_in("psycopg2")
    sys.modules["psycopg2.extras"] = types.ModuleType("psycopg2.extras")
    drivers["postgresql"] = "recorded"
try:
    import pymysql
    drivers["mysql"] = "real"
except ImportError:
    sys.modules["pymysql"] = stand_in("pymysql")
    drivers["mysql"] = "recorded"

${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.sql.output import SQLOutputBot

def encode(value):
    return {"float": repr(value)} if isinstance(value, float) else value

for line in sys.stdin:
    case = json.loads(line)
    driver = drivers[case["params"]["engine"]]
    params = case["params"] if driver == "real" else {k: v for k, v in case["params"].items() if k not in ("host", "port")}
    del recorded[:]
    bot = SQLOutputBot("oracle-sql", settings=library_settings(params))
    messages = [read_message(e) for e in case["events"]]
    error = None
    try:
        bot.process_message(*messages)
    except Exception as failure:
        error = type(failure).__name__ + ": " + str(failure)
    statements = [[q, None if v is None else [encode(x) for x in v]] for q, v in recorded if q.startswith("INSERT")]
    print(json.dumps({"driver": driver, "error": error, "statements": statements}))
    sys.stdout.flush()
os._exit(0)
`;

export interface OracleCase {
  params: Record<string, unknown>;
  events: readonly Event[];
}

export interface OracleResult {
  /** real: IntelMQ wrote to the server itself; recorded: `statements` are what it handed its driver. */
  driver: "real" | "recorded";
  error: string | null;
  statements: Array<[string, Array<unknown> | null]>;
}

export function runIntelmqSqlOutput(cases: readonly OracleCase[]): Promise<OracleResult[]> {
  return runOracle<unknown, OracleResult>(
    ORACLE,
    cases.map((c) => ({ params: c.params, events: oracleEvents(c.events) })),
  );
}

/** A value IntelMQ handed its driver, as a Node driver takes it (floats as Python wrote them). */
export function replayValue(value: unknown): unknown {
  if (typeof value === "object" && value !== null && "float" in value)
    return (value as { float: string }).float;
  return value;
}

export interface InitdbOptions {
  noJsonb?: boolean;
  partitionKey?: string;
  skipOrReplace?: boolean;
  /** The v_events view that splits raw into a table of its own (intelmq_psql_initdb --separate-raws). */
  separateRaws?: boolean;
}

/** intelmq_psql_initdb's SQL for each set of options, from the oracle venv's IntelMQ and harmonization. */
export function intelmqInitdbs(options: readonly InitdbOptions[]): Promise<string[]> {
  const script = `
import contextlib, io, json, os, sys
import intelmq
from intelmq.bin.intelmq_psql_initdb import generate
harmonization = os.path.join(os.path.dirname(intelmq.__file__), "etc", "harmonization.conf")
for line in sys.stdin:
    o = json.loads(line)
    with contextlib.redirect_stdout(io.StringIO()):
        sql = generate(harmonization, no_jsonb=o["noJsonb"], partition_key=o["partitionKey"], skip_or_replace=o["skipOrReplace"], separate_raws=o["separateRaws"])
    print(json.dumps(sql))
`;
  return runOracle<unknown, string>(
    script,
    options.map((o) => ({
      noJsonb: o.noJsonb ?? false,
      partitionKey: o.partitionKey ?? null,
      skipOrReplace: o.skipOrReplace ?? false,
      separateRaws: o.separateRaws ?? false,
    })),
  );
}

export async function intelmqInitdb(options: InitdbOptions = {}): Promise<string> {
  const [sql] = await intelmqInitdbs([options]);
  return sql as string;
}

/** A bot context whose log records (pino objects) are kept for the test to read. */
export function loggingContext(): { ctx: BotContext; logs: Array<{ level: number; msg: string }> } {
  const logs: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: "debug" }, { write: (line: string) => logs.push(JSON.parse(line)) });
  return {
    ctx: {
      botId: "sql-test",
      pipeline: "test",
      log,
      signal: new AbortController().signal,
      state: () => Promise.reject(new Error("no state in these tests")),
      metrics: DISCARD_METRICS,
    },
    logs,
  };
}

/** The output with IntelMQ-style parameters (validated like a Bot resource's). */
export async function createSqlOutput(
  params: Record<string, unknown>,
  ctx: BotContext = loggingContext().ctx,
): Promise<Output> {
  const parsed = parameterSchema(sqlOutput).parse(params);
  return sqlOutput.create(parsed as never, ctx);
}

/** Writes the events in batches of the runtime's default size. */
export async function writeInBatches(output: Output, events: readonly Event[], size = 256): Promise<void> {
  for (let i = 0; i < events.length; i += size) await output.write(events.slice(i, i + size));
}

/** A test database server that can crash and come back (PostgreSQL's and MariaDB's test servers). */
export interface RestartableServer {
  stop(mode?: "fast" | "immediate"): Promise<void>;
  restart(): Promise<void>;
}

/**
 * Streams `events` through every output in batches of 150, each failed write retried every 50 ms as the
 * runtime does, while the server crashes and restarts: every stream pauses after 1,500 events, so the
 * crash (stop "immediate") surely comes while writes are pending; writes go on against the stopped
 * server for 300 ms; then, once `restartWhen` is true, a clean restart (stop "fast"). Resolves when
 * every event is written, with the number of writes that failed and were retried.
 */
export async function streamThroughRestarts(
  server: RestartableServer,
  outputs: readonly Output[],
  events: readonly Event[],
  restartWhen: () => Promise<boolean>,
): Promise<number> {
  let failures = 0;
  let openGate = () => {};
  const gate = new Promise<void>((resolve) => {
    openGate = resolve;
  });
  let paused = 0;
  let allPaused = () => {};
  const pausedTogether = new Promise<void>((resolve) => {
    allPaused = resolve;
  });
  const stream = async (output: Output) => {
    for (let i = 0; i < events.length; i += 150) {
      if (i === 1500) {
        if (++paused === outputs.length) allPaused();
        await gate;
      }
      for (;;) {
        try {
          await output.write(events.slice(i, i + 150));
          break;
        } catch {
          failures++;
          await sleep(50);
        }
      }
    }
  };
  const writing = Promise.all(outputs.map(stream));
  await pausedTogether;
  await server.stop("immediate");
  openGate();
  await sleep(300);
  await server.restart();
  while (!(await restartWhen())) await sleep(20);
  await server.stop("fast");
  await server.restart();
  await writing;
  return failures;
}
