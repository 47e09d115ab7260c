// The MISP collector against a local server that speaks MISP's documented REST API (POST
// /events/restSearch, /tags/attachTagToObject, /tags/removeTagFromObject, the API key in Authorization):
// the search PyMISP sends, one report per event whose raw is exactly Python's json.dumps(sort_keys=True)
// of the event, and events re-tagged only once their report is stored.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import misp from "./misp.ts";
import { collectOnce, createCollector, httpServer, json, type TestServer } from "./test-support/harness.ts";

const DUMPS = `
import json, sys
for line in sys.stdin:
    print(json.dumps(json.dumps(json.loads(line), sort_keys=True)))
`;

interface FakeEvent {
  uuid: string;
  info: string;
  tags: string[];
  extra?: Record<string, unknown>;
}

let server: TestServer;
let events: FakeEvent[] = [];
let log: string[] = [];
let searches: unknown[] = [];

function eventJson(e: FakeEvent) {
  return {
    id: String(events.indexOf(e) + 1),
    uuid: e.uuid,
    info: e.info,
    threat_level_id: "3",
    published: false,
    Orgc: { name: "CERT-Ü", uuid: "5d8a2a2c-0000-4000-8000-000000000001" },
    Tag: e.tags.map((name) => ({ name, colour: "#ffffff", exportable: true })),
    Attribute: [
      { type: "ip-dst", category: "Network activity", value: "192.0.2.1", to_ids: true, uuid: `${e.uuid}-a` },
    ],
    ...e.extra,
  };
}

beforeAll(async () => {
  server = await httpServer((req, res, body) => {
    if (req.headers.authorization !== "misp-key")
      return json(res, { message: "Authentication failed." }, 403);
    if (req.headers.accept !== "application/json") return json(res, { message: "Accept" }, 406);
    const data = JSON.parse(body.toString() || "{}") as Record<string, unknown>;
    if (req.url === "/misp/events/restSearch") {
      searches.push(data);
      const found = events.filter((e) => e.tags.includes(data.tags as string));
      return json(res, { response: found.map((e) => ({ Event: eventJson(e) })) });
    }
    const event = events.find((e) => e.uuid === data.uuid);
    if (!event) return json(res, { errors: "Invalid target." }, 404);
    if (req.url === "/misp/tags/attachTagToObject") {
      log.push(`tag ${event.info} +${data.tag}`);
      event.tags.push(data.tag as string);
      return json(res, { saved: true, success: "Tag attached.", check_publish: true });
    }
    if (req.url === "/misp/tags/removeTagFromObject") {
      log.push(`tag ${event.info} -${data.tag}`);
      event.tags = event.tags.filter((t) => t !== data.tag);
      return json(res, { saved: true, success: "Tag removed.", check_publish: true });
    }
    json(res, { message: "Not Found" }, 404);
  });
});
afterAll(() => server?.close());

beforeEach(() => {
  events = [
    { uuid: "5e0e1f3c-0001-4000-8000-00000000000a", info: "first", tags: ["to-process", "tlp:green"] },
    {
      uuid: "5e0e1f3c-0002-4000-8000-00000000000b",
      info: "second",
      tags: ["to-process"],
      extra: {
        date: "2024-05-01",
        analysis: "2",
        note: "zürich \u2028 \ud83d\ude00",
        nested: { b: [1, 2.5], a: null },
      },
    },
    { uuid: "5e0e1f3c-0003-4000-8000-00000000000c", info: "elsewhere", tags: ["other"] },
  ];
  log = [];
  searches = [];
});

const params = {
  misp_url: "",
  misp_key: "misp-key",
  misp_tag_to_process: "to-process",
  misp_tag_processed: "processed",
};

async function collector(overrides: Record<string, unknown> = {}) {
  return createCollector(misp, { ...params, misp_url: `${server.url}/misp/`, ...overrides });
}

describe("collectors.misp", () => {
  it("sends each tagged event as Python's json.dumps(sort_keys=True) and then re-tags it", async () => {
    const expected = await runOracle<unknown, string>(DUMPS, events.slice(0, 2).map(eventJson));
    const c = await collector();
    const reports: string[] = [];
    await c.collect(async (report) => {
      log.push(`emit ${JSON.parse(Buffer.from(report.get("raw") as string, "base64").toString()).info}`);
      reports.push(Buffer.from(report.get("raw") as string, "base64").toString("utf8"));
      expect(report.get("feed.url")).toBe(`${server.url}/misp/`);
    });
    expect(reports).toEqual(expected);
    expect(reports[1]).toContain('"note": "z\\u00fcrich \\u2028 \\ud83d\\ude00"');
    expect(log).toEqual([
      "emit first",
      "tag first +processed",
      "tag first -to-process",
      "emit second",
      "tag second +processed",
      "tag second -to-process",
    ]);
    expect(searches).toEqual([
      {
        returnFormat: "json",
        tags: "to-process",
        withAttachments: 0,
        metadata: 0,
        enforceWarninglist: 0,
        includeEventUuid: 0,
        includeEventTags: 0,
        sgReferenceOnly: 0,
        includeContext: 0,
        headerless: 0,
        includeSightings: 0,
        includeDecayScore: 0,
        includeCorrelations: 0,
        excludeDecayed: 0,
      },
    ]);
    expect(await collectOnce(c)).toEqual([]); // nothing left to process
  });

  it("leaves an event's tags alone when its report cannot be stored", async () => {
    const c = await collector();
    let calls = 0;
    await expect(
      c.collect(async () => {
        if (++calls === 2) throw new Error("stream unavailable");
      }),
    ).rejects.toThrow(/unavailable/);
    expect(log).toEqual(["tag first +processed", "tag first -to-process"]);
    expect(events[1]?.tags).toEqual(["to-process"]);
    // The next run picks it up.
    expect((await collectOnce(c)).length).toBe(1);
  });

  it("only removes the tag without misp_tag_processed; fails on MISP errors", async () => {
    await collectOnce(await collector({ misp_tag_processed: null }));
    expect(log).toEqual(["tag first -to-process", "tag second -to-process"]);
    await expect(collectOnce(await collector({ misp_key: "wrong" }))).rejects.toThrow(/403/);
  });
});
