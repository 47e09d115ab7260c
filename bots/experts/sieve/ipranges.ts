// The `<<` operator: whether an address lies in one of a list of networks, with Python's ipaddress
// rules (ip_network(text, strict=False) for the ranges, ip_address(value) for the event's value;
// an IPv4 address is never inside an IPv6 network and the other way round).
import {
  canonicalIp,
  canonicalNetwork,
  ipFromInteger,
} from "../../../bot-runtime/src/event/compat/ipaddress.ts";

/** An address as eight 16-bit groups (IPv6) or one 32-bit number (IPv4, in groups[0]). */
interface Address {
  readonly v6: boolean;
  readonly groups: readonly number[];
}

export interface Network {
  readonly v6: boolean;
  readonly groups: readonly number[];
  readonly prefix: number;
}

function parseCanonical(text: string): Address {
  const pct = text.indexOf("%");
  const bare = pct === -1 ? text : text.slice(0, pct);
  if (!bare.includes(":")) {
    const [a, b, c, d] = bare.split(".").map(Number) as [number, number, number, number];
    return { v6: false, groups: [((a << 24) | (b << 16) | (c << 8) | d) >>> 0] };
  }
  // Canonical IPv6 text: hex groups with at most one "::", no dotted tail.
  const [head, tail] = bare.includes("::") ? bare.split("::") : [bare, undefined];
  const left = head ? head.split(":") : [];
  const right = tail === undefined ? [] : tail ? tail.split(":") : [];
  const zeros = 8 - left.length - right.length;
  const groups = [...left, ...Array<string>(tail === undefined ? 0 : zeros).fill("0"), ...right].map((g) =>
    Number.parseInt(g, 16),
  );
  return { v6: true, groups };
}

/** ipaddress.ip_network(text, strict=False), or undefined where Python raises ValueError. */
export function parseNetwork(text: string): Network | undefined {
  const network = canonicalNetwork(text, false);
  if (network === undefined) return undefined;
  const slash = network.text.lastIndexOf("/");
  const address = parseCanonical(network.networkAddress);
  return { ...address, prefix: Number(network.text.slice(slash + 1)) };
}

/** A dotted quad as Python reads it (four decimal octets up to 255, no leading zeros), or -1. */
function dottedQuad(s: string): number {
  let value = 0;
  let octets = 0;
  let digits = 0;
  let octet = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? 0x2e : s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || octet > 255 || octets === 4) return -1;
      value = value * 256 + octet;
      octets++;
      digits = 0;
      octet = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && octet === 0) return -1;
      octet = octet * 10 + (c - 0x30);
      if (++digits > 3) return -1;
    } else {
      return -1;
    }
  }
  return octets === 4 ? value : -1;
}

// Rules often test the same field more than once per event: the last parse is kept.
let lastText: string | undefined;
let lastAddress: Address | undefined;

/** ipaddress.ip_address(value) for an event value (a string or an integer), or undefined. */
export function parseAddress(value: unknown): Address | undefined {
  if (typeof value === "string") {
    if (value === lastText) return lastAddress;
    const v4 = dottedQuad(value);
    let address: Address | undefined;
    if (v4 >= 0) address = { v6: false, groups: [v4] };
    else {
      const text = canonicalIp(value);
      address = text === undefined ? undefined : parseCanonical(text);
    }
    lastText = value;
    lastAddress = address;
    return address;
  }
  let text: string | undefined;
  if (typeof value === "boolean") text = value ? "0.0.0.1" : "0.0.0.0";
  else if (typeof value === "number" && Number.isSafeInteger(value)) text = ipFromInteger(BigInt(value));
  return text === undefined ? undefined : parseCanonical(text);
}

export function contains(network: Network, address: Address): boolean {
  if (network.v6 !== address.v6) return false;
  if (!address.v6) {
    const mask = network.prefix === 0 ? 0 : (0xffffffff << (32 - network.prefix)) >>> 0;
    return (address.groups[0]! & mask) >>> 0 === network.groups[0];
  }
  for (let i = 0; i < 8; i++) {
    const kept = network.prefix - 16 * i;
    if (kept <= 0) return true;
    const mask = kept >= 16 ? 0xffff : (0xffff << (16 - kept)) & 0xffff;
    if ((address.groups[i]! & mask) !== network.groups[i]) return false;
  }
  return true;
}
