// Removes fields, or drops events, whose IP address, domain, URL host or ASN is private, reserved or
// for documentation (RFC 1918, 2606, 3849, 4291, 5737, 5398 and friends), as IntelMQ's rfc1918
// expert: the fields are checked in order and the first match decides (del: remove that field and
// stop checking; drop: drop the event).
import { z } from "zod";
import { pyLower } from "../../bot-runtime/src/event/compat/idna.ts";
import { canonicalIp, ipFromInteger } from "../../bot-runtime/src/event/compat/ipaddress.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { urlsplit } from "../../bot-runtime/src/event/compat/urlsplit.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import { fieldPresence } from "../../bot-runtime/src/sdk/pyformat.ts";

// The networks, domains and ASNs IntelMQ's expert checks, exactly.
const NETWORKS = [
  "10.0.0.0/8",
  "100.64.0.0/10",
  "127.0.0.0/8",
  "169.254.0.0/16",
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4",
  "240.0.0.0/4",
  "255.255.255.255/32",
  "fe80::/64",
  "2001:db8::/32",
];
const DOMAINS = new Set(["example.com", "example.net", "example.org"]);
// Suffixes: reserved TLDs and subdomains of the example domains (the domains themselves are above).
const SUFFIXES = [
  ".test",
  ".example",
  ".invalid",
  ".localhost",
  ".example.com",
  ".example.net",
  ".example.org",
];
const ASN_RANGES = [
  [64496, 64511],
  [65536, 65551],
] as const;

interface Address {
  readonly v6: boolean;
  readonly value: bigint;
}

/** An address as its version and integer value; undefined where Python's ip_address() fails. */
function parseAddress(value: unknown): Address | undefined {
  let text: string | undefined;
  if (typeof value === "string") text = canonicalIp(value);
  // ip_address() also takes ints (and bools, which are ints in Python).
  else if (typeof value === "boolean") text = value ? "0.0.0.1" : "0.0.0.0";
  else if (typeof value === "number" && Number.isInteger(value)) text = ipFromInteger(BigInt(value));
  if (text === undefined) return undefined;
  const pct = text.indexOf("%");
  if (pct >= 0) text = text.slice(0, pct);
  if (!text.includes(":")) {
    const value = text.split(".").reduce((acc, octet) => (acc << 8n) | BigInt(octet), 0n);
    return { v6: false, value };
  }
  // Canonical IPv6: hex groups with at most one "::".
  const [head = "", tail] = text.split("::") as [string, string | undefined];
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [
    ...headGroups,
    ...Array(8 - headGroups.length - tailGroups.length).fill("0"),
    ...tailGroups,
  ];
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(`0x${g}`), 0n) };
}

const RANGES = NETWORKS.map((network) => {
  const [address, prefix] = network.split("/") as [string, string];
  const parsed = parseAddress(address)!;
  const bits = parsed.v6 ? 128n : 32n;
  const mask = ((1n << bits) - 1n) ^ ((1n << (bits - BigInt(prefix))) - 1n);
  return { v6: parsed.v6, base: parsed.value, mask };
});

function isReservedAddress(address: Address): boolean {
  return RANGES.some((r) => r.v6 === address.v6 && (address.value & r.mask) === r.base);
}

function isReservedDomain(name: string): boolean {
  return DOMAINS.has(name) || SUFFIXES.some((suffix) => name.endsWith(suffix));
}

function requireText(field: string, value: unknown): string {
  if (typeof value !== "string") throw new Error(`${field}: expected text, got ${JSON.stringify(value)}`);
  return value;
}

/** Whether the field's value is reserved; the kind of check follows the field name's last part. */
function isReserved(field: string, value: unknown): boolean {
  if (field.endsWith(".ip")) {
    const address = parseAddress(value);
    if (address === undefined) throw new Error(`${field}: ${JSON.stringify(value)} is not an IP address`);
    return isReservedAddress(address);
  }
  if (field.endsWith(".fqdn")) return isReservedDomain(requireText(field, value));
  if (field.endsWith(".url")) {
    // The whole netloc, as written (user info, port and case included), is an address or a domain.
    const { netloc } = urlsplit(requireText(field, value));
    const address = parseAddress(netloc);
    return address !== undefined ? isReservedAddress(address) : isReservedDomain(netloc);
  }
  if (field.endsWith(".asn")) {
    return (
      typeof value === "number" &&
      ASN_RANGES.some(([low, high]) => value >= low && value <= high && Number.isInteger(value))
    );
  }
  return false;
}

/** IntelMQ's list syntax: lowercased, stripped as a whole, split on commas (items are not stripped). */
function splitList(text: string): string[] {
  return pyStrip(pyLower(text)).split(",");
}

export default defineExpert({
  id: "experts.rfc1918",
  intelmqModules: ["intelmq.bots.experts.rfc1918.expert"],
  kind: "expert",
  description:
    "Removes fields or drops events whose IP address, domain, URL host or ASN is private, reserved or for documentation.",
  parameters: z.object({
    fields: z
      .string()
      .default("destination.ip,source.ip,source.url")
      .describe(
        "Comma-separated fields to check, in order; each ends in .ip, .fqdn, .url (its host) or .asn. The first reserved value decides.",
      ),
    policy: z
      .string()
      .default("del,drop,drop")
      .describe("Comma-separated, one per field: del removes the field, drop drops the event."),
  }),
  deviations: [
    {
      id: "unknown-policy-rejected",
      summary:
        "A policy other than del or drop is refused at start; IntelMQ accepts it and, when its field matches, stops checking the remaining fields and passes the event unchanged.",
      reason: "A misspelt policy would silently keep private addresses in the data.",
    },
  ],
  create(params) {
    const fields = splitList(params.fields);
    const policies = splitList(params.policy);
    if (fields.length !== policies.length) {
      throw new Error(
        `fields has ${fields.length} entries but policy has ${policies.length}: give one policy (del or drop) per field`,
      );
    }
    for (const [i, policy] of policies.entries()) {
      if (policy !== "del" && policy !== "drop") {
        throw new Error(`policy: ${JSON.stringify(policy)} for ${fields[i]} must be del or drop`);
      }
    }
    const rules = fields.map((field, i) => ({
      field,
      present: fieldPresence(field),
      drop: policies[i] === "drop",
    }));
    return {
      process(event) {
        for (const { field, present, drop } of rules) {
          if (!present(event) || !isReserved(field, event.get(field))) continue;
          if (drop) return undefined;
          event.remove(field);
          break;
        }
        // IntelMQ does not send an empty event.
        return event.size === 0 ? undefined : event;
      },
    };
  },
});
