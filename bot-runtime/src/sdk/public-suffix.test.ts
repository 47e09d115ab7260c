// The public suffix algorithm on the list Petrel ships: the list's own test vectors (publicsuffix.org's
// tests/test_psl.txt, public domain), the ICANN-only view IntelMQ's domain suffix expert uses, and
// small hand-made lists for each kind of rule.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PublicSuffixList } from "./public-suffix.ts";

const SHIPPED = readFileSync(
  new URL("../../../bots/experts/data/public_suffix_list.dat", import.meta.url),
  "utf8",
);

// [domain, registrable domain (public suffix plus one label) or null].
const PSL_TEST_VECTORS: ReadonlyArray<readonly [string, string | null]> = [
  ["COM", null],
  ["example.COM", "example.com"],
  ["WwW.example.COM", "example.com"],
  [".com", null],
  [".example", null],
  [".example.com", null],
  [".example.example", null],
  ["example", null],
  ["example.example", "example.example"],
  ["b.example.example", "example.example"],
  ["a.b.example.example", "example.example"],
  ["biz", null],
  ["domain.biz", "domain.biz"],
  ["b.domain.biz", "domain.biz"],
  ["a.b.domain.biz", "domain.biz"],
  ["com", null],
  ["example.com", "example.com"],
  ["b.example.com", "example.com"],
  ["a.b.example.com", "example.com"],
  ["uk.com", null],
  ["example.uk.com", "example.uk.com"],
  ["b.example.uk.com", "example.uk.com"],
  ["a.b.example.uk.com", "example.uk.com"],
  ["test.ac", "test.ac"],
  ["mm", null],
  ["c.mm", null],
  ["b.c.mm", "b.c.mm"],
  ["a.b.c.mm", "b.c.mm"],
  ["jp", null],
  ["test.jp", "test.jp"],
  ["www.test.jp", "test.jp"],
  ["ac.jp", null],
  ["test.ac.jp", "test.ac.jp"],
  ["www.test.ac.jp", "test.ac.jp"],
  ["kyoto.jp", null],
  ["test.kyoto.jp", "test.kyoto.jp"],
  ["ide.kyoto.jp", null],
  ["b.ide.kyoto.jp", "b.ide.kyoto.jp"],
  ["a.b.ide.kyoto.jp", "b.ide.kyoto.jp"],
  ["c.kobe.jp", null],
  ["b.c.kobe.jp", "b.c.kobe.jp"],
  ["a.b.c.kobe.jp", "b.c.kobe.jp"],
  ["city.kobe.jp", "city.kobe.jp"],
  ["www.city.kobe.jp", "city.kobe.jp"],
  ["ck", null],
  ["test.ck", null],
  ["b.test.ck", "b.test.ck"],
  ["a.b.test.ck", "b.test.ck"],
  ["www.ck", "www.ck"],
  ["www.www.ck", "www.ck"],
  ["us", null],
  ["test.us", "test.us"],
  ["www.test.us", "test.us"],
  ["ak.us", null],
  ["test.ak.us", "test.ak.us"],
  ["www.test.ak.us", "test.ak.us"],
  ["k12.ak.us", null],
  ["test.k12.ak.us", "test.k12.ak.us"],
  ["www.test.k12.ak.us", "test.k12.ak.us"],
  ["食狮.com.cn", "食狮.com.cn"],
  ["食狮.公司.cn", "食狮.公司.cn"],
  ["www.食狮.公司.cn", "食狮.公司.cn"],
  ["shishi.公司.cn", "shishi.公司.cn"],
  ["公司.cn", null],
  ["食狮.中国", "食狮.中国"],
  ["www.食狮.中国", "食狮.中国"],
  ["shishi.中国", "shishi.中国"],
  ["中国", null],
  ["xn--85x722f.com.cn", "xn--85x722f.com.cn"],
  ["xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"],
  ["www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"],
  ["shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn"],
  ["xn--55qx5d.cn", null],
  ["xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"],
  ["www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"],
  ["shishi.xn--fiqs8s", "shishi.xn--fiqs8s"],
  ["xn--fiqs8s", null],
];

describe("PublicSuffixList", () => {
  const full = PublicSuffixList.parse(SHIPPED);
  const icann = PublicSuffixList.parse(SHIPPED, { onlyIcann: true });

  it("passes the list's own test vectors on the shipped list", () => {
    for (const [domain, registrable] of PSL_TEST_VECTORS) {
      expect(full.registrableDomain(domain) ?? null, domain).toBe(registrable);
    }
    expect(PSL_TEST_VECTORS).toHaveLength(77);
  });

  it("reads the shipped list's version and both sections", () => {
    expect(full.version).toMatch(/^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_UTC$/);
    expect(icann.version).toBe(full.version);
    expect(icann.size).toBeGreaterThan(7000);
    expect(full.size).toBeGreaterThan(icann.size + 3000);
  });

  it("ignores private registrations with onlyIcann", () => {
    expect(full.publicSuffix("example.uk.com")).toBe("uk.com");
    expect(icann.publicSuffix("example.uk.com")).toBe("com");
    expect(full.publicSuffix("foo.blogspot.com")).toBe("blogspot.com");
    expect(icann.publicSuffix("foo.blogspot.com")).toBe("com");
    expect(icann.publicSuffix("www.example.co.uk")).toBe("co.uk");
  });

  it("applies plain, wildcard and exception rules, and the implicit * rule", () => {
    const list = PublicSuffixList.parse(
      "// ===BEGIN ICANN DOMAINS===\nnet\ncom\nexample.com\n*.example.net\n!www.example.net\n*.mm\n中国\n// ===END ICANN DOMAINS===\n// ===BEGIN PRIVATE DOMAINS===\nprivate.com\n// ===END PRIVATE DOMAINS===\n",
      { onlyIcann: true },
    );
    const cases: Array<[string, string | undefined]> = [
      ["sub.example.com", "example.com"],
      ["example.com", "example.com"],
      ["www.example.org", "org"],
      ["sub.example.net", "sub.example.net"],
      ["a.sub.example.net", "sub.example.net"],
      ["www.example.net", "example.net"],
      ["a.www.example.net", "example.net"],
      // The wildcard's base is public too.
      ["example.net", "example.net"],
      ["example.mm", "example.mm"],
      ["example.example.mm", "example.mm"],
      ["mm", "mm"],
      ["xn--85x722f.xn--fiqs8s", "xn--fiqs8s"],
      ["食狮.中国", "中国"],
      ["x.private.com", "com"],
      ["unknown", "unknown"],
      ["a.b.unknown", "unknown"],
      ["Example.COM.", "example.com"],
      ["www.Example.ORG.", "org"],
      ["a..com", undefined],
      [".com", undefined],
      ["", undefined],
      [".", undefined],
    ];
    for (const [domain, suffix] of cases) expect(list.publicSuffix(domain), domain).toBe(suffix);
    expect(list.registrableDomain("a.b.example.com")).toBe("b.example.com");
    expect(list.registrableDomain("example.com")).toBeUndefined();
  });

  it("reads every rule without markers, and none with onlyIcann", () => {
    const text = "com\n  \n// comment\nco.uk   trailing words\n";
    expect(PublicSuffixList.parse(text).publicSuffix("a.b.co.uk")).toBe("co.uk");
    expect(PublicSuffixList.parse(text, { onlyIcann: true }).publicSuffix("a.b.co.uk")).toBe("uk");
    expect(PublicSuffixList.parse("com\r\nco.uk\r\n").publicSuffix("x.co.uk")).toBe("co.uk");
  });

  it("answers in well under a microsecond per name", () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `host${i}.example${i % 97}.co.uk`);
    for (const name of names) icann.publicSuffix(name);
    const started = performance.now();
    let total = 0;
    for (let round = 0; round < 20; round++) {
      for (const name of names) total += (icann.publicSuffix(name) as string).length;
    }
    const perName = ((performance.now() - started) * 1000) / (names.length * 20);
    expect(total).toBe(names.length * 20 * 5);
    expect(perName).toBeLessThan(2);
  });
});
