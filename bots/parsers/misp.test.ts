// The MISP parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import misp from "./misp.ts";

const MODULE = "intelmq.bots.parsers.misp.parser";

let uuidCounter = 0;
const attribute = (fields: Record<string, unknown>) => ({
  category: "Network activity",
  comment: "",
  deleted: false,
  distribution: "5",
  event_id: "42",
  id: String(1000 + uuidCounter),
  object_relation: null,
  sharing_group_id: "0",
  timestamp: String(1714550400 + uuidCounter),
  to_ids: true,
  type: "ip-dst",
  uuid: `5e1b6a3c-0000-4000-8000-${String(++uuidCounter).padStart(12, "0")}`,
  value: "192.0.2.50",
  ...fields,
});

const ATTRIBUTES = [
  attribute({}),
  attribute({ type: "ip-src", value: "2001:DB8::50", comment: "seen scanning" }),
  attribute({ type: "domain", value: "Bad.Example.COM", category: "Payload delivery" }),
  attribute({ type: "hostname", value: "c2.example.net", category: "Payload installation" }),
  attribute({ type: "url", value: "hxxp://bad.example.com/dropper.exe", category: "Payload delivery" }),
  attribute({ type: "md5", value: "d41d8cd98f00b204e9800998ecf8427e", category: "Artifacts dropped" }),
  attribute({
    type: "sha1",
    value: "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709",
    category: "Artifacts dropped",
  }),
  attribute({ type: "email-src", value: "spammer@example.org", category: "Payload delivery" }),
  attribute({ type: "sha256", value: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" }),
  attribute({ type: "ip-dst", value: "192.0.2.51", category: "External analysis" }),
  attribute({ type: "text", value: "Emotet", category: "Payload type" }),
  attribute({ type: "ip-dst", value: "192.0.2.52", timestamp: 1714550999, comment: "ünïcödé" }),
];
const OBJECT_ATTRIBUTES = [
  attribute({ type: "url", value: "https://c2.example.net/gate.php", object_relation: "url" }),
  attribute({ type: "text", value: "QakBot", category: "Payload type" }),
];

const mispEvent = (fields: Record<string, unknown>) => ({
  Attribute: ATTRIBUTES,
  Object: [{ name: "url", Attribute: OBJECT_ATTRIBUTES }],
  Tag: [
    { name: "tlp:amber" },
    { name: "dropzone" },
    { name: 'ecsirt:malicious-code="c2server"' },
    { name: 'ecsirt:fraud="phishing"' },
  ],
  analysis: "2",
  date: "2024-05-01",
  id: "42",
  info: "Sample event written for Petrel's tests",
  uuid: "5e1b6a3c-1111-4000-8000-000000000042",
  ...fields,
});

// As the MISP collector sends it: the event's JSON with sorted keys.
const json = (value: unknown) => JSON.stringify(value, null, 1);

const FEED_URLS = [
  "https://misp.example.org",
  "https://misp.example.org/misp/",
  "https://misp.example.org/misp/index",
];
const VARIANTS = [
  mispEvent({}),
  mispEvent({ Tag: [{ name: 'ecsirt:other="unknown"' }, { name: "dropzone" }], Object: undefined }),
  mispEvent({ Tag: undefined, id: 7 }),
  mispEvent({ Tag: [], Attribute: [ATTRIBUTES[0]] }),
];
const BAD_ATTRIBUTES = [
  attribute({ value: "192.0.2.300" }),
  attribute({ type: "domain", value: "https://x.example.com/path" }),
  (() => {
    const { uuid: _, ...rest } = attribute({ value: "192.0.2.53" });
    return rest;
  })(),
];
const WITH_BAD = mispEvent({
  Attribute: [...ATTRIBUTES.slice(0, 2), ...BAD_ATTRIBUTES, ...ATTRIBUTES.slice(2)],
});

const DEFAULTS = { default_fields: { "extra.source_tag": "misp", tlp: "amber" } };

describe("parsers.misp against IntelMQ", () => {
  const report = (event: unknown, url: string) => testReport(json(event), { "feed.url": url });
  let intelmq: ParseOutcome[] = [];
  const cases = FEED_URLS.flatMap((url) => VARIANTS.map((v) => ({ params: {}, report: report(v, url) })));
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      ...cases,
      { params: {}, report: report(WITH_BAD, FEED_URLS[0] as string) },
      {
        params: {},
        report: report(
          mispEvent({ Attribute: [...ATTRIBUTES.slice(0, 2), ...ATTRIBUTES.slice(2)] }),
          FEED_URLS[0] as string,
        ),
      },
      { params: {}, report: report([mispEvent({})], FEED_URLS[0] as string) },
      { params: DEFAULTS, report: report(VARIANTS[0], FEED_URLS[0] as string) },
    ]);
  });

  it("gives IntelMQ's events for each MISP event and instance URL", async () => {
    for (const [i, c] of cases.entries()) {
      const [petrel] = await petrelParse(misp, {}, [c.report]);
      expect(petrel, `case ${i}`).toEqual(intelmq[i]);
    }
    const first = intelmq[0]?.events ?? [];
    expect(first).toHaveLength(10);
    expect(first[0]?.["classification.type"]).toBe("c2-server");
    expect(first[0]?.["classification.identifier"]).toBe("dropzone");
    expect(first[0]?.["malware.name"]).toBe("qakbot");
    expect(intelmq[4]?.events[0]?.["event_description.url"]).toBe(
      "https://misp.example.org/misp/events/view/42",
    );
  });

  it(`${declaredDeviation(misp, "bad-record-dead-lettered")}: a bad attribute is dead-lettered, IntelMQ fails the MISP event`, async () => {
    const [petrel] = await petrelParse(misp, {}, [report(WITH_BAD, FEED_URLS[0] as string)]);
    const withBad = intelmq[cases.length];
    expect(withBad?.exception).toMatch(/InvalidValue/);
    expect(withBad?.sentBefore?.events).toHaveLength(2);
    expect(petrel?.events).toEqual(intelmq[cases.length + 1]?.events);
    expect(petrel?.errors.map((e) => JSON.parse(e))).toEqual(BAD_ATTRIBUTES);
  });

  it(`${declaredDeviation(misp, "default-fields-applied")}: default_fields reach the events`, async () => {
    const [petrel] = await petrelParse(misp, DEFAULTS, [report(VARIANTS[0], FEED_URLS[0] as string)]);
    const intelmqEvents = intelmq[cases.length + 3]?.events ?? [];
    expect(intelmqEvents.some((e) => "extra.source_tag" in e || e.tlp === "AMBER")).toBe(false);
    expect(petrel?.events.map(({ "extra.source_tag": tag, tlp, ...rest }) => [tag, tlp, rest])).toEqual(
      intelmqEvents.map((e) => ["misp", "AMBER", e]),
    );
  });

  it("fails a report that is not one MISP event, as IntelMQ does", async () => {
    const [petrel] = await petrelParse(misp, {}, [report([mispEvent({})], FEED_URLS[0] as string)]);
    expect(petrel?.exception).toBeDefined();
    expect(intelmq[cases.length + 2]?.exception).toMatch(/AttributeError/);
  });
});
