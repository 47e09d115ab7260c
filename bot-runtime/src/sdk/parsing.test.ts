// Parser helpers against the Python they stand for: urljoin, str.split, int().
import { beforeAll, describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { IndexError, item, pyIntOrUndefined, pySplit, urljoinPath } from "./parsing.ts";

const JOINS: Array<[string, string]> = [
  ["https://misp.example.org", "events/view/42"],
  ["https://misp.example.org/", "events/view/42"],
  ["https://misp.example.org/misp", "events/view/42"],
  ["https://misp.example.org/misp/", "events/view/42"],
  ["https://misp.example.org/a/b/c;p?q=1#f", "events/view/42"],
  ["https://misp.example.org/a/b/", "../events/view/42"],
  ["https://misp.example.org/a/", "../../../x/./y/.."],
  ["https://misp.example.org:8443/misp/?x", "events/view/a b?c=d#e"],
  ["http://[2001:db8::1]/misp/", "events/view/7"],
  ["misp://host/path/", "events/view/1"],
  ["file://localhost/var/misp/", "events/view/1"],
  ["", "events/view/1"],
];
const SPLITS: Array<[string, string | null]> = [
  ["a b  c", null],
  ["  a\tb\nc\u2003d\u00a0e  ", null],
  ["", null],
  ["a,b,,c", ","],
  ["a&b&", "&"],
  ["x--y--", "--"],
];
const INTS = ["12", " 12 ", "+5", "-0", "1_000", "_1", "1__0", "١٢", "12.0", "", "0x10", "²"];

describe("parser helpers against Python", () => {
  let python: unknown[] = [];
  beforeAll(async () => {
    const script = [
      "import json, sys",
      "from urllib.parse import urljoin",
      "for line in sys.stdin:",
      "    c = json.loads(line)",
      "    if c['op'] == 'join': out = urljoin(c['a'], c['b'])",
      "    elif c['op'] == 'split': out = c['a'].split(c['b'])",
      "    else:",
      "        try: out = int(c['a'])",
      "        except ValueError: out = None",
      "    print(json.dumps(out))",
    ].join("\n");
    python = await runOracle(script, [
      ...JOINS.map(([a, b]) => ({ op: "join", a, b })),
      ...SPLITS.map(([a, b]) => ({ op: "split", a, b })),
      ...INTS.map((a) => ({ op: "int", a })),
    ]);
  });

  it("joins a relative path to a URL as urllib's urljoin does", () => {
    expect(JOINS.map(([a, b]) => urljoinPath(a, b))).toEqual(python.slice(0, JOINS.length));
  });

  it("splits as str.split does", () => {
    expect(SPLITS.map(([a, b]) => pySplit(a, b))).toEqual(
      python.slice(JOINS.length, JOINS.length + SPLITS.length),
    );
    expect(() => pySplit("a", "")).toThrow(/empty separator/);
  });

  it("reads integers as int() does", () => {
    const got = INTS.map((s) => {
      const n = pyIntOrUndefined(s);
      return n === undefined ? null : Number(n);
    });
    expect(got).toEqual(python.slice(JOINS.length + SPLITS.length));
  });

  it("indexes lists as Python does", () => {
    expect(item([1, 2, 3], -1)).toBe(3);
    expect(() => item([1], 1)).toThrow(IndexError);
    expect(() => item([1], -2)).toThrow(IndexError);
  });
});
