// The sieve parser on its own: the tree it builds, how values are converted, and what its error
// messages say. (Acceptance and error positions are compared with textX itself in ../sieve.test.ts.)
import { describe, expect, it } from "vitest";
import { compileSieve } from "./compile.ts";
import { SieveSyntaxError } from "./lexer.ts";
import { parseSieve } from "./parser.ts";

function refusal(text: string): SieveSyntaxError {
  try {
    compileSieve(parseSieve(text, "rules.sieve"), text, "rules.sieve", () => {});
  } catch (error) {
    if (error instanceof SieveSyntaxError) return error;
    throw error;
  }
  throw new Error(`accepted: ${text}`);
}

describe("sieve parser", () => {
  it("builds if/elif/else with conjunctions, negation and groups", () => {
    const program = parseSieve(
      "if :exists a && !(b == 'x' || c :in [1, 2]) { drop } elif d << ['10.0.0.0/8'] { keep } else { path ['p', 'q'] }",
      "f",
    );
    expect(program.statements).toHaveLength(1);
    const branching = program.statements[0]!;
    if (branching.kind !== "if") throw new Error("not an if");
    expect(branching.clauses.map((c) => c.expression === undefined)).toEqual([false, false, true]);
    const [first] = branching.clauses;
    expect(first!.expression).toHaveLength(1);
    const [exists, negatedGroup] = first!.expression![0]!;
    expect(exists!.match).toMatchObject({ kind: "exists", op: ":exists", key: { name: "a" } });
    expect(negatedGroup!.negated).toBe(true);
    expect(negatedGroup!.match.kind).toBe("group");
    expect(branching.clauses[2]!.statements).toEqual([
      { kind: "path", paths: ["p", "q"], at: expect.any(Number) },
    ]);
  });

  it("converts values as textX does", () => {
    const program = parseSieve(
      "add a = 1\nadd b = 1.0\nadd c = true\nadd d = 'it\\'s \\\\ \"x\"'\nadd e = $v\nadd f = 1e3\nadd g = False",
      "f",
    );
    const values = program.statements.map((s) => (s.kind === "add" ? s.value : undefined));
    expect(values).toMatchObject([
      { type: "int", value: 1 },
      { type: "float", value: 1 },
      { type: "bool", value: true },
      // Only \' and \" are unescaped; a doubled backslash stays doubled.
      { type: "string", value: 'it\'s \\\\ "x"' },
      { variable: "$v" },
      { type: "float", value: 1000 },
      { type: "bool", value: false },
    ]);
  });

  it("reads keywords as prefixes and comments anywhere, as textX does", () => {
    const program = parseSieve("keepdrop # both\nifa.b==1{}//x\n", "f");
    expect(program.statements.map((s) => s.kind)).toEqual(["keep", "drop", "if"]);
  });

  it("names file, line and column, what was expected and what was found", () => {
    const error = refusal("if :exists source.ip {\n  add comment = 'x'\n  pth 'y'\n}\n");
    expect(error.message).toBe(
      "rules.sieve:3:3: expected 'drop', 'keep', 'path', 'add', 'add!', 'update', 'remove', 'append', 'append!', a $variable, 'if' or '}', found \"pth\"",
    );
    expect({ line: error.line, column: error.column }).toEqual({ line: 3, column: 3 });
    expect(refusal("if comment == 'x' {").message).toBe(
      "rules.sieve:1:20: expected 'drop', 'keep', 'path', 'add', 'add!', 'update', 'remove', 'append', 'append!', a $variable, 'if' or '}', found the end of the file",
    );
    expect(refusal("if comment == 'unterminated { drop }\n").message).toMatch(
      /^rules\.sieve:1:15: expected a quoted string, a \$variable, a decimal number, an integer or true\/false, found "'unterminated"$/,
    );
  });

  it("counts columns in code points, as Python does", () => {
    expect(refusal("if comment == '😀😀' && { drop }").column).toBe(23);
  });

  it("explains the checks IntelMQ makes when loading a file", () => {
    expect(refusal("if source.ip == 'example.com' { drop }").message).toBe(
      'rules.sieve:1:17: source.ip is an IP address field, but "example.com" is not an IP address',
    );
    expect(refusal("if comment < 5 { drop }").message).toBe(
      "rules.sieve:1:14: comment is a String field; numeric comparisons work on Integer, Float, Accuracy and ASN fields",
    );
    expect(refusal("if extra.n :in [1] { drop }").message).toBe(
      "rules.sieve:1:16: extra.n is not a harmonization field; numeric comparisons work on Integer, Float, Accuracy and ASN fields",
    );
    expect(refusal("if source.ip << '10.0.0.0/33' { drop }").message).toBe(
      'rules.sieve:1:17: "10.0.0.0/33" is not an IP address or network',
    );
  });

  it("explains Petrel's own load-time checks (deviation sieve-checked-at-load)", () => {
    expect(refusal("if comment =~ '(?P<x>a' { drop }").message).toMatch(
      /^rules\.sieve:1:15: regular expression "\(\?P<x>a": missing \), unterminated subpattern/,
    );
    expect(refusal("if time.source :after 'last week' { drop }").message).toMatch(
      /^rules\.sieve:1:23: "last week" is not a time: use an ISO 8601 date/,
    );
    expect(refusal("update time.source += 5").message).toBe(
      "rules.sieve:1:23: 5 is not a relative time such as '2 hours' or '1 day'",
    );
  });
});
