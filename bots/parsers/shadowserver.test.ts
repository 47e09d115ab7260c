// The Shadowserver parser against IntelMQ 3.5's own, both driven by Petrel's test schema
// (shadowserver/test-support/test-schema.json: invented report types written by the team that use every
// conversion function and every rule of the schema format; Shadowserver's real schema is not in the
// repository). A synthetic report per report type (valid rows, empty and odd values, odd required values,
// short and long rows, quoted multi-line cells, an unknown column, three kinds of line ending) parsed by
// both gives the same events (every field and value, raw included) and the same rejected rows. Then the
// report-level rules (type detection, feedname, overwrite), the schema format's rules one by one, CSV
// quirks, IntelMQ's own test data, and the deviations (where the schema comes from among them).
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EVENT_FIELDS } from "../../bot-runtime/src/event/harmonization.ts";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import type { BotContext } from "../../bot-runtime/src/sdk/bot.ts";
import {
  type ParseOutcome,
  petrelParse,
  testContext,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import { testTempDir } from "../../bot-runtime/test-support/temp-dir.ts";
import { CONVERSIONS, takesRow } from "./shadowserver/conversions.ts";
import {
  formatSchemaDocument,
  loadSchema,
  PROJECT_SCHEMA_FILE,
  SCHEMA_FILE_ENV,
  schemaLocation,
} from "./shadowserver/schema.ts";
import {
  intelmqConversions,
  intelmqParserDirectory,
  intelmqShadowserver,
} from "./shadowserver/test-support/oracle.ts";
import { allCandidateValues, syntheticReport } from "./shadowserver/test-support/synthetic.ts";
import { TEST_SCHEMA_FILE, testSchemaDocument } from "./shadowserver/test-support/test-schema.ts";
import shadowserver from "./shadowserver.ts";

const schema = loadSchema(TEST_SCHEMA_FILE);

function fileReport(text: string, fileName?: string, fields: Record<string, unknown> = {}): Report {
  return testReport(text, {
    "feed.url": "https://reports.example.org/shadowserver",
    ...(fileName === undefined ? {} : { "extra.file_name": fileName }),
    ...fields,
  });
}

/** Both parsers on each report with the same parameters and schema file. */
async function both(
  reports: readonly Report[],
  params: Record<string, unknown> = {},
  schemaFile = TEST_SCHEMA_FILE,
): Promise<Array<{ petrel: ParseOutcome; intelmq: ParseOutcome }>> {
  const intelmq = await intelmqShadowserver(
    reports.map((report) => ({ schema: schemaFile, params, report })),
  );
  const out = [];
  for (const [i, report] of reports.entries()) {
    const [petrel] = await petrelParse(shadowserver, { ...params, schema_file: schemaFile }, [report]);
    out.push({ petrel: petrel as ParseOutcome, intelmq: intelmq[i] as ParseOutcome });
  }
  return out;
}

/** Outcomes compared with IntelMQ's; an exception only by its presence (the wording differs). */
function comparable(outcome: ParseOutcome) {
  return { events: outcome.events, errors: outcome.errors, exception: outcome.exception !== undefined };
}

const GADGET_HEADER =
  "timestamp,ip,port,protocol,hostname,tag,asn,geo,region,city,naics,sector,enabled,response_ms";
const GADGET_ROW =
  "2024-05-01 10:00:00,192.0.2.1,8443,tcp,h.example,gadget;cve-2024-0001,64500,DE,Hessen,Frankfurt,0,,yes,12.5";

/** Report types whose mapping makes rows fail on purpose (unknown conversion, wrong arity, false field). */
const FAILING_TYPES = new Set([
  "broken_unknown_conversion",
  "broken_row_arity",
  "broken_value_arity",
  "broken_required_false",
]);

type Mapping = [string | false, string, (string | null)?, boolean?];
interface Definition {
  feed_name: string;
  file_name: string;
  url?: string;
  required_fields: Mapping[];
  optional_fields: Mapping[];
  constant_fields?: Record<string, unknown>;
}

describe("the test schema", () => {
  const document = testSchemaDocument();
  const types = Object.entries(document).filter(([key]) => key !== "_meta") as Array<[string, Definition]>;
  const all = types.flatMap(([, t]) => [
    ...t.required_fields.map((m) => ({ kind: "required", m, t })),
    ...t.optional_fields.map((m) => ({ kind: "optional", m, t })),
  ]);
  const some = (kind: string, test: (m: Mapping, t: Definition) => boolean) =>
    all.some((x) => x.kind === kind && test(x.m, x.t));

  it("uses every conversion function, each where its rows succeed and where they fail", () => {
    const used = new Set(all.map(({ m }) => m[2]).filter((c): c is string => typeof c === "string"));
    for (const name of Object.keys(CONVERSIONS)) expect(used, name).toContain(name);
    // Conversions that take the row, called with it, on required and on optional columns.
    for (const kind of ["required", "optional"]) {
      expect(some(kind, (m) => takesRow(String(m[2])) && m[3] === true)).toBe(true);
    }
    // Called the wrong way (IntelMQ raises a TypeError), and a name no parser knows.
    expect(some("optional", (m) => takesRow(String(m[2])) && m.length === 3)).toBe(true);
    expect(some("optional", (m) => !takesRow(String(m[2])) && m[3] === true)).toBe(true);
    expect(some("optional", (m) => m[2] === "convert_future_value")).toBe(true);
    expect(some("required", (m) => m[2] === "convert_unheard_of")).toBe(true);
  });

  it("uses every form of mapping the format has", () => {
    for (const length of [2, 3, 4])
      expect(
        some("optional", (m) => m.length === length),
        `${length}`,
      ).toBe(true);
    expect(some("required", (m) => m.length === 2)).toBe(true);
    expect(some("optional", (m) => m.length >= 3 && m[2] === null)).toBe(true);
    expect(some("optional", (m) => m[3] === false)).toBe(true);
    expect(some("optional", (m) => m[0] === "extra.")).toBe(true);
    expect(some("optional", (m) => typeof m[0] === "string" && /^extra\.\w/.test(m[0]))).toBe(true);
    for (const kind of ["required", "optional"]) {
      expect(
        some(kind, (m) => m[0] === false),
        `${kind} false`,
      ).toBe(true);
      // A field IntelMQ does not know (dropped when required, kept in extra when optional).
      expect(
        some(kind, (m) => typeof m[0] === "string" && !m[0].startsWith("extra.") && !(m[0] in EVENT_FIELDS)),
        `${kind} unknown field`,
      ).toBe(true);
    }
    // Columns mapped twice: among the required ones, required and optional, and three times among the
    // optional ones.
    expect(
      types.some(([, t]) =>
        t.required_fields.some((r, i) => t.required_fields.findIndex((q) => q[1] === r[1]) < i),
      ),
    ).toBe(true);
    expect(
      types.some(([, t]) => t.required_fields.some((r) => t.optional_fields.some((o) => o[1] === r[1]))),
    ).toBe(true);
    expect(
      types.some(([, t]) =>
        t.optional_fields.some((o) => t.optional_fields.filter((p) => p[1] === o[1]).length >= 3),
      ),
    ).toBe(true);
  });

  it("covers constants, classification overrides, documentation and the type-finding rules", () => {
    expect(types.some(([, t]) => t.constant_fields === undefined)).toBe(true);
    expect(types.some(([, t]) => t.url === undefined)).toBe(true);
    // A constant replaces what a column gave (classification.* here), and one needs sanitizing.
    const overrides = types.some(([, t]) =>
      Object.keys(t.constant_fields ?? {}).some(
        (f) => f.startsWith("classification.") && t.optional_fields.some((m) => m[0] === f),
      ),
    );
    expect(overrides).toBe(true);
    expect(
      types.some(([, t]) =>
        Object.values(t.constant_fields ?? {}).some((v) => typeof v === "string" && /[A-Z]/.test(v)),
      ),
    ).toBe(true);
    // Two types with one file_name (the later wins detection), two with one feed_name (the later wins
    // feedname), one whose file_name no file name can match (only feedname reaches it).
    const fileNames = types.map(([, t]) => t.file_name);
    const feedNames = types.map(([, t]) => t.feed_name);
    expect(new Set(fileNames).size).toBeLessThan(fileNames.length);
    expect(new Set(feedNames).size).toBeLessThan(feedNames.length);
    expect(fileNames.some((f) => f.includes("-"))).toBe(true);
    expect((document._meta as { change_log: string[] }).change_log.length).toBeGreaterThan(0);
  });

  it("is the team's own: invented report types documented under example.org", () => {
    for (const [, t] of types) {
      if (t.url !== undefined) expect(t.url).toMatch(/^https:\/\/reports\.example\.org\//);
    }
    // Biome's formatting is what the schema writer produces.
    expect(formatSchemaDocument(document)).toBe(readFileSync(TEST_SCHEMA_FILE, "utf8"));
  });

  it("is the only schema file in the parser's folder: Petrel bundles none of Shadowserver's", () => {
    const folder = fileURLToPath(new URL("./shadowserver/", import.meta.url));
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
      );
    const json = walk(folder)
      .filter((f) => f.endsWith(".json"))
      .map((f) => relative(folder, f));
    expect(json).toEqual(["test-support/test-schema.json"]);
  });
});

describe("parsers.shadowserver against IntelMQ", () => {
  it("gives IntelMQ's events and rejected rows for every report type of the test schema", async () => {
    const types = [...schema.reports.entries()];
    let events = 0;
    for (const overwrite of [false, true]) {
      for (const [i, [key, type]] of types.entries()) {
        const synthetic = syntheticReport(type, i);
        // By file name where that finds this type, else by feedname (the type's file_name is taken by a
        // later type, or no file name can match it).
        const byFileName = /^\w+$/.test(type.fileName) && schema.byFileName.get(type.fileName) === type;
        expect(byFileName || schema.byFeedName.get(type.feedName) === type, key).toBe(true);
        const [result] = await both(
          [fileReport(synthetic.text, byFileName ? synthetic.fileName : undefined)],
          byFileName ? { overwrite } : { overwrite, feedname: type.feedName },
        );
        const { petrel, intelmq } = result as { petrel: ParseOutcome; intelmq: ParseOutcome };
        expect(petrel, key).toEqual(intelmq);
        // Every row came out, as an event or as a rejected row.
        expect(intelmq.exception, key).toBeUndefined();
        expect(intelmq.events.length + intelmq.errors.length, key).toBe(synthetic.rows);
        if (FAILING_TYPES.has(key)) expect(intelmq.errors.length, key).toBeGreaterThan(0);
        else expect(intelmq.events.length, key).toBeGreaterThan(synthetic.rows / 3);
        if (overwrite) expect(intelmq.events[0]?.["feed.name"] ?? type.feedName, key).toBe(type.feedName);
        events += intelmq.events.length;
      }
    }
    expect(events).toBeGreaterThan(2 * 15 * (schema.reports.size - FAILING_TYPES.size));
  });

  it("converts values as IntelMQ's conversion functions do", async () => {
    const values = [
      ...new Set([
        ...allCandidateValues(),
        "",
        "0",
        "00",
        "-0",
        " 1 ",
        "٣",
        "1e400",
        "0x10",
        "yes",
        "Y",
        "ENABLED",
        "İ",
        "abc==",
        "ab=c",
        "/x y\nz",
        "a\u00a0b",
        "GET /x\u2028y",
        "cve-1-2",
        "cve-1-2;cve-1-2\n;cve-0-0",
        "2001:db8::1/128",
        "::ffff:192.0.2.1",
        "192.0.2.1%x",
        "1.2.3.4/32",
      ]),
    ];
    const rows: Array<Record<string, string | null>> = [
      { cc_dns: "c2.example", url: "/gate.php", application: "https" },
      { http_host: "host.example", http_url: "POST /a/b?c HTTP/1.1" },
      { hostname: "", ip: "192.0.2.9", url: "x/y z", application: "ftp" },
      { category: "", detail: "the detail" },
      { category: "the category", detail: "d" },
      { category: null },
      {},
    ];
    const cases = Object.keys(CONVERSIONS).flatMap((name) =>
      takesRow(name)
        ? rows.flatMap((row) => values.slice(0, 12).map((value) => ({ convert: name, value, row })))
        : values.map((value) => ({ convert: name, value })),
    );
    const expected = await intelmqConversions(cases);
    for (const [i, c] of cases.entries()) {
      const want = expected[i] as { value?: unknown; exception?: string; nonfinite?: string };
      const label = `${c.convert}(${JSON.stringify(c.value)}${"row" in c ? `, ${JSON.stringify(c.row)}` : ""})`;
      const row = new Map<string, string | null>(
        Object.entries(("row" in c ? c.row : {}) as Record<string, string | null>),
      );
      let got: { value?: unknown; exception?: boolean; nonfinite?: boolean };
      try {
        got = { value: CONVERSIONS[c.convert]?.(c.value, row) };
      } catch (error) {
        got = (error as Error).name === "NonFiniteError" ? { nonfinite: true } : { exception: true };
      }
      if (want.exception !== undefined) expect(got, label).toEqual({ exception: true });
      else if (want.nonfinite !== undefined) expect(got, label).toEqual({ nonfinite: true });
      else expect(got, label).toEqual({ value: want.value });
    }
  });

  it("applies each rule of the schema format as IntelMQ does", async () => {
    const gizmo = [
      "timestamp,ip,serial,variant,kind,gizmo_id,note,port,internal_id,internal_note,future,leftover",
      '2024-05-01 10:00:00,192.0.2.1,SN-1,blue,bogus-kind,g-1,"a, note",8080,id-1,secret,v2,rest',
      "2024-05-01 10:00:01,192.0.2.2,SN-2,,scanner,,,,,0,,",
      "2024-05-01 10:00:02,0.0.0.0,SN-3,red,,,,x,,,,",
    ].join("\n");
    const reports = [
      fileReport(gizmo, "2024-05-01-event_gizmo_notice-de.csv"),
      // Optional columns missing from the header are skipped; a required one missing fails every row.
      fileReport("timestamp,ip,serial\n2024-05-01 10:00:00,192.0.2.3,SN-4", "event_gizmo_notice.csv"),
      fileReport("timestamp,ip,variant\n2024-05-01 10:00:00,192.0.2.3,blue", "event_gizmo_notice.csv"),
      // A column named twice in the header (csv.DictReader keeps the last value).
      fileReport(
        "timestamp,ip,serial,ip,note,note\n2024-05-01 10:00:00,192.0.2.4,SN-5,192.0.2.5,n1,n2",
        "event_gizmo_notice.csv",
      ),
      // Classification from a column through the three scan_exchange_* conversions; no documentation URL.
      fileReport(
        "timestamp,ip,port,status,vendor,product,version,build\n" +
          "2024-05-01 10:00:00,192.0.2.6,443,webshell-found,Acme,Portal,1.2,77\n" +
          "2024-05-01 10:00:00,192.0.2.7,443,outdated,Acme,Portal,1.1,\n" +
          "2024-05-01 10:00:00,192.0.2.8,443,,,,,",
        "scan_mailbox_portal.csv",
      ),
      // Row conversions: the URL from host and path columns, the category or else the detail.
      fileReport(
        "timestamp,ip,url,hostname,application,category,detail,payload,observed\n" +
          "2024-05-01 10:00:00,192.0.2.9,GET /login HTTP/1.1,trap.example,https,,brute,dXNlcg==,2024-05-01T09:00:00Z\n" +
          "2024-05-01 10:00:00,192.0.2.10,/admin,,,ssh,x,plain text,",
        "honeypot_doohickey_event.csv",
      ),
    ];
    const results = await both(reports);
    for (const [i, { petrel, intelmq }] of results.entries()) expect(petrel, `report ${i}`).toEqual(intelmq);
    const [first, second, third] = results[0]?.petrel.events ?? [];
    // The constants replace what variant and kind gave; a known field with a bad value goes to extra
    // under its column, an unknown field to extra under its name; false columns vanish; an unknown
    // conversion keeps the raw value; a required unknown field is dropped.
    expect(first).toMatchObject({
      "classification.identifier": "gizmo",
      "classification.type": "undetermined",
      "extra.kind": "bogus-kind",
      "extra.source.gizmo_id": "g-1",
      "extra.note": "a, note",
      "extra.future": "v2",
      "extra.ip_text": "192.0.2.1",
      "extra.leftover": "rest",
      "source.port": 8080,
    });
    for (const event of [first, second, third]) {
      expect(Object.keys(event ?? {}).filter((k) => /internal|serial/.test(k))).toEqual([]);
    }
    expect(third?.["source.ip"]).toBeUndefined();
    expect(results[0]?.petrel.errors).toHaveLength(1); // port "x" fails convert_int
    expect(results[1]?.petrel.events).toHaveLength(1);
    expect(results[2]?.petrel.errors).toHaveLength(1);
    expect(results[4]?.petrel.events.map((e) => e["classification.identifier"])).toEqual([
      "exchange-server-webshell",
      "vulnerable-exchange-server",
      "vulnerable-exchange-server",
    ]);
    expect(results[4]?.petrel.events[0]?.["feed.documentation"]).toBeUndefined();
    expect(results[5]?.petrel.events.map((e) => [e["source.url"], e["event_description.text"]])).toEqual([
      ["https://trap.example/login", "brute"],
      ["http://192.0.2.10/admin", "ssh"],
    ]);
    expect(results[5]?.petrel.events[0]?.["protocol.transport"]).toBe("tcp");
  });

  it("parses IntelMQ's own Shadowserver test data with IntelMQ's test schema like IntelMQ", async () => {
    // IntelMQ's test schema and data are read from the IntelMQ installation the tests compare against.
    const dir = await intelmqParserDirectory();
    const testSchema = join(dir, "schema.json.test");
    const data = join(dir, "..", "..", "..", "tests", "bots", "parsers", "shadowserver", "testdata");
    const reports = [
      fileReport(readFileSync(join(data, "test_smb.csv"), "utf8"), "2019-01-01-test_smb-test-test.csv"),
      fileReport(readFileSync(join(data, "test_telnet.csv"), "utf8"), "2019-01-01-test_telnet-test-test.csv"),
      // test_afs maps a column to a field that does not exist (the value is dropped with a warning).
      fileReport(
        "timestamp,ip,protocol,port,severity\n2018-08-01T00:00:00+00,127.0.0.1,tcp,7000,critical",
        "2023-10-16-test_afs-test-test.csv",
      ),
      // Garbage where the header should be: the required column is missing, the row is rejected.
      fileReport("adasdasdasdasd\nadasdasdafgf", "2019-01-01-test_smb-test-test.csv"),
    ];
    for (const params of [{}, { overwrite: true }]) {
      const results = await both(reports, params, testSchema);
      for (const { petrel, intelmq } of results) expect(petrel).toEqual(intelmq);
      expect(results[0]?.intelmq.events).toHaveLength(3);
      expect(results[3]?.intelmq.errors).toHaveLength(1);
    }
  });

  it("finds the report type from the file name, or from feedname, as IntelMQ does", async () => {
    const body = `${GADGET_HEADER}\n${GADGET_ROW}\n`;
    const names = [
      "2024-05-01-scan_gadget-de-geo.csv",
      "scan_gadget.csv",
      "2024-05-01-scan_gadget.csv",
      "2024-05-01-scan_gadget-de-geo.csv\n",
      "2024-05-01-scan_gadget-a-b-c.csv",
      "2024-05-01-scan_gadget_x-de.csv", // no such type
      "2024-05-01-scan-gadget.csv", // "scan" is no type
      "2024-05-01-legacy-gadget.csv", // "legacy" neither: that file_name is only reached through feedname
      "2024-05-01-scan_gadget-de.txt", // not .csv
      "2024-05-01-scan_gadget.csv.zip",
      "2024.05.01-scan_gadget.csv",
      "٢٠٢٤-٠٥-٠١-scan_gadget-de.csv", // Python's \d matches any decimal digit
      "2024-05-01-scan_gadget-dé.csv", // and \w any letter
      "",
    ];
    const reports = [...names.map((name) => fileReport(body, name)), fileReport(body)];
    const detected = await both(reports);
    for (const [i, { petrel, intelmq }] of detected.entries()) {
      expect(comparable(petrel), names[i] ?? "no file name").toEqual(comparable(intelmq));
    }
    expect(detected.filter((r) => r.intelmq.exception === undefined)).toHaveLength(7);

    // feedname fixes the type (file names are not looked at); an unknown one falls back to detection.
    for (const params of [
      { feedname: "Open-Gadget-Service" },
      { feedname: "Open-Gadget-Service", overwrite: true },
      { feedname: "scan_gadget" }, // a report type's key, not its feed_name
      { feedname: "No-Such-Report" },
      { overwrite: true },
    ]) {
      const results = await both(
        [
          fileReport(body, "2024-05-01-scan_sprocket-de.csv"),
          fileReport(body),
          fileReport(body, "scan_gadget.csv"),
        ],
        params,
      );
      for (const { petrel, intelmq } of results) expect(comparable(petrel)).toEqual(comparable(intelmq));
    }
    const [fixed] = await petrelParse(
      shadowserver,
      { feedname: "Open-Gadget-Service", overwrite: true, schema_file: TEST_SCHEMA_FILE },
      [fileReport(body)],
    );
    expect(fixed?.events[0]).toMatchObject({
      "feed.name": "Open-Gadget-Service",
      "feed.documentation": "https://reports.example.org/open-gadget",
      "classification.identifier": "open-gadget",
      "protocol.application": "gadget",
      "product.vulnerabilities": "cve-2024-0001",
      "extra.gadget_enabled": true,
    });
  });

  it("picks the later of two report types sharing a file_name or a feed_name, as IntelMQ does", async () => {
    const drone = fileReport(
      "timestamp,ip,infection,cc_ip,cc_dns,url\n2024-05-01 10:00:00,192.0.2.1,wormy,198.51.100.1,c2.example,/gate",
      "2024-05-01-drone_thingamajig-de.csv",
    );
    const sprocket = `timestamp,ip,port,sprocket_size,teeth\n2024-05-01 10:00:00,192.0.2.2,99,1.5,12`;
    const cases: Array<[Record<string, unknown>, Report, string]> = [
      [{ overwrite: true }, drone, "thingamajig"],
      [{ overwrite: true, feedname: "Thingamajig-Drone-V1" }, drone, "thingamajig-v1"],
      [{ overwrite: true }, fileReport(sprocket, "scan_sprocket.csv"), "open-sprocket"],
      [{ overwrite: true }, fileReport(sprocket, "scan6_sprocket.csv"), "open-sprocket-ipv6"],
      [{ overwrite: true, feedname: "Open-Sprocket" }, fileReport(sprocket), "open-sprocket-ipv6"],
      [{ overwrite: true, feedname: "Legacy-Gadget" }, fileReport("ts,addr\n2024-05-01,192.0.2.3"), ""],
    ];
    for (const [params, report, identifier] of cases) {
      const [result] = await both([report], params);
      expect(result?.petrel, JSON.stringify(params)).toEqual(result?.intelmq);
      expect(result?.petrel.events).toHaveLength(1);
      expect(result?.petrel.events[0]?.["classification.identifier"] ?? "").toBe(identifier);
    }
  });

  it("reads CSV quirks as Python's csv module does", async () => {
    const head = "timestamp,ip,port,tag,hostname";
    const bodies = [
      // Quotes inside unquoted cells, text after a closing quote, a doubled quote.
      `${head}\n2024-05-01 10:00:00,192.0.2.1,22,ab"c,"x"y\n2024-05-01 10:00:00,192.0.2.2,22,"a""b",h.example`,
      // A quoted cell over three lines (raw keeps the row's last line only, as IntelMQ's does).
      `${head}\n2024-05-01 10:00:00,192.0.2.3,22,"one\ntwo\r\nthree",h.example\n2024-05-01 10:00:00,192.0.2.4,23,t,h`,
      // A quoted cell left open at the end.
      `${head}\n2024-05-01 10:00:00,192.0.2.5,22,"never closed\nstill`,
      // Carriage returns only, and a line of one space.
      `${head}\r2024-05-01 10:00:00,192.0.2.6,22,t,h\r \r2024-05-01 10:00:00,192.0.2.7,22,t,h`,
      // Whitespace and NULs around and inside.
      `\n\t ${head}\n2024-05-01 10:00:00,192.0.2.8,\u000022,t,h \u0000\n\n  `,
      // Just a header; nothing at all; whitespace only.
      head,
      "",
      " \n\r\n ",
      // A header without some optional columns, with an unknown one and a duplicate column.
      "timestamp,ip,port,ip,surplus\n2024-05-01 10:00:00,192.0.2.9,22,192.0.2.10,x",
      // Required column missing from the header: every row is rejected.
      "timestamp,port\n2024-05-01 10:00:00,22\n2024-05-01 10:00:01,23",
      // Unicode whitespace and line separators inside cells.
      `${head}\n2024-05-01 10:00:00,192.0.2.11,22,a\u2028b\u0085,h\u00a0`,
    ];
    const results = await both(bodies.map((b) => fileReport(b, "2024-05-01-scan_gadget-de.csv")));
    for (const [i, { petrel, intelmq }] of results.entries()) {
      expect(comparable(petrel), bodies[i]).toEqual(comparable(intelmq));
    }
    expect(results[1]?.intelmq.events[0]?.raw).toBe(
      Buffer.from(`"timestamp","ip","port","tag","hostname"\r\nthree",h.example`).toString("base64"),
    );
  });

  it("applies default_fields and copy_collector_provided_fields like IntelMQ", async () => {
    const body = `${GADGET_HEADER}\n${GADGET_ROW}\n`;
    const params = {
      default_fields: { "event_description.text": "from defaults", "classification.identifier": "ignored" },
      copy_collector_provided_fields: ["extra.file_name"],
    };
    const [result] = await both([fileReport(body, "2024-05-01-scan_gadget-de.csv")], params);
    expect(result?.petrel).toEqual(result?.intelmq);
    // IntelMQ's quirk, kept: a copied extra.file_name makes adding the row's extra fail (the key exists).
    expect(result?.petrel.events).toEqual([]);
    expect(result?.petrel.errors).toHaveLength(1);
    const [plain] = await both([fileReport(body, "2024-05-01-scan_gadget-de.csv")], {
      default_fields: params.default_fields,
    });
    expect(plain?.petrel).toEqual(plain?.intelmq);
    expect(plain?.petrel.events[0]?.["event_description.text"]).toBe("from defaults");
  });
});

describe("parsers.shadowserver deviations", () => {
  const savedEnv = process.env[SCHEMA_FILE_ENV];
  afterEach(() => {
    if (savedEnv === undefined) delete process.env[SCHEMA_FILE_ENV];
    else process.env[SCHEMA_FILE_ENV] = savedEnv;
  });
  const gadget = fileReport(`${GADGET_HEADER}\n${GADGET_ROW}`, "scan_gadget.csv");

  it("declares each deviation this file asserts", () => {
    expect(shadowserver.deviations?.map((d) => d.id)).toEqual([
      "schema-file",
      "auto-update-each-start",
      "non-finite-float",
      "integer-range",
    ]);
  });

  it("schema-file: reads schema_file, else $PETREL_SHADOWSERVER_SCHEMA, else the project's .cache", async () => {
    const root = fileURLToPath(new URL("../../", import.meta.url));
    expect(relative(root, PROJECT_SCHEMA_FILE)).toBe(join(".cache", "shadowserver", "schema.json"));
    expect(schemaLocation(undefined, {})).toEqual({ file: PROJECT_SCHEMA_FILE, source: "default" });
    expect(schemaLocation(undefined, { [SCHEMA_FILE_ENV]: "/srv/s.json" })).toEqual({
      file: "/srv/s.json",
      source: "environment",
    });
    expect(schemaLocation("/own.json", { [SCHEMA_FILE_ENV]: "/srv/s.json" }).file).toBe("/own.json");

    process.env[SCHEMA_FILE_ENV] = TEST_SCHEMA_FILE;
    const [fromEnv] = await petrelParse(shadowserver, {}, [gadget]);
    expect(fromEnv?.events).toHaveLength(1);
    const [own] = await petrelParse(shadowserver, { schema_file: TEST_SCHEMA_FILE }, [gadget]);
    expect(own).toEqual(fromEnv);
  });

  it("schema-file: without a schema the bot does not start, and says which command fetches it (IntelMQ refuses too)", async () => {
    const dir = testTempDir("petrel-shadowserver-");
    const missing = join(dir, "no schema here.json");
    await expect(petrelParse(shadowserver, { schema_file: missing }, [])).rejects.toThrow(
      `No Shadowserver schema at ${missing} (the parser's schema_file). Petrel does not bundle Shadowserver's report schema; download it with\n  npx petrelctl shadowserver update-schema -o '${missing}'\nor set the parser's auto_update: true`,
    );
    process.env[SCHEMA_FILE_ENV] = join(dir, "env.json");
    await expect(petrelParse(shadowserver, {}, [])).rejects.toThrow(
      `(named by $${SCHEMA_FILE_ENV}). Petrel does not bundle Shadowserver's report schema; download it with\n  npx petrelctl shadowserver update-schema -o ${dir}/env.json\n`,
    );
    const [intelmq] = await intelmqShadowserver([{ schema: missing, params: {}, report: gadget }]);
    expect(intelmq?.exception).toMatch(/^at start: /);

    const broken = join(dir, "broken.json");
    writeFileSync(broken, JSON.stringify({ _meta: { date_created: "x" }, bad: { feed_name: "Bad" } }));
    await expect(petrelParse(shadowserver, { schema_file: broken }, [])).rejects.toThrow(
      /not a valid Shadowserver schema:\n {2}bad: file_name: [\s\S]*Replace it with\n {2}npx petrelctl shadowserver update-schema -o /,
    );
  });

  describe("auto-update-each-start", () => {
    let url = "";
    let served = "";
    let requests = 0;
    const server = createServer((request, response) => {
      requests++;
      if (request.url === "/schema")
        response.writeHead(200, { "content-type": "application/json" }).end(served);
      else response.writeHead(404).end("not found");
    });
    beforeAll(async () => {
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const remoteDocument = {
      _meta: { date_created: "2030-01-01T00:00:00Z", change_log: [] },
      remote: mineType("remote"),
    };
    const remoteReport = fileReport("timestamp,ip,port\n2024-05-01 10:00:00,192.0.2.1,1", "remote.csv");

    it("uses a valid download and writes it to the schema file; else keeps the file's schema", async () => {
      const dir = testTempDir("petrel-shadowserver-");
      const file = join(dir, "schema.json");
      writeFileSync(file, readFileSync(TEST_SCHEMA_FILE));
      served = JSON.stringify(remoteDocument);
      requests = 0;
      // Without auto_update nothing is downloaded, and the file's schema does not know the type.
      const [local] = await petrelParse(shadowserver, { schema_file: file, schema_url: `${url}/schema` }, [
        remoteReport,
      ]);
      expect(local?.exception).toMatch(/Could not get a config for "remote"/);
      expect(requests).toBe(0);
      const params = { auto_update: true, schema_file: file, schema_url: `${url}/schema` };
      const [remote] = await petrelParse(shadowserver, params, [remoteReport]);
      expect(remote?.events).toHaveLength(1);
      expect(requests).toBe(1);
      expect(readFileSync(file, "utf8")).toBe(formatSchemaDocument(remoteDocument));
      // Every start downloads again.
      await petrelParse(shadowserver, params, []);
      expect(requests).toBe(2);

      // A broken download (not JSON, no _meta, HTTP 404) keeps the file's schema, with a warning.
      writeFileSync(file, readFileSync(TEST_SCHEMA_FILE));
      for (const [body, path] of [
        ["{not json", "/schema"],
        [JSON.stringify({ remote: mineType("remote") }), "/schema"],
        ["", "/elsewhere"],
      ] as const) {
        served = body;
        const broken = { auto_update: true, schema_file: file, schema_url: `${url}${path}` };
        const [out] = await petrelParse(shadowserver, broken, [gadget]);
        expect(out?.events).toHaveLength(1);
        const logged: string[] = [];
        await shadowserver.create(shadowserver.parameters.parse(broken) as never, recordingContext(logged));
        expect(logged.join("\n")).toMatch(
          /could not update the Shadowserver schema; using the schema file's/,
        );
        expect(readFileSync(file, "utf8")).toBe(readFileSync(TEST_SCHEMA_FILE, "utf8"));
      }
    });

    it("fills a missing schema file at start, uses it from memory when it cannot write, fails when it cannot download", async () => {
      const dir = testTempDir("petrel-shadowserver-");
      served = JSON.stringify(remoteDocument);
      const nested = join(dir, "new", "folder", "schema.json");
      const [filled] = await petrelParse(
        shadowserver,
        { auto_update: true, schema_file: nested, schema_url: `${url}/schema` },
        [remoteReport],
      );
      expect(filled?.events).toHaveLength(1);
      expect(readFileSync(nested, "utf8")).toBe(formatSchemaDocument(remoteDocument));

      // Below a regular file no folder can be made: the download is used from memory.
      const blocked = join(nested, "schema.json");
      const params = { auto_update: true, schema_file: blocked, schema_url: `${url}/schema` };
      const logged: string[] = [];
      await shadowserver.create(
        shadowserver.parameters.parse(params) as never,
        recordingContext(logged, "info"),
      );
      expect(logged).toContain("cannot write the schema file; using the downloaded schema from memory");
      const [memory] = await petrelParse(shadowserver, params, [remoteReport]);
      expect(memory?.events).toHaveLength(1);

      await expect(
        petrelParse(shadowserver, { ...params, schema_url: `${url}/elsewhere` }, []),
      ).rejects.toThrow(
        /^No Shadowserver schema at .*\n.*update-schema -o .*\n.*\nauto_update could not download it from http:\S+\/elsewhere either: .*HTTP 404/,
      );
    });
  });

  it("non-finite-float: a float column holding nan or inf fails the row (IntelMQ keeps NaN, which is not JSON)", async () => {
    const [nan, inf] = await intelmqConversions([
      { convert: "convert_float", value: "nan" },
      { convert: "convert_float", value: "-inf" },
    ]);
    expect(nan).toEqual({ nonfinite: "nan" });
    expect(inf).toEqual({ nonfinite: "-inf" });
    const [out] = await petrelParse(shadowserver, { schema_file: TEST_SCHEMA_FILE }, [
      fileReport(
        "timestamp,ip,port,response_ms\n2024-05-01 10:00:00,192.0.2.1,19,nan\n2024-05-01 10:00:00,192.0.2.2,19,2.5",
        "2024-05-01-scan_gadget-de.csv",
      ),
    ]);
    expect(out?.events.map((e) => e["extra.response_ms"])).toEqual([2.5]);
    expect(out?.errors).toHaveLength(1);
  });

  it("integer-range: an integer beyond 2^53 fails the row (IntelMQ keeps Python's big int)", async () => {
    const big = "99999999999999999999";
    const [python] = await intelmqConversions([{ convert: "invalidate_zero", value: big }]);
    expect(python?.value).toBe(1e20);
    const [out] = await petrelParse(shadowserver, { schema_file: TEST_SCHEMA_FILE }, [
      fileReport(`timestamp,ip,port,naics\n2024-05-01 10:00:00,192.0.2.1,445,${big}`, "scan_gadget.csv"),
    ]);
    expect(out?.events).toEqual([]);
    expect(out?.errors).toHaveLength(1);
  });
});

function mineType(name: string) {
  return {
    feed_name: `Feed-${name}`,
    file_name: name,
    required_fields: [
      ["time.source", "timestamp", "add_UTC_to_timestamp"],
      ["source.ip", "ip", "validate_ip"],
    ],
    optional_fields: [["source.port", "port", "convert_int"]],
    constant_fields: { "classification.type": "scanner" },
  };
}

function recordingContext(messages: string[], level = "warn"): BotContext {
  const log = pino(
    { level },
    { write: (line: string) => messages.push(String((JSON.parse(line) as { msg?: string }).msg)) },
  );
  return { ...testContext(), log };
}
