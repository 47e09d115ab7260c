// The DNS experts' resolver against a real dnsmasq: record types, TTLs, the cache (hits, expiry, caps,
// negative answers with and without SOA, eviction), coalescing, TCP fallback, and failures that are
// reported and never cached (SERVFAIL, REFUSED, a stopped server, a server that never answers).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countingMetrics,
  startDnsmasq,
  startSilentNameServer,
  type TestDnsmasq,
} from "../../test-support/dnsmasq.ts";
import { freePort } from "../../test-support/nats-server.ts";
import {
  DnsError,
  DnsResolver,
  parseNameServer,
  type ResolverOptions,
  readHostsFile,
  reverseName,
  systemNameServers,
} from "./dns.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BIG_TXT = Array.from({ length: 8 }, (_, i) => `txt-record=big.example.test,"${String(i).repeat(200)}"`);

async function failure(lookup: unknown): Promise<DnsError> {
  try {
    await lookup;
  } catch (error) {
    if (error instanceof DnsError) return error;
    throw error;
  }
  throw new Error("the lookup did not fail");
}

describe("DnsResolver", () => {
  let local: TestDnsmasq;
  let auth: TestDnsmasq;

  beforeAll(async () => {
    [local, auth] = await Promise.all([
      startDnsmasq({
        localDomains: ["test"],
        servfailDomains: ["servfail.test"],
        records: [
          "host-record=www.example.test,192.0.2.10,2001:db8::10",
          "host-record=short.example.test,192.0.2.11,1",
          "host-record=v6only.example.test,2001:db8::12",
          "cname=alias.example.test,www.example.test",
          'txt-record=split.example.test,"first ","second"',
          'txt-record=two.example.test,"one"',
          'txt-record=two.example.test,"two"',
          "ptr-record=20.2.0.192.in-addr.arpa,named.example.test",
          ...BIG_TXT,
        ],
      }),
      startDnsmasq({
        authoritative: { zones: ["auth.test,198.51.100.0/24"], ttl: 1 },
        records: ["host-record=www.auth.test,198.51.100.10"],
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([local?.dispose(), auth?.dispose()]);
  });

  function resolver(options: Partial<ResolverOptions> = {}) {
    const metrics = countingMetrics();
    const r = new DnsResolver({
      nameservers: [local.nameserver],
      timeoutSeconds: 2,
      maxTtl: 86400,
      negativeTtl: 3600,
      cacheName: "test",
      metrics: metrics.sink,
      ...options,
    });
    return { r, lookups: () => metrics.counts("test") };
  }

  it("reads name server addresses, resolv.conf and hosts files", () => {
    expect(parseNameServer("192.0.2.53")).toEqual({ host: "192.0.2.53", port: 53 });
    expect(parseNameServer(" 192.0.2.53:5353 ")).toEqual({ host: "192.0.2.53", port: 5353 });
    expect(parseNameServer("2001:db8::53")).toEqual({ host: "2001:db8::53", port: 53 });
    expect(parseNameServer("[2001:db8::53]:5353")).toEqual({ host: "2001:db8::53", port: 5353 });
    for (const bad of [
      "ns.example.com",
      "192.0.2.53:0",
      "192.0.2.53:70000",
      "[192.0.2.53]:53",
      "",
      "1.2.3",
    ]) {
      expect(parseNameServer(bad), bad).toBeUndefined();
    }
    expect(() => resolver({ nameservers: ["ns.example.com"] })).toThrow(
      /nameservers: "ns.example.com" is no IP address/,
    );
    const dir = mkdtempSync(join(tmpdir(), "petrel-dns-test-"));
    try {
      writeFileSync(
        join(dir, "resolv.conf"),
        "# comment\nsearch example.test\nnameserver 10.0.0.53\nnameserver fe80::53%eth0\noptions ndots:2\n",
      );
      expect(systemNameServers(join(dir, "resolv.conf"))).toEqual([
        { host: "10.0.0.53", port: 53 },
        { host: "fe80::53%eth0", port: 53 },
      ]);
      // Without servers (or without the file) the C library asks the local host.
      writeFileSync(join(dir, "empty.conf"), "search example.test\n");
      expect(systemNameServers(join(dir, "empty.conf"))).toEqual([{ host: "127.0.0.1", port: 53 }]);
      expect(systemNameServers(join(dir, "missing.conf"))).toEqual([{ host: "127.0.0.1", port: 53 }]);
      writeFileSync(
        join(dir, "hosts"),
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n192.0.2.5 Box.Example.Test box # lab\n192.0.2.6 box\n",
      );
      expect(Object.fromEntries(readHostsFile(join(dir, "hosts")))).toEqual({
        localhost: ["127.0.0.1"],
        "box.example.test": ["192.0.2.5"],
        box: ["192.0.2.5", "192.0.2.6"],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("builds in-addr.arpa and ip6.arpa names as dnspython does", () => {
    expect(reverseName("192.0.2.1")).toBe("1.2.0.192.in-addr.arpa");
    expect(reverseName("2001:db8::1")).toBe(
      "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    );
    expect(reverseName("2001:db8:0:0:1::")).toBe(
      "0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
    );
    expect(reverseName("::2")).toBe(`2${".0".repeat(31)}.ip6.arpa`);
    expect(reverseName("64:ff9b::192.0.2.1")).toBe(
      "1.0.2.0.0.0.0.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa",
    );
    // IPv4-mapped addresses are looked up under in-addr.arpa (dnspython's reversename.from_address).
    expect(reverseName("::ffff:102:304")).toBe("4.3.2.1.in-addr.arpa");
    expect(reverseName("::ffff:1.2.3.4")).toBe("4.3.2.1.in-addr.arpa");
    expect(reverseName("example.test")).toBeUndefined();
  });

  it("answers A, AAAA, PTR and TXT lookups with the records and their TTLs", async () => {
    const { r } = resolver();
    expect(await r.lookup("www.example.test", "A")).toEqual({
      name: "www.example.test",
      type: "A",
      status: "answer",
      records: ["192.0.2.10"],
      ttl: 3600,
    });
    expect(await r.lookup("WWW.Example.Test.", "AAAA")).toMatchObject({
      records: ["2001:db8::10"],
      ttl: 3600,
    });
    expect(await r.lookup("short.example.test", "A")).toMatchObject({ records: ["192.0.2.11"], ttl: 1 });
    expect(await r.lookup("20.2.0.192.in-addr.arpa", "PTR")).toMatchObject({
      status: "answer",
      records: ["named.example.test"],
    });
    // A TXT record's strings are one text; several records keep the server's order.
    const split = await r.lookup("split.example.test", "TXT");
    expect(split).toMatchObject({ records: ["first second"] });
    expect(split.bytes).toEqual([Buffer.from("first second")]);
    expect((await r.lookup("two.example.test", "TXT")).records.toSorted()).toEqual(["one", "two"]);
    // The answer to a CNAME is the chain's end, with the shortest TTL on the way.
    expect(await r.lookup("alias.example.test", "A")).toMatchObject({
      status: "answer",
      records: ["192.0.2.10"],
    });
  });

  it("asks again over TCP when the UDP answer is truncated", async () => {
    const { r } = resolver();
    const before = local.count("big.example.test", "TXT");
    const answer = await r.lookup("big.example.test", "TXT");
    expect(answer.records.toSorted()).toEqual(Array.from({ length: 8 }, (_, i) => String(i).repeat(200)));
    expect(local.count("big.example.test", "TXT") - before).toBe(2);
  });

  it("answers from its cache synchronously and counts hits and misses", async () => {
    const { r, lookups } = resolver();
    const first = r.lookup("www.example.test", "A");
    expect(first).toBeInstanceOf(Promise);
    const answer = await first;
    const again = r.lookup("www.example.test", "A");
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toBe(answer);
    expect(r.lookup("WWW.EXAMPLE.TEST.", "A")).toBe(answer);
    expect(lookups()).toEqual({ hit: 2, miss: 1 });
    expect(r.queriesSent).toBe(1);
  });

  it("sends one query for concurrent lookups of one name", async () => {
    const { r, lookups } = resolver();
    const before = local.count("v6only.example.test", "AAAA");
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => r.lookup("v6only.example.test", "AAAA")),
    );
    expect(new Set(answers).size).toBe(1);
    expect(local.count("v6only.example.test", "AAAA") - before).toBe(1);
    expect(lookups()).toEqual({ hit: 49, miss: 1 });
  });

  it("forgets answers after their TTL, and after maxTtl when that is shorter", async () => {
    const { r } = resolver();
    const capped = resolver({ maxTtl: 1 }).r;
    const count = () => [local.count("short.example.test", "A"), local.count("alias.example.test", "A")];
    await r.lookup("short.example.test", "A");
    const answer = await capped.lookup("alias.example.test", "A");
    expect(answer.ttl).toBe(1);
    const before = count();
    expect(r.lookup("short.example.test", "A")).not.toBeInstanceOf(Promise);
    expect(capped.lookup("alias.example.test", "A")).not.toBeInstanceOf(Promise);
    await sleep(1200);
    await r.lookup("short.example.test", "A");
    await capped.lookup("alias.example.test", "A");
    expect(count()).toEqual(before.map((n) => n + 1));
  });

  it("caches negative answers without SOA for negativeTtl", async () => {
    const { r, lookups } = resolver({ negativeTtl: 1 });
    const count = () => [local.count("nx.example.test", "A"), local.count("www.example.test", "TXT")];
    const before = count();
    expect(await r.lookup("nx.example.test", "A")).toMatchObject({ status: "nxdomain", records: [], ttl: 1 });
    expect(await r.lookup("www.example.test", "TXT")).toMatchObject({
      status: "nodata",
      records: [],
      ttl: 1,
    });
    expect(r.lookup("nx.example.test", "A")).toMatchObject({ status: "nxdomain" });
    expect(r.lookup("www.example.test", "TXT")).toMatchObject({ status: "nodata" });
    expect(count()).toEqual(before.map((n) => n + 1));
    expect(lookups()).toEqual({ hit: 2, miss: 2 });
    await sleep(1200);
    await r.lookup("nx.example.test", "A");
    await r.lookup("www.example.test", "TXT");
    expect(count()).toEqual(before.map((n) => n + 2));
    // The default is long: a negative answer stays for negativeTtl, capped by maxTtl.
    expect(await resolver().r.lookup("nx.example.test", "A")).toMatchObject({ ttl: 3600 });
    expect(await resolver({ maxTtl: 60 }).r.lookup("nx.example.test", "A")).toMatchObject({ ttl: 60 });
  });

  it("caches negative answers with SOA for the SOA's negative TTL", async () => {
    const { r } = resolver({ nameservers: [auth.nameserver], negativeTtl: 3600 });
    expect(await r.lookup("www.auth.test", "A")).toMatchObject({ status: "answer", ttl: 1 });
    expect(await r.lookup("nx.auth.test", "A")).toMatchObject({ status: "nxdomain", ttl: 1 });
    expect(await r.lookup("www.auth.test", "TXT")).toMatchObject({ status: "nodata", ttl: 1 });
    expect(await r.lookup("10.100.51.198.in-addr.arpa", "PTR")).toMatchObject({ records: ["www.auth.test"] });
    expect(auth.count("nx.auth.test")).toBe(1);
    expect(r.lookup("nx.auth.test", "A")).not.toBeInstanceOf(Promise);
    expect(auth.count("nx.auth.test")).toBe(1);
    await sleep(1200);
    await r.lookup("nx.auth.test", "A");
    expect(auth.count("nx.auth.test")).toBe(2);
  });

  it("reports SERVFAIL and REFUSED, naming the query and the server, and never caches them", async () => {
    const { r } = resolver();
    const servfail = await failure(r.lookup("x.servfail.test", "A"));
    expect(servfail.failure).toBe("SERVFAIL");
    expect(servfail.message).toBe(
      `DNS lookup of x.servfail.test A failed: ${local.nameserver} answered SERVFAIL`,
    );
    await failure(r.lookup("x.servfail.test", "A"));
    expect(local.count("x.servfail.test")).toBe(2);
    const refused = await failure(r.lookup("www.example.invalid", "A"));
    expect(refused.failure).toBe("REFUSED");
    expect(refused.message).toMatch(/answered REFUSED$/);
    await failure(r.lookup("www.example.invalid", "A"));
    expect(local.count("www.example.invalid")).toBe(2);
  });

  it("fails at once against a stopped server, then asks again once it is back", async () => {
    const own = await startDnsmasq({
      localDomains: ["test"],
      records: ["host-record=www.example.test,192.0.2.10"],
    });
    try {
      const { r } = resolver({ nameservers: [own.nameserver] });
      await own.stop();
      const started = Date.now();
      const down = await failure(r.lookup("www.example.test", "A"));
      expect(Date.now() - started).toBeLessThan(1000);
      expect(down.failure).toBe("UNREACHABLE");
      expect(down.message).toBe(
        `DNS lookup of www.example.test A failed: ${own.nameserver} refused the connection (is it running?)`,
      );
      await own.restart();
      expect(await r.lookup("www.example.test", "A")).toMatchObject({ records: ["192.0.2.10"] });
    } finally {
      await own.dispose();
    }
  });

  it("tries the next name server when one fails", async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const { r } = resolver({ nameservers: `${closed}, ${local.nameserver}` });
    expect(r.servers.map((s) => s.port)).toEqual([Number(closed.split(":")[1]), local.port]);
    expect(await r.lookup("www.example.test", "A")).toMatchObject({ records: ["192.0.2.10"] });
  });

  it("times out after timeoutSeconds against a server that never answers", async () => {
    const silent = await startSilentNameServer();
    try {
      const { r } = resolver({ nameservers: [silent.nameserver], timeoutSeconds: 0.5 });
      const started = Date.now();
      const timeout = await failure(r.lookup("www.example.test", "A"));
      const took = Date.now() - started;
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(1500);
      expect(timeout.failure).toBe("TIMEOUT");
      expect(timeout.message).toBe(
        `DNS lookup of www.example.test A failed: no answer within 0.5 s (${silent.nameserver} timed out)`,
      );
    } finally {
      await silent.dispose();
    }
  });

  it("keeps at most maxOutstanding queries out, so a burst of lookups loses no datagram", async () => {
    const silent = await startSilentNameServer();
    try {
      const { r } = resolver({ nameservers: [silent.nameserver], timeoutSeconds: 0.3, maxOutstanding: 2 });
      const started = Date.now();
      const settled = await Promise.all(
        ["a", "b", "c", "d"].map((n) =>
          failure(r.lookup(`${n}.example.test`, "A")).then(() => Date.now() - started),
        ),
      );
      // Two at a time: the last two start when the first two have timed out.
      expect(Math.min(...settled.slice(2))).toBeGreaterThanOrEqual(550);
    } finally {
      await silent.dispose();
    }
    // 1000 lookups at once against dnsmasq: one query each, no retry after a lost datagram.
    const burst = await startDnsmasq({
      localDomains: ["test"],
      records: Array.from(
        { length: 1000 },
        (_, i) => `host-record=h${i}.example.test,10.0.${i >> 8}.${i & 255}`,
      ),
    });
    try {
      const { r } = resolver({ nameservers: [burst.nameserver] });
      const answers = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => r.lookup(`h${i}.example.test`, "A")),
      );
      expect(answers.every((a) => a.status === "answer")).toBe(true);
      expect(r.queriesSent).toBe(1000);
    } finally {
      await burst.dispose();
    }
  });

  it("keeps at most cacheEntries answers, dropping the least recently used", async () => {
    const { r } = resolver({ cacheEntries: 2 });
    await r.lookup("www.example.test", "A");
    await r.lookup("www.example.test", "AAAA");
    // A hit makes it the most recently used.
    expect(r.lookup("www.example.test", "A")).not.toBeInstanceOf(Promise);
    await r.lookup("v6only.example.test", "AAAA");
    expect(r.lookup("www.example.test", "A")).not.toBeInstanceOf(Promise);
    expect(r.lookup("v6only.example.test", "AAAA")).not.toBeInstanceOf(Promise);
    const evicted = r.lookup("www.example.test", "AAAA");
    expect(evicted).toBeInstanceOf(Promise);
    await evicted;
  });

  it("refuses names that cannot be sent, without asking", async () => {
    const { r } = resolver();
    const sent = r.queriesSent;
    expect((await failure(r.lookup(`${"a".repeat(64)}.example.test`, "A"))).failure).toBe("BADNAME");
    expect((await failure(r.lookup("bücher.example.test", "A"))).failure).toBe("BADNAME");
    expect((await failure(r.lookup("a..example.test", "A"))).failure).toBe("BADNAME");
    expect(r.queriesSent).toBe(sent);
  });
});
