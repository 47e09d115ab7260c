// The Feodo Tracker parser against IntelMQ's own.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import feodotracker from "./abusech-feodotracker.ts";

const MODULE = "intelmq.bots.parsers.abusech.parser_feodotracker";
const FEED_URL = "https://feodotracker.abuse.ch/downloads/ipblocklist.json";

const entry = (fields: Record<string, unknown>) => ({
  ip_address: "192.0.2.10",
  port: 443,
  status: "online",
  hostname: "c2.example.com",
  as_number: 64500,
  as_name: "EXAMPLE-AS",
  country: "DE",
  first_seen: "2024-04-28 13:01:05",
  last_online: "2024-05-01",
  malware: "QakBot",
  ...fields,
});

const ELEMENTS: unknown[] = [
  entry({}),
  entry({ ip_address: "2001:db8::c2", port: "8080", first_seen: null, last_online: "2024-04-30" }),
  entry({ first_seen: "", last_online: null, hostname: null, status: "offline" }),
  entry({ first_seen: "28.04.2024", country: "Germany", as_number: "AS64500", malware: "" }),
  entry({ first_seen: null, last_online: "30/04/2024", as_name: "ÜMLAUT-NET" }),
  entry({ ip_address: "198.51.100.300" }),
  entry({ port: 70000, ip_address: "192.0.2.11" }),
  {},
  null,
  entry({ ip_address: "203.0.113.5", first_seen: "2024-04-28 13:01:05 ", malware: "Emotet" }),
  "not an object",
];

const DEMO = readFileSync(
  new URL("../../examples/feeds/feodotracker-ipblocklist.json", import.meta.url),
  "utf8",
);

describe("parsers.abusech.feodotracker against IntelMQ", () => {
  const samples = () => testReport(JSON.stringify(ELEMENTS, null, 2), { "feed.url": FEED_URL });
  const demo = () => testReport(DEMO, { "feed.url": FEED_URL });
  // One IntelMQ process: the samples, then the demo's sample blocklist.
  let outcomes: ParseOutcome[] = [];
  beforeAll(async () => {
    outcomes = await intelmqParse(MODULE, [
      { params: {}, report: samples() },
      { params: {}, report: demo() },
    ]);
  });

  it("gives IntelMQ's events and rejects the same elements", async () => {
    const [petrel] = await petrelParse(feodotracker, {}, [samples()]);
    const intelmq = outcomes[0];
    expect(petrel?.events).toEqual(intelmq?.events);
    expect(petrel?.events).toHaveLength(7);
    // IntelMQ dead-letters "[null]" for each (it has no current line for JSON); Petrel the element.
    expect(declaredDeviation(feodotracker, "dead-letter-keeps-element")).toBeTruthy();
    expect(intelmq?.errors).toEqual(["[null]", "[null]"]);
    expect(petrel?.errors.map((e) => JSON.parse(e)[0])).toEqual([ELEMENTS[5], ELEMENTS[10]]);
  });

  it("parses an empty list to nothing", async () => {
    const [petrel] = await petrelParse(feodotracker, {}, [testReport("[]", { "feed.url": FEED_URL })]);
    expect(petrel).toEqual({ events: [], errors: [] });
  });

  it("parses the demo's sample blocklist like IntelMQ", async () => {
    const [petrel] = await petrelParse(feodotracker, {}, [demo()]);
    expect(petrel?.events).toEqual(outcomes[1]?.events);
    expect(petrel?.events).toHaveLength(JSON.parse(DEMO).length);
    expect(petrel?.errors).toEqual([]);
  });
});
