// Python patterns translated to JavaScript against Python 3.11's re itself: the same search result
// (every group) for every pattern and text, the same patterns rejected.
import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { compilePythonRegex, matchGroup, PythonRegexError, pySearch } from "./pyregex.ts";

const ORACLE = `
import json, re, sys
for line in sys.stdin:
    case = json.loads(line)
    try:
        rx = re.compile(case["pattern"], re.IGNORECASE if case["ignoreCase"] else 0)
    except re.error as e:
        print(json.dumps({"error": str(e)}))
        continue
    results = []
    for text in case["texts"]:
        m = rx.search(text)
        results.append(None if m is None else [m.group(i) for i in range(rx.groups + 1)])
    print(json.dumps({"error": None, "results": results}))
`;

const TEXTS = [
  "",
  "abc",
  "ABC",
  "a\nb\n",
  "foo bar\n",
  "foo\nbar",
  "x\r\ny",
  "hello world",
  "Hello_World 42",
  "192.0.2.1",
  "http://example.com/path?q=1",
  "https://admin@www.example.com:8443/index.html",
  "ünïcödé straße ß",
  "١٢٣ ٤",
  "Ⅻ ² x",
  "tab\there",
  "nbsp\u00a0sp\u2003em\u3000",
  "\u001cfs",
  "aaa",
  "abab",
  "a{b}c",
  "a{2}",
  "{,3}",
  "]x[",
  "-_-",
  "\u{1f600} emoji",
  "İstanbul ıi",
  "iIİı",
  "KELVIN \u212a k",
  "ſ long s",
  "malware-c2 botnet",
  "securityscorecard-zeus",
  "x.y*z+?",
  "line\u2028sep",
  "\\back\\slash",
  "a\u0301 combining",
  "end\n",
];

const PATTERNS: Array<string | [string, boolean]> = [
  "abc",
  ["abc", true],
  "^abc$",
  "^$",
  "$",
  "b$",
  "b\\Z",
  "\\Aa",
  "(?m)^b$",
  "(?m)^$",
  "(?s)a.b",
  "a.b",
  "x.y",
  ".+",
  "(?s).+",
  "\\d+",
  "\\D+",
  "(?a)\\d+",
  "\\w+",
  "\\W+",
  "(?a)\\w+",
  "\\s+",
  "\\S+",
  "(?a)\\s",
  "\\bworld\\b",
  "\\Bor\\B",
  "\\B",
  "\\b",
  "(?a)\\b\\w",
  "[a-c]+",
  "[^a-c]+",
  "[]x]+",
  "[^]x]+",
  "[a-]+",
  "[-a]+",
  "[\\d\\s]+",
  "[^\\W\\d]+",
  "[\\w-]+",
  "[.*+?]+",
  "[\\]\\[]+",
  "[{}]+",
  "[\\b]",
  "[\\x41-\\x43]+",
  "[\\u00e0-\\u00ff]+",
  "[\\101]",
  "\\101",
  "\\0",
  "\\x41",
  "\\u0041",
  "\\U0001F600",
  "\\t",
  "a{2}",
  "a{2,}",
  "a{,2}",
  "a{1,2}?",
  "a{,}",
  "a{",
  "a{b}",
  "{,3}",
  "{}",
  "a{2}b?",
  "a{x",
  "(a)(b)?",
  "(a)|(b)",
  "(?P<first>a)(?P<second>b)",
  "(?P<x>a)(?P=x)",
  "(a)\\1",
  "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)\\11",
  "(?:ab)+",
  "(?i)abc",
  "(?i:a)bc",
  ["(?-i:a)bc", true],
  "a(?=b)",
  "a(?!b)",
  "(?<=a)b",
  "(?<!a)b",
  "(?x) a b # comment\n c",
  "(?x)[ ]b",
  "(?x)a\\ b",
  "(?x) a * ",
  "a(?#comment)*",
  "https?://([^/:]+)(?::(\\d+))?(/.*)?",
  "securityscorecard-(.*)$",
  "^bitdefender-(.*)$",
  "-c2",
  "^(10(\\.0)?|([0-9])(\\..*)?)$",
  "^(80|443)$",
  ".*feodotracker.*download=.*$",
  "^BlockList\\.de$",
  "straße",
  ["STRASSE", true],
  ["ÜNÏ", true],
  ["k", true],
  ["s", true],
  ["i", true],
  ["I+", true],
  ["ı", true],
  ["İ", true],
  ["[h-j]+", true],
  ["[^a-z ]+", true],
  ["[\\w]+", true],
  ["(?i:i)I", false],
  "\\-\\#\\:\\@\\ \\'\\\"\\/\\,",
  "\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\",
  "\u{1f600}",
  ".emoji",
  "[\u{1f600}]",
  "a|b|",
  "|",
  "()",
  // Rejected by Python.
  "*a",
  "a**",
  "a{3,2}",
  "(a",
  "a)",
  "[a",
  "[z-a]",
  "[\\d-z]",
  "\\q",
  "\\8",
  "(a)\\2",
  "(a\\1)",
  "\\x4",
  "a(?i)b",
  "(?P<a>x)(?P<a>y)",
  "(?P=nope)",
  "(?<name>x)",
  "(?L)a",
  "\\",
  "^*",
  "\\b+",
];

describe("compilePythonRegex", () => {
  it("searches like Python's re, group for group", async () => {
    const cases = PATTERNS.map((p) => {
      const [pattern, ignoreCase] = typeof p === "string" ? [p, false] : p;
      return { pattern, ignoreCase, texts: TEXTS };
    });
    const oracle = await runOracle<
      unknown,
      { error: string | null; results?: Array<Array<string | null> | null> }
    >(ORACLE, cases);
    let compared = 0;
    for (const [i, c] of cases.entries()) {
      const expected = oracle[i]!;
      const label = `${JSON.stringify(c.pattern)}${c.ignoreCase ? " (ignorecase)" : ""}`;
      if (expected.error !== null) {
        expect(() => compilePythonRegex(c.pattern, c), `${label} Python: ${expected.error}`).toThrow(
          PythonRegexError,
        );
        compared++;
        continue;
      }
      const compiled = compilePythonRegex(c.pattern, c);
      for (const [j, text] of c.texts.entries()) {
        const m = pySearch(compiled, text);
        const got =
          m === null
            ? null
            : Array.from({ length: compiled.groups + 1 }, (_, g) => matchGroup(compiled, m, g));
        expect(got, `${label} on ${JSON.stringify(text)}`).toEqual(expected.results![j]);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(4000);
  });

  it("names groups and refuses unknown ones like Python's match.group", () => {
    const compiled = compilePythonRegex("(?P<host>[^:]+):(\\d+)(x)?");
    const m = pySearch(compiled, "example.com:80")!;
    expect(matchGroup(compiled, m, "host")).toBe("example.com");
    expect(matchGroup(compiled, m, 2)).toBe("80");
    expect(matchGroup(compiled, m, 3)).toBeNull();
    expect(() => matchGroup(compiled, m, 4)).toThrow(/no such group/);
    expect(() => matchGroup(compiled, m, "port")).toThrow(/no such group/);
  });

  it("refuses Python constructs JavaScript cannot express, saying which", () => {
    expect(() => compilePythonRegex("(?>a+)b")).toThrow(/atomic groups/);
    expect(() => compilePythonRegex("a++")).toThrow(/possessive/);
    expect(() => compilePythonRegex("(a)?(?(1)b|c)")).toThrow(/conditional/);
    expect(() => compilePythonRegex("\\N{DIGIT ONE}")).toThrow(/named character/);
    expect(() => compilePythonRegex("(?a)x", { ignoreCase: true })).toThrow(/ASCII-only/);
    expect(() => compilePythonRegex("(?=a)*")).toThrow(/look-around/);
    expect(() => compilePythonRegex("a(?i)b")).toThrow(
      /global flags not at the start of the expression at position 1/,
    );
  });
});
