// The OpenPhish public feed parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
  withRaw,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import openphish from "./openphish.ts";

const MODULE = "intelmq.bots.parsers.openphish.parser";
const FEED_URL = "https://openphish.com/feed.txt";

const GOOD = [
  "https://login.example.com/account/verify.php",
  "  http://192.0.2.15/paypal/  ",
  "",
  "http://[2001:db8::15]:8080/bank/login\t",
  "hxxps://phish.example.net/office365/?id=42",
  "https://bücher.example/anmelden",
  "http://example.org/path with spaces",
  "\r",
  "ftp://files.example.org/login.html",
  "//no-scheme.example.org/login",
];
const BAD = ["no-scheme.example.org/login", "# a comment is a bad URL here"];

const clean = GOOD.join("\r\n");
const full = [...GOOD.slice(0, 3), BAD[0], ...GOOD.slice(3), BAD[1], ""].join("\n");

describe("parsers.openphish against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": FEED_URL });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      { params: {}, report: report(clean) },
      { params: {}, report: report(full) },
      { params: { default_fields: { "extra.feed": "openphish" } }, report: report(clean) },
      { params: {}, report: report("\n  \r\n\t\n") },
    ]);
  });

  it("gives IntelMQ's events", async () => {
    const [petrel] = await petrelParse(openphish, {}, [report(clean)]);
    expect(petrel).toEqual(intelmq[0]);
    expect(petrel?.events).toHaveLength(8);
    expect(petrel?.events[3]?.["source.url"]).toBe("https://phish.example.net/office365/?id=42");
  });

  it("gives nothing for a report of blank lines", async () => {
    const [petrel] = await petrelParse(openphish, {}, [report("\n  \r\n\t\n")]);
    expect(petrel).toEqual({ events: [], errors: [] });
    expect(intelmq[3]).toEqual({ events: [], errors: [] });
  });

  it(`${declaredDeviation(openphish, "bad-record-dead-lettered")}: a bad line is dead-lettered, IntelMQ fails the report`, async () => {
    const [petrel] = await petrelParse(openphish, {}, [report(full)]);
    expect(petrel?.events).toEqual(intelmq[0]?.events);
    expect(petrel?.errors).toEqual(BAD);
    expect(intelmq[1]?.exception).toMatch(/InvalidValue/);
    expect(intelmq[1]?.sentBefore?.events).toEqual(intelmq[0]?.events.slice(0, 2));
  });

  it(`${declaredDeviation(openphish, "default-fields-applied")}: default_fields reach the events`, async () => {
    const params = { default_fields: { "extra.feed": "openphish" } };
    const [petrel] = await petrelParse(openphish, params, [report(clean)]);
    expect(petrel?.events.map((e) => e["extra.feed"])).toEqual(
      GOOD.filter((l) => l.trim()).map(() => "openphish"),
    );
    expect(intelmq[2]?.events.some((e) => "extra.feed" in e)).toBe(false);
    const withoutDefaults = petrel?.events.map(({ "extra.feed": _, ...rest }) => rest);
    expect(withoutDefaults).toEqual(intelmq[2]?.events);
  });

  it("sets raw to the stripped line", async () => {
    const [petrel] = await petrelParse(openphish, {}, [withRaw(report("x"), "  http://192.0.2.1/x  \n")]);
    expect(Buffer.from(String(petrel?.events[0]?.raw), "base64").toString()).toBe("http://192.0.2.1/x");
  });
});
