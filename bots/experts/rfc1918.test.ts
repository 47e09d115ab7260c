// The rfc1918 expert against IntelMQ's (library mode): addresses at both edges of every network,
// IPv6 inside and outside fe80::/64 and 2001:db8::/32, URL netlocs (with ports, user info, brackets,
// upper case), reserved domains and their look-alikes, documentation ASNs; del and drop policies,
// field order, and parameter spelling; then the deviation.
import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import rfc1918 from "./rfc1918.ts";
import {
  type ExpertCase,
  expectSameOutcomes,
  type Fields,
  intelmqExpert,
  petrelCases,
  petrelExpert,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.rfc1918.expert";

const IPS = [
  "9.255.255.255",
  "10.0.0.0",
  "10.255.255.255",
  "11.0.0.0",
  "100.63.255.255",
  "100.64.0.1",
  "100.127.255.255",
  "100.128.0.0",
  "127.0.0.1",
  "169.254.10.10",
  "172.15.255.255",
  "172.16.0.1",
  "172.31.255.255",
  "172.32.0.0",
  "192.0.0.7",
  "192.0.1.1",
  "192.0.2.1",
  "192.88.99.1",
  "192.168.1.1",
  "198.18.0.1",
  "198.19.255.255",
  "198.20.0.0",
  "198.51.100.7",
  "203.0.113.200",
  "224.0.0.1",
  "239.255.255.255",
  "240.0.0.1",
  "255.255.255.255",
  "8.8.8.8",
  "fe80::1",
  "fe80::ffff:ffff:ffff:ffff",
  "fe80:0:0:1::1",
  "2001:db8::1",
  "2001:db8:ffff::1",
  "2001:db9::1",
  "::ffff:a00:1",
  "::1",
  "2a00:1450::1",
];

const URLS = [
  "http://10.0.0.1/",
  "http://10.0.0.1:80/",
  "http://8.8.8.8/x",
  "http://example.com/",
  "http://www.example.com/x",
  "http://EXAMPLE.COM/",
  "http://foo.test/",
  "http://test/",
  "http://localhost/",
  "http://foo.localhost/",
  "http://fe80::1/",
  "http://[fe80::1]/",
  "http://user@example.com/",
  "http://example.org.evil.net/",
  "https://good.example.net:443/",
  "ftp://x.invalid/",
];

const FQDNS = [
  "example.com",
  "sub.example.org",
  "foo.invalid",
  "example",
  "localhost",
  "x.example",
  "example.com.au",
  "myexample.com",
  "test",
  "a.test",
  "www.example.net",
];

const ASNS = [64495, 64496, 64511, 64512, 65535, 65536, 65551, 65552, 1, 3320];

const BASE: Fields = { "feed.name": "Example", "time.observation": "2024-05-01T10:00:00+00:00" };

const EVENTS: Fields[] = [
  ...IPS.map((ip, i) => ({ ...BASE, "source.ip": ip, "destination.ip": IPS[(i * 7) % IPS.length] })),
  ...URLS.map((u, i) => ({ ...BASE, "source.url": u, "source.ip": i % 2 ? "10.1.1.1" : "8.8.4.4" })),
  ...FQDNS.map((f) => ({ ...BASE, "source.fqdn": f, "destination.fqdn": f })),
  ...ASNS.map((asn) => ({ ...BASE, "source.asn": asn, "extra.ip": "192.168.0.1" })),
  { ...BASE, "destination.ip": "10.0.0.1", "source.ip": "192.168.0.1", "source.url": "http://10.0.0.2/" },
  { "source.ip": "10.0.0.1" },
  { ...BASE, "extra.host.ip": "10.0.0.1", "extra.host.fqdn": "a.test" },
  { ...BASE },
];

const CASES: ExpertCase[] = [
  { name: "defaults", params: {} },
  { name: "source.ip del", params: { fields: "source.ip", policy: "del" } },
  { name: "ips drop then del", params: { fields: "source.ip,destination.ip", policy: "drop,del" } },
  { name: "ips del then del", params: { fields: "destination.ip,source.ip", policy: "del,del" } },
  { name: "fqdns", params: { fields: "source.fqdn,destination.fqdn", policy: "del,drop" } },
  { name: "url del", params: { fields: "source.url", policy: "del" } },
  { name: "asn", params: { fields: "source.asn", policy: "del" } },
  { name: "extra ip", params: { fields: "extra.ip", policy: "drop" } },
  {
    name: "nested extra",
    params: { fields: "extra.host,extra.host.ip,extra.host.fqdn", policy: "drop,del,del" },
  },
  { name: "other field kinds", params: { fields: "source.port,feed.name", policy: "drop,drop" } },
  { name: "case and spaces", params: { fields: " Source.IP,DESTINATION.ip ", policy: "DEL,Drop " } },
  // Refused by both.
  { name: "lengths differ", params: { fields: "source.ip,destination.ip", policy: "del" } },
].map((c) => ({ ...c, events: EVENTS }));

describe("experts.rfc1918", () => {
  it("removes and drops like IntelMQ's rfc1918 expert", async () => {
    const [intelmq, petrel] = await Promise.all([intelmqExpert(MODULE, CASES), petrelCases(rfc1918, CASES)]);
    const compared = expectSameOutcomes(CASES, intelmq, petrel);
    expect(compared).toBe((CASES.length - 1) * EVENTS.length + 1);
    // Both policies take effect somewhere in the corpus.
    const results = petrel.flatMap((c) => c.results ?? []);
    expect(results.filter((r) => Object.keys(r.paths ?? {}).length === 0).length).toBeGreaterThan(20);
  });

  it("deviation unknown-policy-rejected: a misspelt policy stops the bot at start", async () => {
    expect(rfc1918.deviations?.map((d) => d.id)).toContain("unknown-policy-rejected");
    const params = { fields: "source.ip,destination.ip", policy: "keep,drop" };
    const event = { ...BASE, "source.ip": "10.0.0.1", "destination.ip": "192.168.0.1" };
    const [intelmq] = await intelmqExpert(MODULE, [{ name: "keep", params, events: [event] }]);
    // IntelMQ stops at the first match and passes the event, the private destination included.
    expect(intelmq!.results![0]!.paths!._default![0]).toEqual(event);
    await expect(petrelExpert(rfc1918, params)).rejects.toThrow(
      /policy: "keep" for source.ip must be del or drop/,
    );
    // Items are not stripped (as in IntelMQ): " drop" is no policy either.
    await expect(
      petrelExpert(rfc1918, { fields: "source.ip, destination.ip", policy: "del, drop" }),
    ).rejects.toThrow(/policy: " drop"/);
  });

  it("costs little per event", async () => {
    const expert = await petrelExpert(rfc1918, {});
    const events = EVENTS.slice(0, 60);
    const rounds = 1000;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) {
      for (const f of events) expert.process(new Event({ __type: "Event", ...f }), { id: "x" });
    }
    const perSecond = (rounds * events.length) / ((performance.now() - start) / 1000);
    // A floor for a loaded machine: it catches gross regressions (work per event that belongs in
    // create()), not the real figure, which is a few µs per event.
    expect(perSecond).toBeGreaterThan(10_000);
  });
});
