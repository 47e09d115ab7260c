// The PhishTank parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import phishtank from "./phishtank.ts";

const MODULE = "intelmq.bots.parsers.phishtank.parser";
const FEED_URL = "https://data.phishtank.com/data/KEY/online-valid.json";

const entry = (fields: Record<string, unknown>) => ({
  phish_id: 8412345,
  url: "https://secure-login.example.com/signin",
  phish_detail_url: "http://www.phishtank.com/phish_detail.php?phish_id=8412345",
  submission_time: "2024-05-01T09:12:55+00:00",
  verified: "yes",
  verification_time: "2024-05-01T09:40:01+00:00",
  online: "yes",
  details: [
    {
      ip_address: "192.0.2.33",
      cidr_block: "192.0.2.0/24",
      announcing_network: "64500",
      rir: "ripencc",
      country: "DE",
      detail_time: "2024-05-01T09:15:00+00:00",
    },
  ],
  target: "Example Bank",
  ...fields,
});

const ELEMENTS: unknown[] = [
  entry({}),
  entry({ submission_time: "2024-05-01 11:12:55 +0200", details: [] }),
  entry({
    submission_time: "a while ago",
    details: [{ ip_address: "2001:DB8::33", cidr_block: "2001:db8::/32", announcing_network: "AS64501" }],
  }),
  entry({ submission_time: "", target: "Other", verified: true, phish_id: "8412346" }),
  entry({ details: [{ ip_address: "not-an-ip", cidr_block: "192.0.2.1/24", country: "Germany" }, {}] }),
  entry({ details: "not a list", phish_detail_url: "phish_detail.php", target: "" }),
  entry({ url: "not a url" }),
  entry({ details: ["not an object"] }),
  entry({ submission_time: 1714554775 }),
  {},
  null,
  "a string",
  entry({ url: "hxxp://bücher.example/konto", submission_time: "2024-05-01T09:12:55.123456Z" }),
];

describe("parsers.phishtank against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": FEED_URL });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      { params: {}, report: report(JSON.stringify(ELEMENTS, null, 1)) },
      { params: {}, report: report("[]") },
      { params: {}, report: report(JSON.stringify([entry({ submission_time: "2024May" })])) },
    ]);
  });

  it("gives IntelMQ's events and fails the same elements", async () => {
    const [petrel] = await petrelParse(phishtank, {}, [report(JSON.stringify(ELEMENTS, null, 1))]);
    expect(petrel?.events).toEqual(intelmq[0]?.events);
    expect(petrel?.events).toHaveLength(7);
    expect(petrel?.errors).toHaveLength(intelmq[0]?.errors.length ?? -1);
    expect(petrel?.events[2]?.["time.source"]).toBeUndefined();
  });

  it(`${declaredDeviation(phishtank, "dead-letter-keeps-element")}: a failed element is dead-lettered as itself`, async () => {
    const [petrel] = await petrelParse(phishtank, {}, [report(JSON.stringify(ELEMENTS))]);
    expect(intelmq[0]?.errors).toEqual(["[null]", "[null]", "[null]", "[null]"]);
    expect(petrel?.errors.map((e) => JSON.parse(e)[0])).toEqual([
      ELEMENTS[6],
      ELEMENTS[7],
      ELEMENTS[8],
      ELEMENTS[11],
    ]);
  });

  it(`${declaredDeviation(phishtank, "strict-date-numbers")}: a date dateutil's strict parser refuses for its numbers is read`, async () => {
    const [petrel] = await petrelParse(phishtank, {}, [
      report(JSON.stringify([entry({ submission_time: "2024May" })])),
    ]);
    expect(intelmq[2]?.events[0]?.["time.source"]).toBeUndefined();
    expect(petrel?.events[0]?.["time.source"]).toMatch(/^\d{4}-05-\d\dT/);
    const { "time.source": _, ...rest } = petrel?.events[0] ?? {};
    expect(rest).toEqual(intelmq[2]?.events[0]);
  });

  it("gives nothing for an empty list", async () => {
    const [petrel] = await petrelParse(phishtank, {}, [report("[]")]);
    expect(petrel).toEqual(intelmq[1]);
    expect(petrel).toEqual({ events: [], errors: [] });
  });
});
