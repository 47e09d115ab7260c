// A small caching DNS stub resolver for the DNS experts (Cymru whois, gethostbyname, reverse DNS).
// Node's dns.Resolver gives no TTLs for TXT and PTR answers, so queries go out as dns-packet messages
// over UDP (TCP when the answer is truncated). Answers are cached for their TTL (capped), negative
// answers (NXDOMAIN, NODATA) for the SOA's negative TTL or a configured default; failures (SERVFAIL,
// REFUSED, timeouts, unreachable servers) are never cached. Concurrent lookups of one name share a
// query. A fresh cached answer comes back synchronously, so experts stay synchronous on cache hits.
import { randomInt } from "node:crypto";
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import net from "node:net";
import * as packet from "dns-packet";
import { z } from "zod";
import type { BotMetricsSink } from "./bot.ts";

export type DnsRecordType = "A" | "AAAA" | "TXT" | "PTR";

/** The outcome of a lookup that got an answer: records, or a negative answer. */
export interface DnsAnswer {
  /** The name asked for, lowercased, without a trailing dot. */
  readonly name: string;
  readonly type: DnsRecordType;
  /** answer: records of the type; nxdomain: the name does not exist; nodata: it has no such records. */
  readonly status: "answer" | "nxdomain" | "nodata";
  /**
   * Record data in the server's order: addresses; PTR targets without the trailing dot; the text of each
   * TXT record (its strings joined, decoded as UTF-8 with U+FFFD for undecodable bytes).
   */
  readonly records: readonly string[];
  /** TXT only: the bytes of each record (its strings joined), for callers that decode them their way. */
  readonly bytes?: readonly Buffer[];
  /** Seconds the answer stays cached (after the caps). */
  readonly ttl: number;
}

export type DnsFailure =
  | "SERVFAIL"
  | "REFUSED"
  | "FORMERR"
  | "NOTIMP"
  | "RCODE"
  | "TIMEOUT"
  | "UNREACHABLE"
  | "BADRESPONSE"
  | "BADNAME";

/** A lookup that got no usable answer. Never cached: the next lookup asks again. */
export class DnsError extends Error {
  readonly failure: DnsFailure;
  readonly query: string;
  constructor(failure: DnsFailure, query: string, detail: string) {
    super(`DNS lookup of ${query} failed: ${detail}`);
    this.name = "DnsError";
    this.failure = failure;
    this.query = query;
  }
}

export interface NameServer {
  readonly host: string;
  readonly port: number;
}

function nameServerText(server: NameServer): string {
  return net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

/** "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:5353"; undefined when invalid. */
export function parseNameServer(text: string): NameServer | undefined {
  const value = text.trim();
  let host = value;
  let port = "53";
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    host = bracketed[1] as string;
    port = bracketed[2] ?? "53";
    if (!net.isIPv6(host)) return undefined;
  } else if (!net.isIPv6(value)) {
    const withPort = /^([^:]+):(\d+)$/.exec(value);
    if (withPort) [, host = "", port = ""] = withPort;
    if (!net.isIPv4(host)) return undefined;
  }
  const portNumber = Number(port);
  if (!Number.isInteger(portNumber) || portNumber < 1 || portNumber > 65535) return undefined;
  return { host, port: portNumber };
}

function nameServerList(value: string | readonly string[]): string[] {
  const items = typeof value === "string" ? value.split(",") : [...value];
  return items.map((s) => s.trim()).filter((s) => s !== "");
}

/**
 * The name servers of the system, as the C library and dnspython find them: the `nameserver` lines of
 * resolv.conf, or 127.0.0.1 when there are none.
 */
export function systemNameServers(resolvConf = "/etc/resolv.conf"): NameServer[] {
  let text = "";
  try {
    text = readFileSync(resolvConf, "utf8");
  } catch {
    // No resolv.conf: the C library falls back to a server on the local host.
  }
  const servers: NameServer[] = [];
  for (const line of text.split("\n")) {
    const [keyword, address] = line.trim().split(/\s+/);
    if (keyword !== "nameserver" || address === undefined) continue;
    // A link-local IPv6 server may carry a zone ("%eth0"), which the socket API takes as part of the host.
    const server = parseNameServer(address.includes("%") ? `[${address}]` : address);
    if (server) servers.push(server);
  }
  return servers.length > 0 ? servers : [{ host: "127.0.0.1", port: 53 }];
}

/** IPv4 addresses per name from a hosts file (the C library's "files" source), first line first. */
export function readHostsFile(path = "/etc/hosts"): Map<string, string[]> {
  const hosts = new Map<string, string[]>();
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return hosts;
  }
  for (const line of text.split("\n")) {
    const [address, ...names] = (line.split("#")[0] as string).trim().split(/\s+/);
    if (address === undefined || !net.isIPv4(address)) continue;
    for (const name of names) {
      const key = name.toLowerCase().replace(/\.$/, "");
      const list = hosts.get(key);
      if (list) list.push(address);
      else hosts.set(key, [address]);
    }
  }
  return hosts;
}

/** The in-addr.arpa / ip6.arpa name of an address (dnspython's reversename.from_address). */
export function reverseName(ip: string): string | undefined {
  if (net.isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.in-addr.arpa`;
  const bytes = ipv6Bytes(ip);
  if (bytes === undefined) return undefined;
  // An IPv4-mapped address (::ffff:a.b.c.d) is looked up under in-addr.arpa, as dnspython does.
  if (isV4Mapped(bytes)) return `${bytes[15]}.${bytes[14]}.${bytes[13]}.${bytes[12]}.in-addr.arpa`;
  return `${ipv6Nibbles(bytes)}.ip6.arpa`;
}

/** The 32 nibbles of an IPv6 address, lowest first, dot-separated ("1.0.0.0. … .2"). */
export function ipv6Nibbles(bytes: Uint8Array): string {
  const nibbles: string[] = [];
  for (let i = 15; i >= 0; i--) {
    const byte = bytes[i] as number;
    nibbles.push((byte & 0xf).toString(16), (byte >> 4).toString(16));
  }
  return nibbles.join(".");
}

export function isV4Mapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** The 16 bytes of an IPv6 address (zone id ignored), or undefined when it is none. */
export function ipv6Bytes(text: string): Uint8Array | undefined {
  const address = text.split("%")[0] as string;
  if (!net.isIPv6(address)) return undefined;
  const groups: number[] = [];
  const parse = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const octets = piece.split(".").map(Number);
        out.push(((octets[0] as number) << 8) | (octets[1] as number));
        out.push(((octets[2] as number) << 8) | (octets[3] as number));
      } else {
        out.push(Number.parseInt(piece, 16));
      }
    }
    return out;
  };
  const gap = address.indexOf("::");
  if (gap < 0) {
    groups.push(...(parse(address) ?? []));
  } else {
    const head = parse(address.slice(0, gap)) ?? [];
    const tail = parse(address.slice(gap + 2)) ?? [];
    groups.push(...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail);
  }
  if (groups.length !== 8) return undefined;
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = (groups[i] as number) >> 8;
    bytes[2 * i + 1] = (groups[i] as number) & 0xff;
  }
  return bytes;
}

// ---- parameters shared by the DNS experts ----

const validNameServers = (value: string | readonly string[] | null) =>
  value === null || nameServerList(value).every((s) => parseNameServer(s) !== undefined);

/** Petrel's own resolver parameters, spread into each DNS expert's parameter schema. */
export const resolverParameters = {
  nameservers: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .default(null)
    .refine(validNameServers, {
      message:
        'each name server must be an IP address with an optional port: "192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53"',
    })
    .describe(
      "Petrel only: name servers to ask (IP addresses, each with an optional port, as a list or comma-separated), tried in order. Unset: the system's name servers from /etc/resolv.conf, as IntelMQ uses.",
    ),
  dns_timeout: z
    .number()
    .positive()
    .default(5)
    .describe(
      "Petrel only: seconds one lookup may take in all, retries over the name servers included (each try waits up to 2 s); then the lookup fails.",
    ),
  negative_cache_ttl: z
    .number()
    .int()
    .nonnegative()
    .default(3600)
    .describe(
      "Petrel only: seconds a negative answer (no such name, or no such record) is cached when the server sends no SOA record with it; with one, its negative TTL counts. Capped like every cached answer.",
    ),
};

/** For the experts where IntelMQ swallows lookup failures (Cymru whois, reverse DNS). */
export const lookupFailureParameter = z
  .enum(["fail", "skip"])
  .default("fail")
  .describe(
    "Petrel only: when no name server answers (SERVFAIL, REFUSED, timeout, unreachable). fail: the event fails, so the runtime retries it and finally dead-letters it; skip: the event goes on without the fields, as in IntelMQ (which also caches the failure, Petrel does not).",
  );

const ignoredRedis = (what: string) =>
  `Accepted for IntelMQ configurations and ignored: Petrel caches DNS answers in the bot's memory (${what}).`;

/** IntelMQ's Redis cache settings of a DNS expert, accepted and ignored. */
export function ignoredRedisParameters(defaultDb: number) {
  return {
    redis_cache_host: z.string().default("127.0.0.1").describe(ignoredRedis("host")),
    redis_cache_port: z.number().int().default(6379).describe(ignoredRedis("port")),
    redis_cache_db: z.number().int().default(defaultDb).describe(ignoredRedis("database")),
    redis_cache_password: z.string().nullable().default(null).describe(ignoredRedis("password")),
  };
}

export interface ResolverParameters {
  nameservers: string | readonly string[] | null;
  dns_timeout: number;
  negative_cache_ttl: number;
}

// ---- the resolver ----

/** Entries per cache: a TXT answer takes a few hundred bytes. */
export const DEFAULT_CACHE_ENTRIES = 100_000;
/**
 * Queries a resolver has out at once; more lookups wait their turn. The runtime hands an expert up to
 * 2048 events at once: as many datagrams at once overrun a server's receive buffer (dnsmasq drops them),
 * and each loss costs a 2 s retry.
 */
export const DEFAULT_MAX_OUTSTANDING = 64;
/** Longest wait for one server's answer before the next try. */
const TRY_TIMEOUT_MS = 2000;
/** EDNS payload size advertised (the 2020 DNS flag day value). */
const UDP_PAYLOAD = 1232;
const MAX_CNAME_HOPS = 8;

export interface ResolverOptions {
  /** The `nameservers` parameter; unset or empty: the system's servers. */
  readonly nameservers?: string | readonly string[] | null;
  /** Seconds one lookup may take in all. */
  readonly timeoutSeconds: number;
  /** Longest time (s) any answer stays cached. */
  readonly maxTtl: number;
  /** Seconds a negative answer without SOA stays cached (capped by maxTtl). */
  readonly negativeTtl: number;
  /** Further cap per answer (s), e.g. shorter for answers a bot cannot use. */
  readonly ttlCap?: (answer: Omit<DnsAnswer, "ttl">) => number;
  readonly cacheEntries?: number;
  /** Queries out at once (DEFAULT_MAX_OUTSTANDING). */
  readonly maxOutstanding?: number;
  /** The cache's name in petrel_bot_cache_lookups_total. */
  readonly cacheName: string;
  readonly metrics: BotMetricsSink;
  /** For tests: another resolv.conf. */
  readonly resolvConf?: string;
}

interface CacheEntry {
  readonly answer: DnsAnswer;
  /** Date.now() after which the entry is stale. */
  readonly expires: number;
}

class TryTimeout extends Error {}

/** A decoded message; dns-packet also sets the response code, which its types leave out. */
type DnsMessage = packet.DecodedPacket & { rcode?: string };

/** A server's answer that ends the lookup (NOERROR, NXDOMAIN) or a reason to try another server. */
type Exchange = { response: DnsMessage } | { failure: DnsFailure; detail: string; final: boolean };

export class DnsResolver {
  readonly servers: readonly NameServer[];
  readonly #timeoutMs: number;
  readonly #maxTtl: number;
  readonly #negativeTtl: number;
  readonly #ttlCap: ResolverOptions["ttlCap"];
  readonly #capacity: number;
  readonly #cacheName: string;
  readonly #metrics: BotMetricsSink;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<DnsAnswer>>();
  readonly #maxOutstanding: number;
  #outstanding = 0;
  /** Lookups waiting for a free slot, first come first served. */
  readonly #waiting: Array<() => void> = [];
  /** Queries sent (each try counts), for tests and benchmarks. */
  queriesSent = 0;

  constructor(options: ResolverOptions) {
    const configured = options.nameservers ? nameServerList(options.nameservers) : [];
    this.servers =
      configured.length > 0
        ? configured.map((text) => {
            const server = parseNameServer(text);
            if (!server) throw new Error(`nameservers: "${text}" is no IP address with an optional port`);
            return server;
          })
        : systemNameServers(options.resolvConf);
    this.#timeoutMs = options.timeoutSeconds * 1000;
    this.#maxTtl = options.maxTtl;
    this.#negativeTtl = options.negativeTtl;
    this.#ttlCap = options.ttlCap;
    this.#capacity = options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
    this.#maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
    this.#cacheName = options.cacheName;
    this.#metrics = options.metrics;
  }

  /**
   * Looks a name up: the cached answer while it is fresh (synchronously), else a promise of the server's
   * answer. Rejects with DnsError when no server gave one. A lookup that joins a query already in flight
   * counts as a cache hit: only misses send queries.
   */
  lookup(name: string, type: DnsRecordType): DnsAnswer | Promise<DnsAnswer> {
    const normalized = normalizeName(name);
    const key = `${type} ${normalized}`;
    const entry = this.#cache.get(key);
    if (entry !== undefined) {
      this.#cache.delete(key);
      if (entry.expires > Date.now()) {
        this.#cache.set(key, entry);
        this.#metrics.cacheLookup(this.#cacheName, true);
        return entry.answer;
      }
    }
    const pending = this.#inFlight.get(key);
    if (pending !== undefined) {
      this.#metrics.cacheLookup(this.#cacheName, true);
      return pending;
    }
    this.#metrics.cacheLookup(this.#cacheName, false);
    const query = this.#resolve(normalized, type).then(
      (answer) => {
        this.#inFlight.delete(key);
        if (answer.ttl > 0) this.#store(key, answer);
        return answer;
      },
      (error: unknown) => {
        this.#inFlight.delete(key);
        throw error;
      },
    );
    this.#inFlight.set(key, query);
    return query;
  }

  #store(key: string, answer: DnsAnswer): void {
    this.#cache.set(key, { answer, expires: Date.now() + answer.ttl * 1000 });
    if (this.#cache.size > this.#capacity) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
  }

  async #resolve(name: string, type: DnsRecordType): Promise<DnsAnswer> {
    const query = `${name} ${type}`;
    if (!isEncodableName(name)) throw new DnsError("BADNAME", query, "the name is not a valid DNS name");
    if (this.#outstanding < this.#maxOutstanding) this.#outstanding++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve)); // handed a slot
    try {
      return await this.#ask(name, type, query);
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#outstanding--;
    }
  }

  /** Asks the servers in turn until one answers, every one has failed for good, or the time is up. */
  async #ask(name: string, type: DnsRecordType, query: string): Promise<DnsAnswer> {
    const deadline = Date.now() + this.#timeoutMs;
    let alive = [...this.servers];
    const outcomes: string[] = [];
    let last: DnsFailure = "TIMEOUT";
    let timedOut = false;
    while (alive.length > 0) {
      for (const server of [...alive]) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) {
          timedOut = true;
          break;
        }
        const result = await this.#exchange(server, name, type, Math.min(TRY_TIMEOUT_MS, remaining));
        if ("response" in result) return this.#answer(name, type, result.response);
        outcomes.push(`${nameServerText(server)} ${result.detail}`);
        if (result.failure !== "TIMEOUT") last = result.failure;
        if (result.final) alive = alive.filter((s) => s !== server);
      }
      if (timedOut) break;
    }
    if (timedOut && last === "TIMEOUT") {
      throw new DnsError(
        "TIMEOUT",
        query,
        `no answer within ${this.#timeoutMs / 1000} s (${summarize(outcomes)})`,
      );
    }
    throw new DnsError(last, query, summarize(outcomes));
  }

  /** One try at one server: UDP, then TCP when the answer was truncated. */
  async #exchange(
    server: NameServer,
    name: string,
    type: DnsRecordType,
    timeoutMs: number,
  ): Promise<Exchange> {
    const id = randomInt(0, 65536);
    const message = packet.encode({
      type: "query",
      id,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type, name, class: "IN" }],
      additionals: [{ type: "OPT", name: ".", udpPayloadSize: UDP_PAYLOAD, flags: 0 } as packet.Answer],
    });
    const started = Date.now();
    let response: DnsMessage;
    try {
      this.queriesSent++;
      response = await udpExchange(server, message, (p) => isResponseTo(p, id, name, type), timeoutMs);
      if (response.flag_tc) {
        const left = timeoutMs - (Date.now() - started);
        if (left <= 0) throw new TryTimeout();
        response = await tcpExchange(server, message, left);
        if (!isResponseTo(response, id, name, type)) {
          return { failure: "BADRESPONSE", detail: "answered another question over TCP", final: true };
        }
      }
    } catch (error) {
      if (error instanceof TryTimeout) return { failure: "TIMEOUT", detail: "timed out", final: false };
      const code = (error as NodeJS.ErrnoException).code;
      const detail = code === "ECONNREFUSED" ? "refused the connection (is it running?)" : String(error);
      return { failure: "UNREACHABLE", detail, final: true };
    }
    const rcode = response.rcode ?? "NOERROR";
    if (rcode === "NOERROR" || rcode === "NXDOMAIN") return { response };
    const failure: DnsFailure =
      rcode === "SERVFAIL" || rcode === "REFUSED" || rcode === "FORMERR" || rcode === "NOTIMP"
        ? rcode
        : "RCODE";
    return { failure, detail: `answered ${rcode}`, final: true };
  }

  #answer(name: string, type: DnsRecordType, response: DnsMessage): DnsAnswer {
    let ttl = Number.POSITIVE_INFINITY;
    const records: string[] = [];
    const bytes: Buffer[] = [];
    let status: DnsAnswer["status"] = response.rcode === "NXDOMAIN" ? "nxdomain" : "nodata";
    if (status === "nodata") {
      // Follow the CNAME chain from the name asked for through the answer section.
      let current = name;
      const answers = response.answers ?? [];
      for (let hop = 0; hop <= MAX_CNAME_HOPS && records.length === 0; hop++) {
        let next: string | undefined;
        for (const record of answers) {
          if (record.type === "OPT" || normalizeName(record.name) !== current) continue;
          if (record.type === type) {
            if (record.type === "TXT") {
              const data = txtBytes(record.data);
              bytes.push(data);
              records.push(data.toString("utf8"));
            } else {
              records.push(String(record.data));
            }
            ttl = Math.min(ttl, record.ttl ?? 0);
          } else if (record.type === "CNAME" && next === undefined) {
            next = normalizeName(record.data);
            ttl = Math.min(ttl, record.ttl ?? 0);
          }
        }
        if (records.length > 0 || next === undefined) break;
        current = next;
      }
      if (records.length > 0) status = "answer";
    }
    if (status !== "answer") ttl = this.#negativeTtlOf(response);
    const partial = { name, type, status, records, ...(type === "TXT" ? { bytes } : {}) };
    let capped = Math.min(ttl, this.#maxTtl);
    if (this.#ttlCap) capped = Math.min(capped, this.#ttlCap(partial));
    return { ...partial, ttl: Math.max(0, Math.floor(capped)) };
  }

  /** RFC 2308: the smaller of the SOA record's TTL and its minimum field; the default without SOA. */
  #negativeTtlOf(response: DnsMessage): number {
    for (const record of response.authorities ?? []) {
      if (record.type === "SOA") return Math.min(record.ttl ?? 0, record.data.minimum ?? 0);
    }
    return this.#negativeTtl;
  }
}

function summarize(outcomes: readonly string[]): string {
  return outcomes.length > 0 ? [...new Set(outcomes)].join("; ") : "no name server to ask";
}

function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

/** Labels of 1–63 octets, 253 in all (dns-packet would write anything). */
function isEncodableName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  // Non-ASCII names must be IDNA-encoded by the caller.
  if (!/^[\x21-\x7e]+$/.test(name)) return false;
  return name.split(".").every((label) => label.length > 0 && label.length <= 63);
}

/** dns-packet hands a TXT record's strings over as Buffers: one record, one byte sequence. */
function txtBytes(data: packet.TxtData): Buffer {
  const parts = Array.isArray(data) ? data : [data];
  return Buffer.concat(parts.map((d) => (typeof d === "string" ? Buffer.from(d) : d)));
}

function isResponseTo(p: DnsMessage, id: number, name: string, type: DnsRecordType): boolean {
  const question = p.questions?.[0];
  return (
    p.type === "response" &&
    p.id === id &&
    question !== undefined &&
    question.type === type &&
    normalizeName(question.name) === name
  );
}

/**
 * Sends a query from a fresh socket (a random source port each time) connected to the server, so ICMP
 * "port unreachable" comes back as ECONNREFUSED; waits for the first packet `accept`s.
 */
function udpExchange(
  server: NameServer,
  message: Buffer,
  accept: (p: DnsMessage) => boolean,
  timeoutMs: number,
): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(server.host) ? "udp6" : "udp4");
    let done = false;
    const finish = (error: unknown, response?: DnsMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (response) resolve(response);
      else reject(error);
    };
    const timer = setTimeout(() => finish(new TryTimeout()), timeoutMs);
    socket.on("error", (error) => finish(error));
    socket.on("message", (data) => {
      let response: DnsMessage;
      try {
        response = packet.decode(data);
      } catch {
        return; // not a DNS message: keep waiting for the real answer
      }
      if (accept(response)) finish(undefined, response);
    });
    socket.connect(server.port, server.host, () => {
      socket.send(message, (error) => {
        if (error) finish(error);
      });
    });
  });
}

/** DNS over TCP: a two-byte length before each message. */
function tcpExchange(server: NameServer, message: Buffer, timeoutMs: number): Promise<DnsMessage> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: server.host, port: server.port });
    const chunks: Buffer[] = [];
    let received = 0;
    let done = false;
    const finish = (error: unknown, response?: DnsMessage) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (response) resolve(response);
      else reject(error);
    };
    const timer = setTimeout(() => finish(new TryTimeout()), timeoutMs);
    socket.on("error", (error) => finish(error));
    socket.on("close", () => finish(new Error("the server closed the TCP connection before answering")));
    socket.on("connect", () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on("data", (data: Buffer) => {
      chunks.push(data);
      received += data.length;
      if (received < 2) return;
      const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      const length = all.readUInt16BE(0);
      if (received < length + 2) return;
      try {
        finish(undefined, packet.decode(all.subarray(2, 2 + length)));
      } catch (error) {
        finish(new Error(`unreadable answer over TCP: ${(error as Error).message}`));
      }
    });
  });
}

/** Calls `apply` with the values: at once when none is a promise (the cached case), else when all are. */
export function whenAll<T, R>(
  values: ReadonlyArray<T | Promise<T>>,
  apply: (values: T[]) => R,
): R | Promise<R> {
  for (const value of values) {
    if (value instanceof Promise) return Promise.all(values).then(apply);
  }
  return apply(values as T[]);
}

/** A resolver configured from a DNS expert's parameters. */
export function resolverFromParameters(
  params: ResolverParameters,
  options: {
    maxTtl: number;
    cacheName: string;
    metrics: BotMetricsSink;
    ttlCap?: ResolverOptions["ttlCap"];
  },
): DnsResolver {
  return new DnsResolver({
    nameservers: params.nameservers,
    timeoutSeconds: params.dns_timeout,
    negativeTtl: params.negative_cache_ttl,
    ...options,
  });
}
