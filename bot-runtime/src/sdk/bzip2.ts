// A bzip2 decompressor (Node.js has none, and Petrel's image has no bzip2 program): BGP RIB dumps, as
// RouteViews publishes them, are .bz2 files. Written from the format's description (Huffman-coded
// move-to-front symbols over a Burrows-Wheeler transform, run-length coded twice); it checks every
// block's CRC and each stream's combined CRC, reads concatenated streams (pbzip2, lbzip2), and yields
// one block (at most 900 kB) at a time so the output never has to fit in memory whole. The npm decoders
// do not fit: seek-bzip decodes a whole file in one synchronous call (a full RIB dump is several hundred MB
// decompressed) and unbzip2-stream is an unmaintained Node 0.x stream.

export class Bzip2Error extends Error {
  constructor(message: string) {
    super(`bzip2: ${message}`);
    this.name = "Bzip2Error";
  }
}

const BLOCK_MAGIC_HI = 0x314159;
const BLOCK_MAGIC_LO = 0x265359;
const END_MAGIC_HI = 0x177245;
const END_MAGIC_LO = 0x385090;
const MAX_GROUPS = 6;
const MAX_CODE_LENGTH = 20;
/** bzip2 1.0.8 reads at most this many selectors (more are read and dropped). */
const MAX_SELECTORS = 18_002;
const GROUP_SIZE = 50;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    table[i] = c >>> 0;
  }
  return table;
})();

class BitReader {
  readonly #data: Uint8Array;
  #byte = 0;
  #buffer = 0;
  #count = 0;

  constructor(data: Uint8Array) {
    this.#data = data;
  }

  /** Up to 24 bits, most significant first. */
  bits(n: number): number {
    while (this.#count < n) {
      if (this.#byte >= this.#data.length) throw new Bzip2Error("the data ends in the middle of a block");
      this.#buffer = (this.#buffer << 8) | (this.#data[this.#byte++] as number);
      this.#count += 8;
    }
    this.#count -= n;
    return (this.#buffer >>> this.#count) & ((1 << n) - 1);
  }

  bit(): number {
    return this.bits(1);
  }

  uint32(): number {
    return ((this.bits(16) << 16) | this.bits(16)) >>> 0;
  }

  /** Skips to the next byte boundary. */
  align(): void {
    this.#count -= this.#count % 8;
  }

  /** The offset of the next unread byte (after align()). */
  get offset(): number {
    return this.#byte - (this.#count >> 3);
  }

  /** Continues reading at a byte offset. */
  seek(offset: number): void {
    this.#byte = offset;
    this.#buffer = 0;
    this.#count = 0;
  }

  byte(): number {
    return this.bits(8);
  }
}

/** Decoding tables of one Huffman group (canonical codes, as bzip2's decoder builds them). */
interface HuffmanTable {
  readonly limit: Int32Array;
  readonly base: Int32Array;
  readonly perm: Int32Array;
  readonly minLength: number;
}

function huffmanTable(lengths: Uint8Array, alphaSize: number): HuffmanTable {
  let minLength = 32;
  let maxLength = 0;
  for (let i = 0; i < alphaSize; i++) {
    const l = lengths[i] as number;
    if (l > maxLength) maxLength = l;
    if (l < minLength) minLength = l;
  }
  const perm = new Int32Array(alphaSize);
  let pp = 0;
  for (let l = minLength; l <= maxLength; l++) {
    for (let s = 0; s < alphaSize; s++) if (lengths[s] === l) perm[pp++] = s;
  }
  const base = new Int32Array(MAX_CODE_LENGTH + 2);
  for (let s = 0; s < alphaSize; s++) (base[(lengths[s] as number) + 1] as number)++;
  for (let l = 1; l < base.length; l++) base[l] = (base[l] as number) + (base[l - 1] as number);
  const limit = new Int32Array(MAX_CODE_LENGTH + 2);
  let code = 0;
  for (let l = minLength; l <= maxLength; l++) {
    code += (base[l + 1] as number) - (base[l] as number);
    limit[l] = code - 1;
    code <<= 1;
  }
  for (let l = minLength + 1; l <= maxLength; l++) {
    base[l] = (((limit[l - 1] as number) + 1) << 1) - (base[l] as number);
  }
  return { limit, base, perm, minLength };
}

function decodeSymbol(reader: BitReader, table: HuffmanTable): number {
  let length = table.minLength;
  let code = reader.bits(length);
  while (code > (table.limit[length] as number)) {
    length++;
    if (length > MAX_CODE_LENGTH) throw new Bzip2Error("invalid Huffman code");
    code = (code << 1) | reader.bit();
  }
  const index = code - (table.base[length] as number);
  if (index < 0 || index >= table.perm.length) throw new Bzip2Error("invalid Huffman code");
  return table.perm[index] as number;
}

/** Decodes one block (after its magic and CRC) into the bytes it stands for. */
function decodeBlock(reader: BitReader, maxBlockSize: number, work: { tt: Uint32Array }): Uint8Array {
  if (reader.bit())
    throw new Bzip2Error("randomised blocks (written by bzip2 0.9.0 and older) are not supported");
  const origPtr = reader.bits(24);

  // Which byte values occur.
  const used = reader.bits(16);
  const seqToUnseq: number[] = [];
  for (let i = 0; i < 16; i++) {
    if (used & (0x8000 >> i)) {
      const bits = reader.bits(16);
      for (let j = 0; j < 16; j++) if (bits & (0x8000 >> j)) seqToUnseq.push(i * 16 + j);
    }
  }
  if (seqToUnseq.length === 0) throw new Bzip2Error("a block uses no byte values");
  const alphaSize = seqToUnseq.length + 2;

  const groups = reader.bits(3);
  if (groups < 2 || groups > MAX_GROUPS) throw new Bzip2Error(`invalid number of Huffman groups ${groups}`);
  const selectorCount = reader.bits(15);
  if (selectorCount < 1) throw new Bzip2Error("a block has no selectors");
  const order = Array.from({ length: groups }, (_, i) => i);
  const selectors = new Uint8Array(Math.min(selectorCount, MAX_SELECTORS));
  for (let i = 0; i < selectorCount; i++) {
    let j = 0;
    while (reader.bit()) {
      j++;
      if (j >= groups) throw new Bzip2Error("invalid selector");
    }
    const group = order[j] as number;
    order.splice(j, 1);
    order.unshift(group);
    if (i < MAX_SELECTORS) selectors[i] = group;
  }

  const tables: HuffmanTable[] = [];
  const lengths = new Uint8Array(alphaSize);
  for (let t = 0; t < groups; t++) {
    let length = reader.bits(5);
    for (let s = 0; s < alphaSize; s++) {
      for (;;) {
        if (length < 1 || length > MAX_CODE_LENGTH) throw new Bzip2Error("invalid Huffman code length");
        if (!reader.bit()) break;
        length += reader.bit() ? -1 : 1;
      }
      lengths[s] = length;
    }
    tables.push(huffmanTable(lengths, alphaSize));
  }

  // Huffman → run-length (RUNA/RUNB) and move-to-front → the BWT's last column.
  const endOfBlock = alphaSize - 1;
  const mtf = new Uint8Array(256);
  for (let i = 0; i < 256; i++) mtf[i] = i;
  const counts = new Int32Array(256);
  if (work.tt.length < maxBlockSize) work.tt = new Uint32Array(maxBlockSize);
  const tt = work.tt;
  let size = 0;
  let selector = 0;
  let left = 0;
  let table = tables[0] as HuffmanTable;
  let run = 0;
  let runWeight = 1;
  for (;;) {
    if (left === 0) {
      if (selector >= selectors.length) throw new Bzip2Error("a block has more symbols than selectors");
      table = tables[selectors[selector++] as number] as HuffmanTable;
      left = GROUP_SIZE;
    }
    left--;
    const symbol = decodeSymbol(reader, table);
    if (symbol <= 1) {
      run += symbol === 0 ? runWeight : 2 * runWeight;
      runWeight <<= 1;
      if (run > maxBlockSize) throw new Bzip2Error("a run is longer than the block");
      continue;
    }
    if (run > 0) {
      const value = seqToUnseq[mtf[0] as number] as number;
      if (size + run > maxBlockSize) throw new Bzip2Error("a block is larger than its stream allows");
      counts[value] = (counts[value] as number) + run;
      tt.fill(value, size, size + run);
      size += run;
      run = 0;
      runWeight = 1;
    }
    if (symbol === endOfBlock) break;
    const position = symbol - 1;
    const index = mtf[position] as number;
    mtf.copyWithin(1, 0, position);
    mtf[0] = index;
    const value = seqToUnseq[index] as number;
    if (size >= maxBlockSize) throw new Bzip2Error("a block is larger than its stream allows");
    counts[value] = (counts[value] as number) + 1;
    tt[size++] = value;
  }
  if (origPtr >= size) throw new Bzip2Error("invalid BWT origin pointer");

  // Inverse Burrows-Wheeler transform: tt[i] keeps the byte in its low 8 bits, the link above them.
  const starts = new Int32Array(256);
  for (let i = 1; i < 256; i++) starts[i] = (starts[i - 1] as number) + (counts[i - 1] as number);
  for (let i = 0; i < size; i++) {
    const value = (tt[i] as number) & 0xff;
    const at = starts[value] as number;
    tt[at] = ((tt[at] as number) | (i << 8)) >>> 0;
    starts[value] = at + 1;
  }

  // Follow the links, undoing the first run-length coding (4 equal bytes, then a count of more).
  let out = new Uint8Array(Math.max(size * 2, 64));
  let length = 0;
  let position = (tt[origPtr] as number) >>> 8;
  let last = -1;
  let same = 0;
  for (let k = 0; k < size; k++) {
    const entry = tt[position] as number;
    const value = entry & 0xff;
    position = entry >>> 8;
    if (same === 4) {
      if (length + value > out.length) {
        const bigger = new Uint8Array(Math.max(out.length * 2, length + value));
        bigger.set(out.subarray(0, length));
        out = bigger;
      }
      out.fill(last, length, length + value);
      length += value;
      same = 0;
      last = -1;
      continue;
    }
    if (value === last) same++;
    else {
      last = value;
      same = 1;
    }
    if (length >= out.length) {
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = bigger;
    }
    out[length++] = value;
  }
  return out.subarray(0, length);
}

function blockCrc(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    crc = ((crc << 8) ^ (CRC_TABLE[((crc >>> 24) ^ (data[i] as number)) & 0xff] as number)) >>> 0;
  }
  return ~crc >>> 0;
}

/** Whether the data starts like a bzip2 stream ("BZh" and a block size digit). */
export function isBzip2(data: Uint8Array): boolean {
  return (
    data.length >= 4 &&
    data[0] === 0x42 &&
    data[1] === 0x5a &&
    data[2] === 0x68 &&
    (data[3] as number) >= 0x31 &&
    (data[3] as number) <= 0x39
  );
}

/** The decompressed data, block by block. Throws Bzip2Error on damaged data or a wrong CRC. */
export function* bunzip2(data: Uint8Array): Generator<Uint8Array> {
  if (!isBzip2(data)) throw new Bzip2Error("not bzip2 data (no BZh header)");
  const reader = new BitReader(data);
  const work = { tt: new Uint32Array(0) };
  let stream = 0;
  for (;;) {
    stream++;
    reader.bits(24); // "BZh"
    const maxBlockSize = (reader.byte() - 0x30) * 100_000;
    let combined = 0;
    for (let block = 1; ; block++) {
      const hi = reader.bits(24);
      const lo = reader.bits(24);
      if (hi === BLOCK_MAGIC_HI && lo === BLOCK_MAGIC_LO) {
        const expected = reader.uint32();
        const out = decodeBlock(reader, maxBlockSize, work);
        const crc = blockCrc(out);
        if (crc !== expected)
          throw new Bzip2Error(`stream ${stream} block ${block}: CRC mismatch (damaged data)`);
        combined = (((combined << 1) | (combined >>> 31)) ^ crc) >>> 0;
        yield out;
      } else if (hi === END_MAGIC_HI && lo === END_MAGIC_LO) {
        const expected = reader.uint32();
        if (expected !== combined) throw new Bzip2Error(`stream ${stream}: combined CRC mismatch`);
        reader.align();
        break;
      } else {
        throw new Bzip2Error(`stream ${stream} block ${block}: no block header where one belongs`);
      }
    }
    // Another stream may follow (parallel compressors concatenate them); zero padding may end the file.
    const offset = reader.offset;
    if (offset >= data.length) break;
    if (!isBzip2(data.subarray(offset))) {
      if (data.subarray(offset).every((b) => b === 0)) break;
      throw new Bzip2Error(`unexpected data after stream ${stream}`);
    }
    reader.seek(offset);
  }
}
