import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { reverseName } from "../../bot-runtime/src/sdk/dns.ts";
import {
  type DnsmasqOptions,
  type ExpertOracleResult,
  intelmqExperts,
  petrelExpertsInNamespace,
  startDnsmasq,
  startSilentNameServer,
} from "../../bot-runtime/test-support/dnsmasq.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import reverseDns, { CACHE_NAME } from "./reverse-dns.ts";
import { countingContext, dnsExpertTools, dnsmasqForTests } from "./test-support/dns-expert.ts";

const INTELMQ_MODULE = "intelmq.bots.experts.reverse_dns.expert";
const PETREL_FILE = "bots/experts/reverse-dns.ts";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ptr = (ip: string, name: string) => `ptr-record=${reverseName(ip)},${name}`;

const DNS: DnsmasqOptions = {
  localDomains: ["test", "2.0.192.in-addr.arpa", "8.b.d.0.1.0.0.2.ip6.arpa"],
  servfailDomains: [reverseName("192.0.2.7") as string],
  records: [
    "host-record=www.example.test,192.0.2.10,2001:db8::10",
    // An address as PTR target is no valid FQDN: the other name counts.
    ptr("192.0.2.30", "192.0.2.30"),
    ptr("192.0.2.30", "good.example.test"),
    ptr("192.0.2.31", "192.0.2.31"),
  ],
};

const { expert, run } = dnsExpertTools(reverseDns);

describe("experts.reverse_dns", () => {
  const dns = dnsmasqForTests(DNS);

  it("sets reverse_dns from the first valid PTR name, for IPv4 and IPv6", async () => {
    const bot = await expert({ nameservers: dns.nameserver });
    expect(await run(bot, { "source.ip": "192.0.2.10", "destination.ip": "2001:db8::10" })).toEqual({
      "source.ip": "192.0.2.10",
      "destination.ip": "2001:db8::10",
      "source.reverse_dns": "www.example.test",
      "destination.reverse_dns": "www.example.test",
    });
    expect(await run(bot, { "source.ip": "192.0.2.30" })).toMatchObject({
      "source.reverse_dns": "good.example.test",
    });
    // IPv4-mapped addresses are asked under in-addr.arpa.
    expect(await run(bot, { "source.ip": "::ffff:192.0.2.10" })).toMatchObject({
      "source.reverse_dns": "www.example.test",
    });
    for (const fields of [
      { "source.ip": "192.0.2.31" },
      { "source.ip": "192.0.2.99" },
      { "source.fqdn": "x.test" },
    ]) {
      expect(await run(bot, fields)).toEqual(new Event({ __type: "Event", ...fields }).toDict());
    }
  });

  it("looks up and replaces a reverse_dns that is set only with overwrite", async () => {
    const existing = { "source.ip": "192.0.2.10", "source.reverse_dns": "old.example.test" };
    const before = dns.count(reverseName("192.0.2.10") as string);
    expect(await run(await expert({ nameservers: dns.nameserver }), existing)).toEqual(existing);
    expect(dns.count(reverseName("192.0.2.10") as string)).toBe(before);
    expect(await run(await expert({ nameservers: dns.nameserver, overwrite: true }), existing)).toEqual({
      ...existing,
      "source.reverse_dns": "www.example.test",
    });
  });

  it("caches answers, answers without a valid name for cache_ttl_invalid_response, negative ones for negative_cache_ttl", async () => {
    const ctx = countingContext();
    const bot = await expert(
      { nameservers: dns.nameserver, cache_ttl_invalid_response: 1, negative_cache_ttl: 1 },
      ctx,
    );
    const ips = ["192.0.2.10", "192.0.2.31", "192.0.2.99"];
    const names = ips.map((ip) => reverseName(ip) as string);
    const before = names.map((n) => dns.count(n));
    const asked = () => names.map((n, i) => dns.count(n) - (before[i] as number));
    for (let i = 0; i < 300; i++) await run(bot, { "source.ip": ips[i % 3] });
    expect(asked()).toEqual([1, 1, 1]);
    expect(ctx.lookups(CACHE_NAME)).toEqual({ hit: 297, miss: 3 });
    expect(
      bot.process(new Event({ __type: "Event", "source.ip": "192.0.2.10" }), { id: "x" }),
    ).toBeInstanceOf(Event);
    await sleep(1200);
    for (const ip of ips) await run(bot, { "source.ip": ip });
    expect(asked()).toEqual([1, 2, 2]);
  });

  it("fails the event when the server fails, is down or does not answer; skip passes it on", async () => {
    const bot = await expert({ nameservers: dns.nameserver });
    const servfail = reverseName("192.0.2.7") as string;
    await expect(run(bot, { "source.ip": "192.0.2.7" })).rejects.toThrow(
      `DNS lookup of ${servfail} PTR failed: ${dns.nameserver} answered SERVFAIL`,
    );
    const skipping = await expert({ nameservers: dns.nameserver, on_lookup_failure: "skip" });
    expect(await run(skipping, { "source.ip": "192.0.2.7", "destination.ip": "192.0.2.10" })).toEqual({
      "source.ip": "192.0.2.7",
      "destination.ip": "192.0.2.10",
      "destination.reverse_dns": "www.example.test",
    });
    const own = await startDnsmasq(DNS);
    const silent = await startSilentNameServer();
    try {
      const down = await expert({ nameservers: own.nameserver });
      await own.stop();
      await expect(run(down, { "source.ip": "192.0.2.10" })).rejects.toThrow(/refused the connection/);
      const mute = await expert({ nameservers: silent.nameserver, dns_timeout: 0.3 });
      await expect(run(mute, { "source.ip": "192.0.2.10" })).rejects.toThrow(/no answer within 0\.3 s/);
    } finally {
      await Promise.all([own.dispose(), silent.dispose()]);
    }
  });

  describe("compared with IntelMQ", () => {
    const cases: Array<{ params: Record<string, unknown>; event: Record<string, unknown> }> = [
      { params: {}, event: { "source.ip": "192.0.2.10", "destination.ip": "2001:db8::10" } },
      { params: {}, event: { "source.ip": "192.0.2.30" } },
      { params: {}, event: { "source.ip": "192.0.2.31" } },
      { params: {}, event: { "source.ip": "192.0.2.99", "destination.ip": "2001:db8::99" } },
      { params: {}, event: { "source.ip": "::ffff:192.0.2.10" } },
      { params: {}, event: { "source.ip": "192.0.2.10", "source.reverse_dns": "old.example.test" } },
      {
        params: { overwrite: true },
        event: { "source.ip": "192.0.2.10", "source.reverse_dns": "old.example.test" },
      },
      { params: {}, event: { "source.fqdn": "www.example.test" } },
      { params: {}, event: { "destination.ip": "192.0.2.30", "source.ip": "192.0.2.10" } },
    ];
    const outcome = (r: ExpertOracleResult | undefined) => (r?.exception ? "exception" : r?.events);
    const both = async (
      dns: DnsmasqOptions,
      list: ReadonlyArray<(typeof cases)[number] | { sleep: number }>,
    ) => {
      const [intelmq, petrel] = await Promise.all([
        intelmqExperts(
          dns,
          list.map((c) => ("sleep" in c ? c : { module: INTELMQ_MODULE, ...c })),
        ),
        petrelExpertsInNamespace(
          dns,
          list.map((c) => ("sleep" in c ? c : { module: PETREL_FILE, ...c })),
        ),
      ]);
      return { intelmq, petrel };
    };

    it(`gives IntelMQ's results on ${cases.length} events (both with the system resolver)`, async () => {
      const { intelmq, petrel } = await both(DNS, cases);
      for (let i = 0; i < cases.length; i++) {
        expect(outcome(petrel.results[i]), JSON.stringify(cases[i])).toEqual(outcome(intelmq.results[i]));
      }
      expect(intelmq.results[0]?.events?.[0]?.["destination.reverse_dns"]).toBe("www.example.test");
    });

    it(`deviation ${declaredDeviation(reverseDns, "lookup-failure-not-cached")}: a SERVFAIL fails the event and is asked again`, async () => {
      const servfail = { params: {}, event: { "source.ip": "192.0.2.7" } };
      const skip = { params: { on_lookup_failure: "skip" }, event: servfail.event };
      const [failing, skipping] = await Promise.all([
        both(DNS, [servfail, servfail]),
        both(DNS, [skip, skip]),
      ]);
      const asked = (queries: { name: string }[]) =>
        queries.filter((q) => q.name === reverseName("192.0.2.7")).length;
      expect(failing.intelmq.results.map(outcome)).toEqual([[servfail.event], [servfail.event]]);
      expect(asked(failing.intelmq.queries)).toBe(1);
      expect(failing.petrel.results.map(outcome)).toEqual(["exception", "exception"]);
      expect(asked(failing.petrel.queries)).toBe(2);
      expect(skipping.petrel.results.map(outcome)).toEqual(failing.intelmq.results.map(outcome));
      expect(asked(skipping.petrel.queries)).toBe(2);
    });

    it(`deviation ${declaredDeviation(reverseDns, "dns-ttl-cache")}: an answer is asked again after its TTL`, async () => {
      const auth: DnsmasqOptions = {
        authoritative: { zones: ["example.test,192.0.2.0/24"], ttl: 1 },
        records: ["host-record=www.example.test,192.0.2.10"],
      };
      const lookup = { params: {}, event: { "source.ip": "192.0.2.10" } };
      const { intelmq, petrel } = await both(auth, [lookup, { sleep: 1.5 }, lookup]);
      expect(outcome(petrel.results[2])).toEqual(outcome(intelmq.results[2]));
      expect(outcome(petrel.results[2])).toEqual([
        { ...lookup.event, "source.reverse_dns": "www.example.test" },
      ]);
      const asked = (queries: { name: string }[]) =>
        queries.filter((q) => q.name === reverseName("192.0.2.10")).length;
      expect(asked(intelmq.queries)).toBe(1);
      expect(asked(petrel.queries)).toBe(2);
    });
  });
});
