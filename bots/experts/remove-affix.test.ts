// The remove affix expert against IntelMQ's (library mode): prefixes and suffixes, values that become
// empty, other fields, values that are not text.
import { describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import removeAffix from "./remove-affix.ts";
import {
  eventOf,
  expectIntelmqOutcomesPerParameterSet,
  measureThroughput,
  petrelExpert,
  petrelOutcomes,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.remove_affix.expert";

const event = (fields: Record<string, unknown>): Event =>
  eventOf(fields, { "time.observation": "2021-05-01T00:00:00+00:00" });

const EVENTS = [
  event({ "source.fqdn": "www.example.com", "destination.fqdn": "www.example.net" }),
  event({ "source.fqdn": "example.com.www", comment: "www." }),
  event({ "source.fqdn": "wwwexample.com", "extra.host": "www.www.example.org" }),
  event({ "source.ip": "192.0.2.1", "extra.n": 7, comment: "prefix-🙂-suffix🙂" }),
  event({ "source.fqdn": "www.", "destination.fqdn": "x.www.", "source.url": "http://www.example.com/" }),
];

const CASES: Array<Record<string, unknown>> = [
  {},
  { remove_prefix: false, affix: ".www" },
  { remove_prefix: false, affix: "www." },
  { field: "destination.fqdn" },
  { field: "comment" },
  { field: "comment", remove_prefix: false, affix: "suffix🙂" },
  { field: "comment", affix: "prefix-🙂" },
  { field: "extra.host" },
  { field: "extra.n" },
  { affix: "" },
  { affix: "", remove_prefix: false },
  { field: "source.url", affix: "http://" },
  { field: "source.fqdn", affix: "www.example" },
];

describe("experts.remove_affix", () => {
  it("gives IntelMQ's output or failure for each event and parameter set", async () => {
    const outcomes = await expectIntelmqOutcomesPerParameterSet(MODULE, CASES, EVENTS, async (params) =>
      petrelOutcomes(await petrelExpert(removeAffix, params), EVENTS),
    );
    const compared = outcomes.length;
    const failures = outcomes.filter((o) => "error" in o).length;
    expect(compared).toBe(CASES.length * EVENTS.length);
    expect(failures).toBeGreaterThanOrEqual(2);
    console.log(
      `experts.remove_affix: ${compared} event outcomes identical to IntelMQ's (${failures} failures)`,
    );
  });

  it("removes www. from source.fqdn by default; an emptied field goes", async () => {
    const expert = await petrelExpert(removeAffix, {});
    const [a] = await petrelOutcomes(expert, [EVENTS[0] as Event]);
    expect(a).toEqual({ events: [expect.objectContaining({ "source.fqdn": "example.com" })] });
    const [b] = await petrelOutcomes(await petrelExpert(removeAffix, { field: "comment" }), [
      EVENTS[1] as Event,
    ]);
    expect(b).toEqual({
      events: [{ "time.observation": "2021-05-01T00:00:00+00:00", "source.fqdn": "example.com.www" }],
    });
    const [c] = await petrelOutcomes(await petrelExpert(removeAffix, { field: "extra.n" }), [
      EVENTS[3] as Event,
    ]);
    expect(c).toEqual({ error: "field extra.n holds 7, not text: no affix to remove" });
  });

  it("handles well over 23,500 events/s", async () => {
    const expert = await petrelExpert(removeAffix, {});
    const events = Array.from({ length: 5000 }, (_, i) =>
      event({ "source.fqdn": `www.host${i}.example.com` }),
    );
    const rate = measureThroughput(expert, events);
    console.log(`experts.remove_affix: ${Math.round(rate)} events/s (process only)`);
    expect(rate).toBeGreaterThan(50_000);
  });
});
