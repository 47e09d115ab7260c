// Writes BGP RIB dumps in MRT format (RFC 6396) for tests: a PEER_INDEX_TABLE and RIB_IPV4_UNICAST /
// RIB_IPV6_UNICAST records (TABLE_DUMP_V2) as RouteViews writes them, with the path attributes a test
// chooses — AS_SEQUENCE and AS_SET segments, missing or empty AS_PATHs, RIB records without entries —
// and, for the reader's other branches, ADD-PATH and multicast records, TABLE_DUMP (v1) records and
// records of other types. Team-written from the RFC.
import { parsePrefix } from "../src/exclusions/ip-prefix-trie.ts";

export type SegmentType = "sequence" | "set" | "confed_sequence" | "confed_set";

export interface PathSegment {
  readonly type: SegmentType;
  readonly asns: readonly number[];
}

export interface RibEntry {
  /** The AS_PATH; null leaves the attribute out. */
  readonly path: readonly PathSegment[] | null;
  readonly peer?: number;
  /** ADD-PATH records only. */
  readonly pathId?: number;
}

export type MrtRecordSpec =
  | {
      readonly kind: "rib";
      readonly prefix: string;
      readonly entries: readonly RibEntry[];
      /** Write the ADD-PATH (RFC 8050) or multicast variant of the subtype. */
      readonly variant?: "addpath" | "multicast";
    }
  /** A TABLE_DUMP (version 1) record: 2-byte AS numbers. */
  | { readonly kind: "table-dump-v1"; readonly prefix: string; readonly path: readonly PathSegment[] }
  /** Any record, e.g. a BGP4MP message (type 16). */
  | { readonly kind: "raw"; readonly type: number; readonly subtype: number; readonly body: Buffer };

const SEGMENT_CODES: Record<SegmentType, number> = { set: 1, sequence: 2, confed_sequence: 3, confed_set: 4 };
const TIMESTAMP = 1_714_557_600;

function header(type: number, subtype: number, body: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32BE(TIMESTAMP, 0);
  h.writeUInt16BE(type, 4);
  h.writeUInt16BE(subtype, 6);
  h.writeUInt32BE(body.length, 8);
  return Buffer.concat([h, body]);
}

function attribute(flags: number, type: number, value: Buffer): Buffer {
  if (value.length > 255) {
    const h = Buffer.from([flags | 0x10, type, 0, 0]);
    h.writeUInt16BE(value.length, 2);
    return Buffer.concat([h, value]);
  }
  return Buffer.concat([Buffer.from([flags, type, value.length]), value]);
}

function asPath(segments: readonly PathSegment[], asnBytes: 2 | 4): Buffer {
  const parts: Buffer[] = [];
  for (const segment of segments) {
    const part = Buffer.alloc(2 + segment.asns.length * asnBytes);
    part[0] = SEGMENT_CODES[segment.type];
    part[1] = segment.asns.length;
    segment.asns.forEach((asn, i) => {
      if (asnBytes === 4) part.writeUInt32BE(asn, 2 + 4 * i);
      else part.writeUInt16BE(asn, 2 + 2 * i);
    });
    parts.push(part);
  }
  return Buffer.concat(parts);
}

/** ORIGIN, AS_PATH (unless null) and a next hop, as a collector stores them. */
function attributes(path: readonly PathSegment[] | null, ipv6: boolean, asnBytes: 2 | 4): Buffer {
  const parts = [attribute(0x40, 1, Buffer.from([0]))];
  if (path !== null) parts.push(attribute(0x40, 2, asPath(path, asnBytes)));
  if (ipv6) {
    // MP_REACH_NLRI, abbreviated in TABLE_DUMP_V2 to the next hop's length and address.
    parts.push(attribute(0x80, 14, Buffer.concat([Buffer.from([16]), Buffer.alloc(16, 0x20)])));
  } else {
    parts.push(attribute(0x40, 3, Buffer.from([192, 0, 2, 254])));
  }
  return Buffer.concat(parts);
}

function peerIndexTable(): Buffer {
  const view = Buffer.from("petrel-test");
  const parts = [Buffer.from([192, 0, 2, 250]), Buffer.alloc(2), view, Buffer.alloc(2)];
  (parts[1] as Buffer).writeUInt16BE(view.length);
  (parts[3] as Buffer).writeUInt16BE(2);
  // Peer 0: IPv4, 4-byte AS; peer 1: IPv6, 4-byte AS.
  parts.push(Buffer.from([0x02, 10, 0, 0, 1, 192, 0, 2, 1, 0, 0, 0xfd, 0xe8]));
  const v6 = Buffer.alloc(1 + 4 + 16 + 4);
  v6[0] = 0x03;
  v6.writeUInt32BE(0x0a000002, 1);
  v6[5] = 0x20;
  v6[6] = 0x01;
  v6.writeUInt32BE(65_001, 21);
  parts.push(v6);
  return header(13, 1, Buffer.concat(parts));
}

function network(prefix: string): { bytes: Uint8Array; length: number } {
  const parsed = parsePrefix(prefix);
  if (!parsed) throw new Error(`mrt-writer: not a prefix: ${prefix}`);
  return parsed;
}

let sequence = 0;

function ribRecord(spec: Extract<MrtRecordSpec, { kind: "rib" }>): Buffer {
  const { bytes, length } = network(spec.prefix);
  const ipv6 = bytes.length === 16;
  const base = ipv6 ? 4 : 2;
  const subtype = spec.variant === "addpath" ? base + 6 : spec.variant === "multicast" ? base + 1 : base;
  const octets = (length + 7) >> 3;
  const head = Buffer.alloc(5 + octets + 2);
  head.writeUInt32BE(sequence++, 0);
  head[4] = length;
  head.set(bytes.subarray(0, octets), 5);
  head.writeUInt16BE(spec.entries.length, 5 + octets);
  const entries = spec.entries.map((entry) => {
    const attrs = attributes(entry.path, ipv6, 4);
    const addPath = spec.variant === "addpath";
    const e = Buffer.alloc(addPath ? 12 : 8);
    e.writeUInt16BE(entry.peer ?? (ipv6 ? 1 : 0), 0);
    e.writeUInt32BE(TIMESTAMP - 3600, 2);
    if (addPath) e.writeUInt32BE(entry.pathId ?? 1, 6);
    e.writeUInt16BE(attrs.length, addPath ? 10 : 6);
    return Buffer.concat([e, attrs]);
  });
  return header(13, subtype, Buffer.concat([head, ...entries]));
}

function tableDumpV1(spec: Extract<MrtRecordSpec, { kind: "table-dump-v1" }>): Buffer {
  const { bytes, length } = network(spec.prefix);
  const ipv6 = bytes.length === 16;
  const attrs = attributes(spec.path, ipv6, 2);
  const size = bytes.length;
  const body = Buffer.alloc(4 + size + 6 + size + 4);
  body.writeUInt16BE(0, 0);
  body.writeUInt16BE(sequence++ & 0xffff, 2);
  body.set(bytes, 4);
  body[4 + size] = length;
  body[5 + size] = 1;
  body.writeUInt32BE(TIMESTAMP - 3600, 6 + size);
  body[10 + size] = 192;
  body.writeUInt16BE(65_000, 10 + 2 * size);
  body.writeUInt16BE(attrs.length, 12 + 2 * size);
  return header(12, ipv6 ? 2 : 1, Buffer.concat([body, attrs]));
}

/** A RIB dump: the peer index table, then the records in the order given. */
export function writeMrt(records: readonly MrtRecordSpec[], options: { peerIndex?: boolean } = {}): Buffer {
  const parts: Buffer[] = options.peerIndex === false ? [] : [peerIndexTable()];
  for (const record of records) {
    if (record.kind === "rib") parts.push(ribRecord(record));
    else if (record.kind === "table-dump-v1") parts.push(tableDumpV1(record));
    else parts.push(header(record.type, record.subtype, record.body));
  }
  return Buffer.concat(parts);
}

/** Shorthand: one RIB entry with an AS_SEQUENCE path. */
export function route(prefix: string, ...asns: number[]): MrtRecordSpec {
  return { kind: "rib", prefix, entries: [{ path: [{ type: "sequence", asns }] }] };
}
