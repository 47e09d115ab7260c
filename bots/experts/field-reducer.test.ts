// The field reducer against IntelMQ's (library mode): whitelists and blacklists given as text and as
// lists, "extra" as a whole (which flattens nested extra keys one level, as in IntelMQ) and single
// extra keys, events reduced to nothing (not sent); then the deviation.
import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import fieldReducer from "./field-reducer.ts";
import {
  type ExpertCase,
  expectSameOutcomes,
  type Fields,
  intelmqExpert,
  petrelCases,
  petrelExpert,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.field_reducer.expert";

const BASE: Fields = {
  "feed.name": "Example",
  "feed.accuracy": 90,
  "time.observation": "2024-05-01T10:00:00+00:00",
  raw: "MTkyLjAuMi4x",
};

const EVENTS: Fields[] = [
  { ...BASE, "source.ip": "192.0.2.1", "source.port": 22, "classification.type": "brute-force" },
  { ...BASE, "source.fqdn": "example.com", "extra.a": 1, "extra.b": "x" },
  { ...BASE, "extra.a.b": 1, "extra.a.c": [true, null], "extra.d": { z: 1 }, "source.ip": "192.0.2.2" },
  { "source.ip": "192.0.2.3" },
  { "extra.only": "this" },
  { ...BASE, "destination.ip": "198.51.100.1", "destination.port": 443, comment: "ünïcödé" },
  { ...BASE, "feed.accuracy": 12.5, "time.source": "2024-04-30T22:15:00.123456+00:00" },
  { raw: "eA==" },
  // Every field kind once more, in other orders and combinations.
  ...["192.0.2.10", "198.51.100.20", "2001:db8::5", "203.0.113.9"].flatMap((ip, i) => [
    { "source.ip": ip, raw: "eA==", "extra.n": i, "source.port": 1000 + i },
    {
      ...BASE,
      "extra.z": [i],
      "destination.ip": ip,
      "source.ip": ip,
      "time.source": "2024-04-30T22:15:00+00:00",
    },
  ]),
];

const CASES: ExpertCase[] = [
  { name: "whitelist text", params: { type: "whitelist", keys: "source.ip, source.port ,feed.name" } },
  {
    name: "whitelist list",
    params: { type: "whitelist", keys: ["feed.accuracy", "source.ip", "time.source"] },
  },
  { name: "whitelist list not stripped", params: { type: "whitelist", keys: [" source.ip", "feed.name"] } },
  { name: "whitelist extra", params: { type: "whitelist", keys: "extra,raw" } },
  { name: "whitelist single extra", params: { type: "whitelist", keys: ["extra.a", "extra.d", "comment"] } },
  { name: "whitelist nothing known", params: { type: "whitelist", keys: "nothing.here" } },
  { name: "whitelist empty text", params: { type: "whitelist", keys: "" } },
  { name: "blacklist text", params: { type: "blacklist", keys: "raw, extra" } },
  { name: "blacklist list", params: { type: "blacklist", keys: ["raw", "feed.accuracy", "extra.a"] } },
  { name: "blacklist list not stripped", params: { type: "blacklist", keys: [" raw"] } },
  { name: "blacklist everything", params: { type: "blacklist", keys: "raw,source.ip,extra" } },
  { name: "blacklist duplicates", params: { type: "blacklist", keys: "raw,raw" } },
  // Refused by both.
  { name: "unknown type", params: { type: "greylist", keys: "raw" } },
  { name: "no type", params: { keys: "raw" } },
].map((c) => ({ ...c, events: EVENTS }));

describe("experts.field_reducer", () => {
  it("reduces events like IntelMQ's field reducer", async () => {
    const [intelmq, petrel] = await Promise.all([
      intelmqExpert(MODULE, CASES),
      petrelCases(fieldReducer, CASES),
    ]);
    const compared = expectSameOutcomes(CASES, intelmq, petrel);
    expect(compared).toBe((CASES.length - 2) * EVENTS.length + 2);
  });

  it("deviation broken-keys-rejected: missing or duplicate keys stop the bot at start", async () => {
    expect(fieldReducer.deviations?.map((d) => d.id)).toContain("broken-keys-rejected");
    const cases = [
      {
        name: "duplicate",
        params: { type: "whitelist", keys: "source.ip,source.ip" },
        events: EVENTS.slice(0, 2),
      },
      { name: "no keys", params: { type: "blacklist" }, events: EVENTS.slice(0, 1) },
    ];
    const [duplicate, noKeys] = await intelmqExpert(MODULE, cases);
    // IntelMQ fails the event with the field (KeyExists) and passes the other without it.
    expect(duplicate!.results!.map((r) => r.error)).toEqual(["KeyExists", null]);
    expect(noKeys!.results!.map((r) => r.error)).toEqual(["TypeError"]);
    await expect(petrelExpert(fieldReducer, cases[0]!.params)).rejects.toThrow(
      /keys: source.ip is listed twice/,
    );
    await expect(petrelExpert(fieldReducer, cases[1]!.params)).rejects.toThrow(/keys/);
  });

  it("costs little per event", async () => {
    const expert = await petrelExpert(fieldReducer, {
      type: "whitelist",
      keys: "source.ip,source.port,feed.name,extra",
    });
    const rounds = 10_000;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) {
      for (const f of EVENTS) expert.process(new Event({ __type: "Event", ...f }), { id: "x" });
    }
    const perSecond = (rounds * EVENTS.length) / ((performance.now() - start) / 1000);
    // A floor for a loaded machine: it catches gross regressions (work per event that belongs in
    // create()), not the real figure, which is a few µs per event.
    expect(perSecond).toBeGreaterThan(10_000);
  });
});
