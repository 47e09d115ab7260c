// Python 3.11 `ipaddress` semantics as IntelMQ's IPAddress and IPNetwork harmonization types use
// them: which strings parse, how str() prints them, and the sanitize/is_valid rules built on top.
// Behaviour was established against CPython 3.11 and IntelMQ 3.5 as oracles (see ipaddress.test.ts).
import { PY_INT_MAX_STR_DIGITS } from "./pynumber.ts";
import { pyStrip } from "./pystring.ts";

const IPV4_MAX = 0xffffffffn;
const IPV6_MAX = (1n << 128n) - 1n;

// Scratch buffers reused by the parsers so the validity hot path allocates nothing.
const HEXTETS = new Uint16Array(8);
/** One slot per colon-separated part (at most 9 are ever usable, plus the split IPv4 tail); -1 = empty. */
const PARTS = new Int32Array(10);

/**
 * Parses s[start, end) as a dotted quad: exactly four decimal octets of 1-3 ASCII digits, no
 * leading zero unless the octet is "0", each ≤ 255. Returns the 32-bit value, or -1.
 */
function parseV4(s: string, start: number, end: number): number {
  let value = 0;
  let octets = 0;
  let i = start;
  while (true) {
    const first = i;
    let octet = 0;
    while (i < end) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      octet = octet * 10 + (c - 0x30);
      i++;
    }
    const len = i - first;
    if (len === 0 || len > 3 || octet > 255) return -1;
    if (len > 1 && s.charCodeAt(first) === 0x30) return -1;
    value = value * 256 + octet;
    octets++;
    if (i === end) return octets === 4 ? value : -1;
    if (octets === 4 || s.charCodeAt(i) !== 0x2e) return -1;
    i++;
  }
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/**
 * Parses s[start, end) as an IPv6 address without zone into HEXTETS, following Python's rules:
 * colon-separated parts (3..9 after an IPv4 tail is split into two), at most one "::", a leading or
 * trailing colon only as part of "::", "::" standing for at least one group, 1-4 hex digits a group.
 */
function parseV6(s: string, start: number, end: number): boolean {
  let n = 0;
  let partStart = start;
  let value = 0;
  for (let i = start; i <= end; i++) {
    const c = i === end ? 0x3a : s.charCodeAt(i);
    if (c === 0x3a) {
      const len = i - partStart;
      if (len > 4) return false;
      // Nine parts is the most Python allows, so a tenth colon-separated part is already fatal.
      if (n === 9) return false;
      PARTS[n++] = len === 0 ? -1 : value;
      partStart = i + 1;
      value = 0;
      continue;
    }
    const h = hexValue(c);
    if (h < 0) {
      // Only the last part may be something else: an embedded IPv4 address.
      if (c !== 0x2e || s.indexOf(":", i) !== -1) return false;
      if (n < 2) return false;
      const v4 = parseV4(s, partStart, end);
      if (v4 < 0 || n > 7) return false;
      PARTS[n++] = v4 >>> 16;
      PARTS[n++] = v4 & 0xffff;
      break;
    }
    value = value * 16 + h;
  }
  if (n < 3) return false;
  let skip = -1;
  for (let i = 1; i < n - 1; i++) {
    if (PARTS[i] === -1) {
      if (skip !== -1) return false;
      skip = i;
    }
  }
  if (skip === -1) {
    if (n !== 8 || PARTS[0] === -1 || PARTS[7] === -1) return false;
    for (let i = 0; i < 8; i++) HEXTETS[i] = PARTS[i]!;
    return true;
  }
  let hi = skip;
  let lo = n - skip - 1;
  if (PARTS[0] === -1) {
    if (--hi !== 0) return false;
  }
  if (PARTS[n - 1] === -1) {
    if (--lo !== 0) return false;
  }
  if (hi + lo > 7) return false;
  HEXTETS.fill(0);
  for (let i = 0; i < hi; i++) HEXTETS[i] = PARTS[i]!;
  for (let i = 0; i < lo; i++) HEXTETS[8 - lo + i] = PARTS[n - lo + i]!;
  return true;
}

function formatV4(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/** Python's str() of an IPv6 address: lowercase, and the first longest run (≥ 2) of zero groups as "::". */
function formatV6(h: Uint16Array): string {
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (h[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && h[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) out += ":";
    out += h[i]!.toString(16);
  }
  return out;
}

function bigIntToHextets(v: bigint, h: Uint16Array): void {
  for (let i = 7; i >= 0; i--) {
    h[i] = Number(v & 0xffffn);
    v >>= 16n;
  }
}

/** Python's str(ipaddress.ip_address(text)), or undefined where it raises ValueError. */
export function canonicalIp(text: string): string | undefined {
  // A valid dotted quad is already in canonical form.
  if (parseV4(text, 0, text.length) >= 0) return text;
  if (text.includes("/")) return undefined;
  const pct = text.indexOf("%");
  if (pct === -1) return parseV6(text, 0, text.length) ? formatV6(HEXTETS) : undefined;
  const zone = text.slice(pct + 1);
  if (zone.length === 0 || zone.includes("%")) return undefined;
  return parseV6(text, 0, pct) ? `${formatV6(HEXTETS)}%${zone}` : undefined;
}

/** Python's str(ipaddress.ip_address(n)): IPv4 below 2^32, IPv6 below 2^128, else undefined. */
export function ipFromInteger(n: bigint): string | undefined {
  if (n < 0n || n > IPV6_MAX) return undefined;
  if (n <= IPV4_MAX) return formatV4(Number(n));
  bigIntToHextets(n, HEXTETS);
  return formatV6(HEXTETS);
}

/**
 * A prefix length written in decimal: Python allows ASCII digits only (leading zeros are fine, a
 * sign or whitespace is not). Returns the length, or -1.
 */
function prefixFromDigits(s: string, max: number): number {
  // Python's int() refuses longer decimal strings, so such prefix lengths are invalid netmasks.
  if (s.length === 0 || s.length > PY_INT_MAX_STR_DIGITS) return -1;
  let value = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return -1;
    // Saturate: anything past max is invalid, and this keeps the number small.
    value = Math.min(value * 10 + (c - 0x30), 1000);
  }
  return value <= max ? value : -1;
}

/**
 * IPv4 mask after the "/": a prefix length, else a dotted netmask (ones then zeros) or hostmask
 * (zeros then ones); all-zeros and all-ones count as netmasks. Returns the prefix length, or -1.
 */
function prefixFromV4Mask(s: string): number {
  const fromDigits = prefixFromDigits(s, 32);
  if (fromDigits >= 0) return fromDigits;
  const m = parseV4(s, 0, s.length);
  if (m < 0) return -1;
  const inverted = ~m >>> 0;
  if ((inverted & (inverted + 1)) === 0) return Math.clz32(inverted);
  if ((m & (m + 1)) === 0) return Math.clz32(m);
  return -1;
}

export interface CanonicalNetwork {
  /** str(ip_network(...)): "<network address>/<prefix length>". */
  text: string;
  numAddresses: bigint;
  /** str(network.network_address); an IPv6 zone survives only when no host bits were cleared. */
  networkAddress: string;
}

/** Python's ipaddress.ip_network(text, strict), or undefined where it raises ValueError. */
export function canonicalNetwork(text: string, strict: boolean): CanonicalNetwork | undefined {
  const slash = text.indexOf("/");
  if (slash !== -1 && text.indexOf("/", slash + 1) !== -1) return undefined;
  const addrEnd = slash === -1 ? text.length : slash;
  const mask = slash === -1 ? undefined : text.slice(slash + 1);

  const v4 = parseV4(text, 0, addrEnd);
  if (v4 >= 0) {
    // A valid dotted quad is never a valid IPv6 address, so Python's IPv6 retry cannot succeed.
    const prefix = mask === undefined ? 32 : prefixFromV4Mask(mask);
    if (prefix < 0) return undefined;
    const netmask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    const network = (v4 & netmask) >>> 0;
    if (network !== v4 && strict) return undefined;
    const address = formatV4(network);
    return { text: `${address}/${prefix}`, numAddresses: 1n << BigInt(32 - prefix), networkAddress: address };
  }

  const pct = text.lastIndexOf("%", addrEnd - 1);
  let zone: string | undefined;
  let v6End = addrEnd;
  if (pct !== -1) {
    const first = text.indexOf("%");
    if (first !== pct || pct === addrEnd - 1) return undefined;
    zone = text.slice(pct + 1, addrEnd);
    v6End = pct;
  }
  if (!parseV6(text, 0, v6End)) return undefined;
  const prefix = mask === undefined ? 128 : prefixFromDigits(mask, 128);
  if (prefix < 0) return undefined;
  // Clear host bits group by group; avoids BigInt arithmetic on the common paths.
  let hostBits = false;
  for (let i = 0; i < 8; i++) {
    const kept = prefix - 16 * i;
    const mask = kept >= 16 ? 0xffff : kept <= 0 ? 0 : (0xffff << (16 - kept)) & 0xffff;
    const group = HEXTETS[i]!;
    if ((group & mask) !== group) {
      hostBits = true;
      HEXTETS[i] = group & mask;
    }
  }
  if (hostBits && strict) return undefined;
  // When host bits were cleared, Python rebuilds the address from its integer value, dropping the zone.
  const address = zone === undefined || hostBits ? formatV6(HEXTETS) : `${formatV6(HEXTETS)}%${zone}`;
  return { text: `${address}/${prefix}`, numAddresses: 1n << BigInt(128 - prefix), networkAddress: address };
}

/**
 * IntelMQ IPAddress.is_valid(text) without sanitizing: a non-empty string that ip_address() accepts,
 * other than 0.0.0.0, without a zone ("%"). Runs for every event, hence the allocation-free parsers.
 */
export function isValidIpAddressValue(text: string): boolean {
  const v4 = parseV4(text, 0, text.length);
  if (v4 >= 0) return v4 !== 0;
  // parseV6 rejects "%" and "/" as non-hex characters, which is exactly what is wanted here.
  return parseV6(text, 0, text.length);
}

/**
 * The Python int a JS number stands for, or undefined when it stands for a float: integers below
 * 1e21 (the ones JSON.stringify writes as plain digits, whose digits are taken), but not -0, whose
 * sign only a float such as -0.0 carries. Python's IPAddress.sanitize() rejects every float.
 */
function jsonInteger(n: number): bigint | undefined {
  if (!Number.isInteger(n) || Math.abs(n) >= 1e21 || Object.is(n, -0)) return undefined;
  return BigInt(String(n));
}

/** A decimal string equal to Python's str(int(s)): optional "-", no leading zeros, no "-0". */
const CANONICAL_DECIMAL = /^(?:0|-?[1-9][0-9]*)$/;

/**
 * IntelMQ IPAddress.sanitize(value) for JSON-like values. Integers (including digit strings in
 * canonical form, and booleans, which are ints in Python) become addresses; strings are stripped,
 * lose any zone, and may carry a prefix or mask that covers exactly one address.
 */
export function sanitizeIpAddress(value: unknown): string | undefined {
  if (typeof value === "boolean") return value ? "0.0.0.1" : "0.0.0.0";
  if (typeof value === "number") {
    const n = jsonInteger(value);
    return n === undefined ? undefined : ipFromInteger(n);
  }
  // Python's str() of None, lists and dicts never parses as an address.
  if (typeof value !== "string") return undefined;
  let s = pyStrip(value);
  if (CANONICAL_DECIMAL.test(s)) {
    // Longer digit strings exceed 2^128 (or Python's int() digit limit): invalid either way.
    return s.length > 40 ? undefined : ipFromInteger(BigInt(s));
  }
  const pct = s.indexOf("%");
  if (pct !== -1) s = s.slice(0, pct);
  const network = canonicalNetwork(s, true);
  return network !== undefined && network.numAddresses === 1n ? network.networkAddress : undefined;
}

/** IntelMQ IPNetwork.is_valid(text) without sanitizing: a non-empty string ip_network() accepts strictly. */
export function isValidIpNetworkValue(text: string): boolean {
  return canonicalNetwork(text, true) !== undefined;
}

/**
 * IntelMQ IPNetwork.sanitize(value): the stripped string as a network with host bits cleared.
 * Python's str() of any non-string JSON value never parses as a network.
 */
export function sanitizeIpNetwork(value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  return canonicalNetwork(pyStrip(value), false)?.text;
}
