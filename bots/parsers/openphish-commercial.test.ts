// The OpenPhish premium feed parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import openphishCommercial from "./openphish-commercial.ts";

const MODULE = "intelmq.bots.parsers.openphish.parser_commercial";
const FEED_URL = "https://openphish.com/prvt-intell/";

const entry = (fields: Record<string, unknown>) => ({
  url: "https://login.example.com/account/verify",
  host: "login.example.com",
  ip: "192.0.2.20",
  asn: "AS64500",
  asn_name: "EXAMPLE-NET",
  country_code: "US",
  country_name: "United States",
  isotime: "2024-05-01T09:58:12Z",
  discover_time: "01-05-2024 09:58:12 UTC",
  brand: "PayPal",
  emails: ["phish@example.com"],
  family_id: "ab12cd",
  page_language: "EN",
  phishing_kit: "paypal_kit.zip",
  screenshot: "https://cdn.example.com/shots/1.png",
  sector: "Finance",
  ssl_cert_issued_by: "Example CA",
  ssl_cert_issued_to: "login.example.com",
  ssl_cert_serial: "01:02:03",
  tld: "com",
  ...fields,
});

const LINES = [
  entry({}),
  entry({ isotime: null, ip: "2001:DB8::20", url: "hxxp://[2001:db8::20]/login" }),
  entry({ isotime: "", discover_time: "2024-05-01 11:00:00+02:00" }),
  entry({ isotime: "yesterday at noon", host: "not a host!", country_code: "USA" }),
  entry({ isotime: "2024-05-01 09:58:12 CEST", asn: "AS", screenshot: "shots/1.png" }),
  entry({ asn: "ASxyz", asn_name: "ÜMLAUT-NETZ", brand: "", emails: [], tld: null, sector: "N/A" }),
  entry({ asn: "AS4294967296", country_name: "", page_language: "-" }),
  entry({ asn: 64500 }),
  entry({ ip: "192.0.2.300" }),
  entry({ url: "login.example.com/no-scheme" }),
  {},
  [1, 2],
  entry({ isotime: 1714557492 }),
  { url: "https://minimal.example.net/" },
  entry({ url: "https://bücher.example/login", host: "bücher.example", extra: "ignored" }),
].map((e) => JSON.stringify(e));

const NOT_JSON = '{"url": "https://broken.example.com/"';
const clean = LINES.join("\n");
const full = [...LINES.slice(0, 4), "", NOT_JSON, ...LINES.slice(4)].join("\r\n");

describe("parsers.openphish.commercial against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": FEED_URL });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      { params: {}, report: report(clean) },
      { params: {}, report: report(full) },
      { params: {}, report: report(JSON.stringify(entry({ isotime: "2024May" }))) },
    ]);
  });

  it("gives IntelMQ's events and fails the same lines", async () => {
    const [petrel] = await petrelParse(openphishCommercial, {}, [report(clean)]);
    expect(petrel?.events).toEqual(intelmq[0]?.events);
    expect(petrel?.events).toHaveLength(9);
    expect(petrel?.errors).toEqual([LINES[7], LINES[8], LINES[9], LINES[11], LINES[12]]);
    // The samples cover both time fields, a time the strict date parser refuses, and no time.
    expect(petrel?.events.map((e) => e["time.source"])).toEqual([
      "2024-05-01T09:58:12+00:00",
      "2024-01-05T09:58:12+00:00",
      "2024-05-01T09:00:00+00:00",
      undefined,
      "2024-05-01T09:58:12+00:00",
      "2024-05-01T09:58:12+00:00",
      "2024-05-01T09:58:12+00:00",
      undefined,
      "2024-05-01T09:58:12+00:00",
    ]);
  });

  it(`${declaredDeviation(openphishCommercial, "dead-letter-raw-line")}: a failed line is dead-lettered as itself`, async () => {
    const [petrel] = await petrelParse(openphishCommercial, {}, [report(clean)]);
    expect(intelmq[0]?.errors.map((e) => JSON.parse(e))).toEqual(petrel?.errors.map((line) => [line]));
  });

  it(`${declaredDeviation(openphishCommercial, "strict-date-numbers")}: a date dateutil's strict parser refuses for its numbers is read`, async () => {
    const [petrel] = await petrelParse(openphishCommercial, {}, [
      report(JSON.stringify(entry({ isotime: "2024May" }))),
    ]);
    expect(intelmq[2]?.events[0]?.["time.source"]).toBeUndefined();
    expect(petrel?.events[0]?.["time.source"]).toMatch(/^\d{4}-05-\d\dT/);
    const { "time.source": _, ...rest } = petrel?.events[0] ?? {};
    expect(rest).toEqual(intelmq[2]?.events[0]);
  });

  it(`${declaredDeviation(openphishCommercial, "bad-record-dead-lettered")}: a line that is not JSON is dead-lettered, IntelMQ fails the report`, async () => {
    const [petrel] = await petrelParse(openphishCommercial, {}, [report(full)]);
    expect(petrel?.events).toEqual(intelmq[0]?.events);
    expect(petrel?.errors).toEqual([NOT_JSON, LINES[7], LINES[8], LINES[9], LINES[11], LINES[12]]);
    expect(intelmq[1]?.exception).toMatch(/JSONDecodeError/);
  });
});
