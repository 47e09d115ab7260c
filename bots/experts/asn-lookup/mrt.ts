// Reads BGP RIB dumps in MRT format (RFC 6396: TABLE_DUMP_V2, as RouteViews and RIPE RIS publish them,
// and the older TABLE_DUMP) and finds each prefix's origin AS the way pyasn's converter does, for the
// ipasn file the asn_lookup expert reads:
// - a prefix's first record counts, later records of the same prefix are ignored; of a record, the
//   first RIB entry (one peer's route) counts;
// - the origin is the last AS of the AS_PATH that is not private or reserved (pyasn's list: 0,
//   64496-131071, 1000000 and above), looking at earlier segments when a segment has none;
// - a path ending in an AS_SET takes the AS that Python's set of the set's public ASes yields first
//   (pyasn writes `list(set)[0]`; CPython's order for integers is fixed, so it is reproduced here);
// - the default routes 0.0.0.0/0 and ::/0 are left out.
// Where pyasn stops the whole conversion (a route without AS_PATH, a path of only private ASes,
// confederation segments last, multicast or ADD-PATH records) this reader skips the route, or reads it
// (ADD-PATH unicast routes; confederation segments are passed over), and counts what it skipped.
import { createReadStream } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { bunzip2, isBzip2 } from "../../../bot-runtime/src/sdk/bzip2.ts";

export class MrtError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MrtError";
  }
}

const TABLE_DUMP = 12;
const TABLE_DUMP_V2 = 13;
const PEER_INDEX_TABLE = 1;
const RIB_IPV4_UNICAST = 2;
const RIB_IPV6_UNICAST = 4;
const RIB_IPV4_UNICAST_ADDPATH = 8;
const RIB_IPV6_UNICAST_ADDPATH = 10;
const V2_SUBTYPE_NAMES: Record<number, string> = {
  3: "RIB_IPV4_MULTICAST",
  5: "RIB_IPV6_MULTICAST",
  6: "RIB_GENERIC",
  9: "RIB_IPV4_MULTICAST_ADDPATH",
  11: "RIB_IPV6_MULTICAST_ADDPATH",
  12: "RIB_GENERIC_ADDPATH",
};
const AS_PATH = 2;
const AS_SET = 1;
const AS_SEQUENCE = 2;

/** pyasn's private-use and reserved AS numbers, never taken as an origin. */
export function isBogusAsn(asn: number): boolean {
  return asn <= 0 || (asn >= 64_496 && asn <= 131_071) || asn >= 1_000_000;
}

/**
 * The first element CPython yields from `set(values)` for non-negative integers below 2**61 (their hash
 * is their value): the set's open-addressing table is rebuilt step by step — 8 slots, linear probes of
 * up to 9 slots, perturbed jumps, growth to four times the entries when two thirds are filled — and
 * the first slot in use wins.
 */
export function pythonSetFirst(values: readonly number[]): number | undefined {
  const LINEAR_PROBES = 9;
  let mask = 7;
  let table: (number | undefined)[] = new Array(8);
  let used = 0;
  /** Returns false when the key was there already. */
  const place = (
    slots: (number | undefined)[],
    slotMask: number,
    key: number,
    checkEqual: boolean,
  ): boolean => {
    let perturb = key;
    let i = key & slotMask;
    for (;;) {
      const probes = i + LINEAR_PROBES <= slotMask ? LINEAR_PROBES : 0;
      for (let j = 0; j <= probes; j++) {
        const slot = slots[i + j];
        if (slot === undefined) {
          slots[i + j] = key;
          return true;
        }
        if (checkEqual && slot === key) return false;
      }
      perturb = Math.floor(perturb / 32);
      i = (i * 5 + 1 + perturb) & slotMask;
    }
  };
  for (const key of values) {
    if (!place(table, mask, key, true)) continue;
    used++;
    if (used * 5 >= mask * 3) {
      const wanted = used > 50_000 ? used * 2 : used * 4;
      let size = 8;
      while (size <= wanted) size *= 2;
      const bigger: (number | undefined)[] = new Array(size);
      for (const old of table) if (old !== undefined) place(bigger, size - 1, old, false);
      table = bigger;
      mask = size - 1;
    }
  }
  return table.find((slot) => slot !== undefined);
}

/** An IPv6 address as glibc's inet_ntop writes it (what pyasn's prefixes look like). */
export function inetNtop6(bytes: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] as number) << 8) | (bytes[i + 1] as number));
  let bestBase = -1;
  let bestLength = 0;
  let curBase = -1;
  let curLength = 0;
  for (let i = 0; i <= 8; i++) {
    if (i < 8 && words[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLength = 1;
      } else curLength++;
    } else if (curBase >= 0) {
      if (bestBase < 0 || curLength > bestLength) {
        bestBase = curBase;
        bestLength = curLength;
      }
      curBase = -1;
    }
  }
  if (bestBase >= 0 && bestLength < 2) bestBase = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLength) {
      if (i === bestBase) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    if (
      i === 6 &&
      bestBase === 0 &&
      (bestLength === 6 || (bestLength === 7 && words[7] !== 1) || (bestLength === 5 && words[5] === 0xffff))
    ) {
      out += `${bytes[12]}.${bytes[13]}.${bytes[14]}.${bytes[15]}`;
      return out;
    }
    out += (words[i] as number).toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLength === 8) out += ":";
  return out;
}

function prefixText(bytes: Uint8Array, length: number): string {
  return bytes.length === 4
    ? `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}/${length}`
    : `${inetNtop6(bytes)}/${length}`;
}

/** The origin AS of a route's path attributes, or why there is none. */
export function originOf(attributes: Buffer, asnBytes: 2 | 4): number | string {
  let at = 0;
  let path: Buffer | undefined;
  while (at < attributes.length) {
    if (at + 3 > attributes.length) return "damaged path attributes";
    const flags = attributes[at] as number;
    const type = attributes[at + 1] as number;
    const extended = (flags & 0x10) !== 0;
    if (extended && at + 4 > attributes.length) return "damaged path attributes";
    const length = extended ? attributes.readUInt16BE(at + 2) : (attributes[at + 2] as number);
    const start = at + (extended ? 4 : 3);
    if (start + length > attributes.length) return "damaged path attributes";
    if (type === AS_PATH) {
      path = attributes.subarray(start, start + length);
      break;
    }
    at = start + length;
  }
  if (path === undefined) return "no AS_PATH";
  const segments: { type: number; asns: number[] }[] = [];
  for (let i = 0; i < path.length; ) {
    if (i + 2 > path.length) return "damaged AS_PATH";
    const type = path[i] as number;
    const count = path[i + 1] as number;
    i += 2;
    if (i + count * asnBytes > path.length) return "damaged AS_PATH";
    const asns: number[] = [];
    for (let k = 0; k < count; k++, i += asnBytes)
      asns.push(asnBytes === 4 ? path.readUInt32BE(i) : path.readUInt16BE(i));
    segments.push({ type, asns });
  }
  if (segments.length === 0) return "empty AS_PATH";
  for (let s = segments.length - 1; s >= 0; s--) {
    const { type, asns } = segments[s] as { type: number; asns: number[] };
    if (type === AS_SEQUENCE) {
      for (let k = asns.length - 1; k >= 0; k--) if (!isBogusAsn(asns[k] as number)) return asns[k] as number;
    } else if (type === AS_SET) {
      const first = pythonSetFirst(asns.filter((asn) => !isBogusAsn(asn)));
      if (first !== undefined) return first;
    }
    // Confederation segments (and unknown ones) are passed over.
  }
  return "no public AS in AS_PATH";
}

export interface SkippedRoute {
  readonly prefix: string;
  readonly reason: string;
}

export interface RibConversion {
  /** Prefix → origin AS, in the order the prefixes first appeared. */
  readonly prefixes: Map<string, number>;
  readonly records: number;
  /** Routes (prefixes) left out, with why; at most `skippedKept` of them are listed. */
  readonly skipped: SkippedRoute[];
  readonly skippedCount: number;
  /** Records of kinds that hold no unicast routes, by name, with how many. */
  readonly ignored: Map<string, number>;
}

export interface ConvertOptions {
  /** How many skipped routes are listed (default 20); all are counted. */
  readonly skippedKept?: number;
}

/** The MRT records of a byte stream: type, subtype and body. */
async function* mrtRecords(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<{ type: number; subtype: number; body: Buffer; offset: number }> {
  let pending: Buffer = Buffer.alloc(0);
  let offset = 0;
  for await (const chunk of chunks) {
    const data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
    let at = 0;
    while (pending.length - at >= 12) {
      const length = pending.readUInt32BE(at + 8);
      if (pending.length - at - 12 < length) break;
      yield {
        type: pending.readUInt16BE(at + 4),
        subtype: pending.readUInt16BE(at + 6),
        body: pending.subarray(at + 12, at + 12 + length),
        offset: offset + at,
      };
      at += 12 + length;
    }
    offset += at;
    pending = pending.subarray(at);
  }
  if (pending.length > 0)
    throw new MrtError(`the data ends inside an MRT record (at byte ${offset}; truncated download?)`);
}

/** Reads a RIB dump (already decompressed) into prefix → origin AS. */
export async function convertRib(
  chunks: AsyncIterable<Uint8Array>,
  options: ConvertOptions = {},
): Promise<RibConversion> {
  const kept = options.skippedKept ?? 20;
  const prefixes = new Map<string, number>();
  const skipped: SkippedRoute[] = [];
  let skippedCount = 0;
  const ignored = new Map<string, number>();
  let records = 0;
  const skip = (prefix: string, reason: string) => {
    skippedCount++;
    if (skipped.length < kept) skipped.push({ prefix, reason });
  };
  const route = (prefix: string, attributes: Buffer | undefined, asnBytes: 2 | 4) => {
    if (prefixes.has(prefix)) return;
    if (attributes === undefined) {
      skip(prefix, "no RIB entries");
      return;
    }
    const origin = originOf(attributes, asnBytes);
    if (typeof origin === "string") skip(prefix, origin);
    else prefixes.set(prefix, origin);
  };
  for await (const { type, subtype, body, offset } of mrtRecords(chunks)) {
    records++;
    const damaged = (what: string) => new MrtError(`MRT record at byte ${offset}: ${what}`);
    if (type === TABLE_DUMP_V2) {
      if (subtype === PEER_INDEX_TABLE) continue;
      const addPath = subtype === RIB_IPV4_UNICAST_ADDPATH || subtype === RIB_IPV6_UNICAST_ADDPATH;
      if (subtype !== RIB_IPV4_UNICAST && subtype !== RIB_IPV6_UNICAST && !addPath) {
        const name = `TABLE_DUMP_V2 ${V2_SUBTYPE_NAMES[subtype] ?? `subtype ${subtype}`}`;
        ignored.set(name, (ignored.get(name) ?? 0) + 1);
        continue;
      }
      const size = subtype === RIB_IPV4_UNICAST || subtype === RIB_IPV4_UNICAST_ADDPATH ? 4 : 16;
      if (body.length < 5) throw damaged("too short");
      const length = body[4] as number;
      if (length > size * 8) throw damaged(`prefix length ${length}`);
      const octets = (length + 7) >> 3;
      if (body.length < 7 + octets) throw damaged("too short");
      const bytes = new Uint8Array(size);
      bytes.set(body.subarray(5, 5 + octets));
      const prefix = prefixText(bytes, length);
      const entries = body.readUInt16BE(5 + octets);
      const entry = 7 + octets;
      if (entries === 0) {
        route(prefix, undefined, 4);
        continue;
      }
      const attributesAt = entry + (addPath ? 12 : 8);
      if (body.length < attributesAt) throw damaged("RIB entry too short");
      const attributeLength = body.readUInt16BE(attributesAt - 2);
      if (body.length < attributesAt + attributeLength) throw damaged("RIB entry too short");
      route(prefix, body.subarray(attributesAt, attributesAt + attributeLength), 4);
    } else if (type === TABLE_DUMP) {
      if (subtype !== 1 && subtype !== 2) throw damaged(`TABLE_DUMP address family ${subtype}`);
      const size = subtype === 1 ? 4 : 16;
      const attributesAt = 4 + size + 6 + size + 4;
      if (body.length < attributesAt) throw damaged("too short");
      const length = body[4 + size] as number;
      if (length > size * 8) throw damaged(`prefix length ${length}`);
      const prefix = prefixText(body.subarray(4, 4 + size), length);
      const attributeLength = body.readUInt16BE(attributesAt - 2);
      if (body.length < attributesAt + attributeLength) throw damaged("too short");
      route(prefix, body.subarray(attributesAt, attributesAt + attributeLength), 2);
    } else {
      throw new MrtError(
        `MRT record at byte ${offset} has type ${type}: not a routing table dump (TABLE_DUMP_V2 is type 13; BGP4MP update files cannot be converted)`,
      );
    }
  }
  prefixes.delete("0.0.0.0/0");
  prefixes.delete("::/0");
  return { prefixes, records, skipped, skippedCount, ignored };
}

/** The bytes of a RIB file, decompressed (bzip2, gzip, or none), chosen by content. */
export async function* ribFileChunks(path: string): AsyncGenerator<Uint8Array> {
  const head = Buffer.alloc(4);
  const handle = await open(path, "r");
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (isBzip2(head)) {
    // bzip2 streams are decoded from memory (a RIB dump is 100 MB compressed), block by block.
    yield* bunzip2(await readFile(path));
  } else if (head[0] === 0x1f && head[1] === 0x8b) {
    yield* createReadStream(path).pipe(createGunzip());
  } else {
    yield* createReadStream(path);
  }
}
