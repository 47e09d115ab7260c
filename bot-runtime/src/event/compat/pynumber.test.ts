// Differential tests: Python 3.11 int(), float(), repr() and str.strip() (run in the oracle venv)
// against the emulation, on JSON-like inputs with many string edge cases.
import { describe, expect, it } from "vitest";
import {
  doubleToHex,
  hexToDouble,
  PY_WIRE_DECODE,
  type PyWire,
  pyFloatFromRepr,
  seededRandom,
  toPyWire,
} from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import { PY_INT_OUT_OF_RANGE_DEVIATION, pyFloat, pyFloatRepr, pyInt, pyIntRepr } from "./pynumber.ts";
import { pyIsSpace, pyStrip } from "./pystring.ts";

const DECODE = `
import sys, json${PY_WIRE_DECODE}`;

const NUMBER_SCRIPT = `${DECODE}
for line in sys.stdin:
    v = decode(json.loads(line))
    try:
        i = str(int(v))
    except Exception:
        i = None
    try:
        f = repr(float(v))
    except Exception:
        f = None
    print(json.dumps({'i': i, 'f': f}))
`;

function numberCorpus(): unknown[] {
  const cores = [
    "0",
    "1",
    "-1",
    "+1",
    "00",
    "-00",
    "007",
    "+0",
    "-0",
    "42",
    "1_000",
    "1__000",
    "_1",
    "1_",
    "+_1",
    "-_1",
    "0_1",
    "1_2_3",
    "9007199254740991",
    "-9007199254740991",
    "9007199254740992",
    "-9007199254740992",
    "9999999999999999",
    "18446744073709551616",
    "123456789012345678901234567890",
    "12.0",
    "12.",
    ".5",
    "5.",
    ".",
    "1.5",
    "-1.5",
    "1e3",
    "1E3",
    "1e+3",
    "1e-3",
    "1e",
    "1e+",
    "e5",
    ".e1",
    "1.e",
    "0.e1",
    "1e1_0",
    "1e_10",
    "1_e10",
    "1_.5",
    "1._5",
    "1.5_5",
    "1_0.5",
    "1_000_000.000_1",
    "1e400",
    "-1e400",
    "1e-400",
    "2.5e-324",
    "1.7976931348623157e308",
    "1.7976931348623159e308",
    "0x10",
    "0X10",
    "0b1",
    "0o7",
    "0x1p3",
    "inf",
    "-inf",
    "+inf",
    "INF",
    "Inf",
    "infinity",
    "-Infinity",
    "iNfInItY",
    "infinit",
    "infinityy",
    "in_f",
    "nan",
    "NaN",
    "-nan",
    "+nAn",
    "nan(1)",
    "nana",
    "Infinity",
    "",
    " ",
    "_",
    "+",
    "-",
    "++1",
    "+-1",
    "--1",
    "1+",
    "1-1",
    "1 2",
    "1.2.3",
    "1,5",
    "1,000",
    "١٢",
    "١_٢",
    "٣",
    "١.٥",
    "٫",
    "１２",
    "１e１",
    "1۰",
    "٠x10",
    "1ـ2",
    "𝟏𝟐",
    "𝟘",
    "१२३",
    "᱐",
    "𞥐",
    "𑵐",
    "Ⅻ",
    "½",
    "²",
    "¹",
    "1\u0000",
    "\u0000",
    "abc",
    "true",
    "None",
    "1L",
    "1j",
    "1.0j",
    "١e٢",
    "0.0000001",
    "123456789.123456789",
    "4.9e-324",
    "000000000000000000000000000001",
  ];
  const pads = [
    "",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\u000b",
    "\u000c",
    "\u001c",
    "\u001f",
    "\u0085",
    "\u00a0",
    "\u1680",
    "\u2003",
    "\u2028",
    "\u202f",
    "\u3000",
    "\u200b",
    "\ufeff",
  ];
  const out: unknown[] = [];
  for (const c of cores) out.push(c);
  for (const p of pads) {
    out.push(`${p}12${p}`, `${p}-3.5${p}`, `${p}inf`, `1_0${p}`, `${p}`);
  }
  const rnd = seededRandom(7);
  const alphabet = "0123456789_+-.eE iInNfFaAtyx٣١\u00a0";
  for (let k = 0; k < 150; k++) {
    const len = 1 + Math.floor(rnd() * 8);
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
    out.push(s);
  }
  // Python refuses int() of more than 4300 digits; float() has no such limit.
  out.push(
    "1".repeat(4300),
    "0".repeat(4300),
    "0".repeat(4301),
    `${"0_".repeat(4300)}1`,
    `-${"0".repeat(4300)}`,
  );
  out.push(
    0,
    -0,
    1,
    -1,
    42,
    1.5,
    -1.5,
    0.9999,
    -0.9999,
    1e-300,
    2 ** 53 - 1,
    -(2 ** 53 - 1),
    2 ** 53,
    -(2 ** 53),
    2 ** 60,
    2 ** 53 + 2,
    1e20,
    1e21,
    1e300,
    -1e300,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    4503599627370495.5,
    true,
    false,
    null,
    [],
    [1],
    ["1"],
    {},
    { a: 1 },
  );
  for (let k = 0; k < 40; k++) out.push((rnd() - 0.5) * 10 ** Math.floor(rnd() * 30));
  return out;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

describe("pyInt / pyFloat against Python int() / float()", () => {
  it("agrees on the corpus, except integers out of the safe range (a named deviation)", async () => {
    expect(PY_INT_OUT_OF_RANGE_DEVIATION).toMatch(/2\^53/);
    const corpus = numberCorpus();
    const oracle = await runOracle<PyWire, { i: string | null; f: string | null }>(
      NUMBER_SCRIPT,
      corpus.map(toPyWire),
    );
    const intMismatches: unknown[] = [];
    const floatMismatches: unknown[] = [];
    let intAgree = 0;
    let intDeviations = 0;
    let floatAgree = 0;
    corpus.forEach((input, k) => {
      const py = oracle[k]!;
      const got = pyInt(input);
      if (py.i !== null && (BigInt(py.i) > MAX_SAFE || BigInt(py.i) < -MAX_SAFE)) {
        // Deviation PY_INT_OUT_OF_RANGE_DEVIATION: Python returns the big integer, Petrel rejects it.
        if (got === undefined) intDeviations++;
        else intMismatches.push({ input, python: py.i, got });
      } else if ((py.i === null ? undefined : Number(py.i)) === got && !Object.is(got, -0)) {
        intAgree++;
      } else {
        intMismatches.push({ input, python: py.i, got });
      }
      const gotF = pyFloat(input);
      const expectF = py.f === null ? undefined : pyFloatFromRepr(py.f);
      const sameValue = gotF === undefined ? expectF === undefined : Object.is(gotF, expectF);
      if (sameValue && (py.f === null || pyFloatRepr(gotF!) === py.f)) floatAgree++;
      else floatMismatches.push({ input, python: py.f, got: gotF });
    });
    console.log(
      `pyInt: ${corpus.length} inputs, ${intAgree} agree, ${intDeviations} out-of-range deviations; ` +
        `pyFloat: ${corpus.length} inputs, ${floatAgree} agree`,
    );
    expect(intMismatches).toEqual([]);
    expect(floatMismatches).toEqual([]);
    expect(corpus.length).toBeGreaterThanOrEqual(400);
    expect(intDeviations).toBeGreaterThan(0);
    expect(intAgree + intDeviations).toBe(corpus.length);
  });

  it("treats exactly Python's whitespace and decimal digits as such, over all of Unicode", async () => {
    // One oracle line lists every code point int() reads as a digit and every one it skips as space.
    const script = `
import sys, json
for line in sys.stdin:
    digits, spaces, stripped = [], [], []
    for cp in range(0x110000):
        c = chr(cp)
        try:
            digits.append([cp, int(c)])
        except ValueError:
            pass
        try:
            if int(c + '1' + c) == 1:
                spaces.append(cp)
        except ValueError:
            pass
        if c.isspace():
            stripped.append(cp)
    print(json.dumps({'digits': digits, 'spaces': spaces, 'stripped': stripped}))
`;
    const [py] = await runOracle<number, { digits: number[][]; spaces: number[]; stripped: number[] }>(
      script,
      [0],
    );
    const digits: number[][] = [];
    const spaces: number[] = [];
    const stripped: number[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      // Lone surrogates cannot reach Python from JSON on their own, and are neither digit nor space.
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = String.fromCodePoint(cp);
      const d = pyInt(c);
      if (d !== undefined) digits.push([cp, d]);
      if (pyInt(c + "1" + c) === 1) spaces.push(cp);
      if (pyIsSpace(cp)) stripped.push(cp);
    }
    expect(digits).toEqual(py!.digits);
    expect(spaces).toEqual(py!.spaces);
    expect(stripped).toEqual(py!.stripped);
    expect(pyStrip("\u001c\u3000 a b\u0085\t")).toBe("a b");
    expect(pyStrip("\ufeffa")).toBe("\ufeffa");
  });
});

describe("pyFloatRepr / pyIntRepr against Python repr()", () => {
  it("prints floats like repr(float)", async () => {
    const rnd = seededRandom(11);
    const floats: number[] = [
      0,
      -0,
      1,
      -1,
      0.1,
      0.5,
      100,
      1e15,
      1e16,
      1e17,
      9999999999999998,
      1e-4,
      1e-5,
      0.00012345,
      0.000012345,
      1.5e-7,
      123456789012345680,
      1234567890123456.8,
      1e21,
      1e22,
      1e100,
      1e-100,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      2.2250738585072014e-308,
      Number.EPSILON,
      Number.MAX_SAFE_INTEGER,
      2 ** 53,
      2 ** 63,
      1 / 3,
      2 / 3,
      Math.PI,
      -Math.E,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ];
    for (let e = -25; e <= 25; e++) floats.push(10 ** e, 1.5 * 10 ** e, -(7.25 * 10 ** e));
    for (let k = 0; k < 100; k++) {
      // Random bit patterns cover subnormals, huge exponents and 17-digit mantissas.
      const hex = Array.from({ length: 16 }, () => Math.floor(rnd() * 16).toString(16)).join("");
      const v = hexToDouble(hex);
      floats.push(v);
    }
    for (let k = 0; k < 60; k++)
      floats.push(Math.round(rnd() * 10 ** (1 + Math.floor(rnd() * 8))) / 10 ** Math.floor(rnd() * 6));
    const script = `${DECODE}
for line in sys.stdin:
    print(json.dumps(repr(decode(json.loads(line)))))
`;
    const py = await runOracle<PyWire, string>(
      script,
      floats.map((f) => ({ f: doubleToHex(f) })),
    );
    const mismatches = floats
      .map((f, k) => ({ f, python: py[k]!, got: pyFloatRepr(f) }))
      .filter((r) => r.python !== r.got);
    console.log(`pyFloatRepr: ${floats.length} floats, ${floats.length - mismatches.length} agree`);
    expect(mismatches).toEqual([]);
    expect(floats.length).toBeGreaterThanOrEqual(200);
  });

  it("prints integers like str(int)", async () => {
    const ints: (number | bigint)[] = [
      0,
      -0,
      1,
      -1,
      42,
      2 ** 53,
      -(2 ** 60),
      1e21,
      1e300,
      123456789n,
      -(2n ** 128n),
    ];
    const py = await runOracle<string, string>(
      "import sys, json\nfor line in sys.stdin:\n    print(json.dumps(str(int(json.loads(line)))))\n",
      ints.map((i) => BigInt(i).toString()),
    );
    expect(ints.map((i) => pyIntRepr(i))).toEqual(py);
    expect(() => pyIntRepr(1.5)).toThrow(RangeError);
    expect(() => pyIntRepr(Number.NaN)).toThrow(RangeError);
  });
});
