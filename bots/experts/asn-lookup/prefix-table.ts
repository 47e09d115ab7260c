// Longest-prefix match over a full BGP table (a million IPv4 and a few hundred thousand IPv6 prefixes)
// in little memory: the prefixes are flattened into sorted, disjoint address ranges, each naming the
// most specific prefix that covers it, and a lookup is a binary search. About 25 bytes per prefix, where
// a binary trie of objects or arrays (ip-prefix-trie.ts, made for a few thousand exclusions) needs a
// few hundred: a reload holds two tables at once.
import { ipBytes } from "../../../bot-runtime/src/exclusions/ip-prefix-trie.ts";

export interface PrefixMatch {
  readonly asn: number;
  /** The matching prefix, e.g. "192.0.2.0/24", "2001:db8::/32". */
  readonly network: string;
}

/** The `length`-bit mask of word `w` (of a prefix `length` bits long). */
function wordMask(length: number, w: number): number {
  const bits = Math.min(32, Math.max(0, length - 32 * w));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

function formatNetwork(starts: Uint32Array, at: number, width: number, length: number): string {
  if (width === 1) {
    const a = starts[at] as number;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${length}`;
  }
  const groups: number[] = [];
  for (let w = 0; w < 4; w++) {
    const a = starts[at + w] as number;
    groups.push(a >>> 16, a & 0xffff);
  }
  // RFC 5952: the longest run (two or more) of zero groups becomes "::".
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return `${hex.join(":")}/${length}`;
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLength).join(":");
  return `${head}::${tail}/${length}`;
}

/** A network as text (host bits cleared), e.g. "192.0.2.0/24", "2001:db8::/32". */
export function networkText(bytes: Uint8Array, length: number): string {
  const width = bytes.length / 4;
  const starts = new Uint32Array(width);
  for (let w = 0; w < width; w++) {
    const i = 4 * w;
    const word =
      ((bytes[i] as number) << 24) |
      ((bytes[i + 1] as number) << 16) |
      ((bytes[i + 2] as number) << 8) |
      (bytes[i + 3] as number);
    starts[w] = (word & wordMask(length, w)) >>> 0;
  }
  return formatNetwork(starts, 0, width, length);
}

/** A growing list of 32-bit numbers. */
class Words {
  data = new Uint32Array(1024);
  size = 0;
  push(value: number): void {
    if (this.size === this.data.length) {
      const bigger = new Uint32Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.size++] = value;
  }
  pop(): void {
    this.size--;
  }
  done(): Uint32Array {
    return this.data.slice(0, this.size);
  }
}

/** The prefixes of one address family, collected for a FamilyTable. */
class FamilyEntries {
  readonly width: number;
  readonly starts = new Words();
  readonly lengths = new Words();
  readonly asns = new Words();
  constructor(width: number) {
    this.width = width;
  }
  add(bytes: Uint8Array, length: number, asn: number): void {
    for (let w = 0; w < this.width; w++) {
      const i = 4 * w;
      const word =
        ((bytes[i] as number) << 24) |
        ((bytes[i + 1] as number) << 16) |
        ((bytes[i + 2] as number) << 8) |
        (bytes[i + 3] as number);
      this.starts.push((word & wordMask(length, w)) >>> 0);
    }
    this.lengths.push(length);
    this.asns.push(asn);
  }
  get size(): number {
    return this.lengths.size;
  }
}

/** The prefixes of one address family. */
class FamilyTable {
  readonly #width: number;
  /** Prefix i: its first address (width words at i*width), length and ASN. */
  readonly #prefixStarts: Uint32Array;
  readonly #prefixLengths: Uint8Array;
  readonly #prefixAsns: Uint32Array;
  /** Range r: its first address (width words at r*width) and the prefix covering it (-1: none). */
  readonly #rangeStarts: Uint32Array;
  readonly #rangePrefixes: Int32Array;
  readonly #ranges: number;

  constructor(entries: FamilyEntries) {
    const width = entries.width;
    this.#width = width;
    const starts = entries.starts.data;
    const lengths = entries.lengths.data;
    const compareStarts = (a: number, b: number): number => {
      for (let w = 0; w < width; w++) {
        const x = starts[a * width + w] as number;
        const y = starts[b * width + w] as number;
        if (x !== y) return x < y ? -1 : 1;
      }
      return 0;
    };
    // Outer prefixes before the ones inside them; of equal prefixes the last given wins (as pyasn).
    const order = new Int32Array(entries.size);
    for (let i = 0; i < order.length; i++) order[i] = i;
    order.sort((x, y) => compareStarts(x, y) || (lengths[x] as number) - (lengths[y] as number) || x - y);
    const kept: number[] = [];
    for (let k = 0; k < order.length; k++) {
      const a = order[k] as number;
      const b = order[k + 1];
      if (b !== undefined && lengths[a] === lengths[b] && compareStarts(a, b) === 0) continue;
      kept.push(a);
    }
    const n = kept.length;
    this.#prefixStarts = new Uint32Array(n * width);
    this.#prefixLengths = new Uint8Array(n);
    this.#prefixAsns = new Uint32Array(n);
    for (let p = 0; p < n; p++) {
      const e = kept[p] as number;
      this.#prefixStarts.set(starts.subarray(e * width, (e + 1) * width), p * width);
      this.#prefixLengths[p] = lengths[e] as number;
      this.#prefixAsns[p] = entries.asns.data[e] as number;
    }

    // Sweep: a stack of the prefixes open at the current address; each prefix opens a range, and the
    // end of one reopens the prefix around it (or a gap).
    const rangeStarts = new Words();
    const rangePrefixes: number[] = [];
    const emit = (start: ArrayLike<number>, prefix: number): void => {
      const r = rangePrefixes.length;
      let sameStart = r > 0;
      for (let w = 0; w < width && sameStart; w++)
        sameStart = rangeStarts.data[(r - 1) * width + w] === start[w];
      if (sameStart) {
        // A range that begins where the last one began replaces it.
        rangePrefixes[r - 1] = prefix;
        if (r > 1 && rangePrefixes[r - 2] === prefix) {
          rangePrefixes.pop();
          for (let w = 0; w < width; w++) rangeStarts.pop();
        }
        return;
      }
      if (r > 0 && rangePrefixes[r - 1] === prefix) return;
      for (let w = 0; w < width; w++) rangeStarts.push(start[w] as number);
      rangePrefixes.push(prefix);
    };
    const endOf = (p: number): Uint32Array => {
      const end = new Uint32Array(width);
      for (let w = 0; w < width; w++) {
        end[w] =
          ((this.#prefixStarts[p * width + w] as number) | ~wordMask(this.#prefixLengths[p] as number, w)) >>>
          0;
      }
      return end;
    };
    /** The address after `end`, or undefined after the last address. */
    const after = (end: Uint32Array): Uint32Array | undefined => {
      const next = end.slice();
      for (let w = width - 1; w >= 0; w--) {
        if (next[w] !== 0xffffffff) {
          next[w] = (next[w] as number) + 1;
          return next;
        }
        next[w] = 0;
      }
      return undefined;
    };
    const endsBefore = (end: Uint32Array, p: number): boolean => {
      for (let w = 0; w < width; w++) {
        const x = end[w] as number;
        const y = this.#prefixStarts[p * width + w] as number;
        if (x !== y) return x < y;
      }
      return false;
    };
    const stack: { prefix: number; end: Uint32Array }[] = [];
    const close = (): void => {
      const closed = stack.pop() as { prefix: number; end: Uint32Array };
      const resume = after(closed.end);
      const around = stack[stack.length - 1];
      if (resume) emit(resume, around === undefined ? -1 : around.prefix);
    };
    emit(new Uint32Array(width), -1);
    for (let p = 0; p < n; p++) {
      for (
        let top = stack[stack.length - 1];
        top !== undefined && endsBefore(top.end, p);
        top = stack[stack.length - 1]
      ) {
        close();
      }
      emit(this.#prefixStarts.subarray(p * width, (p + 1) * width), p);
      stack.push({ prefix: p, end: endOf(p) });
    }
    while (stack.length > 0) close();
    this.#rangeStarts = rangeStarts.done();
    this.#rangePrefixes = Int32Array.from(rangePrefixes);
    this.#ranges = rangePrefixes.length;
  }

  get prefixes(): number {
    return this.#prefixLengths.length;
  }

  /** The index of the prefix covering the address (as words), or -1. */
  find(address: Uint32Array): number {
    const width = this.#width;
    const starts = this.#rangeStarts;
    // The last range starting at or before the address.
    let low = 0;
    let high = this.#ranges - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      let before = true;
      for (let w = 0; w < width; w++) {
        const s = starts[mid * width + w] as number;
        const a = address[w] as number;
        if (s !== a) {
          before = s < a;
          break;
        }
      }
      if (before) low = mid;
      else high = mid - 1;
    }
    return this.#rangePrefixes[low] as number;
  }

  match(prefix: number): PrefixMatch {
    return {
      asn: this.#prefixAsns[prefix] as number,
      network: formatNetwork(
        this.#prefixStarts,
        prefix * this.#width,
        this.#width,
        this.#prefixLengths[prefix] as number,
      ),
    };
  }
}

/** Collects prefixes, then builds the table. */
export class PrefixTableBuilder {
  readonly #v4 = new FamilyEntries(1);
  readonly #v6 = new FamilyEntries(4);

  /** Adds a prefix (bytes: 4 or 16; host bits are cleared); a later equal prefix replaces it. */
  add(bytes: Uint8Array, length: number, asn: number): void {
    (bytes.length === 4 ? this.#v4 : this.#v6).add(bytes, length, asn);
  }

  build(): PrefixTable {
    return new PrefixTable(new FamilyTable(this.#v4), new FamilyTable(this.#v6));
  }
}

export class PrefixTable {
  readonly #v4: FamilyTable;
  readonly #v6: FamilyTable;
  readonly #v4Address = new Uint32Array(1);
  readonly #v6Address = new Uint32Array(4);

  constructor(v4: FamilyTable, v6: FamilyTable) {
    this.#v4 = v4;
    this.#v6 = v6;
  }

  get ipv4Prefixes(): number {
    return this.#v4.prefixes;
  }

  get ipv6Prefixes(): number {
    return this.#v6.prefixes;
  }

  /** The most specific prefix holding the address (text as events hold it), or undefined. */
  lookup(address: string): PrefixMatch | undefined {
    const bytes = ipBytes(address);
    if (bytes === undefined) return undefined;
    const v4 = bytes.length === 4;
    const words = v4 ? this.#v4Address : this.#v6Address;
    for (let w = 0; w < words.length; w++) {
      const i = 4 * w;
      words[w] =
        (((bytes[i] as number) << 24) |
          ((bytes[i + 1] as number) << 16) |
          ((bytes[i + 2] as number) << 8) |
          (bytes[i + 3] as number)) >>>
        0;
    }
    const table = v4 ? this.#v4 : this.#v6;
    const prefix = table.find(words);
    return prefix < 0 ? undefined : table.match(prefix);
  }
}
