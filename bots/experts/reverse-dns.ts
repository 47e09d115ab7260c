// Sets source/destination.reverse_dns from the PTR record of source/destination.ip, as IntelMQ's
// reverse DNS expert does: the first PTR name that is a valid FQDN. Answers are cached for their DNS TTL
// (see sdk/dns.ts), capped by redis_cache_ttl; answers without a usable name for
// cache_ttl_invalid_response.
import { z } from "zod";
import { type Event, fieldDefinition } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import {
  type DnsAnswer,
  ignoredRedisParameters,
  lookupFailureParameter,
  resolverFromParameters,
  resolverParameters,
  reverseName,
  whenAll,
} from "../../bot-runtime/src/sdk/dns.ts";

export const CACHE_NAME = "dns_ptr";

const parameters = z.object({
  overwrite: z
    .boolean()
    .default(false)
    .describe("Look up and replace reverse_dns values that are already set."),
  cache_ttl_invalid_response: z
    .number()
    .int()
    .nonnegative()
    .default(60)
    .describe("Seconds an answer whose PTR names are none of them a valid FQDN stays cached."),
  redis_cache_ttl: z
    .number()
    .int()
    .positive()
    .default(86400)
    .describe("Longest time (s) an answer stays cached; a shorter DNS TTL counts (IntelMQ's name)."),
  ...ignoredRedisParameters(7),
  ...resolverParameters,
  on_lookup_failure: lookupFailureParameter,
});

const SIDES = [
  { ip: "source.ip", reverseDns: "source.reverse_dns" },
  { ip: "destination.ip", reverseDns: "destination.reverse_dns" },
] as const;

const FQDN = fieldDefinition("Event", "source.reverse_dns")?.type;

/** The first PTR name that is a valid FQDN once sanitized (IntelMQ's check), sanitized; or null. */
function usableName(records: readonly string[]): string | null {
  for (const record of records) {
    const value = FQDN?.sanitize(record);
    if (value !== undefined && value !== null && FQDN?.isValid(value)) return value as string;
  }
  return null;
}

export default defineExpert({
  id: "experts.reverse_dns",
  intelmqModules: ["intelmq.bots.experts.reverse_dns.expert"],
  kind: "expert",
  description: `Sets source/destination.reverse_dns from the PTR record of the IP address (the first valid name). Answers are cached in memory for their DNS TTL, capped by redis_cache_ttl; cache lookups are counted as petrel_bot_cache_lookups_total{cache="${CACHE_NAME}"}.`,
  parameters,
  deviations: [
    {
      id: "dns-ttl-cache",
      summary:
        "Answers are cached for their DNS TTL (negative answers for the SOA's negative TTL or negative_cache_ttl), capped by redis_cache_ttl, in the bot's memory; IntelMQ 3.5 keeps every answer for redis_cache_ttl in Redis (its shorter TTLs are computed but not applied).",
      reason:
        "A PTR record that changes is seen again after its TTL, as with any DNS cache; no Redis to run.",
    },
    {
      id: "lookup-failure-not-cached",
      summary:
        "SERVFAIL, REFUSED, timeouts and unreachable servers fail the event (on_lookup_failure: fail) or pass it on without reverse_dns (skip), and are never cached; IntelMQ passes the event on and caches the failure for redis_cache_ttl.",
      reason:
        "A short outage of the name server should not leave addresses without reverse_dns for a day; a failed event is retried by the runtime.",
    },
  ],
  create(params, ctx) {
    const invalidTtl = params.cache_ttl_invalid_response;
    const resolver = resolverFromParameters(params, {
      maxTtl: params.redis_cache_ttl,
      cacheName: CACHE_NAME,
      metrics: ctx.metrics,
      ttlCap: (answer) =>
        answer.status === "answer" && usableName(answer.records) === null
          ? invalidTtl
          : Number.POSITIVE_INFINITY,
    });
    const names = new WeakMap<DnsAnswer, string | null>();
    const nameOf = (answer: DnsAnswer): string | null => {
      let name = names.get(answer);
      if (name === undefined) {
        name = answer.status === "answer" ? usableName(answer.records) : null;
        names.set(answer, name);
      }
      return name;
    };
    const skipFailures = params.on_lookup_failure === "skip";
    const lookup = (query: string): DnsAnswer | undefined | Promise<DnsAnswer | undefined> => {
      const answer = resolver.lookup(query, "PTR");
      if (!skipFailures || !(answer instanceof Promise)) return answer;
      return answer.catch((error: unknown) => {
        ctx.log.warn({ err: error }, "reverse DNS lookup failed; the event goes on without reverse_dns");
        return undefined;
      });
    };
    const overwrite = params.overwrite;
    return {
      process(event: Event) {
        const answers: Array<DnsAnswer | undefined | Promise<DnsAnswer | undefined>> = [];
        for (const side of SIDES) {
          const ip = event.get(side.ip);
          const query =
            typeof ip === "string" && (overwrite || !event.has(side.reverseDns))
              ? reverseName(ip)
              : undefined;
          answers.push(query === undefined ? undefined : lookup(query));
        }
        return whenAll(answers, (done) => {
          for (let i = 0; i < SIDES.length; i++) {
            const answer = done[i];
            const name = answer === undefined ? null : nameOf(answer);
            if (name !== null) {
              event.add((SIDES[i] as (typeof SIDES)[number]).reverseDns, name, {
                overwrite,
                sanitize: false,
              });
            }
          }
          return event;
        });
      },
    };
  },
});
