// The asn_lookup expert against IntelMQ's (pyasn) on the same ipasn files and events; MaxMind DB ASN
// databases against Python's maxminddb; files pyasn refuses; reloading; the lookup's speed and memory
// on a table as large as the Internet's.
import { execFile } from "node:child_process";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { DISCARD_METRICS, type Expert } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { intelmqExpert } from "../../bot-runtime/test-support/mmdb-oracle.ts";
import { asnRecord, type MmdbNetwork, writeMmdb } from "../../bot-runtime/test-support/mmdb-writer.ts";
import { testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import asnLookup from "./asn-lookup.ts";
import { eventOf } from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.asn_lookup.expert";

const event = (fields: Record<string, unknown>): Event => eventOf(fields, { "feed.name": "Test Feed" });

async function petrel(params: Record<string, unknown>): Promise<Expert> {
  const parsed = parameterSchema(asnLookup).parse(params);
  return asnLookup.create(parsed as never, {
    ...testContext("asn"),
    log: pino({ level: "silent" }),
    metrics: DISCARD_METRICS,
  });
}

/** pyasn's verdict on each file: "ok" or its error. */
function pyasnLoad(files: readonly string[]): Promise<string[]> {
  return runOracle(
    `
import json, os, sys
import pyasn
for line in sys.stdin:
    try:
        pyasn.pyasn(json.loads(line))
        print(json.dumps("ok"))
    except Exception as error:
        print(json.dumps(f"{type(error).__name__}: {error}"))
sys.stdout.flush()
os._exit(0)
`,
    files,
  );
}

async function outcome(
  expert: Expert,
  e: Event,
): Promise<{ events: Record<string, unknown>[] } | { error: true }> {
  try {
    const result = await expert.process(e.copy(), { id: "test" });
    return { events: result ? [(result as Event).toDict()] : [] };
  } catch {
    return { error: true };
  }
}

/** A deterministic random source. */
function randomSource(seed: number) {
  let s = seed;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const HAND_WRITTEN = `; IP-ASN32-DAT file
; Original source: hand-written for Petrel's tests
# a comment of the other kind
10.0.0.0/8\t64496
10.1.0.0/16\t65001
10.1.2.0/24\t4200000000
10.1.2.128/25\t3
192.0.2.77/24\t13335
198.51.100.0/24\t100
198.51.100.0/24\t200
203.0.113.0/32\t4294967295
2001:db8::/32\t6939
2001:db8:1234::/48\t3356
2001:0DB8:1234:5678::/64\t174
::ffff:198.51.100.0/120\t7
2002:c633:6400::/40\t8
`;

describe("experts.asn_lookup", () => {
  let dir: string;
  let generated: string;
  let events: Event[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "petrel-asn-"));
    // Random nested prefixes of both families, and addresses in, near and outside them.
    const random = randomSource(4711);
    const lines: string[] = [HAND_WRITTEN];
    const addresses: string[] = [];
    for (let i = 0; i < 1_500; i++) {
      const a = [1 + random(222), random(256), random(256), random(256)];
      const length = 8 + random(25);
      lines.push(`${a.join(".")}/${length}\t${1 + random(400_000)}`);
      addresses.push(a.join("."), `${a[0]}.${a[1]}.${random(256)}.${random(256)}`);
      if (i % 5 === 0) {
        // A more specific prefix inside it.
        lines.push(
          `${a[0]}.${a[1]}.${a[2]}.0/${Math.min(32, Math.max(length, 24) + random(8))}\t${1 + random(400_000)}`,
        );
      }
    }
    for (let i = 0; i < 500; i++) {
      const groups = [0x2001, 0xdb8, random(16), random(65_536), random(65_536)].map((g) => g.toString(16));
      lines.push(`${groups.slice(0, 2 + random(3)).join(":")}::/${28 + random(40)}\t${1 + random(400_000)}`);
      addresses.push(
        `${groups.join(":")}::${random(65_536).toString(16)}`,
        `2001:db8:${random(16).toString(16)}::1`,
      );
    }
    generated = lines.join("\n");
    events = [
      ...[
        "10.9.9.9",
        "10.1.9.9",
        "10.1.2.3",
        "10.1.2.200",
        "192.0.2.1",
        "198.51.100.9",
        "203.0.113.0",
        "203.0.113.1",
        "2001:db8:1234:5678::1",
        "2001:db8:1234:ffff::1",
        "2001:db8:ffff::1",
        "::ffff:198.51.100.9",
        "2002:c633:6401::1",
        "127.0.0.1",
        "::1",
      ].map((ip) => event({ "source.ip": ip })),
      event({ "destination.ip": "10.1.2.3", "source.fqdn": "example.com" }),
      event({ "source.ip": "192.0.2.1", "destination.ip": "2001:db8::1" }),
      event({ "source.ip": "192.0.2.1", "source.asn": 1, "source.network": "192.0.0.0/16" }),
      event({ "source.ip": "127.0.0.2", "source.asn": 1, "source.network": "127.0.0.0/8" }),
      event({ "source.fqdn": "example.com" }),
      ...addresses.map((ip, i) => event(i % 2 ? { "destination.ip": ip } : { "source.ip": ip })),
    ];
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("sets the same asn and network as IntelMQ's expert on the same ipasn file, plain and gzip-compressed", async () => {
    const plain = join(dir, "ipasn.dat");
    const compressed = join(dir, "ipasn.dat.gz");
    writeFileSync(plain, generated);
    writeFileSync(compressed, gzipSync(generated));
    const cases = [plain, compressed].map((database) => ({ module: MODULE, params: { database }, events }));
    const intelmq = await intelmqExpert(cases);
    let compared = 0;
    let found = 0;
    for (const [i, c] of cases.entries()) {
      const oracle = intelmq[i] as {
        results: Array<{ events: Record<string, unknown>[] } | { error: string }>;
      };
      expect(oracle).toHaveProperty("results");
      const expert = await petrel(c.params);
      for (const [k, e] of events.entries()) {
        const got = await outcome(expert, e);
        expect(got, `${c.params.database} ${e.serialize()}`).toEqual(oracle.results[k]);
        compared++;
        if (JSON.stringify(got) !== JSON.stringify({ events: [e.toDict()] })) found++;
      }
      await expert.close?.();
    }
    console.log(
      `asn_lookup vs IntelMQ (ipasn): ${compared} event results compared, ${found} with asn/network set`,
    );
    expect(compared).toBe(2 * events.length);
    expect(found).toBeGreaterThan(compared / 2);
  });

  it("reads MaxMind DB ASN databases, GeoLite2's and ipinfo's layout, as Python's maxminddb reads them (deviation mmdb-databases)", async () => {
    expect(asnLookup.deviations?.map((d) => d.id)).toContain("mmdb-databases");
    const random = randomSource(99);
    const networks: MmdbNetwork[] = [];
    const addresses = ["8.8.8.8", "::1", "2001:db8::1", "::ffff:10.1.2.3", "2002:a01:203::1"];
    for (let i = 0; i < 300; i++) {
      const a = [1 + random(222), random(256), random(256), 0];
      networks.push({
        network: `${a.join(".")}/${8 + random(17)}`,
        data: asnRecord(1 + random(400_000), `Org ${i} GmbH`),
      });
      addresses.push(`${a[0]}.${a[1]}.${a[2]}.${random(256)}`);
    }
    for (let i = 0; i < 60; i++) {
      const prefix = `2001:db8:${random(65_536).toString(16)}`;
      networks.push({ network: `${prefix}::/${33 + random(40)}`, data: asnRecord(1 + random(400_000)) });
      addresses.push(`${prefix}::${random(65_536).toString(16)}`);
    }
    networks.push({ network: "10.0.0.0/8", data: asnRecord(64_500, "Private") });
    const geolite = join(dir, "GeoLite2-ASN.mmdb");
    writeFileSync(geolite, writeMmdb({ databaseType: "GeoLite2-ASN", networks }));
    // ipinfo: "asn": "AS64500"; one record without an AS number.
    const ipinfo = join(dir, "ipinfo-asn.mmdb");
    writeFileSync(
      ipinfo,
      writeMmdb({
        databaseType: "ipinfo asn.mmdb",
        recordSize: 32,
        networks: [
          { network: "192.0.2.0/24", data: { asn: "AS64501", name: "Example", domain: "example.net" } },
          { network: "198.51.100.0/25", data: { name: "No AS" } },
          { network: "2001:db8::/32", data: { asn: "AS64502" } },
        ],
      }),
    );
    const ipinfoAddresses = ["192.0.2.9", "198.51.100.1", "198.51.100.200", "2001:db8::9"];
    // Python's view: the record's AS number, and the network of the prefix length maxminddb reports.
    const expectations = await runOracle<
      { file: string; addresses: string[] },
      Array<[number | null, string] | null>
    >(
      `
import ipaddress, json, re, sys, os
import maxminddb
for line in sys.stdin:
    case = json.loads(line)
    out = []
    with maxminddb.open_database(case["file"]) as reader:
        for address in case["addresses"]:
            record, length = reader.get_with_prefix_len(address)
            if record is None:
                out.append(None)
                continue
            asn = record.get("autonomous_system_number")
            if asn is None and "asn" in record:
                asn = int(re.sub("^AS", "", record["asn"]))
            out.append([asn, str(ipaddress.ip_network(f"{address}/{length}", strict=False))])
    print(json.dumps(out))
sys.stdout.flush()
os._exit(0)
`,
      [
        { file: geolite, addresses },
        { file: ipinfo, addresses: ipinfoAddresses },
      ],
    );
    let compared = 0;
    for (const [i, [file, list]] of (
      [
        [geolite, addresses],
        [ipinfo, ipinfoAddresses],
      ] as const
    ).entries()) {
      const expert = await petrel({ database: file });
      for (const [k, ip] of list.entries()) {
        const e = event({ "source.ip": ip });
        const got = (await expert.process(e.copy(), { id: "x" })) as Event;
        const want = expectations[i]?.[k];
        expect(got.get("source.asn"), `${file} ${ip}`).toBe(want?.[0] ?? undefined);
        expect(got.get("source.network"), `${file} ${ip}`).toBe(want?.[1]);
        compared++;
      }
      await expert.close?.();
    }
    console.log(`asn_lookup (MaxMind DB) vs Python maxminddb: ${compared} lookups compared`);
    expect(compared).toBe(addresses.length + ipinfoAddresses.length);
  });

  it("loads gzip files without a .gz name and files with whitespace-only lines, which pyasn refuses (deviation lenient-ipasn-files)", async () => {
    expect(asnLookup.deviations?.map((d) => d.id)).toContain("lenient-ipasn-files");
    const crlf = join(dir, "crlf.dat");
    writeFileSync(crlf, "; made on Windows\r\n192.0.2.0/24\t64500\r\n\r\n2001:db8::/32\t64501\r\n");
    const renamed = join(dir, "compressed.dat");
    writeFileSync(renamed, gzipSync("192.0.2.0/24\t64500\n2001:db8::/32\t64501\n"));
    const intelmq = await intelmqExpert(
      [crlf, renamed].map((database) => ({ module: MODULE, params: { database }, events: [] })),
    );
    expect(intelmq).toEqual([{ init_error: expect.any(String) }, { init_error: expect.any(String) }]);
    expect(await pyasnLoad([crlf, renamed])).toEqual([
      expect.stringMatching(/^RuntimeError: Error while parsing\/adding IPASN database \(record: 2\)/),
      expect.stringMatching(/^RuntimeError: Error while parsing\/adding IPASN database \(record: 1\)/),
    ]);
    for (const database of [crlf, renamed]) {
      const expert = await petrel({ database });
      const got = (await expert.process(
        event({ "source.ip": "192.0.2.1", "destination.ip": "2001:db8::1" }),
        { id: "x" },
      )) as Event;
      expect(got.toDict()).toMatchObject({
        "source.asn": 64_500,
        "source.network": "192.0.2.0/24",
        "destination.asn": 64_501,
        "destination.network": "2001:db8::/32",
      });
      await expert.close?.();
    }
  });

  it("refuses files pyasn refuses, naming the line and what is wrong", async () => {
    const bad: Record<string, [string, RegExp]> = {
      "no tab": ["192.0.2.0/24 64500\n", /line 1: expected NETWORK\/LENGTH<TAB>ASN/],
      "AS 0": ["; header\n192.0.2.0/24\t0\n", /line 2: "0" is no AS number/],
      "prefix length 0": ["192.0.2.0/0\t1\n", /line 1: prefix length "0" is not within 1\.\.32/],
      "prefix length 33": ["192.0.2.0/33\t1\n", /line 1: prefix length "33" is not within 1\.\.32/],
      "no address": ["192.0.2/24\t1\n", /line 1: "192\.0\.2" is no IP address/],
      "AS text": ["192.0.2.0/24\tAS64500\n", /line 1: "AS64500" is no AS number/],
    };
    const files = Object.keys(bad).map((name, i) => {
      const file = join(dir, `bad-${i}.dat`);
      writeFileSync(file, (bad[name] as [string, RegExp])[0]);
      return file;
    });
    const intelmq = await intelmqExpert(
      files.map((database) => ({ module: MODULE, params: { database }, events: [] })),
    );
    const pyasnErrors = await pyasnLoad(files);
    for (const [i, name] of Object.keys(bad).entries()) {
      expect(intelmq[i], name).toHaveProperty("init_error");
      expect(pyasnErrors[i], name).toMatch(/^RuntimeError: Error while parsing\/adding IPASN database/);
      await expect(petrel({ database: files[i] }), name).rejects.toThrow((bad[name] as [string, RegExp])[1]);
    }
    await expect(petrel({ database: join(dir, "missing.dat") })).rejects.toThrow(
      /database ".*missing\.dat": ENOENT/,
    );
  });

  it("reloads the file when it changes, keeping the old table when the new file is bad (deviations reloads-changed-database, no-database-download)", async () => {
    expect(asnLookup.deviations?.map((d) => d.id)).toEqual(
      expect.arrayContaining(["reloads-changed-database", "no-database-download"]),
    );
    const file = join(dir, "reload.dat");
    writeFileSync(file, "192.0.2.0/24\t64500\n");
    const expert = await petrel({ database: file, autoupdate_cached_database: true });
    const asn = async () =>
      ((await expert.process(event({ "source.ip": "192.0.2.1" }), { id: "x" })) as Event).get("source.asn");
    const until = async (want: unknown) => {
      const deadline = Date.now() + 8_000;
      while ((await asn()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      return asn();
    };
    expect(await asn()).toBe(64_500);
    writeFileSync(`${file}.new`, "192.0.2.0/24\t64501\n");
    renameSync(`${file}.new`, file);
    expect(await until(64_501)).toBe(64_501);
    writeFileSync(`${file}.new`, "192.0.2.0/24\tbroken\n");
    renameSync(`${file}.new`, file);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await asn()).toBe(64_501);
    // Switching to a MaxMind DB in place works as well.
    writeFileSync(
      `${file}.new`,
      writeMmdb({
        databaseType: "GeoLite2-ASN",
        networks: [{ network: "192.0.2.0/24", data: asnRecord(64_502) }],
      }),
    );
    renameSync(`${file}.new`, file);
    expect(await until(64_502)).toBe(64_502);
    await expert.close?.();
  });

  it("runs through `petrelctl run`", async () => {
    const database = join(dir, "run.dat");
    writeFileSync(database, HAND_WRITTEN);
    const input = join(dir, "events.jsonl");
    writeFileSync(
      input,
      `${event({ "source.ip": "10.1.2.3", "destination.ip": "2001:db8:1234::1" }).serialize()}\n`,
    );
    const bin = fileURLToPath(new URL("../../operator/bin/petrelctl.js", import.meta.url));
    const { stdout, code } = await new Promise<{ stdout: string; code: number }>((resolve) => {
      execFile(
        process.execPath,
        [bin, "run", "experts.asn_lookup", "-i", input, "--param", `database=${database}`],
        { encoding: "utf8" },
        (error, out) => resolve({ stdout: out, code: error ? Number((error as { code?: number }).code) : 0 }),
      );
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      "source.asn": 4_200_000_000,
      "source.network": "10.1.2.0/24",
      "destination.asn": 3356,
      "destination.network": "2001:db8:1234::/48",
    });
  });

  it("holds a table as large as the Internet's in little memory and looks up fast", async () => {
    const random = randomSource(12_345);
    const lines: string[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      const a = random(2 ** 31) * 2 + random(2);
      lines.push(
        `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.0/${16 + random(9)}\t${1 + random(400_000)}`,
      );
    }
    for (let i = 0; i < 200_000; i++) {
      lines.push(
        `2${random(0xfff).toString(16)}:${random(65_536).toString(16)}:${random(65_536).toString(16)}::/48\t${1 + random(400_000)}`,
      );
    }
    const file = join(dir, "big.dat");
    writeFileSync(file, lines.join("\n"));
    lines.length = 0;
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // V8 frees array buffers' memory on a background thread after a collection: on a busy machine
    // that lags, so collect until the figure stops falling.
    const settledMemory = async () => {
      let last = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 50; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 20));
        const now = process.memoryUsage();
        if (now.arrayBuffers >= last) return now;
        last = now.arrayBuffers;
      }
      return process.memoryUsage();
    };
    const memoryBefore = await settledMemory();
    const loadStart = performance.now();
    const expert = await petrel({ database: file });
    const loadMs = performance.now() - loadStart;
    const memoryAfter = await settledMemory();
    const events = Array.from({ length: 5_000 }, (_, i) => {
      const a = random(2 ** 31) * 2;
      return event(
        i % 5 === 4
          ? { "source.ip": `2${random(0xfff).toString(16)}:${random(65_536).toString(16)}::1` }
          : { "source.ip": `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}` },
      );
    });
    const copies = events.flatMap((e) => Array.from({ length: 10 }, () => e.copy()));
    const start = performance.now();
    for (const e of copies) expert.process(e, { id: "b" });
    const perSecond = copies.length / ((performance.now() - start) / 1000);
    const matched = copies.filter((e) => e.has("source.asn")).length;
    const megabytes = (n: number) => (n / 2 ** 20).toFixed(0);
    console.log(
      `asn_lookup, 1.2M prefixes: loaded in ${Math.round(loadMs)} ms, heap +${megabytes(memoryAfter.heapUsed - memoryBefore.heapUsed)} MiB, array buffers +${megabytes(memoryAfter.arrayBuffers - memoryBefore.arrayBuffers)} MiB; ${Math.round(perSecond)} events/s in process() (${matched} of ${copies.length} matched)`,
    );
    expect(matched).toBeGreaterThan(copies.length / 2);
    expect(perSecond).toBeGreaterThan(40_000);
    // The table itself: typed arrays of about 25 bytes per prefix.
    expect(memoryAfter.arrayBuffers - memoryBefore.arrayBuffers).toBeLessThan(60 * 2 ** 20);
    await expert.close?.();
  });
});
