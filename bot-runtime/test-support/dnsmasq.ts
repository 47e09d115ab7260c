// Starts a private dnsmasq (Debian package dnsmasq-base) for DNS tests: fixture records from the test,
// a free loopback port, no upstream servers (nothing leaves the machine), every query logged to a file in
// a temp directory so tests can count what reached the server. Also: a name server that never answers
// (timeouts), and runDnsNamespace, which runs a command (the IntelMQ oracle, petrelctl) in private
// mount and network namespaces where the same records are served by a dnsmasq on 127.0.0.1:53 named in
// /etc/resolv.conf: programs there use the system resolver unmodified, as they do in production.
import { spawn } from "node:child_process";
import dgram from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as packet from "dns-packet";
import type { BotMetricsSink } from "../src/sdk/bot.ts";
import { freePort, waitForPort } from "./nats-server.ts";
import { oraclePython } from "./python-oracle.ts";
import { startServerInDirectory } from "./server-process.ts";

const DNSMASQ = "/usr/sbin/dnsmasq";

export interface DnsmasqOptions {
  /**
   * Record lines of dnsmasq's configuration: txt-record=, ptr-record=, host-record=, cname=, …
   * Names in `localDomains` that have no record get NXDOMAIN (no SOA); other names get REFUSED.
   */
  readonly records: readonly string[];
  /** Domains answered from the records alone (dnsmasq local=/domain/). */
  readonly localDomains?: readonly string[];
  /** TTL of answers from the records (--local-ttl); 3600 s by default. */
  readonly localTtl?: number;
  /**
   * Serve these zones authoritatively instead (auth-zone=): every answer has TTL `ttl`, negative answers
   * carry a SOA record whose negative TTL is `ttl` too. Reverse zones come from the networks given with
   * a zone ("example.test,192.0.2.0/24"); in them only host-record addresses have PTR records.
   */
  readonly authoritative?: { readonly zones: readonly string[]; readonly ttl: number };
  /** Domains whose queries fail with SERVFAIL (forwarded to an upstream that answers nothing else). */
  readonly servfailDomains?: readonly string[];
}

export interface DnsQueryLogEntry {
  readonly type: string;
  readonly name: string;
}

export interface TestDnsmasq {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:port", for a `nameservers` parameter. */
  readonly nameserver: string;
  /** Queries received so far, oldest first (from dnsmasq's query log). */
  queries(): DnsQueryLogEntry[];
  /** How many queries for `name` (and `type`) reached the server. */
  count(name: string, type?: string): number;
  /** Stops dnsmasq; the port then refuses (ICMP port unreachable). */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same records. */
  restart(): Promise<void>;
  dispose(): Promise<void>;
}

/** The configuration lines for the records and behaviour in `options`, without listener settings. */
function recordConfig(options: DnsmasqOptions, servfailPort: number | undefined): string[] {
  const lines = ["no-resolv", "no-hosts", "log-queries", `local-ttl=${options.localTtl ?? 3600}`];
  for (const domain of options.localDomains ?? []) lines.push(`local=/${domain}/`);
  if (servfailPort !== undefined) {
    for (const domain of options.servfailDomains ?? []) {
      lines.push(`server=/${domain}/127.0.0.1#${servfailPort}`);
    }
  }
  if (options.authoritative) {
    const { zones, ttl } = options.authoritative;
    lines.push(`auth-ttl=${ttl}`, "auth-soa=1,hostmaster.petrel.test,1200,120,1209600");
    for (const zone of zones) lines.push(`auth-zone=${zone}`);
  }
  lines.push(...options.records);
  return lines;
}

function readQueryLog(file: string): DnsQueryLogEntry[] {
  let text = "";
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  const entries: DnsQueryLogEntry[] = [];
  // "query[TXT] 1.2.0.192.origin.asn.cymru.com from 127.0.0.1" (auth[...] when authoritative)
  for (const match of text.matchAll(/: (?:query|auth)\[(\w+)\] (\S+) from /g)) {
    entries.push({ type: match[1] as string, name: (match[2] as string).toLowerCase() });
  }
  return entries;
}

/** A UDP name server that answers every query with SERVFAIL (the upstream of servfailDomains). */
function servfailServer(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    socket.on("message", (data, from) => {
      try {
        const query = packet.decode(data);
        const answer = packet.encode({
          type: "response",
          id: query.id ?? 0,
          flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | 2, // rcode 2: SERVFAIL
          questions: query.questions ?? [],
        });
        socket.send(answer, from.port, from.address);
      } catch {
        // Not a DNS query: nothing to answer.
      }
    });
    socket.once("error", reject);
    socket.bind(port, "127.0.0.1", () => resolve(socket));
  });
}

export async function startDnsmasq(options: DnsmasqOptions): Promise<TestDnsmasq> {
  if (!existsSync(DNSMASQ)) throw new Error(`${DNSMASQ} not found: install the Debian package dnsmasq-base`);
  const dir = mkdtempSync(join(tmpdir(), "petrel-dnsmasq-"));
  const port = await freePort();
  const servfailPort = options.servfailDomains?.length ? await freePort() : undefined;
  const upstream = servfailPort === undefined ? undefined : await servfailServer(servfailPort);
  const logFile = join(dir, "queries.log");
  const lines = [
    `port=${port}`,
    "listen-address=127.0.0.1",
    "bind-interfaces",
    "keep-in-foreground",
    `log-facility=${logFile}`,
    `pid-file=${join(dir, "dnsmasq.pid")}`,
    ...(options.authoritative ? ["auth-server=ns.petrel.test,127.0.0.1"] : []),
    ...recordConfig(options, servfailPort),
  ];
  const confFile = join(dir, "dnsmasq.conf");
  writeFileSync(confFile, `${lines.join("\n")}\n`);
  const server = await startServerInDirectory(
    {
      name: "dnsmasq",
      command: DNSMASQ,
      args: [`--conf-file=${confFile}`],
      spawn: { stdio: ["ignore", "ignore", "pipe"] },
      ready: () => waitForPort(port, 10_000),
    },
    dir,
    { cleanup: () => upstream?.close() },
  );
  const queries = () => readQueryLog(logFile);
  return {
    host: "127.0.0.1",
    port,
    nameserver: `127.0.0.1:${port}`,
    queries,
    count(name, type) {
      const wanted = name.toLowerCase();
      return queries().filter((q) => q.name === wanted && (type === undefined || q.type === type)).length;
    },
    stop: () => server.stop("SIGTERM"),
    restart: server.restart,
    dispose: () => server.dispose("SIGTERM"),
  };
}

/** A UDP "name server" that takes queries and never answers: lookups against it time out. */
export async function startSilentNameServer(): Promise<{ nameserver: string; dispose(): Promise<void> }> {
  const port = await freePort();
  const socket = dgram.createSocket("udp4");
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(port, "127.0.0.1", () => resolve());
  });
  return {
    nameserver: `127.0.0.1:${port}`,
    dispose: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

export interface NamespaceRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Queries the namespace's dnsmasq received. */
  readonly queries: DnsQueryLogEntry[];
}

export interface NamespaceOptions {
  /** The records (and behaviour) of the namespace's dnsmasq, as for startDnsmasq. */
  readonly dns: DnsmasqOptions;
  /** The namespace's /etc/hosts (empty by default: names resolve through DNS only). */
  readonly hosts?: string;
  /** Extra lines of its /etc/resolv.conf after "nameserver 127.0.0.1" (search, options). */
  readonly resolvConf?: readonly string[];
  /** Start a redis-server on 127.0.0.1:6379 (IntelMQ's default cache address). */
  readonly redis?: boolean;
  readonly command: readonly string[];
  readonly stdin?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
}

/**
 * Runs `command` in new PID, mount and network namespaces (needs root and unshare): only a loopback
 * interface, dnsmasq on 127.0.0.1:53 serving `dns`, /etc/resolv.conf and /etc/hosts replaced by bind
 * mounts. Everything started there ends with the command (the PID namespace dies with it).
 */
export async function runDnsNamespace(options: NamespaceOptions): Promise<NamespaceRun> {
  if (process.getuid?.() !== 0) throw new Error("runDnsNamespace needs root (unshare, bind mounts, port 53)");
  const dir = mkdtempSync(join(tmpdir(), "petrel-dnsns-"));
  try {
    const servfailPort = options.dns.servfailDomains?.length ? 5300 : undefined;
    const logFile = join(dir, "queries.log");
    const lines = [
      "port=53",
      "listen-address=127.0.0.1",
      "bind-interfaces",
      `log-facility=${logFile}`,
      `pid-file=${join(dir, "dnsmasq.pid")}`,
      ...(options.dns.authoritative ? ["auth-server=ns.petrel.test,127.0.0.1"] : []),
      ...recordConfig(options.dns, servfailPort),
    ];
    writeFileSync(join(dir, "dnsmasq.conf"), `${lines.join("\n")}\n`);
    writeFileSync(
      join(dir, "resolv.conf"),
      ["nameserver 127.0.0.1", ...(options.resolvConf ?? [])].join("\n"),
    );
    writeFileSync(join(dir, "hosts"), options.hosts ?? "");
    // The SERVFAIL upstream, inside the namespace: a python one-liner from the oracle venv's python.
    const servfail =
      servfailPort === undefined
        ? ""
        : `"${oraclePython()}" -c '${SERVFAIL_PY.replace("PORT", String(servfailPort))}' &\n`;
    const script = `set -e
ip link set lo up
mount --bind "${dir}/resolv.conf" /etc/resolv.conf
mount --bind "${dir}/hosts" /etc/hosts
${servfail}${DNSMASQ} --conf-file="${dir}/dnsmasq.conf"
${options.redis ? `redis-server --port 6379 --bind 127.0.0.1 --save "" --appendonly no --dir "${dir}" --logfile "${dir}/redis.log" --daemonize yes\n` : ""}for i in $(seq 100); do
  ( exec 3<>/dev/tcp/127.0.0.1/53 ) 2>/dev/null && ${options.redis ? "( exec 3<>/dev/tcp/127.0.0.1/6379 ) 2>/dev/null && " : ""}break
  sleep 0.05
done
exec "$@"
`;
    const child = spawn(
      "unshare",
      [
        "--pid",
        "--fork",
        "--kill-child",
        "--mount",
        "--net",
        "bash",
        "-c",
        script,
        "petrel-dns-ns",
        ...options.command,
      ],
      { stdio: ["pipe", "pipe", "pipe"], env: options.env ?? process.env },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    const code = await new Promise<number>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c ?? -1));
      child.stdin.end(options.stdin ?? "");
    });
    clearTimeout(timer);
    return {
      code,
      stdout: Buffer.concat(out).toString("utf8"),
      stderr: Buffer.concat(err).toString("utf8"),
      queries: readQueryLog(logFile),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// Answers every UDP query with its question and rcode SERVFAIL.
const SERVFAIL_PY = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", PORT))
while True:
    data, peer = s.recvfrom(4096)
    end = 12
    while end < len(data) and data[end] != 0:
        end += data[end] + 1
    end += 5
    if end > len(data):
        continue
    header = data[:2] + bytes([0x81, 0x82]) + bytes([0, 1, 0, 0, 0, 0, 0, 0])
    s.sendto(header + data[12:end], peer)
`;

/**
 * Runs IntelMQ expert bots in library mode. Each input line {module, params, event, fresh?, flush?}
 * gives one output line: {events} (the _default queue) or {exception}. Bots are reused per
 * (module, params) unless "fresh"; "flush" empties the bot's Redis cache first; {sleep: s} waits.
 */
export const EXPERT_ORACLE_DRIVER = `
import importlib, json, os, sys, time
from intelmq.lib.bot import BotLibSettings

bots = {}
for line in sys.stdin:
    case = json.loads(line)
    if "sleep" in case:
        time.sleep(case["sleep"])
        print(json.dumps({}), flush=True)
        continue
    key = json.dumps([case["module"], case["params"]], sort_keys=True)
    bot = None if case.get("fresh") else bots.get(key)
    if bot is None:
        params = {"logging_level": "CRITICAL", **case["params"]}
        try:
            bot = importlib.import_module(case["module"]).BOT("oracle-bot", settings=BotLibSettings | params)
        except BaseException as error:
            print(json.dumps({"exception": f"init: {type(error).__name__}: {error}"}), flush=True)
            continue
        bots[key] = bot
    if case.get("flush"):
        bot.cache_flush()
    try:
        queues = bot.process_message(case["event"])
    except Exception as error:
        pipeline = bot._Bot__destination_pipeline
        for queue in ("output", "error"):
            pipeline.state[queue] = []
        bot.acknowledge_message()
        print(json.dumps({"exception": f"{type(error).__name__}: {error}"}), flush=True)
        continue
    print(json.dumps({"events": [dict(m) for m in queues.get("output", [])]}), flush=True)

sys.stdout.flush()
os._exit(0)
`;

export interface ExpertOracleCase {
  readonly module: string;
  readonly params: Record<string, unknown>;
  readonly event: Record<string, unknown>;
  readonly fresh?: boolean;
  readonly flush?: boolean;
}

export interface ExpertOracleResult {
  readonly events?: Record<string, unknown>[];
  readonly exception?: string;
}

/** Runs IntelMQ experts on `cases` inside a DNS namespace serving `dns` (with Redis for their caches). */
export async function intelmqExperts(
  dns: DnsmasqOptions,
  cases: ReadonlyArray<ExpertOracleCase | { sleep: number }>,
  options: { hosts?: string; resolvConf?: readonly string[] } = {},
): Promise<{ results: ExpertOracleResult[]; queries: DnsQueryLogEntry[] }> {
  const run = await runDnsNamespace({
    dns,
    ...options,
    redis: true,
    command: [oraclePython(), "-W", "ignore", "-c", EXPERT_ORACLE_DRIVER],
    stdin: cases.map((c) => JSON.stringify(c)).join("\n") + (cases.length ? "\n" : ""),
  });
  const lines = run.stdout.split("\n").filter((l) => l.length > 0);
  if (run.code !== 0 || lines.length !== cases.length) {
    throw new Error(
      `IntelMQ oracle: exit ${run.code}, ${lines.length} of ${cases.length} results\n${run.stderr}`,
    );
  }
  return { results: lines.map((l) => JSON.parse(l) as ExpertOracleResult), queries: run.queries };
}

const root = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The Petrel side of EXPERT_ORACLE_DRIVER: the same input and output lines, `module` being the bot's
 * file relative to the project root ("bots/experts/reverse-dns.ts"); bots get their default resolver
 * settings (the system's) unless the params say otherwise.
 */
const PETREL_EXPERT_DRIVER = `
import { createInterface } from "node:readline";
import { pino } from "pino";
const root = process.argv[1];
const { parameterSchema } = await import(root + "bot-runtime/src/sdk/common-parameters.ts");
const { Event } = await import(root + "bot-runtime/src/event/message.ts");
const { DISCARD_METRICS } = await import(root + "bot-runtime/src/sdk/bot.ts");
const ctx = {
  botId: "oracle-bot", pipeline: "test", log: pino({ level: "silent" }),
  signal: new AbortController().signal, metrics: DISCARD_METRICS,
  state: () => Promise.reject(new Error("no state")),
};
const bots = new Map();
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "") continue;
  const c = JSON.parse(line);
  if ("sleep" in c) {
    await new Promise((r) => setTimeout(r, c.sleep * 1000));
    console.log("{}");
    continue;
  }
  const key = JSON.stringify([c.module, c.params]);
  let bot = c.fresh ? undefined : bots.get(key);
  if (!bot) {
    try {
      const module = (await import(root + c.module)).default;
      bot = await module.create(parameterSchema(module).parse(c.params), ctx);
    } catch (error) {
      console.log(JSON.stringify({ exception: "init: " + String(error) }));
      continue;
    }
    bots.set(key, bot);
  }
  try {
    const out = await bot.process(new Event({ __type: "Event", ...c.event }), { id: "oracle" });
    const events = out === undefined || out === null ? [] : [out.toDict()];
    console.log(JSON.stringify({ events }));
  } catch (error) {
    console.log(JSON.stringify({ exception: String(error) }));
  }
}
`;

/** Runs Petrel experts on `cases` (module: a bot file) in a DNS namespace: the system resolver is its dnsmasq. */
export async function petrelExpertsInNamespace(
  dns: DnsmasqOptions,
  cases: ReadonlyArray<ExpertOracleCase | { sleep: number }>,
  options: { hosts?: string; resolvConf?: readonly string[] } = {},
): Promise<{ results: ExpertOracleResult[]; queries: DnsQueryLogEntry[] }> {
  const node = join(root, "node_modules/.bin/node");
  const run = await runDnsNamespace({
    dns,
    ...options,
    command: [node, "--input-type=module", "-e", PETREL_EXPERT_DRIVER, root],
    stdin: cases.map((c) => JSON.stringify(c)).join("\n") + (cases.length ? "\n" : ""),
  });
  const lines = run.stdout.split("\n").filter((l) => l.length > 0);
  if (run.code !== 0 || lines.length !== cases.length) {
    throw new Error(
      `Petrel in namespace: exit ${run.code}, ${lines.length} of ${cases.length} results\n${run.stderr}`,
    );
  }
  return { results: lines.map((l) => JSON.parse(l) as ExpertOracleResult), queries: run.queries };
}

/** A metrics sink that counts cache lookups per cache: { hit, miss }. */
export function countingMetrics(): {
  sink: BotMetricsSink;
  counts: (cache: string) => { hit: number; miss: number };
} {
  const counts = new Map<string, { hit: number; miss: number }>();
  const of = (cache: string) => {
    let c = counts.get(cache);
    if (!c) {
      c = { hit: 0, miss: 0 };
      counts.set(cache, c);
    }
    return c;
  };
  return {
    sink: {
      cacheLookup(cache, hit) {
        of(cache)[hit ? "hit" : "miss"]++;
      },
    },
    counts: (cache) => ({ ...of(cache) }),
  };
}
