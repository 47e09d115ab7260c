// The truncate by delimiter expert against IntelMQ's (library mode): domains cut label by label, other
// delimiters and fields, lengths in code points, values that are not text.
import { describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import {
  eventOf,
  expectIntelmqOutcomesPerParameterSet,
  intelmqExpertOutcomes,
  measureThroughput,
  petrelExpert,
  petrelOutcomes,
} from "./test-support/expert-differential.ts";
import truncate from "./truncate-by-delimiter.ts";

const MODULE = "intelmq.bots.experts.truncate_by_delimiter.expert";

const event = (fields: Record<string, unknown>): Event =>
  eventOf(fields, { "time.observation": "2021-05-01T00:00:00+00:00" });

const LONG = `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.example.com`;

const EVENTS = [
  event({ "source.fqdn": "www.subdomain.web.secondsubomain.test.domain.com" }),
  event({ "source.fqdn": LONG, "destination.fqdn": "short.example" }),
  event({ "source.fqdn": "example.com", comment: "🙂🙂🙂::🙂🙂::x::yy" }),
  event({ "source.fqdn": "a.b", "extra.n": 12345, "extra.path": "/very/long/path/to/a/file.txt" }),
  event({ "source.ip": "192.0.2.1", comment: "nodelimiterhere-but-long-enough-to-cut" }),
];

const CASES: Array<Record<string, unknown>> = [
  {},
  { max_length: 20 },
  { max_length: 0 },
  { max_length: -5 },
  { max_length: 15, field: "destination.fqdn" },
  { field: "comment", delimiter: "::", max_length: 4 },
  { field: "comment", delimiter: "🙂", max_length: 5 },
  { field: "comment", delimiter: "-", max_length: 10 },
  { field: "extra.path", delimiter: "/", max_length: 12 },
  { field: "extra.n", max_length: 2 },
  { max_length: 3, delimiter: "." },
];

describe("experts.truncate_by_delimiter", () => {
  it("gives IntelMQ's output or failure for each event and parameter set", async () => {
    const outcomes = await expectIntelmqOutcomesPerParameterSet(MODULE, CASES, EVENTS, async (params) =>
      petrelOutcomes(await petrelExpert(truncate, params), EVENTS),
    );
    const compared = outcomes.length;
    const failures = outcomes.filter((o) => "error" in o).length;
    expect(compared).toBe(CASES.length * EVENTS.length);
    expect(failures).toBeGreaterThanOrEqual(1);
    console.log(
      `experts.truncate_by_delimiter: ${compared} event outcomes identical to IntelMQ's (${failures} failures)`,
    );
  });

  it("cuts the documented example to test.domain.com", async () => {
    const [out] = await petrelOutcomes(await petrelExpert(truncate, { max_length: 20 }), [
      EVENTS[0] as Event,
    ]);
    expect(out).toEqual({ events: [expect.objectContaining({ "source.fqdn": "test.domain.com" })] });
  });

  it("refuses an empty delimiter at start (deviation empty-delimiter-rejected)", async () => {
    expect(truncate.deviations?.map((d) => d.id)).toEqual(["empty-delimiter-rejected"]);
    const [oracle] = await intelmqExpertOutcomes([
      { module: MODULE, params: { delimiter: "", max_length: 5 }, events: EVENTS.slice(0, 1) },
    ]);
    expect(oracle).toEqual({ results: [{ error: "ValueError: empty separator" }] });
    await expect(petrelExpert(truncate, { delimiter: "" })).rejects.toThrow(/delimiter must not be empty/);
  });

  it("handles well over 23,500 events/s", async () => {
    const expert = await petrelExpert(truncate, { max_length: 20 });
    const events = Array.from({ length: 5000 }, (_, i) =>
      event({ "source.fqdn": `www.a${i}.sub.example.com` }),
    );
    const rate = measureThroughput(expert, events);
    console.log(`experts.truncate_by_delimiter: ${Math.round(rate)} events/s (process only)`);
    expect(rate).toBeGreaterThan(50_000);
  });
});
