// Adds asn, network, geolocation.cc, registry, allocated and as_name for source/destination.ip from
// Team Cymru's IP-to-ASN DNS service, as IntelMQ's cymru_whois expert does: a TXT lookup of the reversed
// address under origin.asn.cymru.com (origin6 for IPv6), the most specific network when there are
// several answers, then a TXT lookup of AS<asn>.asn.cymru.com for the AS name. Answers are `|`-separated
// fields: "64496 | 192.0.2.0/24 | NL | ripencc | 2001-02-03" and
// "64496 | NL | ripencc | 2001-02-03 | EXAMPLE-AS Example, NL". Both lookups are cached for their DNS
// TTL (sdk/dns.ts), capped by redis_cache_ttl.
import net from "node:net";
import { z } from "zod";
import { canonicalNetwork } from "../../bot-runtime/src/event/compat/ipaddress.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { type Event, fieldDefinition } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import {
  type DnsAnswer,
  ignoredRedisParameters,
  ipv6Bytes,
  ipv6Nibbles,
  isV4Mapped,
  lookupFailureParameter,
  resolverFromParameters,
  resolverParameters,
  whenAll,
} from "../../bot-runtime/src/sdk/dns.ts";

export const ORIGIN_CACHE = "cymru_origin";
export const ASN_CACHE = "cymru_asn";

const parameters = z.object({
  overwrite: z.boolean().default(false).describe("Replace values that are already set."),
  redis_cache_ttl: z
    .number()
    .int()
    .positive()
    .default(86400)
    .describe("Longest time (s) an answer stays cached; a shorter DNS TTL counts (IntelMQ's name)."),
  ...ignoredRedisParameters(5),
  ...resolverParameters,
  on_lookup_failure: lookupFailureParameter,
});

/** The name to ask for an address's origin, or undefined where IntelMQ builds no valid query. */
export function originQuery(ip: string): string | undefined {
  if (net.isIPv4(ip)) return `${ip.split(".").reverse().join(".")}.origin.asn.cymru.com`;
  const bytes = ipv6Bytes(ip);
  // IntelMQ takes an IPv4-mapped IPv6 address's in-addr.arpa name for an ip6.arpa one: the query it
  // builds is no DNS name and it finds nothing.
  if (bytes === undefined || isV4Mapped(bytes)) return undefined;
  return `${ipv6Nibbles(bytes)}.origin6.asn.cymru.com`;
}

const UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** A TXT record's text; undecodable bytes fail the event, as in IntelMQ. */
function decodeRecord(bytes: Buffer, query: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new Error(`Cymru's answer for ${query} is not UTF-8: ${JSON.stringify(bytes.toString("latin1"))}`);
  }
}

/** The five fields of an answer: quotes removed, stripped, "NA" and "" as null. */
function fieldsOf(text: string, query: string): Array<string | null> {
  const items = text.split("|").map((item) => {
    const value = pyStrip(item.replaceAll('"', ""));
    return value === "NA" || value === "" ? null : value;
  });
  if (items.length < 5) {
    throw new Error(
      `Cymru's answer for ${query} has ${items.length} fields instead of 5: ${JSON.stringify(text)}`,
    );
  }
  return items;
}

/** What Python's int() accepts (the first of several ASNs must be one). */
const PY_INT = /^\s*[+-]?\p{Nd}+(?:_\p{Nd}+)*\s*$/u;

type FieldName = "asn" | "network" | "geolocation.cc" | "registry" | "allocated" | "as_name";

/** A value for `source.<name>`/`destination.<name>`, sanitized once; `sanitized` undefined when invalid. */
interface Value {
  readonly name: FieldName;
  readonly raw: string;
  readonly sanitized: unknown;
}

function value(name: FieldName, raw: string): Value {
  const type = fieldDefinition("Event", `source.${name}`)?.type;
  const sanitized = type?.sanitize(raw);
  return { name, raw, sanitized: sanitized !== null && type?.isValid(sanitized) ? sanitized : undefined };
}

interface Origin {
  /** The ASN as answered, for the AS lookup. */
  readonly asn?: string;
  readonly network?: string;
  readonly values: readonly Value[];
}

function parseOrigin(text: string, query: string): Origin {
  if (text === "") return { values: [] };
  const [asField, network, cc, registry, allocated] = fieldsOf(text, query);
  const values: Value[] = [];
  let asn: string | undefined;
  if (asField) {
    const first = asField.split(" ")[0] as string;
    if (PY_INT.test(first)) {
      asn = first;
      values.push(value("asn", first));
    }
  }
  if (network) values.push(value("network", network));
  if (cc) values.push(value("geolocation.cc", cc));
  if (registry && registry !== "other") values.push(value("registry", registry));
  if (allocated) values.push(value("allocated", `${allocated}T00:00:00+00:00`));
  return { ...(asn === undefined ? {} : { asn }), ...(network ? { network } : {}), values };
}

function networkSize(network: string, query: string): bigint {
  const parsed = canonicalNetwork(network, true);
  if (!parsed)
    throw new Error(`Cymru's answer for ${query} has an invalid network: ${JSON.stringify(network)}`);
  return parsed.numAddresses;
}

/** The answer IntelMQ picks: the first, replaced by any later one with a smaller network. */
function chooseOrigin(answer: DnsAnswer): Origin | null {
  let chosen: Origin | undefined;
  for (const bytes of answer.bytes ?? []) {
    const origin = parseOrigin(decodeRecord(bytes, answer.name), answer.name);
    if (chosen === undefined || (origin.network !== undefined && chosen.network === undefined)) {
      chosen = origin;
    } else if (
      origin.network !== undefined &&
      chosen.network !== undefined &&
      networkSize(origin.network, answer.name) < networkSize(chosen.network, answer.name)
    ) {
      chosen = origin;
    }
  }
  return chosen === undefined || chosen.values.length === 0 ? null : chosen;
}

/**
 * IntelMQ re-decodes the AS name (read as UTF-8) from Latin-1 as UTF-8, which repairs names Cymru sends
 * encoded twice ("TelefÃ³nica"). Petrel repairs such names too and keeps any other name as it came.
 */
export function repairAsName(name: string): string {
  const bytes = Buffer.alloc(name.length);
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code > 0xff) return name;
    bytes[i] = code;
  }
  try {
    return UTF8.decode(bytes);
  } catch {
    return name;
  }
}

function parseAsName(answer: DnsAnswer): Value | null {
  const first = answer.bytes?.[0];
  if (first === undefined) return null;
  const text = decodeRecord(first, answer.name);
  if (text === "") return null;
  const name = fieldsOf(text, answer.name)[4];
  if (!name) return null;
  const repaired = repairAsName(name);
  return repaired === "" ? null : value("as_name", repaired);
}

const SIDES = ["source", "destination"] as const;
const IP_KEYS = ["source.ip", "destination.ip"] as const;
const KEYS: Record<(typeof SIDES)[number], Record<FieldName, string>> = {
  source: keysOf("source"),
  destination: keysOf("destination"),
};
function keysOf(side: string): Record<FieldName, string> {
  const names: FieldName[] = ["asn", "network", "geolocation.cc", "registry", "allocated", "as_name"];
  return Object.fromEntries(names.map((n) => [n, `${side}.${n}`])) as Record<FieldName, string>;
}

interface Result {
  readonly origin: Origin;
  readonly asName: Value | null;
}

export default defineExpert({
  id: "experts.cymru_whois",
  intelmqModules: ["intelmq.bots.experts.cymru_whois.expert"],
  kind: "expert",
  description: `Adds asn, network, geolocation.cc, registry, allocated and as_name for source/destination.ip from Team Cymru's IP-to-ASN DNS service (origin.asn.cymru.com, origin6.asn.cymru.com, AS<n>.asn.cymru.com). Answers are cached in memory for their DNS TTL, capped by redis_cache_ttl; cache lookups are counted as petrel_bot_cache_lookups_total{cache="${ORIGIN_CACHE}"} (address lookups) and {cache="${ASN_CACHE}"} (AS name lookups).`,
  parameters,
  deviations: [
    {
      id: "dns-ttl-cache",
      summary:
        "Answers are cached for their DNS TTL (negative answers for the SOA's negative TTL or negative_cache_ttl), capped by redis_cache_ttl, in the bot's memory, per lookup (an AS name once for all its networks); IntelMQ keeps each address's result for redis_cache_ttl in Redis.",
      reason: "Routing data changes; Cymru's TTLs say for how long an answer holds. No Redis to run.",
    },
    {
      id: "lookup-failure-not-cached",
      summary:
        "SERVFAIL, REFUSED, timeouts and unreachable servers fail the event (on_lookup_failure: fail) or pass it on without the fields (skip), and are never cached; IntelMQ passes the event on without them and caches the empty result for redis_cache_ttl.",
      reason:
        "A short outage of the name server should not leave addresses without ASN data for a day; a failed event is retried by the runtime.",
    },
    {
      id: "as-name-encoding",
      summary:
        'An AS name that is not Latin-1 text encoded twice is kept as it came; IntelMQ\'s repair then fails the event (a name correctly encoded in UTF-8, "Telefónica") or drops every character beyond Latin-1.',
      reason: "The repair is for names Cymru sends encoded twice; correctly encoded names need none.",
    },
  ],
  create(params, ctx) {
    const common = { maxTtl: params.redis_cache_ttl, metrics: ctx.metrics };
    const origins = resolverFromParameters(params, { ...common, cacheName: ORIGIN_CACHE });
    const asNames = resolverFromParameters(params, { ...common, cacheName: ASN_CACHE });
    const chosen = new WeakMap<DnsAnswer, Origin | null>();
    const parsedAsNames = new WeakMap<DnsAnswer, Value | null>();
    const skipFailures = params.on_lookup_failure === "skip";
    const overwrite = params.overwrite;

    const skipped =
      <T>(what: string, fallback: T) =>
      (error: unknown): T => {
        ctx.log.warn({ err: error }, `Cymru ${what} lookup failed; the event goes on without its fields`);
        return fallback;
      };
    const originOf = (answer: DnsAnswer): Origin | null => {
      let origin = chosen.get(answer);
      if (origin === undefined) {
        origin = answer.status === "answer" ? chooseOrigin(answer) : null;
        chosen.set(answer, origin);
      }
      return origin;
    };
    const asNameOf = (answer: DnsAnswer | null): Value | null => {
      if (answer === null) return null;
      let name = parsedAsNames.get(answer);
      if (name === undefined) {
        name = answer.status === "answer" ? parseAsName(answer) : null;
        parsedAsNames.set(answer, name);
      }
      return name;
    };
    const withAsName = (origin: Origin | null): Result | null | Promise<Result | null> => {
      if (origin === null) return null;
      if (origin.asn === undefined) return { origin, asName: null };
      let answer: DnsAnswer | null | Promise<DnsAnswer | null> = asNames.lookup(
        `AS${origin.asn}.asn.cymru.com`,
        "TXT",
      );
      if (answer instanceof Promise) {
        if (skipFailures) answer = answer.catch(skipped("AS name", null));
        return answer.then((a) => ({ origin, asName: asNameOf(a) }));
      }
      return { origin, asName: asNameOf(answer) };
    };
    const lookup = (ip: string): Result | null | Promise<Result | null> => {
      const query = originQuery(ip);
      if (query === undefined) return null;
      const answer = origins.lookup(query, "TXT");
      if (!(answer instanceof Promise)) return withAsName(originOf(answer));
      const result = answer.then((a) => withAsName(originOf(a)));
      return skipFailures ? result.catch(skipped("origin", null)) : result;
    };
    const apply = (event: Event, keys: Record<FieldName, string>, v: Value) => {
      if (v.sanitized === undefined)
        event.add(keys[v.name], v.raw, { overwrite }); // throws, naming the value
      else event.add(keys[v.name], v.sanitized, { overwrite, sanitize: false });
    };

    return {
      process(event: Event) {
        const results: Array<Result | null | Promise<Result | null>> = [];
        for (const key of IP_KEYS) {
          const ip = event.get(key);
          results.push(typeof ip === "string" ? lookup(ip) : null);
        }
        return whenAll(results, (done) => {
          for (let i = 0; i < SIDES.length; i++) {
            const result = done[i];
            if (!result) continue;
            const keys = KEYS[SIDES[i] as (typeof SIDES)[number]];
            for (const v of result.origin.values) apply(event, keys, v);
            if (result.asName) apply(event, keys, result.asName);
          }
          return event;
        });
      },
    };
  },
});
