// str.format pieces against Python 3.11 itself: format(value, spec) for many values and specs,
// template parsing, conversions and ==.
import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { parseFormat, pyConvert, pyEquals, pyFormatValue, type ReplacementField } from "./pyformat.ts";

const ORACLE = `
import json, sys, _string
def val(c):
    v = c["value"]
    return float(v) if c.get("isFloat") else v
for line in sys.stdin:
    c = json.loads(line)
    try:
        if c["op"] == "format":
            print(json.dumps({"ok": format(val(c), c["spec"])}))
        elif c["op"] == "convert":
            v = val(c)
            print(json.dumps({"ok": {"s": str, "r": repr, "a": ascii}[c["conversion"]](v)}))
        elif c["op"] == "equals":
            print(json.dumps({"ok": c["a"] == c["b"]}))
        else:
            parts = []
            for literal, name, spec, conversion in _string.formatter_parser(c["template"]):
                if literal:
                    parts.append(literal)
                if name is not None:
                    first, rest = _string.formatter_field_name_split(name)
                    parts.append({"arg": first, "accessors": [["attribute" if a else "index", k] for a, k in rest],
                                  "conversion": conversion, "spec": spec})
            print(json.dumps({"ok": parts}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
`;

type Result = { ok?: unknown; error?: string };

const VALUES: Array<{ value: unknown; isFloat?: boolean }> = [
  { value: "abc" },
  { value: "" },
  { value: "ünïcödé" },
  { value: "\u{1f600}x" },
  { value: 0 },
  { value: 5 },
  { value: -5 },
  { value: 255 },
  { value: 1234567 },
  { value: -1234567890 },
  { value: 65 },
  { value: 0, isFloat: true },
  { value: 1, isFloat: true },
  { value: 90, isFloat: true },
  { value: 1.5 },
  { value: 2.5 },
  { value: 0.125 },
  { value: 123.456 },
  { value: -1234.5678 },
  { value: 1e16, isFloat: true },
  { value: 1.23e-5 },
  { value: 1e-7 },
  { value: 12345678901234567000, isFloat: true },
  { value: 0.1 },
  { value: 100, isFloat: true },
  { value: 3.25159 },
  { value: 9.9999 },
  { value: 0.5 },
  { value: -0.0004 },
  { value: 5e-324 },
  { value: 1.7976931348623157e308, isFloat: true },
  { value: true },
  { value: false },
  { value: null },
  { value: [1, "a", null] },
  { value: { a: 1, b: [true] } },
];

const SPECS = [
  "",
  "s",
  "10",
  "<10",
  ">10",
  "^10",
  "*^9",
  "0>8",
  "=10",
  "05",
  "010",
  "+",
  "-",
  " ",
  "+08",
  "=+08",
  ".2",
  ".0",
  ".3",
  "10.2",
  ",",
  "_",
  "012,",
  "09,",
  "08,",
  ",d",
  "_x",
  "_b",
  "#x",
  "#X",
  "#o",
  "#b",
  "x",
  "X",
  "o",
  "b",
  "c",
  "d",
  "n",
  "e",
  "E",
  ".2e",
  ".0e",
  "#.0e",
  "f",
  "F",
  ".2f",
  ".0f",
  "#.0f",
  ".1f",
  "g",
  "G",
  ".3g",
  "#.3g",
  "#g",
  ".1g",
  ".10g",
  "%",
  ".1%",
  "z.1f",
  "z",
  "+.3e",
  ",.2f",
  "_.3f",
  "015,.2f",
  "#",
  "x<+#012_x",
  ",s",
  "=5s",
  "abc",
  ".",
  "z.1",
];

const TEMPLATES = [
  "plain",
  "{msg[source.ip]}",
  "{matches[source.url][1]}",
  "{matches[malware.name][name]}",
  "x{{y}}z",
  "{msg[feed.accuracy]:>8.2f}!",
  "{msg[source.port]!r}",
  "{msg[extra.a b]}",
  "{msg[a:b]}",
  "{msg[a}b]}",
  "{msg.keys}",
  "{0}",
  "{}",
  "{[x]}",
  "{msg[x]:{y}}",
  "{msg[x]!x}",
  "{msg[x]y}",
  "{msg[x",
  "{",
  "}",
  "a}b",
  "{msg[]}",
  "{msg{x}}",
  "{msg[x]!r:^10}",
  "{msg[x]:}",
];

describe("pyformat", () => {
  it("formats values like Python's format()", async () => {
    const cases = VALUES.flatMap((v) => SPECS.map((spec) => ({ op: "format", ...v, spec })));
    const expected = await runOracle<unknown, Result>(ORACLE, cases);
    let agreed = 0;
    for (const [i, c] of cases.entries()) {
      const want = expected[i]!;
      const label = `format(${JSON.stringify(c.value)}${c.isFloat ? " float" : ""}, ${JSON.stringify(c.spec)})`;
      if (want.error !== undefined) {
        expect(() => pyFormatValue(c, c.spec), `${label}: Python ${want.error}`).toThrow();
      } else {
        expect(pyFormatValue(c, c.spec), label).toBe(want.ok);
      }
      agreed++;
    }
    expect(agreed).toBe(VALUES.length * SPECS.length);
  });

  it("converts with !s, !r and !a like Python", async () => {
    const cases = VALUES.flatMap((v) =>
      (["s", "r", "a"] as const).map((conversion) => ({ op: "convert", ...v, conversion })),
    );
    const expected = await runOracle<unknown, Result>(ORACLE, cases);
    for (const [i, c] of cases.entries()) {
      expect(pyConvert(c, c.conversion).value, `${c.conversion} of ${JSON.stringify(c.value)}`).toBe(
        expected[i]!.ok,
      );
    }
  });

  it("parses templates like Python's formatter", async () => {
    const cases = TEMPLATES.map((template) => ({ op: "parse", template }));
    const expected = await runOracle<unknown, Result>(ORACLE, cases);
    for (const [i, c] of cases.entries()) {
      const want = expected[i]!;
      // Python checks the conversion letter only when formatting; Petrel already when parsing.
      const badConversion = (want.ok as Array<{ conversion?: string | null }> | undefined)?.some(
        (p) => typeof p === "object" && p.conversion != null && !"sra".includes(p.conversion),
      );
      if (want.error !== undefined || badConversion) {
        expect(() => parseFormat(c.template), `${c.template}: Python ${want.error}`).toThrow();
        continue;
      }
      const got = parseFormat(c.template).map((p) =>
        typeof p === "string"
          ? p
          : {
              arg: (p as ReplacementField).arg,
              accessors: p.accessors.map((a) => [a.kind, a.key]),
              conversion: p.conversion ?? null,
              spec: p.spec,
            },
      );
      // Python splits literal text at each doubled brace; adjacent literals are one here.
      const merged: unknown[] = [];
      for (const part of want.ok as unknown[]) {
        if (typeof part === "string" && typeof merged.at(-1) === "string") merged.push(merged.pop() + part);
        else merged.push(part);
      }
      expect(got, c.template).toEqual(merged);
    }
  });

  it("compares values like Python's ==", async () => {
    const values: unknown[] = [
      0,
      1,
      1.5,
      "1",
      "",
      true,
      false,
      null,
      [1, 2],
      [1, 2.0],
      [true, 2],
      { a: 1 },
      { a: true },
      "a",
    ];
    const cases = values.flatMap((a) => values.map((b) => ({ op: "equals", a, b })));
    const expected = await runOracle<unknown, Result>(ORACLE, cases);
    for (const [i, c] of cases.entries()) {
      expect(pyEquals(c.a, c.b), `${JSON.stringify(c.a)} == ${JSON.stringify(c.b)}`).toBe(expected[i]!.ok);
    }
  });
});
