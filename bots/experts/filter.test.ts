// The filter expert against IntelMQ's (library mode, every named path its own queue): the same
// events on the same paths for equality and regex filters of each value type, absolute and relative
// time limits, their combinations, and the configurations IntelMQ refuses; then the deviations.
import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { routedOf } from "../../bot-runtime/src/sdk/processor.ts";
import filter from "./filter.ts";
import {
  type ExpertCase,
  expectSameOutcomes,
  type Fields,
  intelmqExpert,
  petrelCases,
  petrelExpert,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.filter.expert";
const PATHS = ["filter_match", "filter_no_match", "action_other"];

/** An ISO time `hours` from now, as IntelMQ writes time.source. */
function hoursFromNow(hours: number, fraction = false): string {
  const iso = new Date(Date.now() + hours * 3_600_000).toISOString();
  return `${iso.slice(0, 19)}${fraction ? ".250000" : ""}+00:00`;
}

const BASE: Fields = { "feed.name": "Example", "time.observation": "2024-05-01T10:00:00+00:00" };

const EVENTS: Fields[] = [
  { "classification.type": "scanner", "source.ip": "192.0.2.1", "source.port": 80 },
  { "classification.type": "brute-force", "source.ip": "198.51.100.7", "source.port": 22 },
  { "classification.type": "scanner", "source.fqdn": "www.example.com", "feed.accuracy": 90 },
  { "source.fqdn": "mail.example.net", "feed.accuracy": 12.5, "source.port": 8080 },
  { "source.fqdn": "example.org", "extra.flag": true, "extra.count": 1 },
  { "extra.flag": false, "extra.count": 0, "extra.list": [1, "a"], comment: "ünïcödé Straße" },
  { "extra.text": "80", "source.port": 443, comment: "line one\nline two\n" },
  { "source.url": "http://malware.example.com/x.exe", "malware.name": "zeus-c2" },
  { "source.asn": 64496, "destination.ip": "2001:db8::1", "protocol.transport": "tcp" },
  { "extra.a.b": "x", "extra.a": "y" },
  { "extra.a.b": "x", "extra.c": { d: 1 } },
  { "time.source": "2013-12-31T23:59:59+00:00", "classification.type": "scanner" },
  { "time.source": "2014-01-01T00:00:00+00:00", "source.port": 80 },
  { "time.source": "2014-01-01T00:00:00.500000+00:00", "source.port": 80 },
  { "time.source": "2015-06-01T12:00:00+00:00", "source.ip": "192.0.2.1" },
  { "time.source": hoursFromNow(-24 * 400), "source.port": 80 },
  { "time.source": hoursFromNow(-24 * 40), "classification.type": "scanner" },
  { "time.source": hoursFromNow(-24 * 10, true), "source.port": 80 },
  { "time.source": hoursFromNow(-36), "source.port": 22 },
  { "time.source": hoursFromNow(-3) },
  { "time.source": hoursFromNow(-0.25), "classification.type": "scanner" },
  { "time.source": hoursFromNow(2), "source.port": 80 },
  { "time.source": hoursFromNow(24 * 800), "source.ip": "192.0.2.1" },
  {},
].map((fields) => ({ ...BASE, ...fields }));

const CASES: Array<Omit<ExpertCase, "events">> = [
  ...(["drop", "keep"] as const).flatMap((action) => [
    {
      name: `${action} type`,
      params: { filter_key: "classification.type", filter_value: "scanner", filter_action: action },
    },
    {
      name: `${action} port int`,
      params: { filter_key: "source.port", filter_value: 80, filter_action: action },
    },
    {
      name: `${action} port as text`,
      params: { filter_key: "source.port", filter_value: "80", filter_action: action },
    },
    {
      name: `${action} accuracy`,
      params: { filter_key: "feed.accuracy", filter_value: 90, filter_action: action },
    },
    {
      name: `${action} accuracy float`,
      params: { filter_key: "feed.accuracy", filter_value: 12.5, filter_action: action },
    },
    {
      name: `${action} bool`,
      params: { filter_key: "extra.flag", filter_value: true, filter_action: action },
    },
    {
      name: `${action} 1 == True`,
      params: { filter_key: "extra.count", filter_value: true, filter_action: action },
    },
    {
      name: `${action} false == 0`,
      params: { filter_key: "extra.count", filter_value: false, filter_action: action },
    },
    {
      name: `${action} regex fqdn`,
      params: {
        filter_key: "source.fqdn",
        filter_value: "example\\.(com|net)$",
        filter_action: action,
        filter_regex: true,
      },
    },
    {
      name: `${action} regex on int`,
      params: { filter_key: "source.port", filter_value: "^8", filter_action: action, filter_regex: true },
    },
    {
      name: `${action} regex on float text`,
      params: {
        filter_key: "feed.accuracy",
        filter_value: "\\.0$",
        filter_action: action,
        filter_regex: true,
      },
    },
    {
      name: `${action} regex on bool text`,
      params: { filter_key: "extra.flag", filter_value: "^True$", filter_action: action, filter_regex: true },
    },
    {
      name: `${action} regex on list text`,
      params: {
        filter_key: "extra.list",
        filter_value: "\\[1, 'a'\\]",
        filter_action: action,
        filter_regex: true,
      },
    },
    {
      name: `${action} regex on extra as JSON`,
      params: {
        filter_key: "extra",
        filter_value: '"count": 1\\b',
        filter_action: action,
        filter_regex: true,
      },
    },
    {
      name: `${action} regex unicode and $`,
      params: {
        filter_key: "comment",
        filter_value: "(?i)STRASSE|two$",
        filter_action: action,
        filter_regex: true,
      },
    },
  ]),
  { name: "nested extra key", params: { filter_key: "extra.a", filter_value: "y", filter_action: "keep" } },
  {
    name: "nested extra key regex",
    params: { filter_key: "extra.a", filter_value: ".", filter_action: "keep", filter_regex: true },
  },
  {
    name: "extra dict value",
    params: { filter_key: "extra.c", filter_value: "'d': 1", filter_action: "drop", filter_regex: true },
  },
  {
    name: "regex false is equality",
    params: {
      filter_key: "source.fqdn",
      filter_value: "example.org",
      filter_action: "drop",
      filter_regex: false,
    },
  },
  {
    name: "extra equality with JSON text",
    params: { filter_key: "extra", filter_value: '{"flag": true, "count": 1}', filter_action: "keep" },
  },
  { name: "not_after absolute", params: { not_after: "2014-01-01T00:00:00+00:00" } },
  { name: "not_before absolute", params: { not_before: "2014-01-01T00:00:00+00:00" } },
  { name: "not_before absolute with fraction", params: { not_before: "2014-01-01T00:00:00.25+00:00" } },
  { name: "not_before other zone", params: { not_before: "2014-01-01T02:00:00+02:00" } },
  {
    name: "absolute window",
    params: { not_before: "2014-01-01T00:00:00+00:00", not_after: "2016-01-01T00:00:00+00:00" },
  },
  { name: "not_after 1 hour", params: { not_after: "1 hour" } },
  { name: "not_after 10 hours", params: { not_after: "10 hours" } },
  { name: "not_before 2 days", params: { not_before: "2 days" } },
  { name: "not_before 1 week", params: { not_before: " 1 week " } },
  { name: "not_before 3 months", params: { not_before: "3 months" } },
  { name: "not_before 1 year", params: { not_before: "1 year" } },
  { name: "not_before 90 minutes", params: { not_before: "90 minutes" } },
  { name: "not_after 7200 seconds", params: { not_after: "7200 seconds" } },
  { name: "relative window", params: { not_before: "30 days", not_after: "1 day" } },
  {
    name: "time and key",
    params: { not_before: "30 days", filter_key: "source.port", filter_value: 80, filter_action: "keep" },
  },
  {
    name: "empty times and key",
    params: {
      not_before: "",
      not_after: "",
      filter_key: "source.port",
      filter_value: 22,
      filter_action: "drop",
    },
  },
  { name: "empty times only", params: { not_before: "", not_after: "" } },
  // Refused by both.
  { name: "nothing configured", params: {} },
  { name: "key without value", params: { filter_key: "source.port", filter_action: "drop" } },
  { name: "bad relative", params: { not_before: "2 dayss" } },
  { name: "relative with junk", params: { not_after: "about 2 days" } },
  { name: "unknown unit-like word", params: { not_after: "Monday" } },
  { name: "not a date", params: { not_after: "not at all a time" } },
  {
    name: "bad regex",
    params: { filter_key: "comment", filter_value: "(", filter_action: "drop", filter_regex: true },
  },
  {
    name: "regex of a number",
    params: { filter_key: "source.port", filter_value: 80, filter_action: "drop", filter_regex: true },
  },
];

describe("experts.filter", () => {
  it("routes every event like IntelMQ's filter expert", async () => {
    const cases = CASES.map((c) => ({ ...c, events: EVENTS }));
    const [intelmq, petrel] = await Promise.all([
      intelmqExpert(MODULE, cases, PATHS),
      petrelCases(filter, cases),
    ]);
    const compared = expectSameOutcomes(cases, intelmq, petrel);
    expect(compared).toBeGreaterThan(700);
    // The corpus exercises each path and drops.
    const seen = new Set(petrel.flatMap((c) => c.results ?? []).flatMap((r) => Object.keys(r.paths ?? {})));
    expect([...seen].sort()).toEqual(["_default", "action_other", "filter_match", "filter_no_match"]);
    expect(petrel.some((c) => c.results?.some((r) => Object.keys(r.paths ?? {}).length === 0))).toBe(true);
  });

  it("declares its paths", () => {
    expect(filter.paths).toEqual(PATHS);
  });

  it("deviation naive-absolute-time-is-utc: a time without zone is UTC where IntelMQ fails", async () => {
    expect(filter.deviations?.map((d) => d.id)).toContain("naive-absolute-time-is-utc");
    const early = EVENTS.filter((e) => String(e["time.source"]).startsWith("201"));
    const cases = [{ name: "naive", params: { not_after: "2014-01-01" }, events: early }];
    const [intelmq] = await intelmqExpert(MODULE, cases, PATHS);
    expect(intelmq!.results!.map((r) => r.error)).toEqual([
      "TypeError",
      "TypeError",
      "TypeError",
      "TypeError",
    ]);
    const [petrel] = await petrelCases(filter, cases);
    // Same as the aware 2014-01-01T00:00:00+00:00: later events are dropped.
    expect(petrel!.results!.map((r) => Object.keys(r.paths!))).toEqual([["_default"], ["_default"], [], []]);
  });

  it("deviation filter-action-checked: an unknown action is refused where IntelMQ ignores the filter", async () => {
    expect(filter.deviations?.map((d) => d.id)).toContain("filter-action-checked");
    const params = {
      not_before: "2 days",
      filter_key: "source.port",
      filter_value: 80,
      filter_action: "Drop",
    };
    const [intelmq] = await intelmqExpert(
      MODULE,
      [{ name: "typo", params, events: EVENTS.slice(0, 1) }],
      PATHS,
    );
    expect(intelmq!.results![0]!.paths).toEqual({ _default: [expect.any(Object)] });
    await expect(petrelExpert(filter, params)).rejects.toThrow(/filter_action/);
  });

  it("gives each path its own copy of the event", async () => {
    const expert = await petrelExpert(filter, {
      filter_key: "source.port",
      filter_value: 80,
      filter_action: "keep",
    });
    const event = new Event();
    event.add("source.port", 80);
    const routed = routedOf(await expert.process(event, { id: "1" }));
    expect(routed.map((r) => r.path)).toEqual(["filter_match", "_default"]);
    routed[0]!.message.add("comment", "only here");
    expect(routed[1]!.message.has("comment")).toBe(false);
  });

  it("costs little per event", async () => {
    const expert = await petrelExpert(filter, {
      filter_key: "source.fqdn",
      filter_value: "example\\.(com|net)$",
      filter_action: "drop",
      filter_regex: true,
      not_before: "30 days",
    });
    const events = EVENTS.map((f) => new Event({ __type: "Event", ...f }));
    const rounds = 5000;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) for (const e of events) expert.process(e, { id: "x" });
    const perSecond = (rounds * events.length) / ((performance.now() - start) / 1000);
    // A floor for a loaded machine: it catches gross regressions (work per event that belongs in
    // create()), not the real figure, which is a few µs per event.
    expect(perSecond).toBeGreaterThan(10_000);
  });
});
