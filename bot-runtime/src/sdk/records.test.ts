import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { Report } from "../event/message.ts";
import { jsonArray, jsonLines, lines, reportLines } from "./records.ts";

function report(text: string): Report {
  const r = Report.create();
  r.add("raw", text);
  return r;
}

describe("report records", () => {
  it("splits lines exactly as Python's str.splitlines()", async () => {
    const texts = [
      "a\nb\n",
      "a\r\nb\rc\n\nd",
      "a\vb\fc\x1cd\x1de\x1ef\x85g\u2028h\u2029i",
      "no newline at end",
      "\n\n\n",
      "trailing cr\r",
      "x\r\r\ny",
      "",
      "ünï\ncödé\n",
    ];
    const expected = await runOracle<string, string[]>(
      "import sys, json\nfor l in sys.stdin: print(json.dumps(json.loads(l).splitlines()))",
      texts,
    );
    texts.forEach((t, i) => {
      expect([...reportLines(report(t))], JSON.stringify(t)).toEqual(expected[i]);
    });
  });

  it("keeps lines split across decoding chunks intact", () => {
    const big = Array.from({ length: 200_000 }, (_, i) => `line-${i}-ünï`).join("\r\n");
    const out = [...reportLines(report(big))];
    expect(out).toHaveLength(200_000);
    expect(out[123_456]).toBe("line-123456-ünï");
  });

  it("skips blank and ignored lines, and yields raw JSON records", () => {
    expect(
      [...lines(report("# c\n  a \n\n;x\nb"), { ignorePrefixes: ["#", ";"] })].map((r) => r.raw),
    ).toEqual(["a", "b"]);
    expect([...jsonArray(report('[{"a": 1}, 2]'))]).toEqual([
      { value: { a: 1 }, raw: '[{"a": 1}]' },
      { value: 2, raw: "[2]" },
    ]);
    const stream = [...jsonLines(report('{"a":1}\nnot json\n'))];
    expect(stream[0]).toEqual({ value: { a: 1 }, raw: '{"a":1}' });
    expect(stream[1]?.error).toBeInstanceOf(SyntaxError);
  });
});
