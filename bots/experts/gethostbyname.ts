// Sets source/destination.ip from the A record of source/destination.fqdn (or the host of .url), as
// IntelMQ's gethostbyname expert does. IntelMQ asks the C library (gethostbyname: /etc/hosts, then DNS);
// Petrel reads /etc/hosts too unless `nameservers` is set, then asks DNS itself (sdk/dns.ts) and caches
// answers for their TTL. Lookup failures carry the C library's error number (gaierror), so
// gaierrors_to_ignore means what it means in IntelMQ.

import net from "node:net";
import { z } from "zod";
import { idnaEncode } from "../../bot-runtime/src/event/compat/idna.ts";
import { urlHostname, urlsplit } from "../../bot-runtime/src/event/compat/urlsplit.ts";
import { type Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import {
  type DnsAnswer,
  DnsError,
  type DnsFailure,
  readHostsFile,
  resolverFromParameters,
  resolverParameters,
  whenAll,
} from "../../bot-runtime/src/sdk/dns.ts";

export const CACHE_NAME = "dns_a";
/** Longest time (s) an answer stays cached: IntelMQ caches nothing, the system resolver may. */
export const MAX_CACHE_TTL = 86400;

/** getaddrinfo error numbers (glibc) IntelMQ always ignores: no such name, no address, … */
export const ALWAYS_IGNORED = [-2, -4, -5, -8, -11] as const;
const EAI_NONAME = -2;
const EAI_AGAIN = -3;
const EAI_FAIL = -4;
const EAI_NODATA = -5;

/**
 * The error number glibc's getaddrinfo reports for a DNS outcome (checked against glibc in the test):
 * no name -2, no data -5, SERVFAIL, REFUSED, timeouts and unreachable servers -3, other errors -4.
 */
export function gaiErrorOf(outcome: DnsAnswer["status"] | DnsFailure): number {
  switch (outcome) {
    case "nxdomain":
    case "BADNAME":
      return EAI_NONAME;
    case "nodata":
      return EAI_NODATA;
    case "SERVFAIL":
    case "REFUSED":
    case "TIMEOUT":
    case "UNREACHABLE":
      return EAI_AGAIN;
    default:
      return EAI_FAIL;
  }
}

const errorList = z.union([z.string(), z.number().int(), z.array(z.union([z.string(), z.number().int()]))]);

const parameters = z.object({
  fallback_to_url: z
    .boolean()
    .default(true)
    .describe("Without an fqdn, resolve the host name of the url (source.url, destination.url)."),
  gaierrors_to_ignore: errorList
    .nullable()
    .default(null)
    .refine(
      (value) => errorNumbers(value).every((n) => Number.isInteger(n)),
      'must be getaddrinfo error numbers, e.g. [-3] or "-3,-2"',
    )
    .describe(
      "getaddrinfo error numbers (a list, or comma-separated) to ignore besides -2, -4, -5, -8 and -11, which are always ignored; e.g. -3 (temporary failure: SERVFAIL, timeout). Other errors fail the event.",
    ),
  overwrite: z.boolean().default(false).describe("Resolve and replace ip values that are already set."),
  ...resolverParameters,
});

function errorNumbers(value: z.output<typeof errorList> | null): number[] {
  if (value === null || value === "" || (Array.isArray(value) && value.length === 0)) return [];
  const items = Array.isArray(value) ? value : String(value).split(",");
  return items.map((item) =>
    typeof item === "number" ? item : /^\s*[+-]?\d+\s*$/.test(item) ? Number(item) : Number.NaN,
  );
}

const SIDES = [
  { fqdn: "source.fqdn", url: "source.url", ip: "source.ip" },
  { fqdn: "destination.fqdn", url: "destination.url", ip: "destination.ip" },
] as const;

/** The host of a URL to resolve: none when it is an IP address (IntelMQ's URL.to_domain_name). */
function urlHost(url: string): string | undefined {
  let host: string | undefined;
  try {
    host = urlHostname(urlsplit(url).netloc);
  } catch {
    return undefined;
  }
  if (host === undefined || net.isIP(host) !== 0) return undefined;
  try {
    return idnaEncode(host).toLowerCase();
  } catch {
    return host;
  }
}

/** A failed lookup that IntelMQ would raise (gaierror not ignored). */
export class GaiError extends Error {
  readonly errno: number;
  constructor(errno: number, host: string, cause: string) {
    super(`gethostbyname(${JSON.stringify(host)}) failed with getaddrinfo error ${errno}: ${cause}`);
    this.name = "GaiError";
    this.errno = errno;
  }
}

export default defineExpert({
  id: "experts.gethostbyname",
  intelmqModules: ["intelmq.bots.experts.gethostbyname.expert"],
  kind: "expert",
  description: `Resolves source/destination.fqdn (or the host of the url) to its IPv4 address in source/destination.ip, reading /etc/hosts first unless nameservers is set, as the C library does. Answers are cached in memory for their DNS TTL (at most ${MAX_CACHE_TTL} s); cache lookups are counted as petrel_bot_cache_lookups_total{cache="${CACHE_NAME}"}.`,
  parameters,
  deviations: [
    {
      id: "url-host-without-port",
      summary:
        "With fallback_to_url, the host name of the URL is resolved; IntelMQ resolves the URL's whole netloc, so a URL with a port or user name (http://example.com:8080/) gets no ip there.",
      reason: 'The host is what the URL names; "example.com:8080" is no name any resolver can answer.',
    },
    {
      id: "numeric-error-list",
      summary:
        "gaierrors_to_ignore may be a list of numbers ([-3]); IntelMQ takes a number, a comma-separated string or a list of strings, and stops at start on a list of numbers.",
      reason: "A list of numbers is the natural way to write error numbers in YAML.",
    },
    {
      id: "no-search-domains",
      summary:
        'Names are looked up as they are, without the search domains of /etc/resolv.conf; IntelMQ\'s C library tries a single-label name ("intranet") under them.',
      reason:
        "Names in threat data are public names: resolving them under the operator's own domains would attach local addresses to them.",
    },
  ],
  create(params, ctx) {
    const ignored = new Set<number>([...ALWAYS_IGNORED, ...errorNumbers(params.gaierrors_to_ignore)]);
    const resolver = resolverFromParameters(params, {
      maxTtl: MAX_CACHE_TTL,
      cacheName: CACHE_NAME,
      metrics: ctx.metrics,
    });
    // The C library reads /etc/hosts before asking DNS; with servers of its own choosing, Petrel does not.
    const hosts =
      params.nameservers === null || params.nameservers.length === 0 ? readHostsFile() : new Map();
    const overwrite = params.overwrite;
    const fallbackToUrl = params.fallback_to_url;

    /** The address, undefined for an ignored failure; throws GaiError for the others. */
    const outcome = (host: string, answer: DnsAnswer): string | undefined => {
      if (answer.status === "answer") return answer.records[0];
      const errno = gaiErrorOf(answer.status);
      if (ignored.has(errno)) return undefined;
      throw new GaiError(errno, host, answer.status === "nxdomain" ? "no such name" : "no IPv4 address");
    };
    const resolve = (host: string): string | undefined | Promise<string | undefined> => {
      const fromHosts = hosts.get(host.endsWith(".") ? host.slice(0, -1) : host);
      if (fromHosts) return fromHosts[0];
      const answer = resolver.lookup(host, "A");
      if (!(answer instanceof Promise)) return outcome(host, answer);
      return answer.then(
        (a) => outcome(host, a),
        (error: unknown) => {
          if (!(error instanceof DnsError)) throw error;
          const errno = gaiErrorOf(error.failure);
          if (ignored.has(errno)) {
            ctx.log.debug({ err: error, errno }, "ignored lookup failure");
            return undefined;
          }
          throw new GaiError(errno, host, error.message);
        },
      );
    };

    return {
      process(event: Event) {
        const addresses: Array<string | undefined | Promise<string | undefined>> = [];
        for (const side of SIDES) {
          if (!overwrite && event.has(side.ip)) {
            addresses.push(undefined);
            continue;
          }
          let host = event.get(side.fqdn) as string | undefined;
          if (host === undefined && fallbackToUrl) {
            const url = event.get(side.url);
            if (typeof url === "string") host = urlHost(url);
          }
          addresses.push(host === undefined ? undefined : resolve(host));
        }
        return whenAll(addresses, (done) => {
          for (let i = 0; i < SIDES.length; i++) {
            const address = done[i];
            if (address === undefined) continue;
            try {
              event.add((SIDES[i] as (typeof SIDES)[number]).ip, address, { overwrite });
            } catch (error) {
              // IntelMQ adds with raise_failure=False: an address the field refuses is left out.
              if (!(error instanceof FieldError) || error.code !== "InvalidValue") throw error;
            }
          }
          return event;
        });
      },
    };
  },
});
