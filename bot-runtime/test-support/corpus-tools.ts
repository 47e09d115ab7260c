// Helpers for generated test corpora.

/** A seeded pseudo-random generator (mulberry32), so generated corpora are the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The IEEE-754 bits of a number as 16 hex digits (big-endian): sends a float to Python bit-exact. */
export function doubleToHex(n: number): string {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, n);
  let hex = "";
  for (let i = 0; i < 8; i++) hex += view.getUint8(i).toString(16).padStart(2, "0");
  return hex;
}

/** The number whose IEEE-754 bits doubleToHex printed. */
export function hexToDouble(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  for (let i = 0; i < 8; i++) view.setUint8(i, Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16));
  return view.getFloat64(0);
}

/** Picks uniformly from a list with `rand`, one `rand()` call per pick. */
export function picker(rand: () => number): <T>(xs: readonly T[]) => T {
  return (xs) => xs[Math.floor(rand() * xs.length)]!;
}

/**
 * How a JS value reaches Python: numbers JSON writes as integers stay ints; every other number
 * (fractions, ±Infinity, NaN, ≥ 1e21, and -0, whose sign only a float can carry) is a Python
 * float, sent bit-exact. Python reads it back with `decode` from PY_WIRE_DECODE.
 */
export type PyWire = { j: unknown } | { f: string };

export function toPyWire(v: unknown): PyWire {
  if (typeof v === "number" && !(Number.isInteger(v) && Math.abs(v) < 1e21 && !Object.is(v, -0))) {
    return { f: doubleToHex(v) };
  }
  return { j: v };
}

/** Python source defining `decode(o)`, the inverse of toPyWire on a json.loads'ed line. */
export const PY_WIRE_DECODE = `
import struct
def decode(o):
    if 'f' in o:
        return struct.unpack('>d', bytes.fromhex(o['f']))[0]
    return o['j']
`;

/**
 * JSON text that Python's json.loads turns into the value Petrel documents the JS value to mean:
 * integral numbers are ints, others floats, NaN/Infinity via Python's extra constants.
 */
export function pyJsonText(v: unknown): string {
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (v === Infinity) return "Infinity";
    if (v === -Infinity) return "-Infinity";
    return Number.isInteger(v) ? BigInt(v).toString() : String(v);
  }
  if (Array.isArray(v)) return "[" + v.map(pyJsonText).join(",") + "]";
  if (v !== null && typeof v === "object") {
    const members = Object.entries(v).map(([k, x]) => JSON.stringify(k) + ":" + pyJsonText(x));
    return "{" + members.join(",") + "}";
  }
  return JSON.stringify(v);
}

/** The double a Python repr(float) denotes ("nan", "inf" and "-inf" included). */
export function pyFloatFromRepr(repr: string): number {
  if (repr === "nan") return Number.NaN;
  if (repr === "inf") return Number.POSITIVE_INFINITY;
  if (repr === "-inf") return Number.NEGATIVE_INFINITY;
  return Number(repr);
}
