// Differential tests: FQDN and URL validation / sanitation against IntelMQ 3.5.0 harmonization.
import { describe, expect, it } from "vitest";
import { picker, seededRandom } from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import { isValidFqdnValue, isValidUrlValue, sanitizeFqdn, sanitizeUrl } from "./fqdn-url.ts";

const rand = seededRandom(0xf9d7);
const pick = picker(rand);

const HOSTS = [
  "example.com",
  "sub.example.co.uk",
  "www.example.org",
  "EXAMPLE.com",
  "Example.Com",
  "example.com.",
  ".example.com",
  "..example.com",
  "example..com",
  ".",
  "..",
  "a",
  "localhost",
  "ex_ample.com",
  "_dmarc.example.com",
  "-a-.com",
  "*.example.com",
  "a@b.com",
  "a b.com",
  "1.2.3.4",
  "0.0.0.0",
  "255.255.255.255",
  "1.2.3",
  "01.2.3.4",
  "256.1.1.1",
  "1.2.3.4.5",
  "1.2.3.4.",
  "::1",
  "fe80::1",
  "[::1]",
  "10.0.0.1:8080",
  "host:80",
  "123",
  "1e5",
  "münchen.de",
  "MÜNCHEN.de",
  "xn--mnchen-3ya.de",
  "XN--MNCHEN-3YA.DE",
  "xn--zz.de",
  "straße.de",
  "faß.de",
  "пример.рф",
  "ПРИМЕР.РФ",
  "例え.テスト",
  "中国。中国",
  "😀.example",
  "ΣΊΣΥΦΟΣ.gr",
  "σίσυφος.gr",
  "مثال.إختبار",
  "مثالa.com",
  "דוגמה.com",
  "ｅｘａｍｐｌｅ.com",
  "ex\u00adample.com",
  "ex\u200dample.com",
  "ex\u3000ample.com",
  "ex\ue000ample.com",
  "\u2100.com",
  "a\u2474b.com",
  "\u0130stanbul.com",
  "a".repeat(63) + ".com",
  "a".repeat(64) + ".com",
  "com." + "b".repeat(64),
  "ü".repeat(30) + ".de",
  "//host/x",
  "evil.com/x",
  "evil.com/",
  "a?b",
  "a#b",
  "a%2Fb.com",
  "http://x.com",
  "hxxp://x.com",
  "//[::1",
  "a\u0000b.com",
  "a\u007fb.com",
  "a\tb.com",
];

const WRAPS: ((h: string) => string)[] = [
  (h) => h,
  (h) => h,
  (h) => h.toUpperCase(),
  (h) => h + ".",
  (h) => "." + h,
  (h) => " " + h,
  (h) => h + " ",
  (h) => "\t" + h + "\n",
  (h) => "\u00a0" + h,
  (h) => h + "\u3000",
  (h) => "\x1c" + h,
  (h) => "\x85" + h,
  (h) => "\ufeff" + h,
  (h) => h + ":443",
  (h) => h + "/path",
  (h) => "www." + h,
  (h) => h.replace(".", "_"),
  (h) => h.replace(".", "\u3002"),
];

function fqdnStrings(): string[] {
  const out = new Set<string>(HOSTS);
  while (out.size < 700) out.add(pick(WRAPS)(pick(HOSTS)));
  return [...out];
}

const SCHEMES = [
  "http://",
  "https://",
  "HTTP://",
  "hxxp://",
  "hxxps://",
  "hXXp://",
  "ftp://",
  "file://",
  "file:",
  "file:///",
  "FILE:",
  "//",
  "",
  "mailto:",
  "javascript:",
  "  http://",
  "\thttp://",
  "\x00http://",
  "http:/",
  "http:",
  "h\ttp://",
  "http:/\t/",
  "git+ssh://",
  "1http://",
];
const URL_HOSTS = [
  "example.com",
  "EXAMPLE.COM",
  "user:pw@example.com",
  "example.com:8080",
  "example.com:",
  "[::1]",
  "[::1]:8080",
  "[fe80::1%eth0]",
  "[1.2.3.4]",
  "[v1.x]",
  "[bad",
  "bad]",
  "1.2.3.4",
  "münchen.de",
  "例え.テスト",
  "exam\u2100ple.com",
  "a\uff03b.com",
  "😀.example",
  "",
  "@",
  "a b",
  "ex\tample.com",
];
const TAILS = [
  "",
  "/",
  "/path/file.php?q=1&r=2#frag",
  "?q",
  "#f",
  "/hxxp://inner.example/",
  " trailing",
  "/\t",
  "/a b",
  "/ü",
  "/[x]",
];

function urlStrings(): string[] {
  const out = new Set<string>([
    "",
    " ",
    "http://",
    "https://",
    "hxxp://",
    "file:",
    "file:///etc/passwd",
    "file:etc/passwd",
    "file:/etc/passwd",
    "file:////x",
    "file:?q#f",
    "http://example.com/?u=hxxp://other.example/",
    "hxxps://example.com/hxxps://x",
    "example.com",
    "example.com/x",
    "//example.com/x",
    "path:80",
    "localhost:8080",
    "http://[::1",
    "http://[1.2.3.4]/",
    "http://exam\u2100ple.com/",
    "\u3000http://example.com",
    "\x1chttp://example.com",
  ]);
  while (out.size < 800) out.add(pick(SCHEMES) + pick(URL_HOSTS) + pick(TAILS));
  return [...out];
}

// JSON values other than strings that reach sanitize(): Python runs them through str().
const NON_STRINGS: unknown[] = [
  null,
  true,
  false,
  0,
  1,
  -1,
  1.5,
  -0.25,
  1e20,
  1e-7,
  123456789,
  [],
  {},
  ["example.com"],
  [1, "x"],
  { a: 1 },
  { "http://x": "y" },
];

type Kind = "fqdn-valid" | "fqdn-sanitize" | "url-valid" | "url-sanitize";
interface Outcome {
  ok?: boolean | string | null;
  raise?: string;
}

const ORACLE = `
import json, sys
from intelmq.lib.harmonization import FQDN, URL
calls = {"fqdn-valid": FQDN.is_valid, "fqdn-sanitize": FQDN.sanitize,
         "url-valid": URL.is_valid, "url-sanitize": URL.sanitize}
for line in sys.stdin:
    kind, value = json.loads(line)
    try:
        print(json.dumps({"ok": calls[kind](value)}))
    except Exception as e:
        print(json.dumps({"raise": type(e).__name__}))
`;

function petrel(kind: Kind, value: unknown): Outcome {
  try {
    switch (kind) {
      case "fqdn-valid":
        return { ok: isValidFqdnValue(value as string) };
      case "fqdn-sanitize":
        return { ok: sanitizeFqdn(value) ?? null };
      case "url-valid":
        return { ok: isValidUrlValue(value as string) };
      case "url-sanitize":
        return { ok: sanitizeUrl(value) ?? null };
    }
  } catch (e) {
    return { raise: (e as Error).name };
  }
}

// Python raising from is_valid counts as "invalid"; from sanitize, Petrel must throw too.
function expectedOutcome(kind: Kind, o: Outcome): Outcome {
  if (o.raise === undefined) return o;
  if (kind === "fqdn-valid" || kind === "url-valid") return { ok: false };
  return { raise: o.raise === "ValueError" ? "UrlSplitError" : o.raise };
}

async function compare(kind: Kind, values: unknown[]): Promise<void> {
  const raw = await runOracle<[Kind, unknown], Outcome>(
    ORACLE,
    values.map((v) => [kind, v]),
  );
  const mismatches: string[] = [];
  let raised = 0;
  let accepted = 0;
  for (let i = 0; i < values.length; i++) {
    if (raw[i]!.raise !== undefined) raised++;
    const want = expectedOutcome(kind, raw[i]!);
    if (want.ok !== false && want.ok !== null && want.raise === undefined) accepted++;
    const got = petrel(kind, values[i]);
    if (got.ok !== want.ok || got.raise !== want.raise) {
      mismatches.push(
        `${JSON.stringify(values[i])}: petrel ${JSON.stringify(got)} python ${JSON.stringify(raw[i])}`,
      );
    }
  }
  console.log(
    `${kind} corpus: ${values.length} inputs (${accepted} accepted, ${raised} raise in Python); agreement ${values.length - mismatches.length}`,
  );
  expect(mismatches).toEqual([]);
  expect(values.length).toBeGreaterThanOrEqual(500);
  expect(accepted).toBeGreaterThan(100);
}

describe("FQDN against IntelMQ 3.5.0", () => {
  it("is_valid", async () => {
    await compare("fqdn-valid", fqdnStrings());
  });

  it("sanitize", async () => {
    await compare("fqdn-sanitize", [...fqdnStrings(), ...NON_STRINGS]);
  });
});

describe("URL against IntelMQ 3.5.0", () => {
  it("is_valid", async () => {
    await compare("url-valid", [...urlStrings(), ...fqdnStrings().slice(0, 100)]);
  });

  it("sanitize", async () => {
    await compare("url-sanitize", [...urlStrings(), ...fqdnStrings().slice(0, 100), ...NON_STRINGS]);
  });

  it("throws where URL.sanitize raises", () => {
    expect(() => sanitizeUrl("http://[::1/")).toThrow(/Invalid IPv6 URL/);
    expect(() => sanitizeUrl("hxxp://exam\u2100ple.com/")).toThrow(/NFKC/);
  });
});
