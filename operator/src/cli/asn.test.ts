// `petrelctl asn convert` against pyasn's converter (pyasn_util_convert.py, what IntelMQ's
// --update-database runs) on RIB dumps the test writes: the same ipasn file line for line, from bzip2,
// gzip and uncompressed dumps; what pyasn cannot convert; broken dumps; and the converted file read by
// the asn_lookup expert as IntelMQ's expert reads pyasn's.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "../../../bot-runtime/src/event/message.ts";
import { DISCARD_METRICS } from "../../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";
import { intelmqExpert } from "../../../bot-runtime/test-support/mmdb-oracle.ts";
import {
  type MrtRecordSpec,
  type PathSegment,
  route,
  writeMrt,
} from "../../../bot-runtime/test-support/mrt-writer.ts";
import { testContext } from "../../../bot-runtime/test-support/parser-oracle.ts";
import { oraclePython, runOracle } from "../../../bot-runtime/test-support/python-oracle.ts";
import asnLookup from "../../../bots/experts/asn-lookup.ts";

const bin = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));

function run(command: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { encoding: "utf8", maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const petrelctl = (...args: string[]) => run(process.execPath, [bin, ...args]);

/** pyasn's converter, as IntelMQ runs it (records it cannot read are skipped where pyasn can skip). */
function pyasnConvert(rib: string, out: string) {
  const script = join(dirname(oraclePython()), "pyasn_util_convert.py");
  return run(oraclePython(), [script, "--single", rib, out, "--skip-on-error", "--no-progress"]);
}

async function bzip2(files: Array<{ from: string; to: string }>): Promise<void> {
  await runOracle(
    `
import bz2, json, os, sys
for line in sys.stdin:
    case = json.loads(line)
    with open(case["from"], "rb") as source, open(case["to"], "wb") as target:
        target.write(bz2.compress(source.read(), 9))
    print("true")
sys.stdout.flush()
os._exit(0)
`,
    files,
  );
}

/** The ipasn file without its "Converted on" line (the time of conversion). */
function withoutTime(text: string): string {
  return text
    .split("\n")
    .filter((line) => !line.startsWith("; Converted on"))
    .join("\n");
}

function randomSource(seed: number) {
  let s = seed;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

/** A RouteViews-like dump pyasn converts without stopping: every path starts with a public peer AS. */
function ribDump(): MrtRecordSpec[] {
  const random = randomSource(2024);
  const bogus = [0, 64_512, 65_000, 65_535, 70_000, 131_071, 1_000_000, 4_200_000_001, 4_294_967_295];
  const asn = () => (random(4) === 0 ? (bogus[random(bogus.length)] as number) : 1 + random(400_000));
  const path = (): PathSegment[] => {
    const segments: PathSegment[] = [
      { type: "sequence", asns: [1 + random(60_000), ...Array.from({ length: random(6) }, asn)] },
    ];
    const shape = random(10);
    if (shape === 0) {
      // An AS_SET last: pyasn takes what Python's set yields first.
      segments.push({ type: "set", asns: Array.from({ length: 1 + random(12) }, asn) });
    } else if (shape === 1) {
      segments.push({ type: "set", asns: [bogus[1] as number, bogus[4] as number] });
    } else if (shape === 2) {
      segments.push({ type: "set", asns: [1 + random(400_000)] }, { type: "sequence", asns: [asn(), asn()] });
    }
    return segments;
  };
  const records: MrtRecordSpec[] = [
    route("0.0.0.0/0", 3356),
    route("::/0", 6939),
    { kind: "rib", prefix: "192.0.2.0/24", entries: [] },
    { kind: "rib", prefix: "192.0.2.128/25", entries: [{ path: [] }] },
    // Host bits in the last octet stay in pyasn's prefix text.
    route("198.51.100.129/25", 64_496, 13_335),
    // A long path: the AS_PATH attribute needs an extended length.
    route("198.51.100.0/24", ...Array.from({ length: 70 }, (_, i) => 100 + i)),
    // Several peers: only the first entry counts.
    {
      kind: "rib",
      prefix: "203.0.113.0/24",
      entries: [
        { path: [{ type: "sequence", asns: [3356, 1299, 15_169] }] },
        { path: [{ type: "sequence", asns: [174, 64_501] }] },
      ],
    },
    // IPv6 prefixes glibc writes in its special ways.
    route("::ffff:10.0.0.0/104", 3356, 1),
    route("::10.0.0.0/104", 3356, 2),
    route("64:ff9b::/96", 3356, 3),
    route("2001:db8:0:0:1::/80", 3356, 4),
    route("2001:db8:0:1:0:0:1:0/112", 3356, 5),
    route("::/8", 3356, 6),
    route("2001:db8::1:0:0:1/128", 3356, 7),
  ];
  const seen: string[] = [];
  for (let i = 0; i < 3_000; i++) {
    const prefix = `${1 + random(222)}.${random(256)}.${random(256)}.0/${8 + random(17)}`;
    seen.push(prefix);
    const entries = Array.from({ length: 1 + random(3) }, () => ({ path: path() }));
    records.push({ kind: "rib", prefix, entries });
  }
  for (let i = 0; i < 800; i++) {
    const groups = [0x2000 + random(0x1000), random(65_536), random(65_536)].map((g) => g.toString(16));
    const prefix = `${groups.slice(0, 1 + random(3)).join(":")}::/${16 + random(33)}`;
    seen.push(prefix);
    records.push({ kind: "rib", prefix, entries: [{ path: path() }] });
  }
  // Repeated prefixes, with other origins: the first record counts.
  for (let i = 0; i < 200; i++)
    records.push(route(seen[random(seen.length)] as string, 3356, 1 + random(400_000)));
  return records;
}

describe("petrelctl asn convert", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "petrel-asn-convert-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the ipasn file pyasn's converter writes, from bzip2, gzip and uncompressed dumps", async () => {
    const mrt = writeMrt(ribDump());
    const plain = join(dir, "rib.mrt");
    writeFileSync(plain, mrt);
    writeFileSync(`${plain}.gz`, gzipSync(mrt));
    await bzip2([{ from: plain, to: `${plain}.bz2` }]);
    const results: Record<string, string> = {};
    for (const rib of [`${plain}.bz2`, `${plain}.gz`]) {
      const expected = join(dir, `${rib.split(".").pop()}-pyasn.dat`);
      const got = join(dir, `${rib.split(".").pop()}-petrel.dat`);
      const [pyasn, petrel] = await Promise.all([
        pyasnConvert(rib, expected),
        petrelctl("asn", "convert", rib, "-o", got),
      ]);
      expect(pyasn.code, pyasn.stderr).toBe(0);
      expect(petrel.code, petrel.stderr).toBe(0);
      const want = readFileSync(expected, "utf8");
      results[rib] = readFileSync(got, "utf8");
      expect(withoutTime(results[rib] as string)).toBe(withoutTime(want));
      expect(petrel.stdout).toMatch(/: \d+ IPv4 and \d+ IPv6 prefixes written from 4015 MRT records/);
      // pyasn skips these two as well (IndexError with --skip-on-error).
      expect(petrel.stderr).toContain("2 routes skipped");
      expect(petrel.stderr).toContain("192.0.2.0/24: no RIB entries");
      expect(petrel.stderr).toContain("192.0.2.128/25: empty AS_PATH");
      const lines = want.split("\n").filter((l) => l !== "" && !l.startsWith(";"));
      console.log(
        `asn convert vs pyasn_util_convert (${rib.split(".").pop()}): ${lines.length} prefixes, identical`,
      );
      expect(lines.length).toBeGreaterThan(3_500);
    }
    // Uncompressed dumps (pyasn needs them compressed) and gzip-compressed output.
    const uncompressed = await petrelctl("asn", "convert", plain, "-o", join(dir, "plain.dat.gz"));
    expect(uncompressed.code, uncompressed.stderr).toBe(0);
    const unpacked = gunzipSync(readFileSync(join(dir, "plain.dat.gz"))).toString("utf8");
    expect(withoutTime(unpacked).replace(/; Original source: .*/, "")).toBe(
      withoutTime(results[`${plain}.gz`] as string).replace(/; Original source: .*/, ""),
    );
  });

  it("converts what pyasn's converter stops at: paths without a public origin are skipped, confederations and ADD-PATH records read", async () => {
    const special: Array<{ name: string; record: MrtRecordSpec; expect: string }> = [
      {
        name: "no AS_PATH",
        record: { kind: "rib", prefix: "192.0.2.0/24", entries: [{ path: null }] },
        expect: "skipped: no AS_PATH",
      },
      {
        name: "only private ASes",
        record: route("192.0.2.0/24", 64_512, 65_001),
        expect: "skipped: no public AS in AS_PATH",
      },
      {
        name: "confederation segment last",
        record: {
          kind: "rib",
          prefix: "192.0.2.0/24",
          entries: [
            {
              path: [
                { type: "sequence", asns: [3356, 174] },
                { type: "confed_sequence", asns: [65_001] },
              ],
            },
          ],
        },
        expect: "174",
      },
      {
        name: "a path starting with an AS_SET",
        record: { kind: "rib", prefix: "192.0.2.0/24", entries: [{ path: [{ type: "set", asns: [9, 3] }] }] },
        expect: "9",
      },
      {
        name: "ADD-PATH record",
        record: {
          kind: "rib",
          prefix: "192.0.2.0/24",
          variant: "addpath",
          entries: [{ path: [{ type: "sequence", asns: [3356, 15_169] }], pathId: 7 }],
        },
        expect: "15169",
      },
      {
        name: "multicast record",
        record: {
          kind: "rib",
          prefix: "192.0.2.0/24",
          variant: "multicast",
          entries: [{ path: [{ type: "sequence", asns: [3356, 1] }] }],
        },
        expect: "ignored: 1 TABLE_DUMP_V2 RIB_IPV4_MULTICAST record ignored",
      },
    ];
    const runs = await Promise.all(
      special.map(async (c, i) => {
        const rib = join(dir, `special-${i}.mrt`);
        writeFileSync(
          `${rib}.gz`,
          gzipSync(writeMrt([c.record, route("198.51.100.0/24", 3356, 64_496, 13_335)])),
        );
        const [pyasn, petrel] = await Promise.all([
          pyasnConvert(`${rib}.gz`, `${rib}-pyasn.dat`),
          petrelctl("asn", "convert", `${rib}.gz`, "-o", `${rib}.dat`),
        ]);
        return { pyasn, petrel, output: `${rib}.dat` };
      }),
    );
    for (const [i, c] of special.entries()) {
      const { pyasn, petrel, output } = runs[i] as (typeof runs)[number];
      expect(pyasn.code, `${c.name}: pyasn stops`).not.toBe(0);
      expect(petrel.code, petrel.stderr).toBe(0);
      const lines = readFileSync(output, "utf8")
        .split("\n")
        .filter((l) => l && !l.startsWith(";"));
      expect(lines, c.name).toContain("198.51.100.0/24\t13335");
      if (c.expect.startsWith("skipped: ")) {
        expect(petrel.stderr, c.name).toContain(`192.0.2.0/24: ${c.expect.slice(9)}`);
        expect(lines).toHaveLength(1);
      } else if (c.expect.startsWith("ignored: ")) {
        expect(petrel.stderr, c.name).toContain(c.expect.slice(9));
        expect(lines).toHaveLength(1);
      } else {
        expect(lines, c.name).toContain(`192.0.2.0/24\t${c.expect}`);
      }
    }
  });

  it("reads TABLE_DUMP (version 1) dumps as pyasn does", async () => {
    const records: MrtRecordSpec[] = [
      { kind: "table-dump-v1", prefix: "192.0.2.0/24", path: [{ type: "sequence", asns: [3356, 13_335] }] },
      { kind: "table-dump-v1", prefix: "192.0.2.0/24", path: [{ type: "sequence", asns: [3356, 174] }] },
      { kind: "table-dump-v1", prefix: "198.51.100.0/22", path: [{ type: "sequence", asns: [701, 64_512] }] },
      {
        kind: "table-dump-v1",
        prefix: "2001:db8::/32",
        path: [
          { type: "sequence", asns: [6939] },
          { type: "set", asns: [20, 12, 4] },
        ],
      },
    ];
    const rib = join(dir, "v1.mrt.gz");
    writeFileSync(rib, gzipSync(writeMrt(records, { peerIndex: false })));
    const [pyasn, petrel] = await Promise.all([
      pyasnConvert(rib, join(dir, "v1-pyasn.dat")),
      petrelctl("asn", "convert", rib, "-o", join(dir, "v1-petrel.dat")),
    ]);
    expect(pyasn.code, pyasn.stderr).toBe(0);
    expect(petrel.code, petrel.stderr).toBe(0);
    const want = readFileSync(join(dir, "v1-pyasn.dat"), "utf8");
    expect(withoutTime(readFileSync(join(dir, "v1-petrel.dat"), "utf8"))).toBe(withoutTime(want));
    expect(want).toContain("192.0.2.0/24\t13335\n198.51.100.0/22\t701\n2001:db8::/32\t");
  });

  it("fails on dumps it cannot read, naming the problem, and leaves the old file", async () => {
    const good = writeMrt([route("192.0.2.0/24", 3356, 13_335)]);
    const updates = writeMrt([{ kind: "raw", type: 16, subtype: 4, body: Buffer.alloc(20) }], {
      peerIndex: false,
    });
    const cases: Record<string, [Buffer, RegExp]> = {
      "BGP4MP updates": [updates, /type 16: not a routing table dump/],
      truncated: [good.subarray(0, good.length - 5), /ends inside an MRT record/],
      "no routes": [writeMrt([]), /no routes found \(1 MRT records\); nothing written/],
    };
    const files = Object.entries(cases).map(([name, [data]], i) => {
      const file = join(dir, `broken-${i}.mrt`);
      writeFileSync(file, data);
      return { name, file };
    });
    // A damaged bzip2 file: one byte changed inside the compressed block.
    const bz2Source = join(dir, "good.mrt");
    writeFileSync(bz2Source, writeMrt(ribDump().slice(0, 400)));
    await bzip2([{ from: bz2Source, to: `${bz2Source}.bz2` }]);
    const damaged = readFileSync(`${bz2Source}.bz2`);
    const middle = Math.floor(damaged.length / 2);
    damaged[middle] = (damaged[middle] as number) ^ 0x10;
    writeFileSync(join(dir, "damaged.mrt.bz2"), damaged);
    files.push({ name: "damaged bzip2", file: join(dir, "damaged.mrt.bz2") });
    cases["damaged bzip2"] = [damaged, /bzip2: /];
    const results = await Promise.all(
      files.map(async ({ name, file }, i) => {
        const output = join(dir, `kept-${i}.dat`);
        writeFileSync(output, "192.0.2.0/24\t64500\n");
        return { name, output, result: await petrelctl("asn", "convert", file, "-o", output) };
      }),
    );
    for (const { name, output, result } of results) {
      expect(result.code, name).toBe(1);
      expect(result.stderr, name).toMatch((cases[name] as [Buffer, RegExp])[1]);
      expect(result.stderr, name).toContain(`${output} was not changed.`);
      expect(readFileSync(output, "utf8"), name).toBe("192.0.2.0/24\t64500\n");
    }
    expect(existsSync(join(dir, "missing.dat"))).toBe(false);
    const missing = await petrelctl(
      "asn",
      "convert",
      join(dir, "missing.mrt"),
      "-o",
      join(dir, "missing.dat"),
    );
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/ENOENT/);
    expect(existsSync(join(dir, "missing.dat"))).toBe(false);
  });

  it("gives the asn_lookup expert the answers IntelMQ's expert gives from pyasn's file of the same dump", async () => {
    const rib = join(dir, "chain.mrt.gz");
    writeFileSync(rib, gzipSync(writeMrt(ribDump())));
    const pyasnFile = join(dir, "chain-pyasn.dat");
    const petrelFile = join(dir, "chain-petrel.dat");
    expect((await pyasnConvert(rib, pyasnFile)).code).toBe(0);
    expect((await petrelctl("asn", "convert", rib, "-o", petrelFile)).code).toBe(0);
    const random = randomSource(77);
    const events = Array.from({ length: 600 }, (_, i) => {
      const e = new Event();
      e.add("feed.name", "Test");
      e.add(
        "source.ip",
        i % 4 === 3
          ? `${(0x2000 + random(0x1000)).toString(16)}:${random(65_536).toString(16)}::${random(65_536).toString(16)}`
          : `${1 + random(222)}.${random(256)}.${random(256)}.${random(256)}`,
      );
      return e;
    });
    const [intelmq] = (await intelmqExpert([
      { module: "intelmq.bots.experts.asn_lookup.expert", params: { database: pyasnFile }, events },
    ])) as [{ results: Array<{ events: Record<string, unknown>[] }> }];
    const expert = await asnLookup.create(
      parameterSchema(asnLookup).parse({ database: petrelFile }) as never,
      {
        ...testContext("asn"),
        log: pino({ level: "silent" }),
        metrics: DISCARD_METRICS,
      },
    );
    let matched = 0;
    for (const [i, e] of events.entries()) {
      const got = (await expert.process(e.copy(), { id: "x" })) as Event;
      expect({ events: [got.toDict()] }, e.serialize()).toEqual(intelmq.results[i]);
      if (got.has("source.asn")) matched++;
    }
    await expert.close?.();
    console.log(
      `asn convert → asn_lookup vs pyasn → IntelMQ: ${events.length} events compared, ${matched} matched a prefix`,
    );
    expect(matched).toBeGreaterThan(50);
  });
});
