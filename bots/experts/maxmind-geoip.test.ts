// The maxmind_geoip expert against IntelMQ's, both reading the same generated MaxMind DB files; the
// generated files read alike by the `maxmind` package and Python's maxminddb; reloading a database that
// changes on disk (renamed over, swapped as Kubernetes swaps volume contents, written in place, broken).
import { execFile } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Reader } from "maxmind";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { DISCARD_METRICS, type Expert } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { intelmqExpert, maxminddbRead } from "../../bot-runtime/test-support/mmdb-oracle.ts";
import {
  geoRecord,
  type MmdbNetwork,
  type MmdbOptions,
  mmdbValue,
  writeMmdb,
} from "../../bot-runtime/test-support/mmdb-writer.ts";
import { testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import geoip from "./maxmind-geoip.ts";
import { eventOf } from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.maxmind_geoip.expert";

const CITY_NETWORKS: MmdbNetwork[] = [
  {
    network: "192.0.2.0/24",
    data: geoRecord({
      country: "DE",
      registeredCountry: "DE",
      city: { en: "Berlin", de: "Berlin" },
      latitude: 52.52,
      longitude: 13.405,
    }),
  },
  // Latitude 0 (IntelMQ leaves it out), no city, registered elsewhere.
  {
    network: "192.0.2.128/25",
    data: geoRecord({ country: "FR", registeredCountry: "BE", latitude: 0, longitude: 2.35 }),
  },
  // A lower-case code; a city without an English name.
  {
    network: "198.51.100.0/24",
    data: geoRecord({ country: "us", city: { de: "München" }, latitude: -33.5, longitude: -70.25 }),
  },
  { network: "203.0.113.0/25", data: {} },
  { network: "203.0.113.128/25", data: geoRecord({ latitude: 10.5, longitude: 0 }) },
  {
    network: "10.0.0.0/8",
    data: geoRecord({ country: "CH", city: { en: "Zürich ✓" }, latitude: 47.37, longitude: 8.54 }),
  },
  // A code the harmonization refuses: both fail the event.
  { network: "100.64.0.0/10", data: geoRecord({ country: "XXX" }) },
  {
    network: "2001:db8::/32",
    data: geoRecord({ country: "NL", city: { en: "Amsterdam" }, latitude: 52.37, longitude: 4.89 }),
  },
  // "-" is one of IntelMQ's ignored values.
  { network: "2001:db8:1::/48", data: geoRecord({ country: "NL", city: { en: "-" } }) },
  {
    network: "2001:db8:2::/48",
    data: geoRecord({ registeredCountry: "SE", extra: { continent: { code: "EU" } } }),
  },
];

const event = (fields: Record<string, unknown>): Event =>
  eventOf(fields, { "feed.name": "Test Feed", "classification.type": "scanner" });

const IPV4_EVENTS = [
  event({ "source.ip": "192.0.2.10" }),
  event({ "source.ip": "192.0.2.200" }),
  event({ "destination.ip": "198.51.100.7" }),
  event({ "source.ip": "8.8.8.8" }),
  event({ "source.fqdn": "example.com" }),
  event({ "source.ip": "203.0.113.5" }),
  event({ "source.ip": "203.0.113.200", "destination.ip": "192.0.2.129" }),
  event({
    "source.ip": "192.0.2.10",
    "source.geolocation.cc": "AT",
    "source.geolocation.city": "Wien",
    "source.geolocation.latitude": 1.5,
  }),
  event({ "source.ip": "100.64.1.1" }),
  event({ "source.ip": "10.1.2.3", "destination.ip": "10.200.0.1" }),
];

const IPV6_EVENTS = [
  event({ "source.ip": "192.0.2.10", "destination.ip": "2001:db8::5" }),
  event({ "source.ip": "2001:db8:1::1" }),
  event({ "source.ip": "2001:db8:2::1" }),
  event({ "source.ip": "::ffff:192.0.2.10" }),
  event({ "source.ip": "2002:c000:20a::1" }),
  event({ "source.ip": "2001:db9::1", "destination.ip": "2001:db8::1" }),
];

const PARAMETER_SETS: Record<string, unknown>[] = [
  {},
  { overwrite: true },
  { use_registered: true },
  { use_registered: true, overwrite: true, license_key: "abc", autoupdate_cached_database: false },
];

async function petrel(params: Record<string, unknown>, log = pino({ level: "silent" })): Promise<Expert> {
  const parsed = parameterSchema(geoip).parse(params);
  return geoip.create(parsed as never, { ...testContext("geoip"), log, metrics: DISCARD_METRICS });
}

/** What the Petrel expert does with an event, in the oracle's terms. */
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

/** A logger whose lines the test can read. */
function capturingLog() {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { log: pino({ level: "info" }, stream), lines };
}

async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, ms = 8_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (accept(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("experts.maxmind_geoip", () => {
  let dir: string;
  const databases: Record<string, { file: string; options: MmdbOptions; events: Event[] }> = {};

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "petrel-geoip-"));
    const v4 = CITY_NETWORKS.filter((n) => !n.network.includes(":"));
    const variants: Record<string, MmdbOptions> = {
      "city, IPv6 tree, 28-bit records": { databaseType: "GeoLite2-City", networks: CITY_NETWORKS },
      "city, IPv4 tree, 24-bit records": {
        databaseType: "GeoIP2-City",
        ipVersion: 4,
        recordSize: 24,
        networks: v4,
      },
      "city, IPv6 tree, 32-bit records, no IPv4 aliases": {
        databaseType: "GeoLite2-City",
        recordSize: 32,
        ipv4Aliases: false,
        pointers: false,
        networks: CITY_NETWORKS,
      },
    };
    for (const [name, options] of Object.entries(variants)) {
      const file = join(dir, `${Object.keys(databases).length}.mmdb`);
      writeFileSync(file, writeMmdb(options));
      databases[name] = {
        file,
        options,
        events: options.ipVersion === 4 ? IPV4_EVENTS : [...IPV4_EVENTS, ...IPV6_EVENTS],
      };
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads generated databases as the maxmind package and Python's maxminddb (libmaxminddb and pure Python) do", async () => {
    const rich = {
      strings: ["", "ä€😀", "x".repeat(28), "y".repeat(29), "z".repeat(300), "w".repeat(70_000)],
      numbers: [
        0,
        1,
        255,
        65_536,
        2 ** 32 - 1,
        -1,
        -(2 ** 31),
        mmdbValue("uint16", 65_535),
        mmdbValue("uint64", 2n ** 63n + 5n),
        mmdbValue("uint128", 2n ** 127n + 1n),
        mmdbValue("double", -0.5),
        mmdbValue("float", 1.25),
        mmdbValue("int32", 7),
      ],
      flags: [true, false],
      bytes: new Uint8Array([0, 1, 254, 255]),
      nested: { deeper: { deepest: [[], {}] } },
    };
    // Random networks, some inside others, and addresses in and around them.
    let seed = 17;
    const random = (n: number) => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed % n;
    };
    const networks: MmdbNetwork[] = [{ network: "172.16.0.0/12", data: rich }];
    const addresses = [
      "172.16.5.5",
      "0.0.0.0",
      "255.255.255.255",
      "::",
      "::1",
      "2001:db8::1",
      "::ffff:172.16.0.1",
    ];
    for (let i = 0; i < 150; i++) {
      const a = [random(224), random(256), random(256), 0];
      const length = 8 + random(25);
      networks.push({
        network: `${a.join(".")}/${length}`,
        data: geoRecord({
          country: ["DE", "FR", "US"][i % 3] as string,
          latitude: i / 7,
          longitude: -(i + 1) / 3,
        }),
      });
      addresses.push(
        `${a[0]}.${a[1]}.${random(256)}.${random(256)}`,
        `${a[0]}.${a[1]}.${a[2]}.${random(256)}`,
      );
    }
    for (let i = 0; i < 40; i++) {
      const prefix = `2001:db8:${random(65_536).toString(16)}`;
      networks.push({ network: `${prefix}::/${32 + random(60)}`, data: { n: i } });
      addresses.push(`${prefix}::${random(65_536).toString(16)}`, `${prefix}:1::1`);
    }
    const cases: Array<{ file: string; ipVersion: 4 | 6 }> = [];
    for (const recordSize of [24, 28, 32] as const) {
      for (const ipVersion of [4, 6] as const) {
        const file = join(dir, `rich-${recordSize}-${ipVersion}.mmdb`);
        writeFileSync(
          file,
          writeMmdb({
            databaseType: "Petrel-Test",
            ipVersion,
            recordSize,
            languages: ["en", "de"],
            description: { en: "test", de: "Prüfung" },
            networks: ipVersion === 4 ? networks.filter((n) => !n.network.includes(":")) : networks,
          }),
        );
        cases.push({ file, ipVersion });
      }
    }
    const v4Addresses = addresses.filter((a) => !a.includes(":"));
    const python = await maxminddbRead(
      cases.flatMap(({ file, ipVersion }) =>
        (["MODE_MMAP_EXT", "MODE_FILE"] as const).map((mode) => ({
          file,
          mode,
          addresses: ipVersion === 4 ? v4Addresses : addresses,
        })),
      ),
    );
    const plain = (value: unknown): unknown =>
      JSON.parse(
        JSON.stringify(value, (_k, v) =>
          typeof v === "bigint" ? (v > 2n ** 53n ? String(v) : Number(v)) : v?.type === "Buffer" ? v.data : v,
        ),
      );
    let compared = 0;
    for (const [i, { file, ipVersion }] of cases.entries()) {
      const reader = new Reader(readFileSync(file));
      const node = (ipVersion === 4 ? v4Addresses : addresses).map((a) => {
        const [record, prefixLength] = reader.getWithPrefixLength(a);
        return [plain(record), prefixLength];
      });
      for (const read of [python[2 * i], python[2 * i + 1]]) {
        expect(read?.lookups, file).toEqual(node);
        expect(read?.metadata).toMatchObject({
          database_type: "Petrel-Test",
          ip_version: ipVersion,
          languages: ["en", "de"],
          description: { en: "test", de: "Prüfung" },
        });
        compared += node.length;
      }
      // The rich record came through whole.
      expect(node[0]?.[0]).toEqual({
        ...rich,
        numbers: [
          0,
          1,
          255,
          65_536,
          2 ** 32 - 1,
          -1,
          -(2 ** 31),
          65_535,
          String(2n ** 63n + 5n),
          String(2n ** 127n + 1n),
          -0.5,
          1.25,
          7,
        ],
        bytes: [0, 1, 254, 255],
      });
    }
    expect(compared).toBeGreaterThan(2000);
  });

  it("sets the same geolocation fields as IntelMQ's expert, for every parameter set and database layout", async () => {
    const cases = Object.entries(databases).flatMap(([name, db]) =>
      PARAMETER_SETS.map((params) => ({ name, params: { ...params, database: db.file }, events: db.events })),
    );
    const intelmq = await intelmqExpert(cases.map((c) => ({ module: MODULE, ...c })));
    let compared = 0;
    let changed = 0;
    let errors = 0;
    for (const [i, c] of cases.entries()) {
      const oracle = intelmq[i] as {
        results: Array<{ events: Record<string, unknown>[] } | { error: string }>;
      };
      expect(oracle, c.name).toHaveProperty("results");
      const expert = await petrel(c.params);
      for (const [k, e] of c.events.entries()) {
        const expected = oracle.results[k];
        const got = await outcome(expert, e);
        const label = `${c.name} ${JSON.stringify(c.params)} ${e.serialize()}`;
        if (expected && "error" in expected) {
          expect(got, label).toEqual({ error: true });
          errors++;
        } else {
          expect(got, label).toEqual(expected);
          if (JSON.stringify(got) !== JSON.stringify({ events: [e.toDict()] })) changed++;
        }
        compared++;
      }
      await expert.close?.();
    }
    console.log(
      `maxmind_geoip vs IntelMQ: ${compared} event results compared, ${changed} with geolocation added, ${errors} failing in both`,
    );
    // 3 layouts × 4 parameter sets × 10 or 16 events.
    expect(compared).toBe(4 * (16 + 10 + 16));
    expect(changed).toBe(104);
    // The invalid country code fails the event where it is used (not with use_registered).
    expect(errors).toBe(6);
  });

  it("reads Country databases, which IntelMQ's expert cannot (deviation country-databases)", async () => {
    expect(geoip.deviations?.map((d) => d.id)).toContain("country-databases");
    const file = join(dir, "country.mmdb");
    writeFileSync(
      file,
      writeMmdb({
        databaseType: "GeoLite2-Country",
        networks: [{ network: "192.0.2.0/24", data: geoRecord({ country: "DE", registeredCountry: "AT" }) }],
      }),
    );
    const e = event({ "source.ip": "192.0.2.1" });
    const [intelmq] = await intelmqExpert([{ module: MODULE, params: { database: file }, events: [e] }]);
    expect(intelmq).toEqual({
      results: [{ error: expect.stringMatching(/^TypeError: The city method cannot be used/) }],
    });
    for (const [params, cc] of [
      [{}, "DE"],
      [{ use_registered: true }, "AT"],
    ] as const) {
      const expert = await petrel({ ...params, database: file });
      expect(await outcome(expert, e)).toEqual({ events: [{ ...e.toDict(), "source.geolocation.cc": cc }] });
      await expert.close?.();
    }
  });

  it("gives IPv6 addresses no geolocation from an IPv4-only database, where IntelMQ fails the event (deviation ipv6-in-ipv4-database)", async () => {
    expect(geoip.deviations?.map((d) => d.id)).toContain("ipv6-in-ipv4-database");
    const db = databases["city, IPv4 tree, 24-bit records"] as { file: string };
    const e = event({ "source.ip": "2001:db8::1", "destination.ip": "192.0.2.1" });
    const [intelmq] = await intelmqExpert([{ module: MODULE, params: { database: db.file }, events: [e] }]);
    expect(intelmq).toEqual({
      results: [{ error: expect.stringMatching(/^ValueError: .*IPv6 address in an IPv4-only database/) }],
    });
    const expert = await petrel({ database: db.file });
    const got = await outcome(expert, e);
    expect(got).toEqual({
      events: [
        {
          ...e.toDict(),
          "destination.geolocation.cc": "DE",
          "destination.geolocation.city": "Berlin",
          "destination.geolocation.latitude": 52.52,
          "destination.geolocation.longitude": 13.405,
        },
      ],
    });
    await expert.close?.();
  });

  it("takes license_key and autoupdate_cached_database without downloading anything (deviation no-database-download)", async () => {
    expect(geoip.deviations?.map((d) => d.id)).toContain("no-database-download");
    const db = databases["city, IPv6 tree, 28-bit records"] as { file: string };
    const expert = await petrel({
      database: db.file,
      license_key: "secret",
      autoupdate_cached_database: true,
    });
    expect(await outcome(expert, event({ "source.ip": "192.0.2.1" }))).toMatchObject({
      events: [{ "source.geolocation.cc": "DE" }],
    });
    await expert.close?.();
  });

  it("refuses to start on a missing, foreign, truncated or compressed file, naming the parameter and the file", async () => {
    const good = writeMmdb({ databaseType: "GeoLite2-City", networks: CITY_NETWORKS });
    const files: Record<string, Buffer | undefined> = {
      missing: undefined,
      "not a database": Buffer.from("192.0.2.0/24\t64500\n"),
      truncated: good.subarray(0, good.length - 200),
      gzip: gzipSync(good),
    };
    const messages: Record<string, string> = {};
    for (const [name, data] of Object.entries(files)) {
      const file = join(dir, `bad-${name.replace(/ /g, "-")}.mmdb`);
      if (data) writeFileSync(file, data);
      await expect(petrel({ database: file })).rejects.toThrow(`database "${file}"`);
      messages[name] = await petrel({ database: file }).then(
        () => "",
        (error: Error) => error.message,
      );
    }
    expect(messages.missing).toMatch(/ENOENT/);
    expect(messages["not a database"]).toMatch(/no MaxMind DB file/);
    expect(messages.truncated).toMatch(/no MaxMind DB file|unreadable MaxMind DB metadata|damaged|usable/);
    expect(messages.gzip).toMatch(/gzip-compressed/);
  });

  it("reloads the database when it changes — renamed over, swapped as Kubernetes swaps volume contents, written in place — and keeps the old one when the new one is broken (deviation reloads-changed-database)", async () => {
    expect(geoip.deviations?.map((d) => d.id)).toContain("reloads-changed-database");
    const db = (cc: string) =>
      writeMmdb({
        databaseType: "GeoLite2-City",
        networks: [{ network: "192.0.2.0/24", data: geoRecord({ country: cc }) }],
      });
    const cc = async (expert: Expert) => {
      const result = (await expert.process(event({ "source.ip": "192.0.2.1" }), { id: "x" })) as Event;
      return result.get("source.geolocation.cc");
    };
    const timings: Record<string, number> = {};
    const timed = async (name: string, expert: Expert, want: string) => {
      const start = Date.now();
      expect(
        await eventually(
          () => cc(expert),
          (v) => v === want,
        ),
        name,
      ).toBe(want);
      timings[name] = Date.now() - start;
    };

    // A plain file, replaced by rename (geoipupdate's way) and then rewritten in place.
    const plainDir = join(dir, "plain");
    mkdirSync(plainDir);
    const file = join(plainDir, "GeoLite2-City.mmdb");
    writeFileSync(file, db("DE"));
    const { log, lines } = capturingLog();
    const expert = await petrel({ database: file }, log);
    expect(await cc(expert)).toBe("DE");
    writeFileSync(`${file}.tmp`, db("FR"));
    renameSync(`${file}.tmp`, file);
    await timed("renamed over", expert, "FR");
    writeFileSync(file, db("NL"));
    await timed("written in place", expert, "NL");

    // A broken file: logged, the old database stays; a good one after it is taken.
    writeFileSync(`${file}.tmp`, Buffer.from("this is no database"));
    renameSync(`${file}.tmp`, file);
    const failed = await eventually(
      async () => lines.filter((l) => l.level === 50),
      (errors) => errors.length > 0,
    );
    expect(failed[0]?.msg).toMatch(
      /reloading .*GeoLite2-City\.mmdb failed, still using the one loaded before: .*no MaxMind DB file/,
    );
    expect(await cc(expert)).toBe("NL");
    writeFileSync(`${file}.tmp`, db("SE"));
    renameSync(`${file}.tmp`, file);
    await timed("good file after a broken one", expert, "SE");
    expect(lines.filter((l) => l.level === 30 && /reloaded/.test(l.msg))).toHaveLength(3);
    await expert.close?.();

    // A ConfigMap-style volume: NAME → ..data/NAME, ..data → ..<timestamp>, swapped by renaming a new link.
    const volume = join(dir, "volume");
    mkdirSync(join(volume, "..2024_05_01_10_00_00.1"), { recursive: true });
    writeFileSync(join(volume, "..2024_05_01_10_00_00.1", "GeoLite2-City.mmdb"), db("DE"));
    symlinkSync("..2024_05_01_10_00_00.1", join(volume, "..data"));
    symlinkSync("..data/GeoLite2-City.mmdb", join(volume, "GeoLite2-City.mmdb"));
    const mounted = await petrel({ database: join(volume, "GeoLite2-City.mmdb") });
    expect(await cc(mounted)).toBe("DE");
    const swap = (version: string, data: Buffer) => {
      mkdirSync(join(volume, version));
      writeFileSync(join(volume, version, "GeoLite2-City.mmdb"), data);
      symlinkSync(version, join(volume, "..data_tmp"));
      renameSync(join(volume, "..data_tmp"), join(volume, "..data"));
    };
    swap("..2024_05_02_10_00_00.2", db("FR"));
    rmSync(join(volume, "..2024_05_01_10_00_00.1"), { recursive: true });
    await timed("volume swap", mounted, "FR");
    swap("..2024_05_03_10_00_00.3", Buffer.from("broken"));
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await cc(mounted)).toBe("FR");
    swap("..2024_05_04_10_00_00.4", db("PL"));
    await timed("volume swap after a broken one", mounted, "PL");
    await mounted.close?.();
    for (const ms of Object.values(timings)) expect(ms).toBeLessThan(5_000);
    console.log(`maxmind_geoip reload times (ms): ${JSON.stringify(timings)}`);
  });

  it("runs through `petrelctl run`", async () => {
    const db = databases["city, IPv6 tree, 28-bit records"] as { file: string };
    const input = join(dir, "events.jsonl");
    writeFileSync(
      input,
      `${event({ "source.ip": "192.0.2.1", "destination.ip": "2001:db8::1" }).serialize()}\n`,
    );
    const bin = fileURLToPath(new URL("../../operator/bin/petrelctl.js", import.meta.url));
    const { stdout, code } = await new Promise<{ stdout: string; code: number }>((resolve) => {
      execFile(
        process.execPath,
        [bin, "run", MODULE, "-i", input, "--param", `database=${db.file}`],
        { encoding: "utf8" },
        (error, out) => resolve({ stdout: out, code: error ? Number((error as { code?: number }).code) : 0 }),
      );
    });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({
      "source.geolocation.cc": "DE",
      "source.geolocation.city": "Berlin",
      "destination.geolocation.cc": "NL",
      "destination.geolocation.city": "Amsterdam",
    });
  });

  it("looks up fast enough for the runtime", async () => {
    // 20,000 networks, events spread over them (the reader's record cache holds 10,000).
    const networks: MmdbNetwork[] = [];
    for (let i = 0; i < 20_000; i++) {
      networks.push({
        network: `${10 + (i >> 12)}.${(i >> 4) & 255}.${(i & 15) << 4}.0/20`,
        data: geoRecord({
          country: "DE",
          city: { en: `City ${i}`, de: `Stadt ${i}`, fr: `Ville ${i}` },
          latitude: 50 + i / 1000,
          longitude: 8 + i / 1000,
        }),
      });
    }
    const file = join(dir, "bench.mmdb");
    writeFileSync(file, writeMmdb({ databaseType: "GeoLite2-City", networks }));
    const expert = await petrel({ database: file });
    const events = Array.from({ length: 2_000 }, (_, i) =>
      event({ "source.ip": `${10 + (i % 4)}.${(i * 7) & 255}.${(i * 13) & 255}.${i & 255}` }),
    );
    const rounds = 20;
    const copies = events.flatMap((e) => Array.from({ length: rounds }, () => e.copy()));
    const start = performance.now();
    for (const e of copies) expert.process(e, { id: "b" });
    const perSecond = copies.length / ((performance.now() - start) / 1000);
    console.log(`maxmind_geoip: ${Math.round(perSecond)} events/s in process()`);
    expect((copies[0] as Event).has("source.geolocation.city")).toBe(true);
    expect(perSecond).toBeGreaterThan(40_000);
    await expert.close?.();
  });
});
