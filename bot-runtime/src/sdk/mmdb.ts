// MaxMind DB files (GeoIP2/GeoLite2 City, Country, ASN, and other vendors' files in the same format) read
// through the `maxmind` package, checked before use: a truncated or foreign file is refused with an
// error naming it instead of answering lookups with garbage.
import { readFile } from "node:fs/promises";
import { Reader, type Response } from "maxmind";

/** The marker before the metadata (spec: within the file's last 128 KiB). */
const METADATA_MARKER = Buffer.from("abcdef4d61784d696e642e636f6d", "hex");
const METADATA_WINDOW = 128 * 1024;

/** Decoded records kept per database (they are shared, never changed by callers). */
const CACHED_RECORDS = 10_000;

/** A bounded cache for the reader's decoded records: the oldest go first. */
class RecordCache {
  readonly #entries = new Map<string | number, unknown>();
  get(key: string | number): unknown {
    return this.#entries.get(key);
  }
  set(key: string | number, value: unknown): void {
    if (this.#entries.size >= CACHED_RECORDS) {
      this.#entries.delete(this.#entries.keys().next().value as string | number);
    }
    this.#entries.set(key, value);
  }
}

export interface MmdbLookup<T> {
  readonly record: T;
  /** Prefix length of the network that holds the record (IPv4 addresses: of the IPv4 network). */
  readonly prefixLength: number;
}

export class MmdbDatabase<T extends Response = Response> {
  readonly #reader: Reader<T>;
  readonly databaseType: string;
  readonly ipVersion: 4 | 6;
  readonly buildEpoch: Date;

  constructor(reader: Reader<T>) {
    this.#reader = reader;
    this.databaseType = String(reader.metadata.databaseType);
    this.ipVersion = reader.metadata.ipVersion === 4 ? 4 : 6;
    this.buildEpoch = reader.metadata.buildEpoch;
  }

  /**
   * The record for an address (text as events hold it), or undefined when there is none. IPv6 addresses
   * have none in an IPv4-only database (the reader would walk the IPv4 tree with them).
   */
  lookup(address: string): MmdbLookup<T> | undefined {
    if (this.ipVersion === 4 && address.includes(":")) return undefined;
    const [record, prefixLength] = this.#reader.getWithPrefixLength(address);
    return record === null ? undefined : { record, prefixLength };
  }
}

/** Where the metadata marker starts, or -1 when the data has none where the spec puts it. */
function markerOffset(data: Buffer): number {
  const start = Math.max(0, data.length - METADATA_WINDOW);
  const found = data.subarray(start).lastIndexOf(METADATA_MARKER);
  return found < 0 ? -1 : start + found;
}

/** Whether the data looks like a MaxMind DB file (has its metadata marker). */
export function isMmdb(data: Buffer): boolean {
  return markerOffset(data) >= 0;
}

/** Checks and opens MaxMind DB data; the error names `name` and what is wrong. */
export function openMmdb<T extends Response = Response>(data: Buffer, name: string): MmdbDatabase<T> {
  if (data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b) {
    throw new Error(`${name} is gzip-compressed; unpack the .mmdb file from it`);
  }
  const marker = markerOffset(data);
  if (marker < 0) {
    throw new Error(`${name} is no MaxMind DB file (no metadata section; truncated or another format?)`);
  }
  let reader: Reader<T>;
  try {
    reader = new Reader<T>(data, { cache: new RecordCache() });
  } catch (error) {
    throw new Error(`${name}: unreadable MaxMind DB metadata: ${(error as Error).message}`);
  }
  const meta = reader.metadata;
  const problems: string[] = [];
  if (meta.binaryFormatMajorVersion !== 2)
    problems.push(`format version ${meta.binaryFormatMajorVersion} (not 2)`);
  if (meta.ipVersion !== 4 && meta.ipVersion !== 6) problems.push(`ip_version ${meta.ipVersion}`);
  if (!Number.isInteger(meta.nodeCount) || meta.nodeCount < 1) problems.push(`node_count ${meta.nodeCount}`);
  else if (meta.searchTreeSize + 16 > marker) {
    problems.push(`its search tree (${meta.searchTreeSize} bytes) does not fit before the metadata`);
  }
  if (problems.length > 0) throw new Error(`${name}: not a usable MaxMind DB: ${problems.join(", ")}`);
  const database = new MmdbDatabase(reader);
  try {
    // A first walk down the tree and into the data section finds gross damage now, not per event.
    database.lookup("1.1.1.1");
    database.lookup("2001:4860:4860::8888");
  } catch (error) {
    throw new Error(`${name}: damaged MaxMind DB: ${(error as Error).message}`);
  }
  return database;
}

/** Reads and opens a MaxMind DB file. */
export async function loadMmdb<T extends Response = Response>(path: string): Promise<MmdbDatabase<T>> {
  return openMmdb<T>(await readFile(path), path);
}
