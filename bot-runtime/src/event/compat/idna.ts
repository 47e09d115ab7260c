// Python 3.11 `text.encode("idna").decode()`: the IDNA 2003 codec, i.e. RFC 3490 ToASCII per label
// with RFC 3491 nameprep (AllowUnassigned, no STD3 rules) and RFC 3492 punycode. IntelMQ validates
// and sanitizes FQDNs with it, so Petrel has to accept, reject and rewrite the same names.
//
// How CPython's nameprep behaves, and how this module reproduces it:
// - Prohibition (RFC 3454 C.1.2-C.9) and bidi (D.1 RandALCat, D.2 LCat) use Unicode 3.2 data. The
//   tables below are that data, exported from CPython's unicodedata.ucd_3_2_0.
// - Case mapping (B.2) is stringprep's recipe: lowercase, NFKC, lowercase again, NFKC, and keep the
//   second result only when the two differ. Python lowercases with its current Unicode (14.0) and
//   adds the RFC's full case folding exceptions (ß → ss, ﬁ → fi, ᾳ → αι, ς → σ, µ → μ, ...).
//   Petrel runs the same recipe on toLowerCase and keeps in B2_FIXED the code points where the
//   recipe alone misses Python's result; idna.test.ts sweeps every code point to keep it exact.
// - NFKC: CPython's "3.2" normalisation uses 3.2 decompositions (none for characters unassigned
//   in 3.2, and the pre-Corrigendum-4 mappings of five CJK compatibility ideographs) but its own
//   Unicode 14.0 combining classes and compositions. Petrel uses Node's NFKC (ICU, Unicode 17.0)
//   and cuts the string at "protected" characters, copied verbatim: those with no decomposition
//   in 3.2 but one now, and those unknown to Unicode 14.0 that Node would reorder or compose.
//   For Python all of them are starters (combining class 0) that neither decompose nor compose,
//   so a cut there changes nothing else.
// - Python lowercases with Unicode 14.0; NEW_CASE lists the capitals Node added since.
//
// Approximation: the tables are pinned to Node 26's Unicode 17.0. A Node with a newer Unicode
// would need both the protected set and NEW_CASE extended (idna.test.ts detects this).
// @ts-expect-error -- the punycode package ships no type declarations
import punycode from "punycode/punycode.js";
import { inRanges, rangesClass } from "./pystring.ts";

const punycodeEncode: (input: string) => string = punycode.encode;

/** Thrown where Python raises UnicodeError (FQDN.sanitize turns that into None). */
export class IdnaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdnaError";
  }
}

// Code point ranges as "hex" or "hex-hex" tokens, flattened to [start0, end0, start1, end1, ...].
function parseRanges(spec: string): Uint32Array {
  const tokens = spec.trim().split(/\s+/);
  const out = new Uint32Array(tokens.length * 2);
  for (let i = 0; i < tokens.length; i++) {
    const [a, b] = tokens[i]!.split("-");
    out[2 * i] = Number.parseInt(a!, 16);
    out[2 * i + 1] = Number.parseInt(b ?? a!, 16);
  }
  return out;
}

// RFC 3454 D.1 (bidi class R or AL) in Unicode 3.2.
const RAND_AL = parseRanges(`
  5be 5c0 5c3 5d0-5ea 5f0-5f4 61b 61f 621-63a 640-64a 66d-66f 671-6d5 6dd 6e5-6e6 6fa-6fe 700-70d
  710 712-72c 780-7a5 7b1 200f fb1d fb1f-fb28 fb2a-fb36 fb38-fb3c fb3e fb40-fb41 fb43-fb44
  fb46-fbb1 fbd3-fd3d fd50-fd8f fd92-fdc7 fdf0-fdfc fe70-fe74 fe76-fefc
`);

// RFC 3454 D.2 (bidi class L) in Unicode 3.2.
const L_CAT = parseRanges(`
  41-5a 61-7a aa b5 ba c0-d6 d8-f6 f8-220 222-233 250-2ad 2b0-2b8 2bb-2c1 2d0-2d1 2e0-2e4 2ee 37a
  386 388-38a 38c 38e-3a1 3a3-3ce 3d0-3f5 400-482 48a-4ce 4d0-4f5 4f8-4f9 500-50f 531-556 559-55f
  561-587 589 903 905-939 93d-940 949-94c 950 958-961 964-970 982-983 985-98c 98f-990 993-9a8
  9aa-9b0 9b2 9b6-9b9 9be-9c0 9c7-9c8 9cb-9cc 9d7 9dc-9dd 9df-9e1 9e6-9f1 9f4-9fa a05-a0a a0f-a10
  a13-a28 a2a-a30 a32-a33 a35-a36 a38-a39 a3e-a40 a59-a5c a5e a66-a6f a72-a74 a83 a85-a8b a8d
  a8f-a91 a93-aa8 aaa-ab0 ab2-ab3 ab5-ab9 abd-ac0 ac9 acb-acc ad0 ae0 ae6-aef b02-b03 b05-b0c
  b0f-b10 b13-b28 b2a-b30 b32-b33 b36-b39 b3d-b3e b40 b47-b48 b4b-b4c b57 b5c-b5d b5f-b61 b66-b70
  b83 b85-b8a b8e-b90 b92-b95 b99-b9a b9c b9e-b9f ba3-ba4 ba8-baa bae-bb5 bb7-bb9 bbe-bbf bc1-bc2
  bc6-bc8 bca-bcc bd7 be7-bf2 c01-c03 c05-c0c c0e-c10 c12-c28 c2a-c33 c35-c39 c41-c44 c60-c61
  c66-c6f c82-c83 c85-c8c c8e-c90 c92-ca8 caa-cb3 cb5-cb9 cbe cc0-cc4 cc7-cc8 cca-ccb cd5-cd6 cde
  ce0-ce1 ce6-cef d02-d03 d05-d0c d0e-d10 d12-d28 d2a-d39 d3e-d40 d46-d48 d4a-d4c d57 d60-d61
  d66-d6f d82-d83 d85-d96 d9a-db1 db3-dbb dbd dc0-dc6 dcf-dd1 dd8-ddf df2-df4 e01-e30 e32-e33
  e40-e46 e4f-e5b e81-e82 e84 e87-e88 e8a e8d e94-e97 e99-e9f ea1-ea3 ea5 ea7 eaa-eab ead-eb0
  eb2-eb3 ebd ec0-ec4 ec6 ed0-ed9 edc-edd f00-f17 f1a-f34 f36 f38 f3e-f47 f49-f6a f7f f85 f88-f8b
  fbe-fc5 fc7-fcc fcf 1000-1021 1023-1027 1029-102a 102c 1031 1038 1040-1057 10a0-10c5 10d0-10f8
  10fb 1100-1159 115f-11a2 11a8-11f9 1200-1206 1208-1246 1248 124a-124d 1250-1256 1258 125a-125d
  1260-1286 1288 128a-128d 1290-12ae 12b0 12b2-12b5 12b8-12be 12c0 12c2-12c5 12c8-12ce 12d0-12d6
  12d8-12ee 12f0-130e 1310 1312-1315 1318-131e 1320-1346 1348-135a 1361-137c 13a0-13f4 1401-1676
  1681-169a 16a0-16f0 1700-170c 170e-1711 1720-1731 1735-1736 1740-1751 1760-176c 176e-1770
  1780-17b6 17be-17c5 17c7-17c8 17d4-17da 17dc 17e0-17e9 1810-1819 1820-1877 1880-18a8 1e00-1e9b
  1ea0-1ef9 1f00-1f15 1f18-1f1d 1f20-1f45 1f48-1f4d 1f50-1f57 1f59 1f5b 1f5d 1f5f-1f7d 1f80-1fb4
  1fb6-1fbc 1fbe 1fc2-1fc4 1fc6-1fcc 1fd0-1fd3 1fd6-1fdb 1fe0-1fec 1ff2-1ff4 1ff6-1ffc 200e 2071
  207f 2102 2107 210a-2113 2115 2119-211d 2124 2126 2128 212a-212d 212f-2131 2133-2139 213d-213f
  2145-2149 2160-2183 2336-237a 2395 249c-24e9 3005-3007 3021-3029 3031-3035 3038-303c 3041-3096
  309d-309f 30a1-30fa 30fc-30ff 3105-312c 3131-318e 3190-31b7 31f0-321c 3220-3243 3260-327b
  327f-32b0 32c0-32cb 32d0-32fe 3300-3376 337b-33dd 33e0-33fe 3400-4db5 4e00-9fa5 a000-a48c
  ac00-d7a3 d800-fa2d fa30-fa6a fb00-fb06 fb13-fb17 ff21-ff3a ff41-ff5a ff66-ffbe ffc2-ffc7
  ffca-ffcf ffd2-ffd7 ffda-ffdc 10300-1031e 10320-10323 10330-1034a 10400-10425 10428-1044d
  1d000-1d0f5 1d100-1d126 1d12a-1d166 1d16a-1d172 1d183-1d184 1d18c-1d1a9 1d1ae-1d1dd 1d400-1d454
  1d456-1d49c 1d49e-1d49f 1d4a2 1d4a5-1d4a6 1d4a9-1d4ac 1d4ae-1d4b9 1d4bb 1d4bd-1d4c0 1d4c2-1d4c3
  1d4c5-1d505 1d507-1d50a 1d50d-1d514 1d516-1d51c 1d51e-1d539 1d53b-1d53e 1d540-1d544 1d546
  1d54a-1d550 1d552-1d6a3 1d6a8-1d7c9 20000-2a6d6 2f800-2fa1d f0000-ffffd 100000-10fffd
`);

// RFC 3454 C.1.2, C.2.2 (above the C1 controls), C.3, C.5-C.9 and the FDD0 block of C.4. The rest
// of C.2.2 (U+0080-U+009F) and of C.4 (U+xFFFE/U+xFFFF) is tested arithmetically.
const PROHIBITED = parseRanges(`
  a0 340-341 6dd 70f 1680 180e 2000-200f 2028-202f 205f-2063 206a-206f 2ff0-2ffb 3000 d800-dfff
  e000-f8ff fdd0-fdef feff fff9-fffd 1d173-1d17a e0001 e0020-e007f f0000-ffffd 100000-10fffd
`);

// Protected characters (see the header): normalised by CPython as inert starters.
const PROTECTED_RANGES = parseRanges(`
  3f9 897 10fc 1acf-1add 1ae0-1aeb 1b06 1b08 1b0a 1b0c 1b0e 1b12 1b3b 1b3d 1b40-1b41 1b43
  1d2c-1d2e 1d30-1d3a 1d3c-1d4d 1d4f-1d6a 1d78 1d9b-1dbf 2090-209c 213b-213c 2150-2152 2189
  2c7c-2c7d 2d6f 321d-321e 3244-3247 3250 327c-327e 32cc-32cf 32ff 3377-337a 33de-33df 33ff
  a69c-a69d a770 a7f1-a7f4 a7f8-a7f9 ab5c-ab5f ab69 fa2e-fa2f fa6b-fa6d fa70-fad9 fe10-fe19
  fe47-fe48 105c9 105d2 105da 105e4 10781-10785 10787-107b0 107b2-107ba 10d69-10d6d 10efa-10efb
  10efd-10eff 1109a 1109c 110ab 1112e-1112f 1134b-1134c 11382-11385 1138b 1138e 11390-11391 113b8
  113bb 113c2 113c5 113c7-113c9 113ce-113d0 114bb-114bc 114be 115ba-115bb 11938 11f41-11f42
  1611e-16129 1612f 16d63 16d67-16d6a 1ccd6-1ccf9 1d4c1 1d6a4-1d6a5 1d7ca-1d7cb 1e030-1e06d 1e08f
  1e4ec-1e4ef 1e5ee-1e5ef 1e6e3 1e6e6 1e6ee-1e6ef 1e6f5 1ee00-1ee03 1ee05-1ee1f 1ee21-1ee22 1ee24
  1ee27 1ee29-1ee32 1ee34-1ee37 1ee39 1ee3b 1ee42 1ee47 1ee49 1ee4b 1ee4d-1ee4f 1ee51-1ee52 1ee54
  1ee57 1ee59 1ee5b 1ee5d 1ee5f 1ee61-1ee62 1ee64 1ee67-1ee6a 1ee6c-1ee72 1ee74-1ee77 1ee79-1ee7c
  1ee7e 1ee80-1ee89 1ee8b-1ee9b 1eea1-1eea3 1eea5-1eea9 1eeab-1eebb 1f100-1f10a 1f110-1f12e
  1f130-1f14f 1f16a-1f16c 1f190 1f200-1f202 1f210-1f23b 1f240-1f248 1f250-1f251 1fbf0-1fbf9
`);

// Unicode 3.2 mappings of the ideographs fixed by Normalization Corrigendum 4.
const CORRIGENDUM_4 = new Map<string, string>([
  ["\u{2f868}", "\u{2136a}"],
  ["\u{2f874}", "\u{5f33}"],
  ["\u{2f91f}", "\u{43ab}"],
  ["\u{2f95f}", "\u{7aae}"],
  ["\u{2f9bf}", "\u{4d57}"],
]);

const PROTECTED_CLASS = rangesClass(PROTECTED_RANGES) + [...CORRIGENDUM_4.keys()].join("");
const HAS_PROTECTED = new RegExp(`[${PROTECTED_CLASS}]`, "u");
// The capture group keeps the protected characters in split()'s output, at odd indices.
const SPLIT_PROTECTED = new RegExp(`([${PROTECTED_CLASS}])`, "u");

/** NFKC as CPython's unicodedata.ucd_3_2_0.normalize("NFKC", s) computes it (see header). */
function nfkc32(s: string): string {
  if (!HAS_PROTECTED.test(s)) return s.normalize("NFKC");
  const parts = s.split(SPLIT_PROTECTED);
  let out = "";
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    out += i % 2 === 0 ? part.normalize("NFKC") : (CORRIGENDUM_4.get(part) ?? part);
  }
  return out;
}

// Uppercase letters assigned after Unicode 14.0, which Python 3.11's str.lower() leaves unchanged.
const NEW_CASE_CLASS =
  "\\u1c89\\ua7cb\\ua7cc\\ua7ce\\ua7d2\\ua7d4\\ua7da\\ua7dc\\u{10d50}-\\u{10d65}\\u{16ea0}-\\u{16eb8}";
const HAS_NEW_CASE = new RegExp(`[${NEW_CASE_CLASS}]`, "u");
const SPLIT_NEW_CASE = new RegExp(`([${NEW_CASE_CLASS}])`, "u");

/** Python 3.11 `str.lower()` (Unicode 14.0 full lowercase mapping, including final sigma). */
export function pyLower(s: string): string {
  const lower = s.toLowerCase();
  if (lower === s || !HAS_NEW_CASE.test(s)) return lower;
  const parts = s.split(SPLIT_NEW_CASE);
  let out = "";
  for (let i = 0; i < parts.length; i++) out += i % 2 === 0 ? parts[i]!.toLowerCase() : parts[i]!;
  return out;
}

// B.2 results that the lowercase/NFKC recipe alone does not reproduce: "cp>cp.cp..." in hex.
const B2_FIXED = new Map<number, string>();
for (const token of `
  b5>3bc df>73.73 149>2bc.6e 17f>73 1f0>6a.30c 345>3b9 37a>20.3b9 390>3b9.308.301 3b0>3c5.308.301
  3c2>3c3 3d0>3b2 3d1>3b8 3d5>3c6 3d6>3c0 3f0>3ba 3f1>3c1 3f2>3c3 3f5>3b5 3f9>3c3 587>565.582
  1e96>68.331 1e97>74.308 1e98>77.30a 1e99>79.30a 1e9a>61.2be 1e9b>1e61 1e9e>73.73 1f50>3c5.313
  1f52>3c5.313.300 1f54>3c5.313.301 1f56>3c5.313.342 1f80>1f00.3b9 1f81>1f01.3b9 1f82>1f02.3b9
  1f83>1f03.3b9 1f84>1f04.3b9 1f85>1f05.3b9 1f86>1f06.3b9 1f87>1f07.3b9 1f88>1f00.3b9
  1f89>1f01.3b9 1f8a>1f02.3b9 1f8b>1f03.3b9 1f8c>1f04.3b9 1f8d>1f05.3b9 1f8e>1f06.3b9
  1f8f>1f07.3b9 1f90>1f20.3b9 1f91>1f21.3b9 1f92>1f22.3b9 1f93>1f23.3b9 1f94>1f24.3b9
  1f95>1f25.3b9 1f96>1f26.3b9 1f97>1f27.3b9 1f98>1f20.3b9 1f99>1f21.3b9 1f9a>1f22.3b9
  1f9b>1f23.3b9 1f9c>1f24.3b9 1f9d>1f25.3b9 1f9e>1f26.3b9 1f9f>1f27.3b9 1fa0>1f60.3b9
  1fa1>1f61.3b9 1fa2>1f62.3b9 1fa3>1f63.3b9 1fa4>1f64.3b9 1fa5>1f65.3b9 1fa6>1f66.3b9
  1fa7>1f67.3b9 1fa8>1f60.3b9 1fa9>1f61.3b9 1faa>1f62.3b9 1fab>1f63.3b9 1fac>1f64.3b9
  1fad>1f65.3b9 1fae>1f66.3b9 1faf>1f67.3b9 1fb2>1f70.3b9 1fb3>3b1.3b9 1fb4>3ac.3b9 1fb6>3b1.342
  1fb7>3b1.342.3b9 1fbc>3b1.3b9 1fbe>3b9 1fc2>1f74.3b9 1fc3>3b7.3b9 1fc4>3ae.3b9 1fc6>3b7.342
  1fc7>3b7.342.3b9 1fcc>3b7.3b9 1fd2>3b9.308.300 1fd3>3b9.308.301 1fd6>3b9.342 1fd7>3b9.308.342
  1fe2>3c5.308.300 1fe3>3c5.308.301 1fe4>3c1.313 1fe6>3c5.342 1fe7>3c5.308.342 1ff2>1f7c.3b9
  1ff3>3c9.3b9 1ff4>3ce.3b9 1ff6>3c9.342 1ff7>3c9.342.3b9 1ffc>3c9.3b9 fb00>66.66 fb01>66.69
  fb02>66.6c fb03>66.66.69 fb04>66.66.6c fb05>73.74 fb06>73.74 fb13>574.576 fb14>574.565
  fb15>574.56b fb16>57e.576 fb17>574.56d 1d6d3>3c3 1d70d>3c3 1d747>3c3 1d781>3c3 1d7bb>3c3
`
  .trim()
  .split(/\s+/)) {
  const [from, to] = token.split(">");
  const mapped = to!.split(".").map((h) => Number.parseInt(h, 16));
  B2_FIXED.set(Number.parseInt(from!, 16), String.fromCodePoint(...mapped));
}

/** stringprep.map_table_b2: the case folding of one code point (given as a string). */
export function mapB2(ch: string): string {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return ch.toLowerCase();
  const fixed = B2_FIXED.get(cp);
  if (fixed !== undefined) return fixed;
  const lowered = pyLower(ch);
  const first = nfkc32(lowered);
  let again = "";
  for (const c of first) again += pyLower(c);
  const second = nfkc32(again);
  return first === second ? lowered : second;
}

// RFC 3454 B.1: characters mapped to nothing.
function isMappedToNothing(cp: number): boolean {
  return (
    cp === 0xad ||
    cp === 0x34f ||
    cp === 0x1806 ||
    (cp >= 0x180b && cp <= 0x180d) ||
    (cp >= 0x200b && cp <= 0x200d) ||
    cp === 0x2060 ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    cp === 0xfeff
  );
}

function isProhibited(cp: number): boolean {
  if (cp < 0x80) return false;
  if (cp <= 0x9f) return true;
  return (cp & 0xfffe) === 0xfffe || inRanges(cp, PROHIBITED);
}

function describe(cp: number): string {
  return "U+" + cp.toString(16).toUpperCase().padStart(4, "0");
}

/** RFC 3491 nameprep as CPython's encodings.idna.nameprep runs it; throws IdnaError. */
export function nameprep(label: string): string {
  let mapped = "";
  for (const ch of label) {
    if (!isMappedToNothing(ch.codePointAt(0)!)) mapped += mapB2(ch);
  }
  const out = nfkc32(mapped);
  let hasRandAl = false;
  let hasL = false;
  let firstRandAl = false;
  let lastRandAl = false;
  let first = true;
  for (const ch of out) {
    const cp = ch.codePointAt(0)!;
    if (isProhibited(cp)) throw new IdnaError(`Invalid character ${describe(cp)}`);
    const randAl = cp >= 0x5be && inRanges(cp, RAND_AL);
    if (randAl) hasRandAl = true;
    else if (!hasL && inRanges(cp, L_CAT)) hasL = true;
    if (first) firstRandAl = randAl;
    lastRandAl = randAl;
    first = false;
  }
  if (hasRandAl) {
    if (hasL) throw new IdnaError("Violation of BIDI requirement 2");
    if (!firstRandAl || !lastRandAl) throw new IdnaError("Violation of BIDI requirement 3");
  }
  return out;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;
// IDNA label separators: full stop, ideographic, fullwidth and halfwidth ideographic full stops.
const DOTS = /[.\u3002\uff0e\uff61]/;

function checkedLabel(label: string): string {
  if (label.length > 0 && label.length < 64) return label;
  throw new IdnaError("label empty or too long");
}

/** RFC 3490 ToASCII with AllowUnassigned and without STD3 rules, as CPython implements it. */
function toAscii(label: string): string {
  if (ASCII_ONLY.test(label)) return checkedLabel(label);
  const prepared = nameprep(label);
  if (ASCII_ONLY.test(prepared)) return checkedLabel(prepared);
  if (prepared.startsWith("xn--")) throw new IdnaError("Label starts with ACE prefix");
  let encoded: string;
  try {
    encoded = "xn--" + punycodeEncode(prepared);
  } catch {
    // punycode.js gives up on integer overflow, which only labels far beyond 63 characters reach.
    throw new IdnaError("label too long");
  }
  return checkedLabel(encoded);
}

/**
 * Python `text.encode("idna").decode()`. Throws IdnaError where Python raises UnicodeError.
 * ASCII input is returned unchanged (case included) once its label lengths check out.
 */
export function idnaEncode(text: string): string {
  if (text.length === 0) return "";
  if (ASCII_ONLY.test(text)) {
    // Every label but the last must hold 1..63 characters; the last may be empty (trailing dot).
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      if (text.charCodeAt(i) === 0x2e) {
        const len = i - start;
        if (len === 0 || len > 63) throw new IdnaError("label empty or too long");
        start = i + 1;
      }
    }
    if (text.length - start > 63) throw new IdnaError("label too long");
    return text;
  }
  const labels = text.split(DOTS);
  let trailingDot = "";
  if (labels[labels.length - 1] === "") {
    labels.pop();
    trailingDot = ".";
  }
  let out = "";
  for (let i = 0; i < labels.length; i++) {
    if (i > 0) out += ".";
    out += toAscii(labels[i]!);
  }
  return out + trailingDot;
}
