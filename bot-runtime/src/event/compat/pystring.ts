// Python str helpers whose semantics differ from JavaScript's built-ins.

// Python's str.isspace() set: unlike String.prototype.trim it includes the information separators
// U+001C–U+001F and NEL (U+0085), and excludes the BOM (U+FEFF).
const PY_SPACE =
  "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
const PY_SPACE_SET = new Set(PY_SPACE);
const EDGE_SPACE = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");

export function pyIsSpace(ch: string): boolean {
  return PY_SPACE_SET.has(ch);
}

/** Python `str.strip()` without arguments. */
export function pyStrip(s: string): string {
  if (s.length === 0) return s;
  // Fast path: nothing to strip at either end (the common case on the hot path).
  if (!PY_SPACE_SET.has(s[0] as string) && !PY_SPACE_SET.has(s[s.length - 1] as string)) return s;
  return s.replace(EDGE_SPACE, "");
}

/** Python `str.strip(chars)`. */
export function pyStripChars(s: string, chars: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && chars.includes(s[start] as string)) start++;
  while (end > start && chars.includes(s[end - 1] as string)) end--;
  return s.slice(start, end);
}
