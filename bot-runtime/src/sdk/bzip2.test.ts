// The bzip2 decoder on what Python's bz2 module (libbz2) writes: every block size, runs at the edges of
// the format's run-length codings, incompressible data over several blocks, concatenated streams; and
// damaged, truncated or trailing data refused.
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { Bzip2Error, bunzip2, isBzip2 } from "./bzip2.ts";

/** Compresses each input (base64) with Python's bz2 at the given level. */
async function pythonBzip2(inputs: Array<{ data: Buffer; level: number }>): Promise<Buffer[]> {
  const out = await runOracle<{ data: string; level: number }, string>(
    `
import base64, bz2, json, os, sys
for line in sys.stdin:
    case = json.loads(line)
    print(json.dumps(base64.b64encode(bz2.compress(base64.b64decode(case["data"]), case["level"])).decode()))
sys.stdout.flush()
os._exit(0)
`,
    inputs.map(({ data, level }) => ({ data: data.toString("base64"), level })),
  );
  return out.map((b) => Buffer.from(b, "base64"));
}

function decompress(data: Uint8Array): Buffer {
  return Buffer.concat([...bunzip2(data)]);
}

describe("bunzip2", () => {
  it("decompresses what libbz2 compresses", async () => {
    const text = Buffer.from(
      Array.from({ length: 20_000 }, (_, i) => `192.0.${i % 256}.0/24\t${(i * 7919) % 400_000}\n`).join(""),
    );
    const runs = Buffer.concat(
      [1, 2, 3, 4, 5, 6, 254, 255, 256, 258, 259, 260, 1000, 70_000].map((n, i) =>
        Buffer.alloc(n, i % 2 ? 0x61 : 0x00),
      ),
    );
    const inputs: Array<{ name: string; data: Buffer; level: number }> = [
      { name: "empty", data: Buffer.alloc(0), level: 9 },
      { name: "one byte", data: Buffer.from("x"), level: 9 },
      { name: "every byte value", data: Buffer.from(Array.from({ length: 256 }, (_, i) => i)), level: 9 },
      { name: "text", data: text, level: 9 },
      { name: "runs around the 4+255 run-length limits", data: runs, level: 9 },
      { name: "one value only", data: Buffer.alloc(2_000_000, 0x41), level: 1 },
      { name: "random, several blocks", data: randomBytes(350_000), level: 1 },
      { name: "text, several blocks", data: Buffer.concat([text, text, text, text]), level: 2 },
    ];
    const compressed = await pythonBzip2(inputs);
    for (const [i, input] of inputs.entries()) {
      const data = compressed[i] as Buffer;
      expect(isBzip2(data), input.name).toBe(true);
      expect(decompress(data).equals(input.data), input.name).toBe(true);
    }
    // Concatenated streams (pbzip2), then zero padding.
    const joined = Buffer.concat([compressed[3] as Buffer, compressed[1] as Buffer, Buffer.alloc(16)]);
    expect(decompress(joined).equals(Buffer.concat([text, Buffer.from("x")]))).toBe(true);
    // Block by block: several blocks come out separately.
    expect([...bunzip2(compressed[6] as Buffer)].length).toBeGreaterThan(3);
  });

  it("refuses damaged, truncated and foreign data", async () => {
    const [compressed] = (await pythonBzip2([{ data: randomBytes(50_000), level: 9 }])) as [Buffer];
    const damaged = Buffer.from(compressed);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] as number) ^ 0x04;
    expect(() => decompress(damaged)).toThrow(Bzip2Error);
    expect(() => decompress(compressed.subarray(0, compressed.length - 10))).toThrow(
      /ends in the middle|CRC/,
    );
    expect(() => decompress(Buffer.concat([compressed, Buffer.from("trailing")]))).toThrow(
      /unexpected data after stream 1/,
    );
    expect(() => decompress(Buffer.from("BZx9 not bzip2"))).toThrow(/not bzip2 data/);
    const badCrc = Buffer.from(compressed);
    // The stored block CRC follows the 6-byte block magic after the 4-byte header.
    badCrc[10] = (badCrc[10] as number) ^ 0xff;
    expect(() => decompress(badCrc)).toThrow(/block 1: CRC mismatch/);
  });
});
