// Differential tests: urlsplit / urlunsplit / hostname / port against CPython 3.11.7 urllib.parse.
import { describe, expect, it } from "vitest";
import { picker, seededRandom } from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import { urlHostname, urlPort, urlsplit, urlunsplit } from "./urlsplit.ts";

const rand = seededRandom(0x0d12);
const pick = picker(rand);

const HANDPICKED = [
  "",
  " ",
  "http://example.com/a/b?c=d&e=f#frag",
  "https://user:pass@example.com:8443/path;params?q#f",
  "HTTP://EXAMPLE.COM/PATH",
  "HtTpS://Example.com",
  "path:80",
  "localhost:8080",
  "example.com:80/x",
  "a:b",
  "1a:b",
  "a1+.-:x",
  "a_b:x",
  "ä:x",
  ":x",
  "::",
  "//",
  "///",
  "////x",
  "//host/x",
  "//host?x",
  "//host#x",
  "evil.com/x",
  "http:",
  "http:/",
  "http://",
  "http:///x",
  "http:x",
  "http:/x",
  "http:\\\\x",
  " \x00\x1fhttp://x/y",
  "\x7fhttp://x",
  "\u00a0http://x",
  "http://x y/ z ",
  "ht\ttp://ex\nam\rple.com/p\ta",
  "http:/\t/x",
  "\thttp://x",
  "http://[::1]:80/",
  "http://[::1",
  "http://::1]",
  "http://[::1]x]/",
  "http://]x[",
  "http://[]",
  "http://[v1.fe]/",
  "http://[v1.]/",
  "http://[v.x]/",
  "http://[vz.x]/",
  "http://[V1.x]/",
  "http://[v1.x\u2028]/",
  "http://[1.2.3.4]/",
  "http://[::ffff:1.2.3.4]/",
  "http://[::ffff:1.2.3.04]/",
  "http://[fe80::1%eth0]/",
  "http://[fe80::1%]/",
  "http://[fe80::1%a%b]/",
  "http://[1:2:3:4:5:6:7:8]/",
  "http://[1:2:3:4:5:6:7:8:9]/",
  "http://[1::2::3]/",
  "http://[:1:2:3:4:5:6:7]/",
  "http://[1:2:3:4:5:6:7:]/",
  "http://[::]/",
  "http://[1::]/",
  "http://[::1:2:3:4:5:6:7]/",
  "http://[::1:2:3:4:5:6:7:8]/",
  "http://[1:2:3:4::5:6:7:8]/",
  "http://[1::3:4:5:6:7:8:9]/",
  "http://[1:2:3:4:5:6:7::]/",
  "http://[::2:3:4:5:6:7:8]/",
  "http://[1:2:3::4:5:6:7]/",
  "http://[1:2:3:4:5:6::1.2.3.4]/",
  "http://[1:2:3:4:5::1.2.3.4]/",
  "http://[1:2:3:4:5:6:1.2.3.4]/",
  "http://[1:2:3:4:5:6:7:1.2.3.4]/",
  "http://[::1.2.3]/",
  "http://[::256.2.3.4]/",
  "http://[::1.2.3.4%x]/",
  "http://[0:0:0:0:0:0:0:0]/",
  "http://[00000::]/",
  "http://[::fFfF]/",
  "http://[ ::1]/",
  "http://[12345::]/",
  "http://[g::]/",
  "http://[١::]/",
  "http://u:p@[::1]:8080/",
  "http://[::1]:http/",
  "http://[::1]:/",
  "http://a@b@c:1/",
  "http://a:b:c/",
  "http://host:65535/",
  "http://host:65536/",
  "http://host:0/",
  "http://host:0080/",
  "http://host:-1/",
  "http://host:+1/",
  "http://host:١٢/",
  "http://host: 80/",
  "http://host:99999999999999999999/",
  "http://EXAMPLE.com:80",
  "http://ÉXAMPLE.com/",
  "http://exam\u2100ple.com/",
  "http://a\uff03b/",
  "http://a\uff1fb/",
  "http://a\ufe55b/",
  "http://a\uff0fb/",
  "http://a\uff20b/",
  "http://ex\u2474ample/",
  "http://\u2100@x/",
  "http://ü@x/",
  "http://münchen.de/straße",
  "http://😀.example/",
  "http://\ud800.x/",
  "mailto:a@b.c",
  "javascript:alert(1)",
  "urn:isbn:0451450523",
  "file:///etc/passwd",
  "file:/etc/passwd",
  "file:etc/passwd",
  "file://host/share",
  "file:",
  "FILE:x",
  "?q",
  "#f",
  "?",
  "#",
  "a?b#c?d",
  "a#b?c",
  "http://a#b?c",
  "http://a?b/c",
  "http://a#b/c",
  "hxxp://example.com/",
  "git+ssh://git@github.com/x.git",
  "svn+ssh:x",
  "tel:+1-555",
  "data:text/plain,hi",
  "x://",
  "x:",
  "x:/",
  "1.2.3.4",
  "1.2.3.4:80",
  "[::1]:80",
  "//[::1]",
  "//[::1]:80/x",
  "//user@host",
  "\u3000http://x",
  "\ufeffhttp://x",
];

const SCHEMES = ["", "http:", "https:", "HTTP:", "file:", "ftp:", "mailto:", "x-y+z.1:", "1x:", "ä:", "h_t:"];
const SEPARATORS = ["", "/", "//", "///", ":/"];
const NETLOCS = [
  "example.com",
  "EXAMPLE.COM",
  "user:pw@example.com:8080",
  "example.com:",
  "@",
  "[::1]",
  "[::1]:443",
  "[v7.abc]",
  "[1.2.3.4]",
  "[x",
  "x]",
  "münchen.de",
  "a\u2100b",
  "a\uff0fb",
  "",
  "1.2.3.4",
  "a b",
  "\x01ctrl",
];
const TAILS = ["", "/", "/p/q", "?q=1", "#f", "/p?q#f", "?q#f?g", "#f#g", "/a:b", "/\t"];

const FUZZ_TOKENS = [
  "a",
  "B",
  "1",
  "-",
  "+",
  ".",
  ":",
  "/",
  "//",
  "?",
  "#",
  "[",
  "]",
  "@",
  "%",
  " ",
  "\t",
  "\n",
  "\r",
  "\x00",
  "\x1f",
  "http",
  "https:",
  "file:",
  "ü",
  "\u2100",
  "\uff03",
  "\uff1f",
  "\ufe55",
  "::1",
  "v1.x",
  "1.2.3.4",
  "localhost",
  "\u00a0",
  "\u3002",
  "\u2102",
  "😀",
  "%2F",
  "0",
  "255",
];

function corpus(): string[] {
  const out = new Set<string>(HANDPICKED);
  for (const scheme of SCHEMES) {
    for (const sep of SEPARATORS) {
      for (const netloc of NETLOCS) {
        if (rand() < 0.35) out.add(scheme + sep + netloc + pick(TAILS));
      }
    }
  }
  while (out.size < 2200) {
    const n = 1 + Math.floor(rand() * 9);
    let s = "";
    for (let i = 0; i < n; i++) s += pick(FUZZ_TOKENS);
    out.add(s);
  }
  return [...out];
}

interface Outcome {
  err?: string;
  parts?: string[];
  unsplit?: string;
  hostname?: string | null;
  port?: number | null | { err: string };
}

const ORACLE = `
import json, sys
from urllib.parse import urlsplit, urlunsplit
for line in sys.stdin:
    s = json.loads(line)
    try:
        r = urlsplit(s)
    except ValueError as e:
        print(json.dumps({"err": str(e)}))
        continue
    out = {"parts": list(r), "unsplit": urlunsplit(r), "hostname": r.hostname}
    try:
        out["port"] = r.port
    except ValueError as e:
        out["port"] = {"err": str(e)}
    print(json.dumps(out))
`;

// Python quotes the offending text with repr(); the rest of each message is compared verbatim.
function normalizeMessage(m: string): string {
  return m
    .replace(
      /^.* does not appear to be an IPv4 or IPv6 address$/s,
      "<repr> does not appear to be an IPv4 or IPv6 address",
    )
    .replace(
      /^Port could not be cast to integer value as .*$/s,
      "Port could not be cast to integer value as <repr>",
    );
}

function petrel(s: string): Outcome {
  try {
    const r = urlsplit(s);
    const out: Outcome = {
      parts: [r.scheme, r.netloc, r.path, r.query, r.fragment],
      unsplit: urlunsplit(r),
      hostname: urlHostname(r.netloc) ?? null,
    };
    try {
      out.port = urlPort(r.netloc) ?? null;
    } catch (e) {
      out.port = { err: normalizeMessage((e as Error).message) };
    }
    return out;
  } catch (e) {
    return { err: normalizeMessage((e as Error).message) };
  }
}

function normalizeOracle(o: Outcome): Outcome {
  if (o.err !== undefined) return { err: normalizeMessage(o.err) };
  if (o.port !== null && typeof o.port === "object") o.port = { err: normalizeMessage(o.port.err) };
  return o;
}

describe("urlsplit against CPython 3.11.7", () => {
  it("splits, rejoins and reads host and port exactly as urllib.parse", async () => {
    const inputs = corpus();
    const expected = await runOracle<string, Outcome>(ORACLE, inputs);
    const mismatches: string[] = [];
    let raised = 0;
    for (let i = 0; i < inputs.length; i++) {
      const want = normalizeOracle(expected[i]!);
      if (want.err !== undefined) raised++;
      const got = petrel(inputs[i]!);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        mismatches.push(
          `${JSON.stringify(inputs[i])}: petrel ${JSON.stringify(got)} python ${JSON.stringify(want)}`,
        );
      }
    }
    console.log(
      `urlsplit corpus: ${inputs.length} inputs (${raised} raise ValueError); agreement ${inputs.length - mismatches.length}`,
    );
    expect(mismatches).toEqual([]);
    expect(inputs.length).toBeGreaterThanOrEqual(400);
    expect(raised).toBeGreaterThan(20);
  });

  it("keeps 3.11 behaviour for scheme-like prefixes followed by digits", () => {
    expect(urlsplit("path:80")).toEqual({ scheme: "path", netloc: "", path: "80", query: "", fragment: "" });
  });

  it("throws the ValueError message Python uses for unbalanced brackets", () => {
    expect(() => urlsplit("http://[::1/")).toThrow("Invalid IPv6 URL");
  });
});
