import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import {
  type DnsmasqOptions,
  type ExpertOracleResult,
  intelmqExperts,
  petrelExpertsInNamespace,
  startDnsmasq,
  startSilentNameServer,
} from "../../bot-runtime/test-support/dnsmasq.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import gethostbyname, { CACHE_NAME, GaiError } from "./gethostbyname.ts";
import { countingContext, dnsExpertTools, dnsmasqForTests } from "./test-support/dns-expert.ts";

const INTELMQ_MODULE = "intelmq.bots.experts.gethostbyname.expert";
const PETREL_FILE = "bots/experts/gethostbyname.ts";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DNS: DnsmasqOptions = {
  localDomains: ["test", "intranet"],
  servfailDomains: ["servfail.test"],
  records: [
    "host-record=www.example.test,192.0.2.10,2001:db8::10",
    "host-record=v6only.example.test,2001:db8::12",
    "host-record=multi.example.test,192.0.2.20",
    "host-record=multi.example.test,192.0.2.21",
    "host-record=short.example.test,192.0.2.11,1",
    "host-record=xn--bcher-kva.example.test,192.0.2.40",
    "host-record=intranet.example.test,192.0.2.50",
    "cname=alias.example.test,www.example.test",
  ],
};
const HOSTS = "127.0.0.1 localhost\n192.0.2.77 hosts-only.example.test\n";

const { expert, run } = dnsExpertTools(gethostbyname);

async function gaiError(promise: Promise<unknown>): Promise<GaiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GaiError) return error;
    throw error;
  }
  throw new Error("no GaiError");
}

describe("experts.gethostbyname", () => {
  const dns = dnsmasqForTests(DNS);

  it("resolves fqdn, or the url's host, to the IPv4 address", async () => {
    const bot = await expert({ nameservers: [dns.nameserver] });
    expect(
      await run(bot, { "source.fqdn": "www.example.test", "destination.fqdn": "alias.example.test" }),
    ).toEqual({
      "source.fqdn": "www.example.test",
      "destination.fqdn": "alias.example.test",
      "source.ip": "192.0.2.10",
      "destination.ip": "192.0.2.10",
    });
    expect(await run(bot, { "destination.url": "http://bücher.example.test/path" })).toMatchObject({
      "destination.ip": "192.0.2.40",
    });
    // Names without an IPv4 address and unknown names (getaddrinfo -5 and -2) are ignored.
    expect(
      await run(bot, { "source.fqdn": "v6only.example.test", "destination.fqdn": "nx.example.test" }),
    ).toEqual({
      "source.fqdn": "v6only.example.test",
      "destination.fqdn": "nx.example.test",
    });
    const noFallback = await expert({ nameservers: [dns.nameserver], fallback_to_url: false });
    expect(await run(noFallback, { "source.url": "http://www.example.test/" })).toEqual({
      "source.url": "http://www.example.test/",
    });
  });

  it("keeps an ip that is set unless overwrite is", async () => {
    const existing = { "source.fqdn": "www.example.test", "source.ip": "198.51.100.1" };
    expect(await run(await expert({ nameservers: [dns.nameserver] }), existing)).toEqual(existing);
    expect(await run(await expert({ nameservers: [dns.nameserver], overwrite: true }), existing)).toEqual({
      ...existing,
      "source.ip": "192.0.2.10",
    });
  });

  it("fails the event with getaddrinfo error -3 for SERVFAIL, REFUSED and servers that are down", async () => {
    const bot = await expert({ nameservers: [dns.nameserver] });
    const servfail = await gaiError(run(bot, { "source.fqdn": "x.servfail.test" }));
    expect(servfail.errno).toBe(-3);
    expect(servfail.message).toBe(
      `gethostbyname("x.servfail.test") failed with getaddrinfo error -3: DNS lookup of x.servfail.test A failed: ${dns.nameserver} answered SERVFAIL`,
    );
    expect((await gaiError(run(bot, { "source.fqdn": "www.example.invalid" }))).errno).toBe(-3);
    const own = await startDnsmasq(DNS);
    const silent = await startSilentNameServer();
    try {
      const down = await expert({ nameservers: [own.nameserver] });
      await own.stop();
      const refused = await gaiError(run(down, { "source.fqdn": "www.example.test" }));
      expect(refused.message).toMatch(/error -3: .*refused the connection/);
      const mute = await expert({ nameservers: [silent.nameserver], dns_timeout: 0.3 });
      expect((await gaiError(run(mute, { "source.fqdn": "www.example.test" }))).message).toMatch(
        /error -3: .*no answer within 0\.3 s/,
      );
    } finally {
      await Promise.all([own.dispose(), silent.dispose()]);
    }
    // With -3 ignored, the events go on without ip.
    for (const ignore of ["-3", -3, [-3], ["-3", "-8"], " -3 , -1"]) {
      const lenient = await expert({ nameservers: [dns.nameserver], gaierrors_to_ignore: ignore });
      expect(await run(lenient, { "source.fqdn": "x.servfail.test" }), JSON.stringify(ignore)).toEqual({
        "source.fqdn": "x.servfail.test",
      });
    }
    expect(() => parameterSchema(gethostbyname).parse({ gaierrors_to_ignore: "-3,again" })).toThrow(
      /getaddrinfo error numbers/,
    );
  });

  it("answers repeated names from its cache until their TTL ends", async () => {
    const ctx = countingContext();
    const bot = await expert({ nameservers: [dns.nameserver], negative_cache_ttl: 1 }, ctx);
    const names = ["www.example.test", "multi.example.test", "short.example.test", "nx.example.test"];
    const before = names.map((n) => dns.count(n, "A"));
    const asked = () => names.map((n, i) => dns.count(n, "A") - (before[i] as number));
    for (let i = 0; i < 400; i++) await run(bot, { "source.fqdn": names[i % 4] });
    expect(ctx.lookups(CACHE_NAME)).toEqual({ hit: 396, miss: 4 });
    expect(asked()).toEqual([1, 1, 1, 1]);
    expect(
      bot.process(new Event({ __type: "Event", "source.fqdn": "www.example.test" }), { id: "x" }),
    ).toBeInstanceOf(Event);
    await sleep(1200);
    for (const name of names) await run(bot, { "source.fqdn": name });
    // short (TTL 1) and nx (negative_cache_ttl 1) were asked again; the others are still cached.
    expect(asked()).toEqual([1, 1, 2, 2]);
  });

  describe("compared with IntelMQ", () => {
    const cases: Array<{ params: Record<string, unknown>; event: Record<string, unknown> }> = [
      { params: {}, event: { "source.fqdn": "www.example.test" } },
      { params: {}, event: { "destination.fqdn": "alias.example.test", "source.fqdn": "nx.example.test" } },
      // Several addresses: the first of the answer (the server's first answer, in both runs).
      { params: {}, event: { "source.fqdn": "multi.example.test" } },
      { params: {}, event: { "source.fqdn": "v6only.example.test" } },
      { params: {}, event: { "source.fqdn": "x.servfail.test" } },
      { params: {}, event: { "source.fqdn": "www.example.invalid" } },
      { params: {}, event: { "source.url": "http://www.example.test/path" } },
      { params: {}, event: { "destination.url": "https://bücher.example.test/" } },
      { params: {}, event: { "source.url": "http://192.0.2.1/" } },
      { params: { fallback_to_url: false }, event: { "source.url": "http://www.example.test/" } },
      { params: {}, event: { "source.fqdn": "www.example.test", "source.ip": "198.51.100.1" } },
      {
        params: { overwrite: true },
        event: { "source.fqdn": "www.example.test", "source.ip": "198.51.100.1" },
      },
      { params: {}, event: { "source.fqdn": "hosts-only.example.test" } },
      { params: { gaierrors_to_ignore: "-3" }, event: { "source.fqdn": "x.servfail.test" } },
      { params: { gaierrors_to_ignore: ["-3"] }, event: { "source.fqdn": "x.servfail.test" } },
      { params: { gaierrors_to_ignore: -3 }, event: { "source.fqdn": "www.example.invalid" } },
      {
        params: {},
        event: { "source.fqdn": "www.example.test", "destination.url": "http://alias.example.test/" },
      },
    ];
    const outcome = (r: ExpertOracleResult | undefined) => (r?.exception ? "exception" : r?.events);
    const both = async (dns: DnsmasqOptions, list: typeof cases, options: { resolvConf?: string[] } = {}) => {
      const [intelmq, petrel] = await Promise.all([
        intelmqExperts(
          dns,
          list.map((c) => ({ module: INTELMQ_MODULE, ...c })),
          { hosts: HOSTS, ...options },
        ),
        petrelExpertsInNamespace(
          dns,
          list.map((c) => ({ module: PETREL_FILE, ...c })),
          { hosts: HOSTS, ...options },
        ),
      ]);
      return { intelmq: intelmq.results, petrel: petrel.results };
    };

    it(`gives IntelMQ's results on ${cases.length} events (both with the system resolver and /etc/hosts)`, async () => {
      const { intelmq, petrel } = await both(DNS, cases);
      for (let i = 0; i < cases.length; i++) {
        expect(outcome(petrel[i]), JSON.stringify(cases[i])).toEqual(outcome(intelmq[i]));
      }
      expect(intelmq[12]?.events?.[0]?.["source.ip"]).toBe("192.0.2.77");
      // SERVFAIL and REFUSED are getaddrinfo's EAI_AGAIN (-3) in the C library too.
      expect([intelmq[4]?.exception, intelmq[5]?.exception]).toEqual([
        "gaierror: [Errno -3] Temporary failure in name resolution",
        "gaierror: [Errno -3] Temporary failure in name resolution",
      ]);
      expect(petrel[4]?.exception).toMatch(/^GaiError: .*error -3/);
    });

    it(`deviation ${declaredDeviation(gethostbyname, "url-host-without-port")}: a URL with a port or user gets its host resolved`, async () => {
      const urls = ["http://www.example.test:8080/", "http://user@www.example.test/"];
      const { intelmq, petrel } = await both(
        DNS,
        urls.map((url) => ({ params: {}, event: { "source.url": url } })),
      );
      expect(intelmq.map(outcome)).toEqual(urls.map((url) => [{ "source.url": url }]));
      expect(petrel.map(outcome)).toEqual(
        urls.map((url) => [{ "source.url": url, "source.ip": "192.0.2.10" }]),
      );
    });

    it(`deviation ${declaredDeviation(gethostbyname, "no-search-domains")}: a single-label name is not tried under the search domains`, async () => {
      const { intelmq, petrel } = await both(DNS, [{ params: {}, event: { "source.fqdn": "intranet" } }], {
        resolvConf: ["search example.test"],
      });
      expect(outcome(intelmq[0])).toEqual([{ "source.fqdn": "intranet", "source.ip": "192.0.2.50" }]);
      expect(outcome(petrel[0])).toEqual([{ "source.fqdn": "intranet" }]);
    });

    it(`deviation ${declaredDeviation(gethostbyname, "numeric-error-list")}: gaierrors_to_ignore takes a list of numbers`, async () => {
      const { intelmq, petrel } = await both(DNS, [
        { params: { gaierrors_to_ignore: [-3] }, event: { "source.fqdn": "x.servfail.test" } },
      ]);
      expect(intelmq[0]?.exception).toMatch(/^init: /);
      expect(outcome(petrel[0])).toEqual([{ "source.fqdn": "x.servfail.test" }]);
    });
  });
});
