// The exclusion engine: each test of a condition, the tries, compile-time errors, actions and expiry,
// and the index checked against evaluating every rule on random events and rules.
import { describe, expect, it } from "vitest";
import { ExclusionSpec } from "../config/resources.ts";
import { Event } from "../event/message.ts";
import { compileCondition, describe as describeCondition } from "./conditions.ts";
import { DomainTrie } from "./domain-trie.ts";
import { type ExclusionError, ExclusionSet, type NamedExclusion } from "./exclusion-set.ts";
import { IpPrefixTrie, ipBytes } from "./ip-prefix-trie.ts";

function event(fields: Record<string, unknown>): Event {
  const e = new Event();
  for (const [k, v] of Object.entries(fields)) e.add(k, v);
  return e;
}

function exclusion(name: string, spec: Record<string, unknown>): NamedExclusion {
  return {
    name,
    spec: ExclusionSpec.parse({ scope: { pipelines: ["p"] }, reason: "test", ...spec }),
  };
}

describe("IP prefix trie", () => {
  it("parses IPv4 and IPv6 the way the event model writes them, and refuses the rest", () => {
    expect([...(ipBytes("192.0.2.1") ?? [])]).toEqual([192, 0, 2, 1]);
    expect([...(ipBytes("2001:db8::1") ?? [])]).toEqual([0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1]);
    expect([...(ipBytes("::ffff:192.0.2.1") ?? [])].slice(10)).toEqual([0xff, 0xff, 192, 0, 2, 1]);
    for (const bad of ["192.0.2", "192.0.2.256", "1::2::3", "fe80::1%eth0", "2001:db8:0:0:0:0:0:0:1", "x"])
      expect(ipBytes(bad), bad).toBeUndefined();
  });
  it("finds every network containing an address or a whole network", () => {
    const trie = new IpPrefixTrie<string>();
    for (const n of ["192.0.2.0/24", "192.0.0.0/16", "192.0.2.128/25", "2001:db8::/32", "198.51.100.7"])
      trie.insert(n, n);
    const found = (address: string) => {
      const out: string[] = [];
      trie.lookup(address, (v) => out.push(v));
      return out;
    };
    expect(found("192.0.2.200")).toEqual(["192.0.0.0/16", "192.0.2.0/24", "192.0.2.128/25"]);
    expect(found("192.0.2.0/24")).toEqual(["192.0.0.0/16", "192.0.2.0/24"]); // a network lies wholly inside
    expect(found("192.0.0.0/8")).toEqual([]);
    expect(found("198.51.100.7")).toEqual(["198.51.100.7"]);
    expect(found("198.51.100.8")).toEqual([]);
    expect(found("2001:db8:ffff::1")).toEqual(["2001:db8::/32"]);
    expect(found("::ffff:192.0.2.1")).toEqual([]); // IPv6 is its own family
  });
});

describe("domain trie", () => {
  it("matches a domain and what lies below it, by whole labels, ignoring case and a final dot", () => {
    const trie = new DomainTrie<string>();
    trie.insert("example.org", "example.org");
    trie.insert("Sub.Example.org", "sub");
    const found = (host: string) => {
      const out: string[] = [];
      trie.lookup(host, (v) => out.push(v));
      return out;
    };
    expect(found("example.org")).toEqual(["example.org"]);
    expect(found("WWW.EXAMPLE.ORG.")).toEqual(["example.org"]);
    expect(found("a.sub.example.org")).toEqual(["example.org", "sub"]);
    expect(found("badexample.org")).toEqual([]);
    expect(found("org")).toEqual([]);
  });
});

describe("conditions", () => {
  const holds = (condition: Record<string, unknown>, fields: Record<string, unknown>) =>
    compileCondition(condition as never, "c").test(event(fields));
  it("test each kind of value, with reasons", () => {
    expect(holds({ field: "source.ip", cidr: ["192.0.2.0/24"] }, { "source.ip": "192.0.2.9" })).toBe(
      "source.ip 192.0.2.9 is in 192.0.2.0/24",
    );
    expect(
      holds({ field: "source.network", cidr: ["192.0.0.0/16"] }, { "source.network": "192.0.2.0/24" }),
    ).toBeTruthy();
    expect(
      holds(
        { field: "source.url", domainSuffix: ["example.org"] },
        { "source.url": "https://u:p@www.example.org:8443/x" },
      ),
    ).toBe("source.url host www.example.org is example.org or below it");
    expect(
      holds({ field: "source.fqdn", domainSuffix: ["example.org"] }, { "source.fqdn": "badexample.org" }),
    ).toBeUndefined();
    expect(holds({ field: "source.port", equals: "22" }, { "source.port": 22 })).toBe(
      'source.port equals "22"',
    );
    expect(holds({ field: "feed.name", oneOf: ["a", "b"] }, { "feed.name": "b" })).toBeTruthy();
    expect(
      holds(
        { field: "source.url", wildcard: ["https://*.example.org/dl/*"] },
        { "source.url": "https://cdn.example.org/dl/x.exe" },
      ),
    ).toBeTruthy();
    expect(
      holds(
        { field: "source.url", wildcard: ["https://*.example.org/dl/?"] },
        { "source.url": "https://cdn.example.org/dl/xy" },
      ),
    ).toBeUndefined();
    expect(holds({ field: "malware.name", regex: "^emo" }, { "malware.name": "emotet" })).toBeTruthy();
    expect(holds({ field: "source.asn", numeric: { gte: 64496, lte: 64511 } }, { "source.asn": 64500 })).toBe(
      "source.asn 64500 is >= 64496 and <= 64511",
    );
    expect(holds({ field: "source.asn", numeric: { gt: 1 } }, { "feed.name": "x" })).toBeUndefined();
    expect(holds({ field: "extra.tag", exists: true }, { "extra.tag": "x" })).toBe("extra.tag is set");
    expect(holds({ field: "extra.tag", exists: false }, {})).toBe("extra.tag is not set");
    expect(
      holds(
        { classification: { taxonomy: "fraud", type: "phishing" } },
        { "classification.type": "phishing", "classification.taxonomy": "fraud" },
      ),
    ).toBe("classification taxonomy=fraud, type=phishing");
  });
  it("invert with not, also for a missing field", () => {
    expect(
      holds({ field: "source.ip", cidr: ["192.0.2.0/24"], not: true }, { "source.ip": "198.51.100.1" }),
    ).toBe("not (source.ip in 192.0.2.0/24)");
    expect(holds({ field: "source.ip", cidr: ["192.0.2.0/24"], not: true }, {})).toBeTruthy();
    expect(
      holds({ field: "source.ip", cidr: ["192.0.2.0/24"], not: true }, { "source.ip": "192.0.2.1" }),
    ).toBeUndefined();
  });
  it("describe themselves briefly", () => {
    expect(describeCondition({ field: "source.ip", cidr: ["a", "b", "c", "d", "e"] } as never)).toBe(
      "source.ip in a, b, c (and 2 more)",
    );
  });
});

describe("exclusion set", () => {
  it("reports every bad condition and mark value at once, naming the exclusion and where", () => {
    const bad = [
      {
        name: "b1",
        spec: {
          ...exclusion("b1", { match: { all: [{ field: "source.ip", equals: "x" }] } }).spec,
          match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/33"] }] },
        },
      },
      {
        name: "b2",
        spec: {
          ...exclusion("b2", { match: { all: [{ field: "source.ip", equals: "x" }] } }).spec,
          match: { any: [{ field: "feed.name", regex: "(" }] },
        },
      },
      exclusion("b3", {
        match: { all: [{ field: "feed.name", equals: "x" }] },
        action: { type: "mark", set: [{ field: "source.ip", value: "not an address" }] },
      }),
    ] as NamedExclusion[];
    let error: ExclusionError | undefined;
    try {
      ExclusionSet.compile(bad);
    } catch (e) {
      error = e as ExclusionError;
    }
    expect(error?.problems).toHaveLength(3);
    expect(error?.problems[0]).toMatch(
      /^b1: match\.all\[0\]: cidr: not an IP address or network: 192\.0\.2\.0\/33$/,
    );
    expect(error?.problems[1]).toMatch(/^b2: match\.any\[0\]: regex: /);
    expect(error?.problems[2]).toMatch(/^b3: action\.set\[0\]: .*source\.ip/);
  });

  it("drops before routing, routes before marking, marks with every matching mark", () => {
    const set = ExclusionSet.compile([
      exclusion("mark-a", {
        match: { all: [{ field: "feed.name", equals: "F" }] },
        action: { type: "mark", set: [{ field: "extra.excluded_by", value: "mark-a" }] },
      }),
      exclusion("mark-b", {
        match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/24"] }] },
        action: { type: "mark", set: [{ field: "extra.note", value: "customer" }] },
      }),
      exclusion("route-c", {
        match: { all: [{ field: "source.port", equals: "25" }] },
        action: { type: "route", path: "review" },
      }),
      exclusion("drop-d", { match: { all: [{ field: "source.port", equals: "23" }] } }),
      exclusion("off", { enabled: false, match: { all: [{ field: "feed.name", equals: "F" }] } }),
    ]);
    expect(set.names).toEqual(["drop-d", "mark-a", "mark-b", "route-c"]);
    const marked = event({ "feed.name": "F", "source.ip": "192.0.2.1" });
    expect(set.apply(marked).verdict).toEqual({ kind: "pass", marked: ["mark-a", "mark-b"] });
    expect(marked.get("extra.excluded_by")).toBe("mark-a");
    expect(marked.get("extra.note")).toBe("customer");
    expect(set.apply(event({ "feed.name": "F", "source.port": 25 })).verdict).toEqual({
      kind: "route",
      path: "review",
      by: ["route-c"],
    });
    expect(set.apply(event({ "source.port": 23, "feed.name": "F" })).verdict).toEqual({
      kind: "drop",
      by: ["drop-d"],
    });
    expect(set.apply(event({ "feed.name": "G" })).verdict).toEqual({ kind: "pass", marked: [] });
  });

  it("stops applying a rule at its expiry, by itself", () => {
    const set = ExclusionSet.compile([
      exclusion("until-noon", {
        expiresAt: "2026-12-04T12:00:00Z",
        match: { all: [{ field: "feed.name", equals: "F" }] },
      }),
    ]);
    const e = event({ "feed.name": "F" });
    expect(set.matches(e, Date.parse("2026-12-04T11:59:59Z"))).toHaveLength(1);
    expect(set.matches(e, Date.parse("2026-12-04T12:00:00Z"))).toHaveLength(0);
    expect(set.nextExpiry(Date.parse("2026-12-04T00:00:00Z"))).toBe(Date.parse("2026-12-04T12:00:00Z"));
  });

  it("finds exactly what evaluating every rule finds (random rules and events)", () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const ip = () =>
      `10.${Math.floor(random() * 4)}.${Math.floor(random() * 4)}.${Math.floor(random() * 256)}`;
    const domains = ["example.org", "a.example.org", "example.net", "b.example.net", "test"];
    const feeds = ["F1", "F2", "F3"];
    const condition = (): Record<string, unknown> => {
      const kind = pick(["cidr", "domain", "equals", "oneOf", "regex", "exists", "numeric", "class", "wild"]);
      const not = random() < 0.15 ? { not: true } : {};
      switch (kind) {
        case "cidr":
          return {
            field: "source.ip",
            cidr: [`10.${Math.floor(random() * 4)}.0.0/${pick([14, 16, 24])}`, ip()],
            ...not,
          };
        case "domain":
          return { field: pick(["source.fqdn", "source.url"]), domainSuffix: [pick(domains)], ...not };
        case "equals":
          return { field: "feed.name", equals: pick(feeds), ...not };
        case "oneOf":
          return { field: "source.port", oneOf: [String(pick([22, 23, 80])), "443"], ...not };
        case "regex":
          return { field: "feed.name", regex: pick(["1$", "^F"]), ...not };
        case "exists":
          return { field: "source.fqdn", exists: random() < 0.5, ...not };
        case "numeric":
          return { field: "source.port", numeric: { gte: pick([20, 80]), lt: pick([100, 500]) }, ...not };
        case "class":
          return { classification: { type: pick(["scanner", "phishing"]) }, ...not };
        default:
          return { field: "source.fqdn", wildcard: [pick(["*.example.org", "?.example.net"])], ...not };
      }
    };
    const rules = Array.from({ length: 300 }, (_, i) => {
      const all = Array.from({ length: Math.floor(random() * 3) }, condition);
      const any = Array.from(
        { length: all.length === 0 ? 1 + Math.floor(random() * 3) : Math.floor(random() * 2) },
        condition,
      );
      return exclusion(`r${String(i).padStart(3, "0")}`, {
        match: { ...(all.length ? { all } : {}), ...(any.length ? { any } : {}) },
      });
    });
    const set = ExclusionSet.compile(rules);
    const compiled = rules.map((r) => ({
      name: r.name,
      all: (r.spec.match.all ?? []).map((c) => compileCondition(c, r.name)),
      any: (r.spec.match.any ?? []).map((c) => compileCondition(c, r.name)),
    }));
    let matched = 0;
    for (let n = 0; n < 2_000; n++) {
      const fields: Record<string, unknown> = {
        "source.ip": ip(),
        "feed.name": pick(feeds),
        "source.port": pick([22, 23, 80, 443, 8080]),
        "classification.type": pick(["scanner", "phishing", "spam"]),
      };
      if (random() < 0.7) fields["source.fqdn"] = `${pick(["www.", "x.", ""])}${pick(domains)}`;
      if (random() < 0.5) fields["source.url"] = `http://${pick(domains)}/p`;
      const e = event(fields);
      const expected = compiled
        .filter(
          (r) =>
            r.all.every((c) => c.test(e) !== undefined) &&
            (r.any.length === 0 || r.any.some((c) => c.test(e) !== undefined)),
        )
        .map((r) => r.name);
      const got = set.matches(e).map((h) => h.name);
      expect(got, JSON.stringify(fields)).toEqual(expected);
      matched += got.length;
    }
    expect(matched).toBeGreaterThan(1_000); // the random rules do match: the comparison is not vacuous
  });
});
