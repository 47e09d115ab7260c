// The database of the asn_lookup expert, by the file's content: a MaxMind DB (GeoLite2-ASN, or
// ipinfo's layout with "asn": "AS64500"), or pyasn's ipasn text file, plain or gzip-compressed.
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { ipBytes } from "../../../bot-runtime/src/exclusions/ip-prefix-trie.ts";
import { isMmdb, openMmdb } from "../../../bot-runtime/src/sdk/mmdb.ts";
import { parseIpasn } from "./ipasn.ts";
import { networkText } from "./prefix-table.ts";

export interface AsnInfo {
  /** Undefined when the database holds the network but no AS number for it. */
  readonly asn: number | undefined;
  readonly network: string;
}

export interface AsnDatabase {
  /** "ipasn (912345 IPv4, 201234 IPv6 prefixes)", "MaxMind DB GeoLite2-ASN". */
  readonly description: string;
  lookup(address: string): AsnInfo | undefined;
}

const AS_TEXT = /^(?:AS)?(\d{1,10})$/i;

/** The AS number of a MaxMind DB record: GeoLite2's autonomous_system_number, or ipinfo's asn. */
function recordAsn(record: Record<string, unknown>): number | undefined {
  const value = record.autonomous_system_number ?? record.asn;
  if (typeof value === "number") return Number.isInteger(value) && value > 0 ? value : undefined;
  if (typeof value === "bigint") return value > 0n && value <= 0xffffffffn ? Number(value) : undefined;
  if (typeof value === "string") {
    const match = AS_TEXT.exec(value.trim());
    return match ? Number(match[1]) : undefined;
  }
  return undefined;
}

export async function loadAsnDatabase(path: string): Promise<AsnDatabase> {
  let data = await readFile(path);
  if (isMmdb(data) || path.endsWith(".mmdb")) {
    const db = openMmdb<Record<string, unknown>>(data, path);
    return {
      description: `MaxMind DB ${db.databaseType}`,
      lookup(address) {
        const found = db.lookup(address);
        if (found === undefined) return undefined;
        const bytes = ipBytes(address);
        if (bytes === undefined) return undefined;
        const record = found.record;
        const asn = typeof record === "object" && record !== null ? recordAsn(record) : undefined;
        return { asn, network: networkText(bytes, found.prefixLength) };
      },
    };
  }
  if (data[0] === 0x1f && data[1] === 0x8b) data = await promisify(gunzip)(data);
  const table = await parseIpasn(data.toString("latin1"), path);
  return {
    description: `ipasn (${table.ipv4Prefixes} IPv4, ${table.ipv6Prefixes} IPv6 prefixes)`,
    lookup: (address) => table.lookup(address),
  };
}
