// Python 3.11 str semantics that differ from JavaScript's built-ins, with the Unicode tables pinned to
// Python 3.11's database (Unicode 14.0) rather than Node's newer ICU.

/**
 * Python's str.isspace() for a code point (what str.strip() removes and `\s` matches). Unlike
 * String.prototype.trim it includes the information separators U+001C–U+001F and NEL (U+0085), and
 * excludes the BOM (U+FEFF).
 */
export function pyIsSpace(cp: number): boolean {
  if (cp <= 0x20) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x1f);
  if (cp < 0x85) return false;
  return (
    cp === 0x85 ||
    cp === 0xa0 ||
    cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0x202f ||
    cp === 0x205f ||
    cp === 0x3000
  );
}

/** Python's string.whitespace, the only spaces int() and float() skip once their input is ASCII. */
export function pyIsAsciiSpace(cp: number): boolean {
  return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d);
}

/** Python's str.strip() with no argument. All its whitespace lies in the BMP, so UTF-16 units suffice. */
export function pyStrip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && pyIsSpace(s.charCodeAt(start))) start++;
  while (end > start && pyIsSpace(s.charCodeAt(end - 1))) end--;
  // The common case, nothing to strip, returns the input without allocating.
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/** Python `str.strip(chars)`, for `chars` made of BMP characters. */
export function pyStripChars(s: string, chars: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && chars.includes(s[start] as string)) start++;
  while (end > start && chars.includes(s[end - 1] as string)) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

/**
 * Code points of the digit zero of every Unicode decimal-digit run (general category Nd) in the
 * Unicode 14.0 database that Python 3.11 ships. Each run holds the digits 0..9 consecutively.
 * A fixed table, not \p{Nd}, because newer Unicode versions in Node's ICU add digits Python rejects.
 */
const DECIMAL_ZEROS: readonly number[] = [
  0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6, 0xe50,
  0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50, 0x1bb0, 0x1c40,
  0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10, 0x104a0, 0x10d30, 0x11066, 0x110f0,
  0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650, 0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50,
  0x11da0, 0x16a60, 0x16ac0, 0x16b50, 0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950,
  0x1fbf0,
];

/** Value 0-9 of a Unicode decimal digit (Python's unicodedata.decimal), or -1. */
export function pyDecimalValue(cp: number): number {
  if (cp >= 0x30 && cp <= 0x39) return cp - 0x30;
  if (cp < 0x660) return -1;
  let lo = 0;
  let hi = DECIMAL_ZEROS.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (DECIMAL_ZEROS[mid]! <= cp) lo = mid;
    else hi = mid - 1;
  }
  const off = cp - DECIMAL_ZEROS[lo]!;
  return off >= 0 && off <= 9 ? off : -1;
}

/** `ranges` (flat inclusive [low, high] pairs) as the inside of a character class for a `u`-flag RegExp. */
export function rangesClass(ranges: ArrayLike<number>): string {
  let cls = "";
  for (let i = 0; i < ranges.length; i += 2) {
    cls += `\\u{${ranges[i]!.toString(16)}}-\\u{${ranges[i + 1]!.toString(16)}}`;
  }
  return cls;
}

/** Python's `\d` in a str regex (the decimal digits) as a character class for a `u`-flag RegExp. */
export const PY_DIGIT_CLASS = `[${rangesClass(DECIMAL_ZEROS.flatMap((zero) => [zero, zero + 9]))}]`;

/** Python's `\s` in a str regex as a character class for a `u`-flag RegExp, derived from pyIsSpace. */
export const PY_SPACE_CLASS: string = (() => {
  const ranges: number[] = [];
  // U+3000 is the largest Python whitespace character.
  for (let cp = 0; cp <= 0x3000; cp++) {
    if (!pyIsSpace(cp)) continue;
    const first = cp;
    while (pyIsSpace(cp + 1)) cp++;
    ranges.push(first, cp);
  }
  return `[${rangesClass(ranges)}]`;
})();

/** Whether `cp` lies in `ranges`, a sorted flat list of inclusive [low, high] code point pairs. */
export function inRanges(cp: number, ranges: ArrayLike<number>): boolean {
  let lo = 0;
  let hi = (ranges.length >> 1) - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[2 * mid]!) hi = mid - 1;
    else if (cp > ranges[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}
