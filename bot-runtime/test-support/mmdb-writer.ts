// Writes MaxMind DB files (format 2.0, https://maxmind.github.io/MaxMind-DB/) for tests: City, Country
// and ASN databases with networks and records the test chooses. Team-written from the published spec
// (no npm writer is maintained; MaxMind's Go writer would need a Go build at test time). The tests check
// its output with two independent readers: the `maxmind` npm package and Python's maxminddb.
//
// Record values are JS values; numbers need a type where the format has several: plain integers are
// written as uint32 (negative ones as int32), other numbers as double — wrap with `mmdbValue` to choose.
import { parsePrefix } from "../src/exclusions/ip-prefix-trie.ts";

export type MmdbScalarType = "double" | "float" | "uint16" | "uint32" | "int32" | "uint64" | "uint128";

/** A number (or bigint) written as the given MaxMind DB type. */
export interface TypedValue {
  readonly mmdbType: MmdbScalarType;
  readonly value: number | bigint;
}

export type MmdbValue =
  | string
  | number
  | boolean
  | Uint8Array
  | TypedValue
  | readonly MmdbValue[]
  | { readonly [key: string]: MmdbValue };

export function mmdbValue(mmdbType: MmdbScalarType, value: number | bigint): TypedValue {
  return { mmdbType, value };
}

export interface MmdbNetwork {
  /** "192.0.2.0/24", "2001:db8::/32" or a single address. */
  readonly network: string;
  readonly data: MmdbValue;
}

export interface MmdbOptions {
  readonly databaseType: string;
  /** 6 (default): IPv4 networks live under ::/96; 4: an IPv4-only tree. */
  readonly ipVersion?: 4 | 6;
  /** Bits per record: 24, 28 (default) or 32. */
  readonly recordSize?: 24 | 28 | 32;
  readonly languages?: readonly string[];
  readonly description?: Readonly<Record<string, string>>;
  /** Seconds since the epoch. */
  readonly buildEpoch?: number;
  /**
   * Point ::ffff:0:0/96 (IPv4-mapped) and 2002::/16 (6to4) at the IPv4 tree, as MaxMind's databases do
   * (IPv6 trees only; default true).
   */
  readonly ipv4Aliases?: boolean;
  /** Repeated strings (map keys, names) become pointers to their first copy, as in MaxMind's files. */
  readonly pointers?: boolean;
  readonly networks: readonly MmdbNetwork[];
}

export const METADATA_MARKER = Buffer.from("abcdef4d61784d696e642e636f6d", "hex");

// ---- the data section ----

const TYPE = {
  pointer: 1,
  string: 2,
  double: 3,
  bytes: 4,
  uint16: 5,
  uint32: 6,
  map: 7,
  int32: 8,
  uint64: 9,
  uint128: 10,
  array: 11,
  boolean: 14,
  float: 15,
} as const;

/** The control byte(s) of a field: type (extended when > 7) and payload size. */
function control(type: number, size: number): number[] {
  const out: number[] = [];
  const sizeBytes: number[] = [];
  let sizeBits: number;
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    sizeBytes.push(size - 29);
  } else if (size < 285 + 65_536) {
    sizeBits = 30;
    const n = size - 285;
    sizeBytes.push(n >> 8, n & 0xff);
  } else {
    sizeBits = 31;
    const n = size - 65_821;
    sizeBytes.push((n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  }
  if (type <= 7) out.push((type << 5) | sizeBits);
  else out.push(sizeBits, type - 7);
  out.push(...sizeBytes);
  return out;
}

function unsignedBytes(value: bigint, maxBytes: number, what: string): number[] {
  if (value < 0n || value >= 1n << BigInt(maxBytes * 8))
    throw new RangeError(`${what} out of range: ${value}`);
  const bytes: number[] = [];
  for (let v = value; v > 0n; v >>= 8n) bytes.unshift(Number(v & 0xffn));
  return bytes;
}

class DataSection {
  readonly #chunks: Buffer[] = [];
  #size = 0;
  readonly #strings = new Map<string, number>();
  readonly #records = new Map<string, number>();
  readonly #pointers: boolean;

  constructor(pointers: boolean) {
    this.#pointers = pointers;
  }

  get size(): number {
    return this.#size;
  }

  /** Offset of a top-level record; equal records are stored once. */
  record(value: MmdbValue): number {
    const key = JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
    const known = this.#records.get(key);
    if (known !== undefined) return known;
    const offset = this.#size;
    this.#write(value);
    this.#records.set(key, offset);
    return offset;
  }

  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  #push(bytes: readonly number[] | Buffer): void {
    const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
    this.#chunks.push(buffer);
    this.#size += buffer.length;
  }

  #pointer(offset: number): void {
    if (offset < 2048) this.#push([0x20 | (offset >> 8), offset & 0xff]);
    else if (offset < 526_336) {
      const n = offset - 2048;
      this.#push([0x28 | (n >> 16), (n >> 8) & 0xff, n & 0xff]);
    } else if (offset < 134_744_064) {
      const n = offset - 526_336;
      this.#push([0x30 | (n >> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
    } else {
      this.#push([0x38, (offset >>> 24) & 0xff, (offset >> 16) & 0xff, (offset >> 8) & 0xff, offset & 0xff]);
    }
  }

  #write(value: MmdbValue): void {
    if (typeof value === "string") {
      const known = this.#pointers ? this.#strings.get(value) : undefined;
      if (known !== undefined) {
        this.#pointer(known);
        return;
      }
      const bytes = Buffer.from(value, "utf8");
      if (this.#pointers) this.#strings.set(value, this.#size);
      this.#push(control(TYPE.string, bytes.length));
      this.#push(bytes);
    } else if (typeof value === "boolean") {
      this.#push(control(TYPE.boolean, value ? 1 : 0));
    } else if (typeof value === "number") {
      if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) this.#typed(mmdbValue("uint32", value));
      else if (Number.isInteger(value) && value < 0 && value >= -(2 ** 31))
        this.#typed(mmdbValue("int32", value));
      else this.#typed(mmdbValue("double", value));
    } else if (value instanceof Uint8Array) {
      this.#push(control(TYPE.bytes, value.length));
      this.#push(Buffer.from(value));
    } else if (Array.isArray(value)) {
      this.#push(control(TYPE.array, value.length));
      for (const item of value) this.#write(item);
    } else if (isTyped(value)) {
      this.#typed(value);
    } else {
      const entries = Object.entries(value as Record<string, MmdbValue>);
      this.#push(control(TYPE.map, entries.length));
      for (const [key, item] of entries) {
        this.#write(key);
        this.#write(item);
      }
    }
  }

  #typed({ mmdbType, value }: TypedValue): void {
    switch (mmdbType) {
      case "double": {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(Number(value));
        this.#push(control(TYPE.double, 8));
        this.#push(b);
        return;
      }
      case "float": {
        const b = Buffer.alloc(4);
        b.writeFloatBE(Number(value));
        this.#push(control(TYPE.float, 4));
        this.#push(b);
        return;
      }
      case "int32": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31)
          throw new RangeError(`int32 out of range: ${n}`);
        // Negative values take all four bytes (two's complement); others as few as they need.
        const bytes =
          n < 0 ? [...Buffer.from(Int32Array.of(n).buffer).reverse()] : unsignedBytes(BigInt(n), 4, "int32");
        this.#push(control(TYPE.int32, bytes.length));
        this.#push(bytes);
        return;
      }
      default: {
        const width = { uint16: 2, uint32: 4, uint64: 8, uint128: 16 }[mmdbType];
        const bytes = unsignedBytes(BigInt(value), width, mmdbType);
        this.#push(control(TYPE[mmdbType], bytes.length));
        this.#push(bytes);
      }
    }
  }
}

function isTyped(value: object): value is TypedValue {
  return "mmdbType" in value && "value" in value;
}

// ---- the search tree ----

/** A tree node; a side holds another node, a record (data offset), or nothing. */
interface TreeNode {
  side: [Side, Side];
  number: number;
}
type Side = TreeNode | { readonly data: number } | undefined;

function isNode(side: Side): side is TreeNode {
  return side !== undefined && "side" in side;
}

function bitAt(bytes: Uint8Array, i: number): 0 | 1 {
  return (((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1) as 0 | 1;
}

function newNode(): TreeNode {
  return { side: [undefined, undefined], number: -1 };
}

/** Puts `data` at the network of `bits` bits; a record met on the way is pushed down to both halves. */
function insert(root: TreeNode, bytes: Uint8Array, bits: number, data: number): void {
  if (bits === 0) throw new Error("mmdb-writer: a network of prefix length 0 cannot be stored");
  let node = root;
  for (let i = 0; i < bits - 1; i++) {
    const b = bitAt(bytes, i);
    const next = node.side[b];
    if (isNode(next)) {
      node = next;
      continue;
    }
    const child = newNode();
    child.side = [next, next];
    node.side[b] = child;
    node = child;
  }
  node.side[bitAt(bytes, bits - 1)] = { data };
}

/** The node at the end of a path of `bits` bits, created as needed. */
function nodeAt(root: TreeNode, bytes: Uint8Array, bits: number): TreeNode {
  let node = root;
  for (let i = 0; i < bits; i++) {
    const b = bitAt(bytes, i);
    const next = node.side[b];
    if (isNode(next)) node = next;
    else {
      const child = newNode();
      child.side = [next, next];
      node.side[b] = child;
      node = child;
    }
  }
  return node;
}

/** Makes the record at the end of `bits` bits point at `target` (an alias). */
function alias(root: TreeNode, bytes: Uint8Array, bits: number, target: TreeNode): void {
  const parent = nodeAt(root, bytes, bits - 1);
  parent.side[bitAt(bytes, bits - 1)] = target;
}

function networkBytes(network: string, ipVersion: 4 | 6): { bytes: Uint8Array; bits: number } {
  const parsed = parsePrefix(network);
  if (!parsed) throw new Error(`mmdb-writer: not a network: ${network}`);
  if (parsed.bytes.length === 16) {
    if (ipVersion === 4) throw new Error(`mmdb-writer: IPv6 network ${network} in an IPv4 database`);
    return { bytes: parsed.bytes, bits: parsed.length };
  }
  if (ipVersion === 4) return { bytes: parsed.bytes, bits: parsed.length };
  const bytes = new Uint8Array(16);
  bytes.set(parsed.bytes, 12);
  return { bytes, bits: parsed.length + 96 };
}

function writeRecord(
  out: Buffer,
  offset: number,
  recordSize: 24 | 28 | 32,
  left: number,
  right: number,
): void {
  if (recordSize === 24) {
    out.writeUIntBE(left, offset, 3);
    out.writeUIntBE(right, offset + 3, 3);
  } else if (recordSize === 32) {
    out.writeUInt32BE(left, offset);
    out.writeUInt32BE(right, offset + 4);
  } else {
    out.writeUIntBE(left & 0xffffff, offset, 3);
    out[offset + 3] = ((left >>> 24) << 4) | (right >>> 24);
    out.writeUIntBE(right & 0xffffff, offset + 4, 3);
  }
}

/** A complete MaxMind DB file. Later networks win over earlier ones of the same or shorter length. */
export function writeMmdb(options: MmdbOptions): Buffer {
  const ipVersion = options.ipVersion ?? 6;
  const recordSize = options.recordSize ?? 28;
  const data = new DataSection(options.pointers ?? true);
  const root = newNode();
  // Shorter networks first, so longer ones carve their part out of them.
  const networks = options.networks
    .map((n, order) => ({ ...networkBytes(n.network, ipVersion), data: n.data, order }))
    .sort((a, b) => a.bits - b.bits || a.order - b.order);
  for (const n of networks) insert(root, n.bytes, n.bits, data.record(n.data));
  if (ipVersion === 6 && (options.ipv4Aliases ?? true)) {
    const ipv4Root = nodeAt(root, new Uint8Array(16), 96);
    alias(root, Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0]), 96, ipv4Root);
    alias(root, Uint8Array.from([0x20, 0x02, ...new Array<number>(14).fill(0)]), 16, ipv4Root);
  }

  // Number the nodes breadth first (the root is node 0); aliases reach nodes already numbered.
  const order: TreeNode[] = [root];
  root.number = 0;
  for (let i = 0; i < order.length; i++) {
    for (const side of (order[i] as TreeNode).side) {
      if (isNode(side) && side.number < 0) {
        side.number = order.length;
        order.push(side);
      }
    }
  }
  const nodeCount = order.length;
  const recordValue = (side: Side): number =>
    side === undefined ? nodeCount : isNode(side) ? side.number : nodeCount + 16 + side.data;
  const limit = 2 ** recordSize;
  if (nodeCount + 16 + data.size >= limit)
    throw new Error(`mmdb-writer: too large for ${recordSize}-bit records`);
  const nodeBytes = recordSize / 4;
  const tree = Buffer.alloc(nodeCount * nodeBytes);
  for (const node of order) {
    writeRecord(
      tree,
      node.number * nodeBytes,
      recordSize,
      recordValue(node.side[0]),
      recordValue(node.side[1]),
    );
  }

  const metadata = new DataSection(false);
  metadata.record({
    node_count: mmdbValue("uint32", nodeCount),
    record_size: mmdbValue("uint16", recordSize),
    ip_version: mmdbValue("uint16", ipVersion),
    database_type: options.databaseType,
    languages: [...(options.languages ?? ["en"])],
    binary_format_major_version: mmdbValue("uint16", 2),
    binary_format_minor_version: mmdbValue("uint16", 0),
    build_epoch: mmdbValue("uint64", BigInt(options.buildEpoch ?? 1_714_557_600)),
    description: { ...(options.description ?? { en: `Petrel test ${options.databaseType}` }) },
  });
  return Buffer.concat([tree, Buffer.alloc(16), data.bytes(), METADATA_MARKER, metadata.bytes()]);
}

// ---- records as MaxMind's databases shape them ----

export interface GeoRecordOptions {
  readonly country?: string;
  readonly registeredCountry?: string;
  /** City name per language. */
  readonly city?: Readonly<Record<string, string>>;
  readonly latitude?: number;
  readonly longitude?: number;
  /** Further top-level fields (continent, subdivisions, postal ...). */
  readonly extra?: Readonly<Record<string, MmdbValue>>;
}

/** A GeoIP2/GeoLite2 City (or, without city and location, Country) record. */
export function geoRecord(options: GeoRecordOptions): MmdbValue {
  const record: Record<string, MmdbValue> = {};
  if (options.city) record.city = { geoname_id: 2_950_159, names: { ...options.city } };
  if (options.country) {
    record.country = {
      geoname_id: 2_921_044,
      iso_code: options.country,
      names: { en: `Country ${options.country}` },
    };
  }
  if (options.latitude !== undefined || options.longitude !== undefined) {
    const location: Record<string, MmdbValue> = { accuracy_radius: mmdbValue("uint16", 100) };
    if (options.latitude !== undefined) location.latitude = mmdbValue("double", options.latitude);
    if (options.longitude !== undefined) location.longitude = mmdbValue("double", options.longitude);
    location.time_zone = "Europe/Berlin";
    record.location = location;
  }
  if (options.registeredCountry) {
    record.registered_country = {
      geoname_id: 2_921_044,
      iso_code: options.registeredCountry,
      names: { en: `Country ${options.registeredCountry}` },
    };
  }
  Object.assign(record, options.extra ?? {});
  return record;
}

/** A GeoLite2-ASN record. */
export function asnRecord(asn: number, organization?: string): MmdbValue {
  const record: Record<string, MmdbValue> = { autonomous_system_number: mmdbValue("uint32", asn) };
  if (organization !== undefined) record.autonomous_system_organization = organization;
  return record;
}
