// A binary trie of IP prefixes (IPv4 and IPv6 apart): which networks contain an address, or a whole
// network, in at most 32 or 128 steps however many networks it holds.

/** An address as its bytes (4 or 16), or undefined when the text is not an IP address. */
export function ipBytes(text: string): Uint8Array | undefined {
  return text.includes(":") ? ipv6Bytes(text) : ipv4Bytes(text);
}

function ipv4Bytes(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i] as string;
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    bytes[i] = n;
  }
  return bytes;
}

function ipv6Bytes(text: string): Uint8Array | undefined {
  if (text.includes("%")) return undefined; // zone ids name an interface, not a network
  let head = text;
  let tail = "";
  const gap = text.indexOf("::");
  if (gap >= 0) {
    if (text.indexOf("::", gap + 1) >= 0) return undefined;
    head = text.slice(0, gap);
    tail = text.slice(gap + 2);
  }
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const pieces = part.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string;
      if (i === pieces.length - 1 && piece.includes(".")) {
        const v4 = ipv4Bytes(piece);
        if (!v4) return undefined;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9A-Fa-f]{1,4}$/.test(piece)) return undefined;
      out.push(Number.parseInt(piece, 16));
    }
    return out;
  };
  const first = groups(head);
  const last = groups(tail);
  if (!first || !last) return undefined;
  const missing = 8 - first.length - last.length;
  if (gap >= 0 ? missing < 1 : missing !== 0) return undefined;
  const all = [...first, ...new Array<number>(gap >= 0 ? missing : 0).fill(0), ...last];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = (all[i] as number) >> 8;
    bytes[2 * i + 1] = (all[i] as number) & 0xff;
  }
  return bytes;
}

/** An address or network: its bytes and prefix length (a bare address: all its bits). */
export function parsePrefix(text: string): { bytes: Uint8Array; length: number } | undefined {
  const slash = text.indexOf("/");
  const bytes = ipBytes(slash < 0 ? text : text.slice(0, slash));
  if (!bytes) return undefined;
  const max = bytes.length * 8;
  if (slash < 0) return { bytes, length: max };
  const suffix = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(suffix) || Number(suffix) > max) return undefined;
  return { bytes, length: Number(suffix) };
}

function bit(bytes: Uint8Array, i: number): number {
  return ((bytes[i >> 3] as number) >> (7 - (i & 7))) & 1;
}

/** Prefixes of one address family; each carries the values (e.g. rule numbers) stored with it. */
class FamilyTrie<V> {
  // Node n's children are zero[n] and one[n] (0: none; node 0 is the root); values[n] its values.
  readonly #zero: number[] = [0];
  readonly #one: number[] = [0];
  readonly #values = new Map<number, V[]>();

  insert(bytes: Uint8Array, length: number, value: V): void {
    let node = 0;
    for (let i = 0; i < length; i++) {
      const children = bit(bytes, i) ? this.#one : this.#zero;
      let next = children[node] as number;
      if (next === 0) {
        next = this.#zero.length;
        this.#zero.push(0);
        this.#one.push(0);
        children[node] = next;
      }
      node = next;
    }
    const values = this.#values.get(node);
    if (values) values.push(value);
    else this.#values.set(node, [value]);
  }

  /** Calls `found` with the values of every stored prefix that contains the first `length` bits. */
  lookup(bytes: Uint8Array, length: number, found: (value: V, prefixLength: number) => void): void {
    let node = 0;
    for (let i = 0; ; i++) {
      const values = this.#values.get(node);
      if (values) for (const v of values) found(v, i);
      if (i === length) return;
      node = (bit(bytes, i) ? this.#one : this.#zero)[node] as number;
      if (node === 0) return;
    }
  }

  get nodes(): number {
    return this.#zero.length;
  }
}

export class IpPrefixTrie<V> {
  readonly #v4 = new FamilyTrie<V>();
  readonly #v6 = new FamilyTrie<V>();

  /** Stores `value` under a network or address in text form; false when the text is neither. */
  insert(prefix: string, value: V): boolean {
    const parsed = parsePrefix(prefix);
    if (!parsed) return false;
    (parsed.bytes.length === 4 ? this.#v4 : this.#v6).insert(parsed.bytes, parsed.length, value);
    return true;
  }

  /**
   * Calls `found` for each stored network that contains `address` — an address, or a network that must
   * lie wholly inside — with the value and the network's prefix length.
   */
  lookup(address: string, found: (value: V, prefixLength: number) => void): void {
    const parsed = parsePrefix(address);
    if (!parsed) return;
    (parsed.bytes.length === 4 ? this.#v4 : this.#v6).lookup(parsed.bytes, parsed.length, found);
  }

  /** Trie nodes, for memory reports. */
  get nodes(): number {
    return this.#v4.nodes + this.#v6.nodes;
  }
}
