// The files of fetched data, streaming, as IntelMQ's collectors make reports of them: zip, tar (plain or
// gzip-compressed) and gzip are unpacked in IntelMQ's order (utils.unzip), one file at a time, each file's
// content a stream (for tar and gzip one that reaches back to the source: a download pauses while a
// report is stored); and IntelMQ's report splitting (splitreports.generate_reports) over a stream.
// No file is held whole; a zip archive is held compressed (its directory is at its end, as for
// Python's zipfile), its members decompressed one at a time and checked against their CRC-32.
// Not taken over: tarfile's bzip2 and xz compression (Node.js has no decoder for them); such archives
// are refused with an error naming the format.
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { crc32, createGunzip, createInflateRaw } from "node:zlib";
import { extract as tarExtract } from "tar-stream";

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

export interface ArchiveFile {
  /** The member's name in the archive; undefined for gzip data or data that is no archive. */
  readonly name: string | undefined;
  /**
   * The file's content, streaming. Read it (to its end, or stop early) before asking for the next file;
   * whatever is left unread is skipped then.
   */
  readonly content: AsyncIterable<Buffer>;
}

export interface ExtractOptions {
  /** Which members to yield: true for all, or their names (IntelMQ's extract_files list). Default true. */
  files?: true | readonly string[];
  /** Formats to try, in IntelMQ's order zip, tar, gzip (default: all three). */
  zip?: boolean;
  tar?: boolean;
  gzip?: boolean;
  /** Data that is none of the formats tried is yielded whole, unnamed, instead of failing. */
  passThrough?: boolean;
}

const EMPTY: Buffer = Buffer.alloc(0);

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** An async byte source whose first bytes can be looked at before it is read. */
class PeekableSource implements AsyncIterable<Buffer> {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #head: Buffer[] = [];
  #headBytes = 0;
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  /** At least `n` bytes from the start (fewer only when the source is shorter); nothing is consumed. */
  async peek(n: number): Promise<Buffer> {
    while (this.#headBytes < n && !this.#ended) {
      const next = await this.#iterator.next();
      if (next.done) this.#ended = true;
      else if (next.value.length > 0) {
        this.#head.push(toBuffer(next.value));
        this.#headBytes += next.value.length;
      }
    }
    if (this.#head.length > 1) this.#head = [Buffer.concat(this.#head, this.#headBytes)];
    return this.#head[0] ?? EMPTY;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      const head = this.#head;
      this.#head = [];
      this.#headBytes = 0;
      yield* head;
      while (!this.#ended) {
        const next = await this.#iterator.next();
        if (next.done) this.#ended = true;
        else if (next.value.length > 0) yield toBuffer(next.value);
      }
    } finally {
      if (!this.#ended) await this.#iterator.return?.();
    }
  }

  /** Releases the underlying source (the download) when it is not read to its end. */
  async close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      await this.#iterator.return?.();
    }
  }
}

async function readAll(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

const isZip = (b: Buffer) =>
  b.length >= 4 &&
  b[0] === 0x50 &&
  b[1] === 0x4b &&
  ((b[2] === 3 && b[3] === 4) || (b[2] === 5 && b[3] === 6));
const isGzip = (b: Buffer) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const isBzip2 = (b: Buffer) => b.length >= 3 && b.toString("latin1", 0, 3) === "BZh";
const isXz = (b: Buffer) =>
  b.length >= 6 && b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));

/** Python's tarfile accepts a first block whose stored checksum matches (signed or unsigned sums). */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  let zero = true;
  for (let i = 0; i < 512; i++) {
    if (block[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return false;
  const field = block
    .toString("latin1", 148, 156)
    .replace(/[\0 ]+$/, "")
    .replace(/^ +/, "");
  if (!/^[0-7]+$/.test(field)) return false;
  const stored = Number.parseInt(field, 8);
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < 512; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (block[i] as number);
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  return stored === unsigned || stored === signed;
}

/**
 * The files of `source`, as IntelMQ's utils.unzip finds them: a zip archive's files (not its
 * directories), a tar archive's regular files (gzip-compressed or not), or the content of gzip data;
 * members are filtered by `files`. Data that is none of the formats tried fails with an ArchiveError,
 * or with `passThrough` is yielded whole.
 */
export async function* extractFiles(
  source: AsyncIterable<Uint8Array>,
  options: ExtractOptions = {},
): AsyncGenerator<ArchiveFile> {
  const { files = true, zip = true, tar = true, gzip = true, passThrough = false } = options;
  const wanted = files === true ? () => true : (name: string) => files.includes(name);
  const input = new PeekableSource(source);
  try {
    const head = await input.peek(512);
    if (zip && isZip(head)) {
      // A zip is read through its directory at the end: the (compressed) archive is held, its members
      // are decompressed one at a time.
      const data = await readAll(input);
      const entries = centralDirectory(data);
      if (entries) {
        yield* zipFiles(data, entries, wanted);
        return;
      }
      if (passThrough) {
        yield { name: undefined, content: slices(data) };
        return;
      }
      throw new ArchiveError("Failed to uncompress the given file: a zip header without a zip directory.");
    }
    if ((tar || gzip) && isGzip(head)) {
      const inflated = new PeekableSource(gunzip(input));
      try {
        if (tar && isTarHeader(await inflated.peek(512))) {
          yield* tarFiles(inflated, wanted);
          return;
        }
        if (gzip) {
          yield { name: undefined, content: inflated };
          return;
        }
      } finally {
        await inflated.close();
      }
    }
    if (tar && isTarHeader(head)) {
      yield* tarFiles(input, wanted);
      return;
    }
    if (tar && (isBzip2(head) || isXz(head))) {
      throw new ArchiveError(
        `${isXz(head) ? "xz" : "bzip2"}-compressed archives are not supported (use gzip, zip or plain tar)`,
      );
    }
    if (passThrough || (gzip && head.length === 0)) {
      // (Python's gzip.decompress takes empty data for an empty file.)
      yield { name: undefined, content: input };
      return;
    }
    const tried = [zip && "zip", tar && "tar", gzip && "gzip"].filter(Boolean).join(", ");
    throw new ArchiveError(`Failed to uncompress the given file: it is not ${tried} data.`);
  } finally {
    await input.close();
  }
}

/** gzip data decompressed, streaming (concatenated gzip members too, as Python's gzip module reads them). */
function gunzip(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const inflater = createGunzip();
  pipeline(Readable.from(source, { objectMode: false }), inflater).catch((error: unknown) => {
    inflater.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  return inflater;
}

async function* tarFiles(source: AsyncIterable<Buffer>, wanted: (name: string) => boolean) {
  const extractor = tarExtract();
  const feeding = pipeline(Readable.from(source, { objectMode: false }), extractor).catch(
    (error: unknown) => {
      extractor.destroy(error instanceof Error ? error : new Error(String(error)));
    },
  );
  try {
    for await (const entry of extractor) {
      const { type, name } = entry.header;
      // Read through the entry's iterator only: ending an entry early would destroy the whole extractor.
      const entries = entry[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      let ended = false;
      const readToEnd = async function* (): AsyncGenerator<Buffer> {
        while (!ended) {
          const next = await entries.next();
          if (next.done) ended = true;
          else yield next.value;
        }
      };
      if ((type === "file" || type === "contiguous-file") && wanted(name)) {
        yield { name, content: readToEnd() };
      }
      for await (const _ of readToEnd()) {
        // skip what the consumer did not read
      }
    }
  } finally {
    extractor.destroy();
    await feeding;
  }
}

// ---- zip: read through the central directory, as Python's zipfile does ----

/** Python's cp437 for bytes 0x80–0xFF: zip names without the UTF-8 flag. */
const CP437_HIGH =
  "ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0";

function cp437(bytes: Buffer): string {
  let out = "";
  for (const b of bytes) out += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80];
  return out;
}

interface ZipEntry {
  readonly name: string;
  readonly flags: number;
  readonly method: number;
  readonly crc: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly headerOffset: number;
}

const u16 = (b: Buffer, at: number) => b.readUInt16LE(at);
const u32 = (b: Buffer, at: number) => b.readUInt32LE(at);
const u64 = (b: Buffer, at: number) => Number(b.readBigUInt64LE(at));

/**
 * The entries of a zip archive's central directory, or undefined when `data` has no end-of-central-
 * directory record (then it is not a zip for Python's zipfile either).
 */
function centralDirectory(data: Buffer): ZipEntry[] | undefined {
  const EOCD = 0x06054b50;
  let eocd = -1;
  if (data.length >= 22 && u32(data, data.length - 22) === EOCD) eocd = data.length - 22;
  else {
    const from = Math.max(0, data.length - 65_535 - 22);
    eocd = data.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    if (eocd < from || eocd + 22 > data.length) eocd = -1;
  }
  if (eocd < 0) return undefined;
  let count = u16(data, eocd + 10);
  let cdSize = u32(data, eocd + 12);
  let cdOffset = u32(data, eocd + 16);
  let recordStart = eocd;
  // zip64: a locator right before the end record points to the zip64 end record.
  if (eocd >= 20 && u32(data, eocd - 20) === 0x07064b50) {
    const at = u64(data, eocd - 20 + 8);
    if (at + 56 <= data.length && u32(data, at) === 0x06064b50) {
      count = u64(data, at + 32);
      cdSize = u64(data, at + 40);
      cdOffset = u64(data, at + 48);
      recordStart = at;
    }
  }
  // Data prepended to the archive moves every offset (Python's "concat").
  const shift = recordStart - cdSize - cdOffset;
  if (shift < 0) throw new ArchiveError("Bad zip file: bad offset of the central directory");
  const entries: ZipEntry[] = [];
  let at = cdOffset + shift;
  for (let i = 0; i < count; i++) {
    if (at + 46 > data.length || u32(data, at) !== 0x02014b50) {
      throw new ArchiveError("Bad zip file: bad magic number for central directory");
    }
    const flags = u16(data, at + 8);
    const nameLength = u16(data, at + 28);
    const extraLength = u16(data, at + 30);
    const commentLength = u16(data, at + 32);
    let compressedSize = u32(data, at + 20);
    let size = u32(data, at + 24);
    let headerOffset = u32(data, at + 42);
    const rawName = data.subarray(at + 46, at + 46 + nameLength);
    let name = flags & 0x800 ? rawName.toString("utf8") : cp437(rawName);
    const nul = name.indexOf("\0");
    if (nul >= 0) name = name.slice(0, nul);
    const extra = data.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength);
    for (let e = 0; e + 4 <= extra.length; ) {
      const id = u16(extra, e);
      const length = u16(extra, e + 2);
      if (id === 0x0001) {
        let field = e + 4;
        if (size === 0xffffffff) {
          size = u64(extra, field);
          field += 8;
        }
        if (compressedSize === 0xffffffff) {
          compressedSize = u64(extra, field);
          field += 8;
        }
        if (headerOffset === 0xffffffff) headerOffset = u64(extra, field);
      }
      e += 4 + length;
    }
    entries.push({
      name,
      flags,
      method: u16(data, at + 10),
      crc: u32(data, at + 16),
      compressedSize,
      size,
      headerOffset: headerOffset + shift,
    });
    at += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

async function* slices(data: Buffer, size = 1 << 16): AsyncGenerator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

/** One member's content, decompressed streaming and checked against its CRC-32 and size. */
async function* zipMember(data: Buffer, entry: ZipEntry): AsyncGenerator<Buffer> {
  const at = entry.headerOffset;
  if (at + 30 > data.length || u32(data, at) !== 0x04034b50) {
    throw new ArchiveError(`Bad zip file: bad magic number for file header of ${entry.name}`);
  }
  if (entry.flags & 0x1) throw new ArchiveError(`zip member ${entry.name} is encrypted`);
  const start = at + 30 + u16(data, at + 26) + u16(data, at + 28);
  const compressed = data.subarray(start, start + entry.compressedSize);
  let content: AsyncIterable<Buffer>;
  if (entry.method === 0) content = slices(compressed);
  else if (entry.method === 8) {
    const inflater = createInflateRaw();
    pipeline(Readable.from(slices(compressed), { objectMode: false }), inflater).catch((error: unknown) => {
      inflater.destroy(error instanceof Error ? error : new Error(String(error)));
    });
    content = inflater;
  } else {
    throw new ArchiveError(`zip member ${entry.name}: compression method ${entry.method} is not supported`);
  }
  let crc = 0;
  let size = 0;
  try {
    for await (const chunk of content) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      yield chunk;
    }
  } catch (error) {
    if (error instanceof ArchiveError) throw error;
    throw new ArchiveError(`zip member ${entry.name}: ${(error as Error).message}`);
  }
  if (crc !== entry.crc || size !== entry.size) {
    throw new ArchiveError(`Bad CRC-32 or size for zip member ${entry.name}`);
  }
}

function* zipFiles(data: Buffer, entries: readonly ZipEntry[], wanted: (name: string) => boolean) {
  // As zipfile.read(name): a name that occurs twice reads its last entry.
  const byName = new Map(entries.map((e) => [e.name, e]));
  for (const entry of entries) {
    if (entry.name.endsWith("/") || !wanted(entry.name)) continue;
    yield { name: entry.name, content: zipMember(data, byName.get(entry.name) as ZipEntry) };
  }
}

/** Reads exact-size blocks and lines from a byte stream. */
class BlockReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  async #fill(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#pending.push(toBuffer(next.value));
    this.#pendingBytes += next.value.length;
    return true;
  }

  #take(n: number): Buffer {
    const all = this.#pending.length === 1 ? (this.#pending[0] as Buffer) : Buffer.concat(this.#pending);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#pending = rest.length > 0 ? [rest] : [];
    this.#pendingBytes = rest.length;
    return out;
  }

  /** Exactly `n` bytes, fewer only at the end (Python's file.read(n)). */
  async read(n: number): Promise<Buffer> {
    while (this.#pendingBytes < n && (await this.#fill())) {
      // keep reading
    }
    return this.#take(Math.min(n, this.#pendingBytes));
  }

  /** Through the first "\n", or everything when there is none (Python's file.readline()). */
  async readline(): Promise<Buffer> {
    let scanned = 0;
    for (;;) {
      for (let i = 0; i < this.#pending.length; i++) {
        const part = this.#pending[i] as Buffer;
        const newline = part.indexOf(0x0a);
        if (newline >= 0) return this.#take(scanned + newline + 1);
        scanned += part.length;
      }
      scanned = 0;
      if (!(await this.#fill())) return this.#take(this.#pendingBytes);
    }
  }

  async close(): Promise<void> {
    if (!this.#ended) {
      this.#ended = true;
      await this.#iterator.return?.();
    }
  }
}

/**
 * Cuts `data` into pieces of at most `size` bytes ending in "\n" where possible (IntelMQ's
 * split_chunks); the last piece may lack the "\n".
 */
function splitChunks(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  let rest = data;
  while (rest.length > size) {
    let newline = rest.lastIndexOf(0x0a, size - 1);
    if (newline === -1) newline = rest.indexOf(0x0a, size);
    if (newline === -1) {
      chunks.push(rest);
      rest = EMPTY;
    } else {
      chunks.push(rest.subarray(0, newline + 1));
      rest = rest.subarray(newline + 1);
    }
  }
  if (rest.length > 0) chunks.push(rest);
  return chunks;
}

/**
 * The raw data of the reports IntelMQ's generate_reports makes of a stream with chunk_size set: pieces
 * of about `chunkSize` bytes cut after a "\n", each prefixed with the stream's first line when
 * `replicateHeader` (that line is then not a piece of its own). Streams: at most about two pieces are
 * held at a time.
 */
export async function* chunkReports(
  content: AsyncIterable<Uint8Array>,
  chunkSize: number,
  replicateHeader: boolean,
): AsyncGenerator<Buffer> {
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1) throw new RangeError("chunkSize must be ≥ 1");
  const reader = new BlockReader(content);
  try {
    const header = replicateHeader ? await reader.readline() : EMPTY;
    const withHeader = (chunk: Buffer) => (header.length > 0 ? Buffer.concat([header, chunk]) : chunk);
    let leftover = EMPTY;
    for (;;) {
      const fresh = await reader.read(chunkSize);
      const chunks = splitChunks(leftover.length > 0 ? Buffer.concat([leftover, fresh]) : fresh, chunkSize);
      leftover = chunks.pop() ?? EMPTY;
      for (const chunk of chunks) yield withHeader(chunk);
      if (fresh.length === 0) {
        if (leftover.length > 0) yield withHeader(leftover);
        return;
      }
    }
  } finally {
    await reader.close();
  }
}
