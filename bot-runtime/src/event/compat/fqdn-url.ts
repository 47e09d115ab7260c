// IntelMQ 3.5.0 harmonization types FQDN and URL (intelmq/lib/harmonization.py): is_valid without
// sanitizing, and sanitize, value for value. Both run for every event, so each has a fast path for
// the overwhelmingly common shapes (a plain lowercase ASCII host name, an http(s) URL with an ASCII
// host) that proves the answer without running urlsplit or the IDNA codec.
//
// Where Python raises instead of answering: FQDN/URL.is_valid let urlsplit's ValueError and the
// codec's UnicodeError escape; a value Python cannot even check is reported invalid (false) here.
// URL.sanitize lets urlsplit's ValueError escape, and sanitizeUrl throws UrlSplitError likewise.
//
// Non-string values are sanitized through Python's str() (pyrepr.ts), with its deviations: an
// integral JSON float (1.0) is an int here, so it becomes "1" where Python writes "1.0".
import { genericSanitize } from "./generic.ts";
import { IdnaError, idnaEncode, pyLower } from "./idna.ts";
import { isValidIpAddressValue } from "./ipaddress.ts";
import { pyIsAsciiSpace, pyStripChars } from "./pystring.ts";
import { type SplitResult, UrlSplitError, urlsplit, urlunsplit } from "./urlsplit.ts";

const NOT_PLAIN = -1;
const PLAIN = 0;
const PLAIN_DIGITS = 1;

/**
 * Classifies names made of lowercase ASCII labels of 1..63 characters from [a-z0-9_-] (the bulk of
 * real input): for them urlsplit finds no scheme, netloc, query, fragment or "/", and the IDNA
 * codec returns them unchanged. Returns PLAIN, PLAIN_DIGITS (digits and dots only, so possibly an
 * IPv4 address) or NOT_PLAIN.
 */
function plainName(s: string): number {
  const n = s.length;
  let label = 0;
  let digitsOnly = true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (label === 0) return NOT_PLAIN;
      label = 0;
      continue;
    }
    if ((c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x5f) digitsOnly = false;
    else if (c < 0x30 || c > 0x39) return NOT_PLAIN;
    if (++label > 63) return NOT_PLAIN;
  }
  if (label === 0) return NOT_PLAIN;
  return digitsOnly ? PLAIN_DIGITS : PLAIN;
}

/** IntelMQ FQDN.is_valid(text) (sanitize=False); false where Python raises. */
export function isValidFqdnValue(text: string): boolean {
  const plain = plainName(text);
  if (plain === PLAIN) return true;
  if (plain === PLAIN_DIGITS) return !isValidIpAddressValue(text);
  if (text === "" || pyStripChars(text, ".") !== text || pyLower(text) !== text || text.includes(":"))
    return false;
  if (isValidIpAddressValue(text)) return false;
  let parts: SplitResult;
  try {
    parts = urlsplit(text);
  } catch (e) {
    if (e instanceof UrlSplitError) return false;
    throw e;
  }
  if (parts.scheme !== "" || parts.netloc !== "" || parts.query !== "" || parts.fragment !== "") return false;
  if (parts.path.includes("/")) return false;
  try {
    return idnaEncode(text) === text;
  } catch (e) {
    if (e instanceof IdnaError) return false;
    throw e;
  }
}

/** IntelMQ FQDN.sanitize(value): dots stripped at both ends, IDNA-encoded, lowercased. */
export function sanitizeFqdn(value: unknown): string | undefined {
  // Nothing to strip, encode or lowercase in a plain name.
  if (typeof value === "string" && plainName(value) !== NOT_PLAIN) return value;
  const text = genericSanitize(value);
  if (text === undefined) return undefined;
  const name = pyStripChars(text, ".");
  if (name === "") return undefined;
  try {
    // The codec's output is ASCII, so JS and Python lowercasing agree.
    return idnaEncode(name).toLowerCase();
  } catch (e) {
    if (e instanceof IdnaError) return undefined;
    throw e;
  }
}

/**
 * Length of the netloc when `text` is "http://" or "https://" followed by a host part that urlsplit
 * takes verbatim (ASCII, no brackets, no tab/CR/LF); -1 when the full urlsplit is needed.
 */
function plainHttpNetlocLength(text: string): number {
  // "http://" or "https://", compared by code unit: cheaper than startsWith on the hot path.
  const http =
    text.charCodeAt(0) === 0x68 &&
    text.charCodeAt(1) === 0x74 &&
    text.charCodeAt(2) === 0x74 &&
    text.charCodeAt(3) === 0x70;
  if (!http) return -1;
  let i = text.charCodeAt(4) === 0x73 ? 5 : 4;
  const slashes =
    text.charCodeAt(i) === 0x3a && text.charCodeAt(i + 1) === 0x2f && text.charCodeAt(i + 2) === 0x2f;
  if (!slashes) return -1;
  i += 3;
  const start = i;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2f || c === 0x3f || c === 0x23) break;
    if (c >= 0x80 || c === 0x5b || c === 0x5d || c === 0x09 || c === 0x0a || c === 0x0d) return -1;
  }
  return i - start;
}

/** IntelMQ URL.is_valid(text) (sanitize=False); false where Python raises. */
export function isValidUrlValue(text: string): boolean {
  const plain = plainHttpNetlocLength(text);
  if (plain >= 0) return plain > 0;
  if (text === "") return false;
  // `value[0] in string.whitespace`: ASCII whitespace only.
  if (pyIsAsciiSpace(text.charCodeAt(0))) return false;
  try {
    return urlsplit(text).netloc !== "";
  } catch (e) {
    if (e instanceof UrlSplitError) return false;
    throw e;
  }
}

// Python's str.strip() has nothing to remove from a string that starts and ends in "!".."~".
function hasPrintableAsciiEnds(s: string): boolean {
  const first = s.charCodeAt(0);
  const last = s.charCodeAt(s.length - 1);
  return first > 0x20 && first < 0x7f && last > 0x20 && last < 0x7f;
}

function splitOrThrow(url: string): SplitResult {
  try {
    return urlsplit(url);
  } catch (e) {
    if (!(e instanceof UrlSplitError)) throw e;
    throw new UrlSplitError(`cannot split URL ${JSON.stringify(url)}: ${e.message}`);
  }
}

/**
 * IntelMQ URL.sanitize(value): hxxp(s):// defanging undone, "localhost" filled in as the host of
 * file: URLs; undefined unless the result has a host. Throws UrlSplitError where Python raises.
 */
export function sanitizeUrl(value: unknown): string | undefined {
  let url: string | undefined;
  if (typeof value === "string" && hasPrintableAsciiEnds(value)) {
    url = value;
  } else {
    url = genericSanitize(value);
    if (!url) return undefined;
  }
  if (url.includes("hxxp")) url = url.replaceAll("hxxp://", "http://").replaceAll("hxxps://", "https://");
  const plain = plainHttpNetlocLength(url);
  if (plain >= 0) return plain > 0 ? url : undefined;
  let parts = splitOrThrow(url);
  if (parts.scheme === "file" && parts.netloc === "") {
    url = urlunsplit({ ...parts, netloc: "localhost" });
    parts = splitOrThrow(url);
  }
  return parts.netloc !== "" ? url : undefined;
}
