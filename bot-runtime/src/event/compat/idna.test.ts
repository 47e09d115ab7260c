// Differential tests: idnaEncode / nameprep pieces against CPython 3.11's "idna" codec.
import { describe, expect, it } from "vitest";
import { picker, seededRandom } from "../../../test-support/corpus-tools.ts";
import { runOracle } from "../../../test-support/python-oracle.ts";
import { idnaEncode, mapB2, pyLower } from "./idna.ts";

const rand = seededRandom(0x1d4a);
const pick = picker(rand);

const HANDPICKED = [
  "",
  ".",
  "..",
  "a.",
  "a..",
  ".a",
  "example.com",
  "Example.COM",
  "EXAMPLE.COM.",
  "a".repeat(63) + ".com",
  "a".repeat(64) + ".com",
  "com." + "a".repeat(63),
  "com." + "a".repeat(64),
  "a".repeat(63) + ".",
  "a".repeat(64) + ".",
  "under_score.example",
  "*.example.com",
  "a b.com",
  "a\x00b.com",
  "münchen.de",
  "MÜNCHEN.DE",
  "Bücher.example",
  "straße.de",
  "STRASSE.de",
  "faß.de",
  "ẞ.de",
  "café.fr",
  "CAFÉ.fr",
  "cafe\u0301.fr",
  "crème-brûlée.fr",
  "øl.no",
  "ÅSE.no",
  "ærø.dk",
  "smörgåsbord.se",
  "ΣΊΣΥΦΟΣ.gr",
  "σίσυφος.gr",
  "σίσυφοσ.gr",
  "ΌΣΟΣ.gr",
  "ς.gr",
  "ελληνικά.gr",
  "пример.рф",
  "ПРИМЕР.РФ",
  "яндекс.рф",
  "例え.テスト",
  "中国.中国",
  "中国。中国",
  "中国．中国",
  "中国｡中国",
  "中国。",
  "中国。。",
  "한국.kr",
  "\u1100\u1161\u11a8.kr",
  "日本語。ＪＰ",
  "ｅｘａｍｐｌｅ.com",
  "ＥＸＡＭＰＬＥ．ＣＯＭ",
  "ex\u00adample.com",
  "\u00ad.com",
  "ex\u200dample.com",
  "ex\u200cample.com",
  "ex\u200bample.com",
  "ex\ufeffample.com",
  "ex\u2060ample.com",
  "ex\ufe0fample.com",
  "ex\u200eample.com",
  "ex\u200fample.com",
  "ex\u202eample.com",
  "ex\u00a0ample.com",
  "ex\u3000ample.com",
  "ex\u2028ample.com",
  "ex\ue000ample.com",
  "ex\ufffdample.com",
  "ex\ufffeample.com",
  "ex\u{1fffe}ample.com",
  "ex\u{e0001}ample.com",
  "ex\u2ff0ample.com",
  "ex\u0340ample.com",
  "ex\u0085ample.com",
  "ex\ud800ample.com",
  "ex\udc00ample.com",
  "😀.example",
  "😀😀😀.example",
  "👍🏽.example",
  "👨\u200d👩\u200d👧.example",
  "❤\ufe0f.example",
  "☃.net",
  "i❤.ws",
  "مثال.إختبار",
  "مثال.com",
  "مثالa.com",
  "aمثال.com",
  "مثال1.com",
  "1مثال.com",
  "مثال١.com",
  "١مثال.com",
  "مثال-.com",
  "مثال\u0301.com",
  "مثال\u064b.com",
  "דוגמה.טעסט",
  "דוגמהa.com",
  "דוגמה1",
  "\u05be.com",
  "\u200fדוגמה.com",
  "xn--mnchen-3ya.de",
  "XN--MNCHEN-3YA.de",
  "xn--ü.de",
  "XN--ü.de",
  "xn--.de",
  "ü".repeat(20) + ".de",
  "ü".repeat(50) + ".de",
  "a".repeat(55) + "ü.de",
  "a".repeat(56) + "ü.de",
  "a".repeat(57) + "ü.de",
  "a".repeat(58) + "ü.de",
  "a".repeat(200) + "ü.de",
  "😀".repeat(200),
  "\u{10ffff}".repeat(40),
  "\u2024",
  "a\u2024b.com",
  "a\ufe52b.com",
  "a\u2474b.com",
  "\u2100.com",
  "\u2121.com",
  "\u3392.com",
  "\ufb01ne.com",
  "\u{1d400}\u{1d401}.com",
  "\u{1d7ca}.com",
  "\u212b.com",
  "\u2126.com",
  "\u01c4.com",
  "\u0130stanbul.tr",
  "ı.tr",
  "\u1e9b\u0323.com",
  "\u0345.gr",
  "\u1f80.gr",
  "\u1fb3\u0301.gr",
  "\u0390.gr",
  "\u{11099}\u{110ba}.in",
  "\u{1109a}.in",
  "\u{1f110}.com",
  "\u2150.com",
  "\u{2f868}.cn",
  "\u{2f874}\u0301.cn",
  "a\u{1e4ec}\u0301.com",
  "a\u0301\u{1e4ec}.com",
  "\u{16d63}\u{16d67}.com",
  "\u{10d50}.com",
  "\ua7cb.com",
  "\u1c89.com",
  "\u0e44\u0e17\u0e22.th",
  "\u0939\u093f\u0928\u094d\u0926\u0940.in",
  "\u0915\u093c.in",
  "\u0958.in",
  "e\u0301\u0302.com",
  "e\u0302\u0301.com",
  "a\u0323\u0307.com",
  "a\u0307\u0323.com",
  "\u0301.com",
  "\u00e9",
  "é.",
  "é..",
  ".é",
  "é\u3002",
  "1.2.3.4",
  "１．２．３．４",
  "a:b.com",
  "ａ：ｂ.com",
  "a/b.com",
  "ａ／ｂ.com",
  "\u2488.com",
];

const TOKENS = [
  "a",
  "Z",
  "0",
  "-",
  "_",
  ".",
  "xn--",
  "ü",
  "Ü",
  "ß",
  "ẞ",
  "é",
  "e\u0301",
  "\u0301",
  "ø",
  "Å",
  "Σ",
  "ς",
  "σ",
  "Ω",
  "ж",
  "Ж",
  "中",
  "国",
  "日",
  "\u1100",
  "\u1161",
  "\u11a8",
  "한",
  "😀",
  "👍",
  "\u{1f3fd}",
  "\ufe0f",
  "\u200d",
  "\u200c",
  "\u00ad",
  "ａ",
  "Ｂ",
  "１",
  "\u3002",
  "\uff0e",
  "\uff61",
  "ا",
  "ب",
  "١",
  "א",
  "ב",
  "\u05be",
  "\u0e01",
  "क",
  "\u093c",
  "\u{1d400}",
  "\ufb01",
  "\u3392",
  "\u2121",
  "\u00a0",
  "\u3000",
  "\u200e",
  "\ue000",
  "\u{1f110}",
  "\u2150",
  "İ",
  "\u0345",
  "\u1f80",
  "\u{1e4ec}",
];

// Single-script pools, so that plenty of generated labels are valid and reach punycode.
const SCRIPTS = [
  ["a", "b", "z", "0", "-", "ä", "ö", "ü", "ß", "Ä", "é", "è", "ç", "ø", "å", "æ", "ñ"],
  ["α", "β", "Σ", "ς", "σ", "ά", "Ω", "ΐ"],
  ["а", "б", "ж", "Ж", "ё", "Ё", "я"],
  ["中", "国", "日", "本", "語", "ア", "ｱ", "한", "국", "\u3002"],
  ["ا", "ب", "ت", "١", "٢", "\u064b"],
  ["א", "ב", "ג", "\u05b8"],
  ["😀", "👍", "\u{1f3fd}", "\u200d", "\ufe0f", "🇩", "🇪", "☃"],
  ["ａ", "Ｂ", "１", "ｚ", "\uff0e", "－"],
];

function corpus(): string[] {
  const out = new Set<string>(HANDPICKED);
  while (out.size < HANDPICKED.length + 1400) {
    const labels = 1 + Math.floor(rand() * 3);
    const parts: string[] = [];
    for (let l = 0; l < labels; l++) {
      const n = 1 + Math.floor(rand() * 8);
      const pool = rand() < 0.6 ? pick(SCRIPTS) : TOKENS;
      let s = "";
      for (let i = 0; i < n; i++) s += pick(pool);
      parts.push(s);
    }
    out.add(parts.join(pick([".", ".", ".", "\u3002"])));
  }
  return [...out];
}

interface Outcome {
  ok?: string;
  err?: boolean;
}

const ENCODE_ORACLE = `
import json, sys
for line in sys.stdin:
    s = json.loads(line)
    try:
        print(json.dumps({"ok": s.encode("idna").decode()}))
    except UnicodeError:
        print(json.dumps({"err": True}))
`;

function petrel(s: string): Outcome {
  try {
    return { ok: idnaEncode(s) };
  } catch {
    return { err: true };
  }
}

async function compareEncode(inputs: string[]): Promise<{ mismatches: string[]; raised: number }> {
  const expected = await runOracle<string, Outcome>(ENCODE_ORACLE, inputs);
  const mismatches: string[] = [];
  let raised = 0;
  for (let i = 0; i < inputs.length; i++) {
    const want = expected[i]!;
    if (want.err) raised++;
    const got = petrel(inputs[i]!);
    if (got.ok !== want.ok || got.err !== want.err) {
      mismatches.push(
        `${JSON.stringify(inputs[i])}: petrel ${JSON.stringify(got)} python ${JSON.stringify(want)}`,
      );
    }
  }
  return { mismatches, raised };
}

const MAX_CP = 0x10ffff;
const cpString = (cp: number): string => String.fromCodePoint(cp);

describe("idnaEncode against CPython 3.11", () => {
  it("encodes a corpus of host names exactly as str.encode('idna')", async () => {
    const inputs = corpus();
    const { mismatches, raised } = await compareEncode(inputs);
    console.log(
      `idna corpus: ${inputs.length} inputs (${raised} raise UnicodeError); agreement ${inputs.length - mismatches.length}`,
    );
    expect(mismatches).toEqual([]);
    expect(inputs.length).toBeGreaterThanOrEqual(300);
    expect(raised).toBeGreaterThan(50);
  });

  it("encodes every code point of planes 0-1 (and a sample of the rest) as a one-character name", async () => {
    const cps: number[] = [];
    for (let cp = 0; cp <= 0x1ffff; cp++) cps.push(cp);
    for (let cp = 0x2f800; cp <= 0x2fa1f; cp++) cps.push(cp);
    for (let cp = 0xe0000; cp <= 0xe01ff; cp++) cps.push(cp);
    for (let cp = 0x20000; cp <= MAX_CP; cp += 97) cps.push(cp);
    // One oracle line per chunk keeps the pipe traffic small.
    const chunks: number[][] = [];
    for (let i = 0; i < cps.length; i += 4096) chunks.push(cps.slice(i, i + 4096));
    const script = `
import json, sys
for line in sys.stdin:
    out = []
    for cp in json.loads(line):
        try:
            out.append(chr(cp).encode("idna").decode())
        except UnicodeError:
            out.append(None)
    print(json.dumps(out))
`;
    const expected = (await runOracle<number[], (string | null)[]>(script, chunks)).flat();
    const mismatches: string[] = [];
    for (let i = 0; i < cps.length; i++) {
      let got: string | null;
      try {
        got = idnaEncode(cpString(cps[i]!));
      } catch {
        got = null;
      }
      if (got !== expected[i])
        mismatches.push(`U+${cps[i]!.toString(16)}: petrel ${got} python ${expected[i]}`);
    }
    console.log(
      `idna code point sweep: ${cps.length} code points; agreement ${cps.length - mismatches.length}`,
    );
    expect(mismatches).toEqual([]);
  });

  it("folds case (stringprep B.2) and lowercases (str.lower) like CPython for every code point", async () => {
    const script = `
import json, sys, stringprep
for line in sys.stdin:
    kind = json.loads(line)
    out = {}
    for cp in range(0x110000):
        if 0xd800 <= cp <= 0xdfff:
            continue
        c = chr(cp)
        m = stringprep.map_table_b2(c) if kind == "b2" else c.lower()
        if m != c:
            out[cp] = m
    print(json.dumps(out))
`;
    const [b2, lower] = await runOracle<string, Record<string, string>>(script, ["b2", "lower"]);
    const mismatches: string[] = [];
    for (let cp = 0; cp <= MAX_CP; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const c = cpString(cp);
      if (mapB2(c) !== (b2![cp] ?? c)) mismatches.push(`b2 U+${cp.toString(16)}`);
      if (pyLower(c) !== (lower![cp] ?? c)) mismatches.push(`lower U+${cp.toString(16)}`);
    }
    expect(mismatches).toEqual([]);
    const sentences = ["ΣΑΣ", "ΑΣ ΑΣ.", "aΣ", "Σa", "ΑΣ\u0301", "İSTANBUL", "\u{10d50}Σ", "ΑΣ\u{10d50}"];
    const lowered = await runOracle<string, string>(
      "import json, sys\nfor line in sys.stdin:\n    print(json.dumps(json.loads(line).lower()))\n",
      sentences,
    );
    expect(sentences.map(pyLower)).toEqual(lowered);
  });

  it("treats characters newer than Python's Unicode 14.0 as Python does in normalisation", async () => {
    // Characters Node reorders (combining class) or composes: Python 3.11 knows neither property
    // for characters it does not know, so they must stay inert starters in nameprep too.
    const [unknown] = await runOracle<number, number[][]>(
      "import json, sys, unicodedata\nfor line in sys.stdin:\n    r = []\n    for cp in range(0x110000):\n        if unicodedata.category(chr(cp)) == 'Cn':\n            if r and r[-1][1] == cp - 1: r[-1][1] = cp\n            else: r.append([cp, cp])\n    print(json.dumps(r))\n",
      [0],
    );
    const isUnknown = new Uint8Array(MAX_CP + 1);
    for (const [a, b] of unknown!) isUnknown.fill(1, a!, b! + 1);
    const probes = new Set<string>();
    for (let cp = 0; cp <= MAX_CP; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const u = cpString(cp);
      if (isUnknown[cp]) {
        const after = "x" + u + "\u0334";
        const before = "x\u0301" + u;
        if (after.normalize("NFD") !== after) probes.add(after);
        if (before.normalize("NFD") !== before) probes.add(before);
      }
      const d = u.normalize("NFD");
      if (d !== u && d.normalize("NFC") === u && [...d].some((c) => isUnknown[c.codePointAt(0)!])) {
        probes.add("x" + d);
      }
    }
    const inputs = [...probes];
    const { mismatches } = await compareEncode(inputs);
    console.log(
      `idna post-Unicode-14 normalisation probes: ${inputs.length}; agreement ${inputs.length - mismatches.length}`,
    );
    expect(mismatches).toEqual([]);
    expect(inputs.length).toBeGreaterThan(50);
  });
});
