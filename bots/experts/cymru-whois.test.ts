import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import {
  type DnsmasqOptions,
  type ExpertOracleResult,
  intelmqExperts,
  petrelExpertsInNamespace,
  startDnsmasq,
  startSilentNameServer,
} from "../../bot-runtime/test-support/dnsmasq.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import cymru, { ASN_CACHE, ORIGIN_CACHE, originQuery, repairAsName } from "./cymru-whois.ts";
import { countingContext, dnsExpertTools, dnsmasqForTests } from "./test-support/dns-expert.ts";

const INTELMQ_MODULE = "intelmq.bots.experts.cymru_whois.expert";
const PETREL_FILE = "bots/experts/cymru-whois.ts";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const txt = (name: string, text: string) => `txt-record=${name},"${text.replaceAll('"', '\\"')}"`;
const origin = (ip: string, text: string) => txt(originQuery(ip) as string, text);
const asName = (asn: number, text: string) => txt(`AS${asn}.asn.cymru.com`, text);

/** Cymru's answers for the test addresses (unknown ones: NXDOMAIN; 192.0.2.7: SERVFAIL). */
const RECORDS = [
  // Two networks: the more specific one counts.
  origin("192.0.2.1", "64496 | 192.0.2.0/24 | NL | ripencc | 2001-02-03"),
  origin("192.0.2.1", "64497 | 192.0.0.0/16 | DE | arin | 1999-02-03"),
  asName(64496, "64496 | NL | ripencc | 2001-02-03 | EXAMPLE-AS Example, NL"),
  asName(64497, "64497 | DE | arin | 1999-02-03 | OTHER-AS, DE"),
  // Several ASNs announce the network: the first counts.
  origin("192.0.2.2", "64496 64497 | 192.0.2.0/24 | NL | ripencc | 2001-02-03"),
  // NA and empty fields, registry "other", an AS name Cymru encoded twice ("TelefÃ³nica").
  origin("198.51.100.1", "64498 | 198.51.100.0/24 | NA | other | "),
  asName(64498, "64498 | US | arin | | Telef\u00c3\u00b3nica Double"),
  // An AS name correctly encoded in UTF-8, and one beyond Latin-1.
  origin("198.51.100.2", "64499 | 198.51.100.0/25 | ES | lacnic | 2010-05-06"),
  asName(64499, "64499 | ES | lacnic | 2010-05-06 | Telefónica Correct, ES"),
  origin("203.0.113.4", "64502 | 203.0.113.0/24 | RU | ripencc | 2000-01-01"),
  asName(64502, "64502 | RU | ripencc | 2000-01-01 | ROSTELECOM Ростелеком, RU"),
  // No ASN (no AS lookup); quoted fields.
  origin("203.0.113.1", 'NA | "203.0.113.0/24" | AU | apnic | 2005-01-01'),
  // Four fields only: IntelMQ fails the event.
  origin("203.0.113.2", "64500 | 203.0.113.0/24 | AU | apnic"),
  // The AS has no name record.
  origin("203.0.113.3", "64501 | 203.0.113.0/24 | AU | apnic | 2005-01-01"),
  // A registry and a date the fields refuse.
  origin("198.51.100.3", "64496 | 198.51.100.0/24 | NL | foo | 2001-02-03"),
  origin("198.51.100.4", "64496 | 198.51.100.0/24 | NL | ripencc | 2001-02-30"),
  // One answer without a network, one with.
  origin("198.51.100.5", "64496 | NA | NL | ripencc | 2001-02-03"),
  origin("198.51.100.5", "64497 | 198.51.100.0/24 | DE | arin | 1999-02-03"),
  origin("2001:db8::1", "64496 | 2001:db8::/32 | NL | ripencc | 2001-02-03"),
];
const DNS: DnsmasqOptions = {
  localDomains: ["asn.cymru.com"],
  servfailDomains: [originQuery("192.0.2.7") as string, "AS64510.asn.cymru.com"],
  records: [...RECORDS, origin("192.0.2.8", "64510 | 192.0.2.0/24 | NL | ripencc | 2001-02-03")],
};

const EXAMPLE_AS = {
  asn: 64496,
  network: "192.0.2.0/24",
  "geolocation.cc": "NL",
  registry: "RIPE",
  allocated: "2001-02-03T00:00:00+00:00",
  as_name: "EXAMPLE-AS Example, NL",
};
const prefixed = (side: string, fields: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(fields).map(([k, v]) => [`${side}.${k}`, v]));

const { expert, run } = dnsExpertTools(cymru);

describe("experts.cymru_whois", () => {
  const dns = dnsmasqForTests(DNS);

  it("adds the origin fields and the AS name for IPv4 and IPv6 addresses", async () => {
    const bot = await expert({ nameservers: dns.nameserver });
    expect(await run(bot, { "source.ip": "192.0.2.1", "destination.ip": "2001:db8::1" })).toEqual({
      "source.ip": "192.0.2.1",
      "destination.ip": "2001:db8::1",
      ...prefixed("source", EXAMPLE_AS),
      ...prefixed("destination", { ...EXAMPLE_AS, network: "2001:db8::/32" }),
    });
    expect(await run(bot, { "source.ip": "198.51.100.1" })).toEqual({
      "source.ip": "198.51.100.1",
      "source.asn": 64498,
      "source.network": "198.51.100.0/24",
      "source.as_name": "Telefónica Double",
    });
    expect(await run(bot, { "destination.ip": "203.0.113.1" })).toEqual({
      "destination.ip": "203.0.113.1",
      "destination.network": "203.0.113.0/24",
      "destination.geolocation.cc": "AU",
      "destination.registry": "APNIC",
      "destination.allocated": "2005-01-01T00:00:00+00:00",
    });
    // Unknown addresses, IPv4-mapped ones (IntelMQ builds no query for them) and events without one pass.
    for (const fields of [
      { "source.ip": "192.0.2.99" },
      { "source.ip": "::ffff:1.2.3.4" },
      { "source.fqdn": "x.test" },
    ]) {
      expect(await run(bot, fields)).toEqual(new Event({ __type: "Event", ...fields }).toDict());
    }
  });

  it("keeps existing values unless overwrite is set", async () => {
    const existing = { "source.ip": "192.0.2.1", "source.asn": 1, "source.geolocation.cc": "AT" };
    const kept = await run(await expert({ nameservers: dns.nameserver }), existing);
    expect(kept).toMatchObject({
      "source.asn": 1,
      "source.geolocation.cc": "AT",
      "source.network": "192.0.2.0/24",
    });
    const replaced = await run(await expert({ nameservers: dns.nameserver, overwrite: true }), existing);
    expect(replaced).toMatchObject({ "source.asn": 64496, "source.geolocation.cc": "NL" });
  });

  it("fails the event for answers IntelMQ cannot read, naming them", async () => {
    const bot = await expert({ nameservers: dns.nameserver });
    await expect(run(bot, { "source.ip": "203.0.113.2" })).rejects.toThrow(
      `Cymru's answer for ${originQuery("203.0.113.2")} has 4 fields instead of 5: "64500 | 203.0.113.0/24 | AU | apnic"`,
    );
    await expect(run(bot, { "source.ip": "198.51.100.3" })).rejects.toThrow(
      /source\.registry: value "FOO" is not a valid Registry/,
    );
  });

  it("answers repeated addresses from its caches, one AS lookup for all networks of an AS", async () => {
    const ctx = countingContext();
    const bot = await expert({ nameservers: dns.nameserver }, ctx);
    const ips = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "203.0.113.1", "192.0.2.99"];
    const before = dns.queries().length;
    for (let i = 0; i < 1000; i++) await run(bot, { "source.ip": ips[i % ips.length] });
    // Five addresses, one AS name (64496) and nothing else reached the server.
    expect(dns.queries().length - before).toBe(6);
    expect(ctx.lookups(ORIGIN_CACHE)).toEqual({ hit: 995, miss: 5 });
    expect(ctx.lookups(ASN_CACHE)).toEqual({ hit: 599, miss: 1 });
    // Cached events go through synchronously.
    expect(bot.process(new Event({ __type: "Event", "source.ip": "192.0.2.1" }), { id: "x" })).toBeInstanceOf(
      Event,
    );
  });

  it("looks an address up again after the answer's TTL, negative answers included", async () => {
    const auth = await startDnsmasq({
      authoritative: { zones: ["asn.cymru.com"], ttl: 1 },
      records: RECORDS,
    });
    try {
      const bot = await expert({ nameservers: auth.nameserver });
      const counts = () => [
        auth.count(originQuery("192.0.2.1") as string),
        auth.count("AS64496.asn.cymru.com"),
        auth.count(originQuery("192.0.2.99") as string),
      ];
      expect(await run(bot, { "source.ip": "192.0.2.1", "destination.ip": "192.0.2.99" })).toMatchObject(
        prefixed("source", EXAMPLE_AS),
      );
      await run(bot, { "source.ip": "192.0.2.1", "destination.ip": "192.0.2.99" });
      expect(counts()).toEqual([1, 1, 1]);
      await sleep(1200);
      await run(bot, { "source.ip": "192.0.2.1", "destination.ip": "192.0.2.99" });
      expect(counts()).toEqual([2, 2, 2]);
    } finally {
      await auth.dispose();
    }
  });

  it("caches NXDOMAIN without SOA for negative_cache_ttl, capped by redis_cache_ttl", async () => {
    const bot = await expert({ nameservers: dns.nameserver, negative_cache_ttl: 1 });
    const name = originQuery("192.0.2.98") as string;
    await run(bot, { "source.ip": "192.0.2.98" });
    await run(bot, { "source.ip": "192.0.2.98" });
    expect(dns.count(name)).toBe(1);
    await sleep(1200);
    await run(bot, { "source.ip": "192.0.2.98" });
    expect(dns.count(name)).toBe(2);
    const capped = await expert({ nameservers: dns.nameserver, redis_cache_ttl: 1 });
    const other = originQuery("192.0.2.97") as string;
    await run(capped, { "source.ip": "192.0.2.97" });
    await sleep(1200);
    await run(capped, { "source.ip": "192.0.2.97" });
    expect(dns.count(other)).toBe(2);
  });

  it("fails the event when the server fails, never caching it; skip passes the event on", async () => {
    const bot = await expert({ nameservers: dns.nameserver });
    const servfail = originQuery("192.0.2.7") as string;
    await expect(run(bot, { "source.ip": "192.0.2.7" })).rejects.toThrow(
      `DNS lookup of ${servfail} TXT failed: ${dns.nameserver} answered SERVFAIL`,
    );
    await expect(run(bot, { "source.ip": "192.0.2.7" })).rejects.toThrow(/SERVFAIL/);
    expect(dns.count(servfail)).toBe(2);
    const skipping = await expert({ nameservers: dns.nameserver, on_lookup_failure: "skip" });
    expect(await run(skipping, { "source.ip": "192.0.2.7", "destination.ip": "192.0.2.1" })).toEqual({
      "source.ip": "192.0.2.7",
      "destination.ip": "192.0.2.1",
      ...prefixed("destination", EXAMPLE_AS),
    });
    // A failed AS lookup: the origin fields go on without the name.
    expect(await run(skipping, { "source.ip": "192.0.2.8" })).toEqual({
      "source.ip": "192.0.2.8",
      ...prefixed("source", { ...EXAMPLE_AS, asn: 64510, as_name: undefined }),
    });
    await expect(run(bot, { "source.ip": "192.0.2.8" })).rejects.toThrow(
      /AS64510\.asn\.cymru\.com TXT failed/i,
    );
  });

  it("fails the event when the server is down or does not answer", async () => {
    const own = await startDnsmasq(DNS);
    const silent = await startSilentNameServer();
    try {
      const bot = await expert({ nameservers: own.nameserver });
      await own.stop();
      await expect(run(bot, { "source.ip": "192.0.2.1" })).rejects.toThrow(/refused the connection/);
      const mute = await expert({ nameservers: silent.nameserver, dns_timeout: 0.3 });
      await expect(run(mute, { "source.ip": "192.0.2.1" })).rejects.toThrow(
        `DNS lookup of ${originQuery("192.0.2.1")} TXT failed: no answer within 0.3 s (${silent.nameserver} timed out)`,
      );
    } finally {
      await Promise.all([own.dispose(), silent.dispose()]);
    }
  });

  it("enriches cached events at well over 23,500 events/s", async () => {
    const bot = await expert({ nameservers: dns.nameserver });
    const ips = ["192.0.2.1", "192.0.2.2", "2001:db8::1", "198.51.100.1", "203.0.113.1"];
    for (const ip of ips) await run(bot, { "source.ip": ip, "destination.ip": ip });
    const events = Array.from(
      { length: 50_000 },
      (_, i) => new Event({ __type: "Event", "source.ip": ips[i % 5], "destination.ip": ips[(i + 1) % 5] }),
    );
    const started = performance.now();
    for (const e of events) bot.process(e, { id: "x" });
    const perSecond = events.length / ((performance.now() - started) / 1000);
    expect(events[49_999]?.get("destination.asn")).toBe(64496);
    expect(perSecond).toBeGreaterThan(23_500);
  });

  it("repairs AS names encoded twice and keeps others", () => {
    expect(repairAsName("Telef\u00c3\u00b3nica")).toBe("Telefónica");
    expect(repairAsName("Telefónica")).toBe("Telefónica");
    expect(repairAsName("Ростелеком")).toBe("Ростелеком");
    expect(repairAsName("EXAMPLE-AS")).toBe("EXAMPLE-AS");
  });

  describe("compared with IntelMQ", () => {
    const events: Record<string, unknown>[] = [
      { "source.ip": "192.0.2.1", "destination.ip": "2001:db8::1" },
      { "source.ip": "192.0.2.2" },
      { "source.ip": "198.51.100.1" },
      { "destination.ip": "203.0.113.1" },
      { "source.ip": "203.0.113.2" },
      { "source.ip": "203.0.113.3" },
      { "source.ip": "192.0.2.99", "destination.ip": "2001:db8:1::1" },
      { "source.ip": "::ffff:1.2.3.4" },
      { "source.ip": "198.51.100.3" },
      { "source.ip": "198.51.100.4" },
      { "source.ip": "198.51.100.5" },
      { "source.ip": "192.0.2.1", "source.asn": 1, "source.geolocation.cc": "AT" },
      { "source.fqdn": "example.test" },
    ];
    const cases = [
      ...events.map((event) => ({ module: INTELMQ_MODULE, params: {}, event })),
      ...events
        .slice(11, 12)
        .map((event) => ({ module: INTELMQ_MODULE, params: { overwrite: true }, event })),
    ];
    const outcome = (r: ExpertOracleResult | undefined) => (r?.exception ? "exception" : r?.events);

    it(`gives IntelMQ's results on ${cases.length} events (both with the system resolver)`, async () => {
      const [intelmq, petrel] = await Promise.all([
        intelmqExperts(DNS, cases),
        petrelExpertsInNamespace(
          DNS,
          cases.map((c) => ({ ...c, module: PETREL_FILE })),
        ),
      ]);
      for (let i = 0; i < cases.length; i++) {
        expect(outcome(petrel.results[i]), JSON.stringify(cases[i])).toEqual(outcome(intelmq.results[i]));
      }
      // Both failed on the short answer, the registry and the date; IntelMQ for its own reasons.
      expect(intelmq.results.filter((r) => r.exception).map((r) => r.exception?.split(":")[0])).toEqual([
        "IndexError",
        "InvalidValue",
        "InvalidValue",
      ]);
    });

    it(`deviation ${declaredDeviation(cymru, "as-name-encoding")}: names that are not encoded twice are kept`, async () => {
      const odd = [{ "source.ip": "198.51.100.2" }, { "source.ip": "203.0.113.4" }];
      const intelmq = await intelmqExperts(
        DNS,
        odd.map((event) => ({ module: INTELMQ_MODULE, params: {}, event })),
      );
      expect(intelmq.results[0]?.exception).toMatch(/^UnicodeDecodeError/);
      expect(intelmq.results[1]?.events?.[0]?.["source.as_name"]).toBe("ROSTELECOM , RU");
      const bot = await expert({ nameservers: dns.nameserver });
      expect((await run(bot, odd[0] as Record<string, unknown>))["source.as_name"]).toBe(
        "Telefónica Correct, ES",
      );
      expect((await run(bot, odd[1] as Record<string, unknown>))["source.as_name"]).toBe(
        "ROSTELECOM Ростелеком, RU",
      );
    });

    it(`deviation ${declaredDeviation(cymru, "lookup-failure-not-cached")}: a SERVFAIL fails the event and is asked again`, async () => {
      const servfail = { module: INTELMQ_MODULE, params: {}, event: { "source.ip": "192.0.2.7" } };
      const skip = { ...servfail, params: { on_lookup_failure: "skip" } };
      const [intelmq, petrel, petrelSkipping] = await Promise.all([
        intelmqExperts(DNS, [servfail, servfail]),
        petrelExpertsInNamespace(
          DNS,
          [servfail, servfail].map((c) => ({ ...c, module: PETREL_FILE })),
        ),
        petrelExpertsInNamespace(
          DNS,
          [skip, skip].map((c) => ({ ...c, module: PETREL_FILE })),
        ),
      ]);
      const name = originQuery("192.0.2.7");
      const asked = (queries: { name: string }[]) => queries.filter((q) => q.name === name).length;
      // IntelMQ passes the event on and remembers the failure: the second event asks nothing.
      expect(intelmq.results.map(outcome)).toEqual([
        [{ "source.ip": "192.0.2.7" }],
        [{ "source.ip": "192.0.2.7" }],
      ]);
      expect(asked(intelmq.queries)).toBe(1);
      expect(petrel.results.map(outcome)).toEqual(["exception", "exception"]);
      expect(petrel.results[0]?.exception).toMatch(/answered SERVFAIL/);
      expect(asked(petrel.queries)).toBe(2);
      expect(petrelSkipping.results.map(outcome)).toEqual(intelmq.results.map(outcome));
      expect(asked(petrelSkipping.queries)).toBe(2);
    });

    it(`deviation ${declaredDeviation(cymru, "dns-ttl-cache")}: an answer is asked again after its TTL`, async () => {
      const auth: DnsmasqOptions = { authoritative: { zones: ["asn.cymru.com"], ttl: 1 }, records: RECORDS };
      const lookup = { module: INTELMQ_MODULE, params: {}, event: { "source.ip": "192.0.2.1" } };
      const cases = [lookup, { sleep: 1.5 }, lookup];
      const [intelmq, petrel] = await Promise.all([
        intelmqExperts(auth, cases),
        petrelExpertsInNamespace(
          auth,
          cases.map((c) => ("module" in c ? { ...c, module: PETREL_FILE } : c)),
        ),
      ]);
      expect(outcome(petrel.results[2])).toEqual(outcome(intelmq.results[2]));
      const asked = (queries: { name: string }[]) =>
        queries.filter((q) => q.name === originQuery("192.0.2.1")).length;
      expect(asked(intelmq.queries)).toBe(1);
      expect(asked(petrel.queries)).toBe(2);
    });
  });
});
