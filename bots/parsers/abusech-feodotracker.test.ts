// The Feodo Tracker parser against IntelMQ's own.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { intelmqParse, petrelParse, testReport } from "../../bot-runtime/test-support/parser-oracle.ts";
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

describe("parsers.abusech.feodotracker against IntelMQ", () => {
  it("gives IntelMQ's events and rejects the same elements", async () => {
    const report = testReport(JSON.stringify(ELEMENTS, null, 2), { "feed.url": FEED_URL });
    const [petrel] = await petrelParse(feodotracker, {}, [report]);
    const [intelmq] = await intelmqParse(MODULE, [{ params: {}, report }]);
    expect(petrel?.events).toEqual(intelmq?.events);
    expect(petrel?.events).toHaveLength(7);
    // IntelMQ dead-letters "[null]" for each (it has no current line for JSON); Petrel the element.
    expect(intelmq?.errors).toEqual(["[null]", "[null]"]);
    expect(petrel?.errors.map((e) => JSON.parse(e)[0])).toEqual([ELEMENTS[5], ELEMENTS[10]]);
  });

  it("parses an empty list to nothing", async () => {
    const [petrel] = await petrelParse(feodotracker, {}, [testReport("[]", { "feed.url": FEED_URL })]);
    expect(petrel).toEqual({ events: [], errors: [] });
  });

  it("parses the demo's sample blocklist like IntelMQ", async () => {
    const text = readFileSync(
      new URL("../../examples/feeds/feodotracker-ipblocklist.json", import.meta.url),
      "utf8",
    );
    const report = testReport(text, { "feed.url": FEED_URL });
    const [petrel] = await petrelParse(feodotracker, {}, [report]);
    const [intelmq] = await intelmqParse(MODULE, [{ params: {}, report }]);
    expect(petrel?.events).toEqual(intelmq?.events);
    expect(petrel?.events).toHaveLength(JSON.parse(text).length);
    expect(petrel?.errors).toEqual([]);
  });
});
