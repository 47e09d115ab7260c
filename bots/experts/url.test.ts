// The url expert against IntelMQ's (library mode): the same fields from the same URLs (IP and name
// hosts, IPv6 with zones, ports given, empty, zero and invalid, paths with ;params, user info, every
// known scheme and unknown ones), for source, destination and both, with overwrite and skip_fields.
import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import {
  type ExpertCase,
  expectSameOutcomes,
  type Fields,
  intelmqExpert,
  petrelCases,
  petrelExpert,
} from "./test-support/expert-differential.ts";
import url from "./url.ts";

const MODULE = "intelmq.bots.experts.url.expert";

const URLS = [
  "http://5.5.5.5/index.html",
  "https://admin@www.example.com:8443/index.html",
  "http://www.example.com:8000/",
  "ftp://ftp.example.org/pub/file;type=i",
  "http://example.com/a;b/c;d?x=1#frag",
  "http://example.com/a;b",
  "gopher://example.com/a;b",
  "tftp://10.0.0.1/boot.img",
  "ssh://user:secret@host.example.com",
  "sftp://[2001:db8::1]:2222/home",
  "http://[::ffff:192.0.2.1]/",
  "http://[fe80::1%25eth0]/",
  "ws://example.com/socket",
  "wss://example.com",
  "gopher://example.com:70/1",
  "HTTP://EXAMPLE.COM/Path",
  "http://xn--bcher-kva.example/",
  "http://bücher.example/straße",
  "http://example.com:0/",
  "http://example.com:/x",
  "http://example.com:abc/",
  "http://example.com:99999/",
  "http://example.com:65535/",
  "http://192.168.0.1:8080",
  "https://10.0.0.1",
  "http://under_score.example.com/",
  "http://256.1.1.1/",
  "http://localhost/",
  "http://example.com./",
  "file://localhost/etc/passwd",
  "http://example.com",
  "http://example.com?q=1",
  "https://user:pa:ss@example.com:443/",
  "http://@example.com/",
  "http://:pw@example.com/",
  "http://a@b@example.com/x",
  "svn+ssh://svn.example.com/repo",
  "custom-scheme://example.com:1234/x",
  "http://example.com/%7Euser/",
  "//example.com/no-scheme",
  "http://1.2.3/",
  "http://例え.テスト/",
];

const BASE: Fields = { "feed.name": "Example", "time.observation": "2024-05-01T10:00:00+00:00" };

const EVENTS: Fields[] = [
  ...URLS.map((u) => ({ ...BASE, "source.url": u })),
  ...URLS.map((u) => ({ ...BASE, "destination.url": u })),
  ...URLS.slice(0, 12).map((u, i) => ({
    ...BASE,
    "source.url": u,
    "destination.url": URLS[URLS.length - 1 - i],
  })),
  { ...BASE, "destination.url": "tftp://10.0.0.2/x", "source.url": "gopher://example.com/" },
  { ...BASE, "destination.url": "https://example.net/", "source.url": "//example.com/" },
  {
    ...BASE,
    "source.url": "https://admin@www.example.com:8443/index.html",
    "source.fqdn": "other.example.com",
    "source.port": 1,
    "source.urlpath": "/old",
    "source.account": "old",
    "protocol.application": "smtp",
    "protocol.transport": "udp",
  },
  { ...BASE, "source.url": "http://5.5.5.5/x", "source.ip": "192.0.2.9", "protocol.transport": "sctp" },
  { ...BASE, comment: "no url at all" },
];

const CASES: ExpertCase[] = [
  { name: "defaults", params: {} },
  { name: "overwrite", params: { overwrite: true } },
  { name: "skip ip", params: { skip_fields: ["source.ip", "destination.ip"] } },
  { name: "skip fqdn and port", params: { skip_fields: ["source.fqdn", "source.port"] } },
  { name: "skip path and account", params: { skip_fields: ["source.urlpath", "destination.account"] } },
  {
    name: "skip protocols",
    params: { skip_fields: ["protocol.application", "protocol.transport"], overwrite: true },
  },
  { name: "skip application only", params: { skip_fields: ["protocol.application"] } },
  { name: "skip nothing", params: { skip_fields: [] } },
].map((c) => ({ ...c, events: EVENTS }));

describe("experts.url", () => {
  it("fills the same fields as IntelMQ's url expert", async () => {
    const [intelmq, petrel] = await Promise.all([intelmqExpert(MODULE, CASES), petrelCases(url, CASES)]);
    const compared = expectSameOutcomes(CASES, intelmq, petrel);
    expect(compared).toBe(CASES.length * EVENTS.length);
    // Some URLs fail the event in both (invalid ports), the rest pass.
    const errors = petrel[0]!.results!.filter((r) => r.error !== null).length;
    expect(errors).toBeGreaterThan(0);
    expect(errors).toBeLessThan(20);
  });

  it("fills IntelMQ's example", async () => {
    const expert = await petrelExpert(url, {});
    const event = new Event();
    event.add("source.url", "https://admin@www.example.com:8443/index.html");
    const out = (await expert.process(event, { id: "1" })) as Event;
    expect(out.toDict()).toEqual({
      "source.url": "https://admin@www.example.com:8443/index.html",
      "source.fqdn": "www.example.com",
      "source.port": 8443,
      "source.urlpath": "/index.html",
      "source.account": "admin",
      "protocol.application": "http",
    });
  });

  it("refuses skip_fields that is not a list", async () => {
    await expect(petrelExpert(url, { skip_fields: "source.ip" })).rejects.toThrow(/skip_fields/);
  });

  it("costs little per event", async () => {
    const expert = await petrelExpert(url, {});
    const events = EVENTS.slice(0, 40).filter((f) => !/:abc|:99999/.test(String(f["source.url"])));
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
