// The Team Cymru full bogons parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import bogons from "./cymru-full-bogons.ts";

const MODULE = "intelmq.bots.parsers.cymru.parser_full_bogons";

const V4 = [
  "# last updated 1714550400 (Wed May  1 08:00:00 2024 GMT)",
  "0.0.0.0/8",
  "10.0.0.0/8",
  "  100.64.0.0/10  ",
  "",
  "192.0.2.0/24",
  "192.0.2.1",
  "# a comment",
  "// another comment",
  "203.0.113.0/24",
].join("\n");
const V6 = [
  "# last updated 1714550400 (2024-05-01T08:00:00+02:00)",
  "2001:db8::/32",
  "2001:DB8:1::/48",
  "2001:db8::1",
  "3ffe::/16",
].join("\r\n");

const CASES: Array<{ name: string; raw: string; url: string }> = [
  { name: "IPv4", raw: V4, url: "https://www.team-cymru.org/Services/Bogons/fullbogons-ipv4.txt" },
  { name: "IPv6 with CRLF", raw: V6, url: "https://www.team-cymru.org/Services/Bogons/fullbogons-ipv6.txt" },
  { name: "leading blank lines", raw: `\n\n  ${V4}\n\n`, url: "https://example.org/bogons.txt" },
  {
    name: "header only",
    raw: "# last updated 1714550400 (Wed May  1 08:00:00 2024 GMT)\n",
    url: "https://example.org/b",
  },
  { name: "one line", raw: "# (2024-05-01 08:00:00)x", url: "https://example.org/b" },
  { name: "blanks", raw: " \n\t\n", url: "https://example.org/b" },
  { name: "no date in the header", raw: "# last updated never\n192.0.2.0/24", url: "https://example.org/b" },
];

const ODD_DATE = "# last updated (2024May)\n192.0.2.0/24\n";
const WITH_BAD = `${V4}\nnot-a-network\n198.51.100.0/33\n198.51.100.0/24`;

describe("parsers.cymru.full_bogons against IntelMQ", () => {
  const report = (raw: string, url = "https://example.org/bogons.txt") =>
    testReport(raw, { "feed.url": url });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      ...CASES.map((c) => ({ params: {}, report: report(c.raw, c.url) })),
      { params: {}, report: report(WITH_BAD) },
      { params: {}, report: report(ODD_DATE) },
    ]);
  });

  it("gives IntelMQ's events for both lists and odd reports", async () => {
    for (const [i, c] of CASES.entries()) {
      const [petrel] = await petrelParse(bogons, {}, [report(c.raw, c.url)]);
      if (intelmq[i]?.exception) {
        expect(petrel?.exception, c.name).toBeDefined();
        expect(petrel?.events, c.name).toEqual(intelmq[i]?.sentBefore?.events);
      } else {
        expect(petrel, c.name).toEqual(intelmq[i]);
      }
    }
    expect(intelmq[0]?.events).toHaveLength(6);
    expect(intelmq[0]?.events[0]?.["time.source"]).toBe("2024-05-01T08:00:00+00:00");
    expect(intelmq[1]?.events[0]?.["time.source"]).toBe("2024-05-01T06:00:00+00:00");
    expect(intelmq[6]?.exception).toMatch(/ParserError/);
  });

  it(`${declaredDeviation(bogons, "strict-date-numbers")}: a date dateutil's strict parser refuses for its numbers is read`, async () => {
    const [petrel] = await petrelParse(bogons, {}, [report(ODD_DATE)]);
    expect(intelmq[CASES.length + 1]?.exception).toMatch(/ParserError/);
    expect(petrel?.events[0]?.["time.source"]).toMatch(/^\d{4}-05-\d\dT/);
  });

  it(`${declaredDeviation(bogons, "bad-record-dead-lettered")}: a bad line is dead-lettered, IntelMQ fails the report after the rest`, async () => {
    const [petrel] = await petrelParse(bogons, {}, [report(WITH_BAD)]);
    const withBad = intelmq[CASES.length];
    expect(withBad?.exception).toMatch(/ValueError/);
    expect(petrel?.events).toEqual(withBad?.sentBefore?.events);
    const header = V4.split("\n")[0];
    expect(petrel?.errors).toEqual([`${header}\nnot-a-network`, `${header}\n198.51.100.0/33`]);
  });
});
