// The IntelMQ JSON parser against IntelMQ's own: one event, lines, a list.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import jsonParser from "./json.ts";

const MODULE = "intelmq.bots.parsers.json.parser";

const EVENTS: Record<string, unknown>[] = [
  {
    __type: "Event",
    "source.ip": "192.0.2.70",
    "classification.type": "scanner",
    "time.source": "2024-05-01T08:00:00+00:00",
    "extra.note": "as written",
  },
  {
    "source.ip": "  2001:DB8::70 ",
    "source.fqdn": "Host.Example.COM.",
    "time.source": "2024-05-01 10:00 +0200",
  },
  {
    "source.url": "hxxp://evil.example.com/x",
    extra: { nested: { a: [1, 2] }, empty: "" },
    "feed.name": "Overridden",
  },
  {
    "source.ip": "192.0.2.71",
    raw: "b3JpZ2luYWwgbGluZQ==",
    "classification.taxonomy": "Malicious Code",
    "source.port": "443",
  },
  { __type: "Report", "feed.name": "Report Feed", "time.observation": "2024-04-30T00:00:00+00:00" },
  {
    "classification.type": "botnet drone",
    "malware.name": "Mirai",
    comment: "-",
    "event_description.text": "",
  },
];
const BAD = [
  "not json",
  '{"source.ip": "192.0.2.300"}',
  '{"no.such.field": 1}',
  '["a list"]',
  '{"__type": "Report", "source.ip": "192.0.2.72"}',
  "",
];

// With multiple_events, an element that has a raw fails (both here and in IntelMQ).
const WITHOUT_RAW = EVENTS.filter((e) => !("raw" in e));

const line = (e: unknown) => JSON.stringify(e);
const lines = EVENTS.map(line).join("\n");
const linesWithBad = [...EVENTS.slice(0, 2).map(line), ...BAD, ...EVENTS.slice(2).map(line)].join("\r\n");

describe("parsers.json against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": "https://feed.example.com/events.json" });
  let intelmq: ParseOutcome[] = [];
  const SINGLE = EVENTS.map((e) => ({ params: {}, report: report(JSON.stringify(e, null, 2)) }));
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      ...SINGLE,
      { params: { splitlines: true }, report: report(lines) },
      { params: { multiple_events: true }, report: report(JSON.stringify(WITHOUT_RAW)) },
      { params: { splitlines: true }, report: report(linesWithBad) },
      {
        params: { multiple_events: true },
        report: report(JSON.stringify([EVENTS[0], { raw: "eA==" }, EVENTS[1]])),
      },
      { params: {}, report: report(BAD[1] as string) },
      {
        params: { splitlines: true, default_fields: { "extra.via": "json", tlp: "green" } },
        report: report(lines),
      },
      { params: { splitlines: true, multiple_events: true }, report: report(lines) },
    ]);
  });

  it("gives IntelMQ's event for a report of one event", async () => {
    for (const [i, c] of SINGLE.entries()) {
      const [petrel] = await petrelParse(jsonParser, {}, [c.report]);
      expect(petrel, `event ${i}`).toEqual(intelmq[i]);
    }
    expect(intelmq[0]?.events[0]?.["extra.note"]).toBe("as written");
  });

  it("gives IntelMQ's events with splitlines and multiple_events", async () => {
    const [split] = await petrelParse(jsonParser, { splitlines: true }, [report(lines)]);
    expect(split).toEqual(intelmq[SINGLE.length]);
    const [multiple] = await petrelParse(jsonParser, { multiple_events: true }, [
      report(JSON.stringify(WITHOUT_RAW)),
    ]);
    expect(multiple).toEqual(intelmq[SINGLE.length + 1]);
    expect(multiple?.events).toHaveLength(WITHOUT_RAW.length);
  });

  it(`${declaredDeviation(jsonParser, "bad-record-dead-lettered")}: bad lines and elements are dead-lettered, IntelMQ fails the report`, async () => {
    const [split] = await petrelParse(jsonParser, { splitlines: true }, [report(linesWithBad)]);
    expect(split?.events).toEqual(intelmq[SINGLE.length]?.events);
    expect(split?.errors).toEqual(BAD);
    expect(intelmq[SINGLE.length + 2]?.exception).toBeDefined();
    expect(intelmq[SINGLE.length + 2]?.sentBefore?.events).toEqual(
      intelmq[SINGLE.length]?.events.slice(0, 2),
    );

    const withRaw = [EVENTS[0], { raw: "eA==" }, EVENTS[1]];
    const [multiple] = await petrelParse(jsonParser, { multiple_events: true }, [
      report(JSON.stringify(withRaw)),
    ]);
    expect(multiple?.errors).toEqual(['{"raw": "eA=="}']);
    expect(intelmq[SINGLE.length + 3]?.exception).toMatch(/KeyExists/);
    expect(multiple?.events.slice(0, 1)).toEqual(intelmq[SINGLE.length + 3]?.sentBefore?.events);

    const [single] = await petrelParse(jsonParser, {}, [report(BAD[1] as string)]);
    expect(single?.errors).toEqual([BAD[1]]);
    expect(intelmq[SINGLE.length + 4]?.exception).toMatch(/InvalidValue/);
  });

  it(`${declaredDeviation(jsonParser, "default-fields-applied")}: default_fields reach the events`, async () => {
    const params = { splitlines: true, default_fields: { "extra.via": "json", tlp: "green" } };
    const [petrel] = await petrelParse(jsonParser, params, [report(lines)]);
    const intelmqEvents = intelmq[SINGLE.length + 5]?.events ?? [];
    expect(intelmqEvents.some((e) => "extra.via" in e)).toBe(false);
    expect(petrel?.events.map(({ "extra.via": via, tlp, ...rest }) => [via, tlp, rest])).toEqual(
      intelmqEvents.map((e) => ["json", "GREEN", e]),
    );
  });

  it("refuses splitlines with multiple_events, as IntelMQ does", async () => {
    await expect(
      petrelParse(jsonParser, { splitlines: true, multiple_events: true }, [report(lines)]),
    ).rejects.toThrow(/cannot both/);
    expect(intelmq[SINGLE.length + 6]?.exception).toMatch(/init|ValueError/);
  });
});
