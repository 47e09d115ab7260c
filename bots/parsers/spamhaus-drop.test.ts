// The Spamhaus DROP parser against IntelMQ's own: every list, told by its URL.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type OracleCase,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import spamhausDrop from "./spamhaus-drop.ts";

const MODULE = "intelmq.bots.parsers.spamhaus.parser_drop";
const URL = (file: string) => `https://www.spamhaus.org/drop/${file}`;

const header = (name: string, lastModified: string) => [
  `; Spamhaus ${name} List 2024/05/01 - sample data written for Petrel's tests`,
  `; ${URL("drop.txt")}`,
  `; Last-Modified: ${lastModified}`,
  "; Expires: Thu, 02 May 2024 12:00:00 GMT",
];

const DROP = [
  ...header("DROP", "Wed, 01 May 2024 10:00:00 GMT"),
  "192.0.2.0/24 ; SBL100001",
  "198.51.100.0/23 ; SBL100002",
  "",
  "  203.0.113.0/25;SBL100003  ",
  "203.0.113.128/25 ;",
  "198.51.100.7/24 ; SBL100004",
  "not-a-network ; SBL100005",
  "192.0.2.128/25 without a semicolon",
  "; Last-Modified: sometime last week",
  "192.0.2.64/26 ; SBL100006",
  "; Last-Modified: Thu, 02 May 2024 08:30:00 +0200",
  "192.0.2.32/27 ; SBL100007",
  "; EOF",
].join("\n");

const DROPV6 = [
  ...header("DROPv6", "2024-05-01T10:00:00Z"),
  "2001:db8::/32 ; SBL200001",
  "2001:DB8:1::/48 ; SBL200002",
  "2001:db8:2::1/48 ; SBL200003",
].join("\r\n");

const ASNDROP = [
  ...header("ASN-DROP", "Wed, 01 May 2024 10:00:00 GMT"),
  "AS64500 ; DE | EXAMPLE-AS",
  "AS64501 ; | NO-COUNTRY-NET",
  "AS64502;US|SPAMMY, Inc.",
  "64503 ; NL | PLAIN-NUMBER",
  "AS64504 ; Germany | LONG-COUNTRY",
  "ASX ; DE | BROKEN",
  "AS64505 ; DE",
].join("\n");

const NO_LAST_MODIFIED = "; Spamhaus EDROP List\n192.0.2.0/24 ; SBL300001\n";

const CASES: Array<{ name: string; url: string; raw: string }> = [
  { name: "DROP", url: URL("drop.txt"), raw: DROP },
  { name: "EDROP without Last-Modified", url: URL("edrop.txt"), raw: NO_LAST_MODIFIED },
  { name: "DROP lasso", url: URL("drop.lasso"), raw: DROP },
  { name: "DROPv6", url: URL("dropv6.txt"), raw: DROPV6 },
  { name: "ASN-DROP", url: URL("asndrop.txt"), raw: ASNDROP },
  { name: "an unknown list", url: "https://mirror.example.org/drop.txt", raw: DROP },
  { name: "http instead of https", url: "http://www.spamhaus.org/drop/drop.txt", raw: DROP },
];

const JSON_DROP = [
  '{"cidr":"192.0.2.0/24","sblid":"SBL100001","rir":"ripencc"}',
  '{"cidr":"198.51.100.0/23","sblid":"SBL100002","rir":"arin"}',
  '{"cidr":"not-a-network","sblid":"SBL100003","rir":"apnic"}',
  "not json",
  '{"type":"metadata","timestamp":1714557600,"size":3,"records":3,"copyright":"sample","terms":"none"}',
].join("\n");
const JSON_ASNDROP = [
  '{"asn":64500,"rir":"ripencc","domain":"example.com","cc":"DE","asname":"EXAMPLE-AS"}',
  '{"asn":64501,"rir":"lacnic","domain":"","cc":"BR","asname":"OTHER-AS"}',
  '{"type":"metadata","timestamp":1714557600,"size":2,"records":2,"copyright":"sample","terms":"none"}',
].join("\n");

const ODD_DATE = "; Last-Modified: 2024May\n192.0.2.0/24 ; SBL100001\n";

describe("parsers.spamhaus.drop against IntelMQ", () => {
  const report = (raw: string, url: string) => testReport(raw, { "feed.url": url });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    const cases: OracleCase[] = CASES.map((c) => ({ params: {}, report: report(c.raw, c.url), fresh: true }));
    // One bot for two reports: the second has no Last-Modified of its own.
    cases.push({ params: {}, report: report(DROP, URL("drop.txt")) });
    cases.push({ params: {}, report: report(NO_LAST_MODIFIED, URL("edrop.txt")) });
    cases.push({ params: {}, report: report(JSON_DROP, URL("drop_v4.json")), fresh: true });
    cases.push({ params: {}, report: report(ODD_DATE, URL("drop.txt")), fresh: true });
    intelmq = await intelmqParse(MODULE, cases);
  });

  // A dead letter ends with its line; the comments above it differ (dead-letter-context-so-far).
  const lastLines = (o: ParseOutcome | undefined) => ({
    events: o?.events,
    errors: o?.errors.map((e) => e.slice(e.lastIndexOf("\n") + 1)),
  });

  it("gives IntelMQ's events and dead letters for every list", async () => {
    for (const [i, c] of CASES.entries()) {
      const [petrel] = await petrelParse(spamhausDrop, {}, [report(c.raw, c.url)]);
      expect(lastLines(petrel), c.name).toEqual(lastLines(intelmq[i]));
    }
    const [drop, edrop, , v6, asn, unknown] = intelmq;
    expect(drop?.events).toHaveLength(6);
    expect(lastLines(drop).errors).toEqual([
      "not-a-network ; SBL100005",
      "192.0.2.128/25 without a semicolon",
      "; Last-Modified: sometime last week",
      "192.0.2.64/26 ; SBL100006",
    ]);
    expect(drop?.events.map((e) => e["time.source"])).toContain("2024-05-02T06:30:00+00:00");
    expect(edrop?.events[0]?.["time.source"]).toBeUndefined();
    expect(v6?.events).toHaveLength(3);
    expect(asn?.events).toHaveLength(4);
    expect(unknown?.events).toEqual([]);
  });

  it(`${declaredDeviation(spamhausDrop, "last-modified-per-report")}: each report has its own Last-Modified`, async () => {
    const [petrel] = await petrelParse(spamhausDrop, {}, [
      report(DROP, URL("drop.txt")),
      report(NO_LAST_MODIFIED, URL("edrop.txt")),
    ]).then((outcomes) => outcomes.slice(1));
    expect(petrel?.events[0]?.["time.source"]).toBeUndefined();
    const intelmqSecond = intelmq[CASES.length + 1];
    expect(intelmqSecond?.events[0]?.["time.source"]).toBe("2024-05-02T06:30:00+00:00");
    const { "time.source": _, ...rest } = intelmqSecond?.events[0] ?? {};
    expect(petrel?.events[0]).toEqual(rest);
  });

  it(`${declaredDeviation(spamhausDrop, "dead-letter-context-so-far")}: a dead letter has the comments before the line`, async () => {
    const [petrel] = await petrelParse(spamhausDrop, {}, [report(DROP, URL("drop.txt"))]);
    const lines = DROP.split("\n");
    const commentsBefore = (line: string) =>
      lines.slice(0, lines.indexOf(line)).filter((l) => l.startsWith(";"));
    const lastModified = "; Last-Modified: sometime last week";
    expect(petrel?.errors).toEqual([
      [...commentsBefore("not-a-network ; SBL100005"), "not-a-network ; SBL100005"].join("\n"),
      [...commentsBefore("192.0.2.128/25 without a semicolon"), "192.0.2.128/25 without a semicolon"].join(
        "\n",
      ),
      // IntelMQ too writes a failed comment line twice: among the comments, and as the line.
      [...commentsBefore(lastModified), lastModified, lastModified].join("\n"),
      [...commentsBefore("192.0.2.64/26 ; SBL100006"), "192.0.2.64/26 ; SBL100006"].join("\n"),
    ]);
    const allComments = lines.filter((l) => l.startsWith(";"));
    expect(intelmq[0]?.errors).toEqual([
      [...allComments, "not-a-network ; SBL100005"].join("\n"),
      [...allComments, "192.0.2.128/25 without a semicolon"].join("\n"),
      [...allComments, lastModified].join("\n"),
      [...allComments, "192.0.2.64/26 ; SBL100006"].join("\n"),
    ]);
  });

  it(`${declaredDeviation(spamhausDrop, "strict-date-numbers")}: a date dateutil's strict parser refuses for its numbers is read`, async () => {
    const [petrel] = await petrelParse(spamhausDrop, {}, [report(ODD_DATE, URL("drop.txt"))]);
    const odd = intelmq[CASES.length + 3];
    expect(odd?.errors).toEqual(["; Last-Modified: 2024May\n; Last-Modified: 2024May"]);
    expect(petrel?.errors).toEqual([]);
    expect(petrel?.events).toEqual(odd?.events);
  });

  it(`${declaredDeviation(spamhausDrop, "json-lists")}: the JSON lists give the text lists' events`, async () => {
    const [v4, asn] = await petrelParse(spamhausDrop, {}, [
      report(JSON_DROP, URL("drop_v4.json")),
      report(JSON_ASNDROP, URL("asndrop.json")),
    ]);
    expect(
      v4?.events.map((e) => [
        e["source.network"],
        e["extra.blocklist"],
        e["source.registry"],
        e["time.source"],
      ]),
    ).toEqual([
      ["192.0.2.0/24", "SBL100001", "RIPE", "2024-05-01T10:00:00+00:00"],
      ["198.51.100.0/23", "SBL100002", "ARIN", "2024-05-01T10:00:00+00:00"],
    ]);
    expect(v4?.errors).toEqual(['{"cidr":"not-a-network","sblid":"SBL100003","rir":"apnic"}', "not json"]);
    expect(
      asn?.events.map((e) => [
        e["source.asn"],
        e["source.as_name"],
        e["source.geolocation.cc"],
        e["extra.domain"],
      ]),
    ).toEqual([
      [64500, "EXAMPLE-AS", "DE", "example.com"],
      [64501, "OTHER-AS", "BR", undefined],
    ]);
    // IntelMQ does not know these lists.
    const json = intelmq[CASES.length + 2];
    expect(json?.events).toEqual([]);
    expect(json?.errors).toEqual(JSON_DROP.split("\n"));
  });
});
