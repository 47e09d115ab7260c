// Differential tests: pyRepr / pyStr / pyLen against CPython 3.11 (the IntelMQ oracle venv).
import { describe, expect, it } from "vitest";
import { picker, pyJsonText, seededRandom } from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import { EVENT_MODEL_DEVIATIONS } from "../deviations.ts";
import { pyLen, pyRepr, pyStr } from "./pyrepr.ts";

const rand = seededRandom(0x5eed);
const pick = picker(rand);

// Characters where repr rules, categories or UTF-16 structure matter. All assigned in Unicode 14.
const SPECIALS = [
  "'",
  '"',
  "\\",
  "\n",
  "\r",
  "\t",
  "\0",
  "\x01",
  "\x07",
  "\b",
  "\f",
  "\x0b",
  "\x1b",
  "\x1f",
  " ",
  "~",
  "\x7f",
  "\x80",
  "\x85",
  "\x9f",
  "\xa0",
  "\xa1",
  "\xad",
  "\xff",
  "\u0100",
  "\u0301",
  "\u0378",
  "\u0600",
  "\u061c",
  "\u1680",
  "\u180e",
  "\u2000",
  "\u200a",
  "\u200b",
  "\u200c",
  "\u200d",
  "\u200e",
  "\u200f",
  "\u2028",
  "\u2029",
  "\u202a",
  "\u202e",
  "\u202f",
  "\u205f",
  "\u2060",
  "\u2066",
  "\u2069",
  "\u3000",
  "\ud7ff",
  "\ue000",
  "\uf8ff",
  "\ufeff",
  "\ufff9",
  "\ufffd",
  "\ufffe",
  "\uffff",
  "é",
  "ß",
  "Ω",
  "ж",
  "中",
  "文",
  "日本",
  "한",
  "ع",
  "א",
  "ก",
  "e\u0301",
  "😀",
  "👨\u200d👩\u200d👧",
  "🇩🇪",
  "\u{1d11e}",
  "\u{10000}",
  "\u{1f9ff}",
  "\u{20000}",
  "\u{e0001}",
  "\u{e0041}",
  "\u{e01ef}",
  "\u{f0000}",
  "\u{10fffd}",
  "\u{10ffff}",
  "\u{3ffff}",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\udc00\ud800",
  "\ud83d",
];
const ASCII_PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));

function randomString(maxLen: number): string {
  const n = Math.floor(rand() * (maxLen + 1));
  let s = "";
  for (let i = 0; i < n; i++) s += rand() < 0.5 ? pick(ASCII_PRINTABLE) : pick(SPECIALS);
  return s;
}

function buildStrings(): string[] {
  const out = [
    "",
    "hello",
    "192.0.2.1",
    "http://example.com/path?q=1&x=%20",
    "it's",
    'say "hi"',
    `both ' and "`,
    `'"'"`,
    "back\\slash",
    "ends with \\",
    "'",
    '"',
    "''",
    '""',
    "x".repeat(300),
    "Grüße aus Köln",
    "中文域名.中国",
    "مرحبا بالعالم",
    "שלום עולם",
  ];
  for (const s of SPECIALS) out.push(s, "ab" + s + "cd", s + "'", '"' + s + "'", s + s);
  for (let i = 0; i < 120; i++) out.push(pick(SPECIALS) + pick(SPECIALS) + pick(SPECIALS));
  for (let i = 0; i < 250; i++) out.push(randomString(14));
  return out;
}

interface NumCase {
  value: number;
  asFloat: boolean;
}

function randomDouble(): number {
  const dv = new DataView(new ArrayBuffer(8));
  for (;;) {
    dv.setUint32(0, Math.floor(rand() * 2 ** 32));
    dv.setUint32(4, Math.floor(rand() * 2 ** 32));
    const x = dv.getFloat64(0);
    if (Number.isFinite(x)) return x;
  }
}

function buildNumbers(): NumCase[] {
  const ints = [0, 1, -1, 7, 42, -273, 2 ** 31, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 53, 2 ** 64, 1e15];
  ints.push(1e16, 1e20, 1e21, 1e22, 1e300, -1e300, Number.MAX_VALUE, 123456789012345680000);
  const floats = [0.1, 0.2, 0.3, 0.5, -0.5, 1.5, 1 / 3, 2 / 3, 123456789.123, Math.PI, 2.5e-5];
  floats.push(1e-7, 1.5e-7, 1e-4, 1.2e-4, 9.99e-5, 1e-5, 5e-324, 2.2250738585072014e-308, 1e-300);
  floats.push(1234567890123456.8, 0.000123, 1e15 + 0.5, 4503599627370495.5, -1.1e-10, 99.99);
  floats.push(Number.NaN, Infinity, -Infinity);
  const out: NumCase[] = [];
  for (const v of ints) out.push({ value: v, asFloat: false }, { value: v, asFloat: true });
  for (const v of [-0, 0, 1e16, 1e17, 1, 100, 1e15, 999999999999999, 9999999999999998]) {
    out.push({ value: v, asFloat: true });
  }
  for (const v of floats) out.push({ value: v, asFloat: false }, { value: -v, asFloat: false });
  for (let i = 0; i < 100; i++) out.push({ value: randomDouble(), asFloat: false });
  for (let i = 0; i < 100; i++) {
    const v = (rand() - 0.5) * 10 ** Math.floor(rand() * 44 - 22);
    out.push({ value: v, asFloat: true });
  }
  for (let i = 0; i < 40; i++) out.push({ value: Math.floor((rand() - 0.5) * 2 ** 53), asFloat: false });
  for (let i = 0; i < 30; i++) out.push({ value: Math.round(rand() * 10 ** (i % 22)), asFloat: true });
  return out;
}

const KEYS = ["a", "b", "source.ip", "É", "键", "😀", "'", '"', "a'b", "\n", "\ud800", "", "z z"];

function randomValue(depth: number): unknown {
  const r = rand();
  if (depth > 0 && r < 0.2)
    return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(depth - 1));
  if (depth > 0 && r < 0.4) {
    const o: Record<string, unknown> = {};
    const n = Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) o[pick(KEYS)] = randomValue(depth - 1);
    return o;
  }
  if (r < 0.55) return randomString(6);
  if (r < 0.7) return pick([0, -3, 42, 0.1, -2.5e-9, 1e100, Number.NaN, Infinity, 2 ** 53 - 1]);
  return pick([true, false, null, "x", "it's"]);
}

interface ReprCase {
  json: string;
  f: boolean;
}
interface ReprOut {
  r: string;
  s: string;
  n: number;
}

// Python side: load the JSON text, optionally as float, report repr, str and len(str).
const REPR_SCRIPT = `
import sys, json
for line in sys.stdin:
    c = json.loads(line)
    v = json.loads(c["json"])
    if c["f"]:
        v = float(v)
    s = str(v)
    print(json.dumps({"r": repr(v), "s": s, "n": len(s)}))
`;

function topText(v: unknown, asFloat: boolean): string {
  if (asFloat && typeof v === "number" && Object.is(v, -0)) return "-0.0";
  return pyJsonText(v);
}

describe("pyRepr / pyStr / pyLen against CPython", () => {
  it("agrees on strings, numbers, constants and nested values", async () => {
    const strings = buildStrings();
    const numbers = buildNumbers();
    const constants = [true, false, null];
    const nested: unknown[] = [[], {}, [[]], { a: {} }, [1, "a"], { k: 1 }, [0.1, [true, null, { x: "y" }]]];
    for (let i = 0; i < 200; i++) nested.push(randomValue(3));
    const cases: { value: unknown; asFloat: boolean }[] = [
      ...strings.map((value) => ({ value, asFloat: false })),
      ...numbers,
      ...constants.map((value) => ({ value, asFloat: false })),
      ...nested.map((value) => ({ value, asFloat: false })),
    ];
    const py = await runOracle<ReprCase, ReprOut>(
      REPR_SCRIPT,
      cases.map((c) => ({ json: topText(c.value, c.asFloat), f: c.asFloat && typeof c.value === "number" })),
    );
    const mismatches: unknown[] = [];
    let agree = 0;
    cases.forEach((c, i) => {
      const want = py[i]!;
      const got = {
        r: pyRepr(c.value, c.asFloat),
        s: pyStr(c.value, c.asFloat),
        n: pyLen(pyStr(c.value, c.asFloat)),
      };
      if (got.r === want.r && got.s === want.s && got.n === want.n) agree++;
      else mismatches.push({ input: topText(c.value, c.asFloat), asFloat: c.asFloat, got, want });
    });
    console.log(
      `pyRepr corpus: ${cases.length} values (${strings.length} strings, ${numbers.length} numbers, ` +
        `${constants.length} constants, ${nested.length} nested); agreement ${agree}/${cases.length}`,
    );
    expect(mismatches).toEqual([]);
    expect(cases.length).toBeGreaterThanOrEqual(500);
  });

  it("escapes exactly the code points Python escapes, except characters assigned after Unicode 14", async () => {
    // One pass over all 0x110000 code points: Python reports which reprs are escaped and which are Cn.
    const script = `
import sys, json, unicodedata
for line in sys.stdin:
    esc = []
    cn = []
    for i in range(0x110000):
        c = chr(i)
        r = repr(c)
        esc.append("0" if r in ("'" + c + "'", '"' + c + '"') else "1")
        cn.append("1" if unicodedata.category(c) == "Cn" else "0")
    print(json.dumps({"esc": "".join(esc), "cn": "".join(cn)}))
`;
    const [py] = await runOracle<number, { esc: string; cn: string }>(script, [0]);
    let agree = 0;
    let newerUnicode = 0;
    const unexplained: string[] = [];
    for (let cp = 0; cp < 0x110000; cp++) {
      const c = String.fromCodePoint(cp);
      const r = pyRepr(c);
      const escaped = r !== "'" + c + "'" && r !== '"' + c + '"';
      const pyEscaped = py!.esc[cp] === "1";
      if (escaped === pyEscaped) agree++;
      // Deviation: Cn for Python 3.11 (Unicode 14.0) but assigned and printable in Node's ICU.
      else if (pyEscaped && py!.cn[cp] === "1") newerUnicode++;
      else unexplained.push(cp.toString(16));
    }
    console.log(
      `pyRepr code point sweep: 1114112 code points; agreement ${agree}; ` +
        `deviation (assigned after Unicode 14.0, Node ICU Unicode ${process.versions.unicode}): ${newerUnicode}`,
    );
    expect(unexplained).toEqual([]);
    expect(agree + newerUnicode).toBe(0x110000);
  });

  describe("named deviations", () => {
    interface Deviation {
      /** The id in bot-runtime/src/event/deviations.ts (docs/compatibility.md). */
      id: string;
      name: string;
      reason: string;
      json: string;
      python: string;
      petrel: string;
    }
    const deviations: Deviation[] = [
      {
        id: "nested-integral-floats",
        name: "nested integral float",
        reason: "JSON.parse keeps no int/float distinction and nested values carry no float hint",
        json: "[1.0, -0.0, 1e16]",
        python: "[1.0, -0.0, 1e+16]",
        petrel: "[1, 0, 10000000000000000]",
      },
      {
        id: "integral-floats-serialise-without-fraction",
        name: "top-level float without asFloat",
        reason: "callers must pass asFloat for harmonization type Float",
        json: "2.0",
        python: "2.0",
        petrel: "2",
      },
      {
        id: "integers-beyond-2^53",
        name: "integer beyond 2**53",
        reason: "JSON.parse rounds it to the nearest double",
        json: "12345678901234567891",
        python: "12345678901234567891",
        petrel: "12345678901234567168",
      },
      {
        id: "integer-like-key-order",
        name: "array-index-like object keys",
        reason: "JS objects enumerate integer-like keys first, in ascending order",
        json: '{"b": 1, "10": 2, "2": 3}',
        python: "{'b': 1, '10': 2, '2': 3}",
        petrel: "{'2': 3, '10': 2, 'b': 1}",
      },
      {
        id: "unicode-version",
        name: "emoji assigned in Unicode 15.0 (U+1FAE8)",
        reason: "Python 3.11 has Unicode 14.0 (Cn, escaped); Node's ICU knows it (printable)",
        json: '"\\ud83e\\udee8"',
        python: "'\\U0001fae8'",
        petrel: "'\u{1fae8}'",
      },
      {
        id: "unicode-version",
        name: "CJK Extension H ideograph (U+31350, Unicode 15.0)",
        reason: "Python 3.11 has Unicode 14.0 (Cn, escaped); Node's ICU knows it (printable)",
        json: '"\\ud884\\udf50"',
        python: "'\\U00031350'",
        petrel: "'\u{31350}'",
      },
      {
        id: "unicode-version",
        name: "Arabic letter assigned in Unicode 16.0 (U+0897)",
        reason: "Python 3.11 has Unicode 14.0 (Cn, escaped); Node's ICU knows it (printable)",
        json: '"\\u0897"',
        python: "'\\u0897'",
        petrel: "'\u0897'",
      },
    ];

    it("each deviation is a documented one", () => {
      const documented = EVENT_MODEL_DEVIATIONS.map((d) => d.id);
      for (const d of deviations) expect(documented, d.name).toContain(d.id);
    });

    it("each deviation is real on both sides", async () => {
      const py = await runOracle<string, string>(
        "import sys, json\nfor line in sys.stdin:\n    print(json.dumps(repr(json.loads(json.loads(line)))))\n",
        deviations.map((d) => d.json),
      );
      deviations.forEach((d, i) => {
        expect(py[i], d.name).toBe(d.python);
        expect(pyRepr(JSON.parse(d.json)), d.name).toBe(d.petrel);
        expect(d.petrel, d.name).not.toBe(d.python);
      });
      console.log(`pyRepr named deviations: ${deviations.length} (all asserted)`);
    });
  });

  it("formats floats like Python at the notation boundaries", () => {
    expect(pyRepr(1e16, true)).toBe("1e+16");
    expect(pyRepr(1e15, true)).toBe("1000000000000000.0");
    expect(pyRepr(1e-4, true)).toBe("0.0001");
    expect(pyRepr(1e-5, true)).toBe("1e-05");
    expect(pyRepr(1.5e-7, true)).toBe("1.5e-07");
    expect(pyRepr(-0)).toBe("0");
    expect(pyRepr(-0, true)).toBe("-0.0");
    expect(pyRepr(Number.NaN)).toBe("nan");
    expect(pyRepr(-Infinity, true)).toBe("-inf");
    expect(pyRepr(10n ** 30n)).toBe("1000000000000000000000000000000");
  });

  it("counts code points for len()", () => {
    expect(pyLen("abc")).toBe(3);
    expect(pyLen("😀a")).toBe(2);
    expect(pyLen("\ud800\ud800\udc00\udc00")).toBe(3);
  });

  it("rejects values json.loads cannot produce", () => {
    expect(() => pyRepr(undefined)).toThrow(TypeError);
    expect(() => pyRepr(() => 1)).toThrow(TypeError);
    expect(() => pyRepr(new Date(0))).toThrow(TypeError);
    expect(() => pyStr([Symbol("x")])).toThrow(TypeError);
  });
});
