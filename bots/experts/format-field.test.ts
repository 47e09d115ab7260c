// The format field expert against IntelMQ's (library mode): strip, replace and split with IntelMQ's
// parameters, each event's output or failure compared; Python's str semantics at the edges.
import { describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import formatField, { pyReplace, stripper } from "./format-field.ts";
import {
  eventOf,
  expectIntelmqOutcomesPerParameterSet,
  intelmqExpertOutcomes,
  measureThroughput,
  petrelExpert,
  petrelOutcomes,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.format_field.expert";

const event = (fields: Record<string, unknown>): Event =>
  eventOf(fields, { "time.observation": "2018-07-27T00:00:00+00:00", "feed.name": "test-feed" });

const EVENTS = [
  event({
    "malware.name": " cryptowall ",
    "extra.abuse": " abuse@iana.org",
    "extra.tags": "ddos,elf,gafgyt",
  }),
  event({
    "feed.url": "http://localhost/a.php?localhost=1",
    "extra.tags": "a b\tc\u2003d ",
    comment: " x\t",
  }),
  event({ "malware.name": "xx-zeus-yy", "extra.n": 5, "source.port": 80, "extra.list": ["a", "b"] }),
  event({ comment: "🙂 smile 🙂", "event_description.text": "a;b;;c;", "extra.tags": "" }),
  event({ "source.ip": "192.0.2.1", "extra.abuse": "x", "extra.zero": 0, "extra.tags": "single" }),
];

const CASES: Array<Record<string, unknown>> = [
  {},
  { split_column: "extra.tags", split_separator: "," },
  { strip_columns: "malware.name,extra.abuse" },
  { strip_columns: " malware.name , comment,, extra.abuse " },
  { strip_columns: ["malware.name", "comment"], strip_chars: "xy -" },
  { strip_columns: "comment,malware.name", strip_chars: "🙂 " },
  { strip_columns: "extra.tags,comment", strip_chars: null },
  { strip_columns: "extra.n" },
  { strip_columns: "source.port,extra.zero" },
  { strip_columns: "extra.list" },
  { replace_column: "feed.url", old_value: "localhost", new_value: "127.0.0.1" },
  { replace_column: "feed.url", old_value: "localhost", new_value: "127.0.0.1", replace_count: -1 },
  { replace_column: "feed.url", old_value: "localhost", new_value: "h", replace_count: 0 },
  { replace_column: "comment", old_value: "🙂", new_value: ":)", replace_count: 5 },
  { replace_column: "malware.name", old_value: "", new_value: "_", replace_count: 3 },
  { replace_column: "comment", old_value: "", new_value: "|", replace_count: -1 },
  { replace_column: "source.ip", old_value: "192", new_value: "x" },
  { replace_column: "source.ip", old_value: "192.0.2.1", new_value: "" },
  { split_column: "extra.tags", split_separator: null },
  { split_column: "event_description.text", split_separator: ";" },
  { split_column: "malware.name", split_separator: "-" },
  { split_column: "extra.n" },
  {
    strip_columns: "extra.tags",
    strip_chars: " ,",
    replace_column: "extra.tags",
    old_value: " ",
    new_value: ",",
    replace_count: -1,
    split_column: "extra.tags",
  },
  { split_column: "", replace_column: "" },
];

describe("experts.format_field", () => {
  it("gives IntelMQ's output or failure for each event and parameter set", async () => {
    const outcomes = await expectIntelmqOutcomesPerParameterSet(MODULE, CASES, EVENTS, async (params) =>
      petrelOutcomes(await petrelExpert(formatField, params), EVENTS),
    );
    const compared = outcomes.length;
    const failures = outcomes.filter((o) => "error" in o).length;
    expect(compared).toBe(CASES.length * EVENTS.length);
    // Both kinds of outcome are exercised: IntelMQ fails on non-text values and invalid results.
    expect(failures).toBeGreaterThanOrEqual(6);
    expect(failures).toBeLessThan(20);
    console.log(
      `experts.format_field: ${compared} event outcomes identical to IntelMQ's (${failures} failures)`,
    );
  });

  it("names the field when a value is not text", async () => {
    const [out] = await petrelOutcomes(await petrelExpert(formatField, { strip_columns: "extra.n" }), [
      EVENTS[2] as Event,
    ]);
    expect(out).toEqual({ error: "strip_columns: field extra.n holds a number (5), not text" });
  });

  it("refuses an empty split_separator at start (deviation empty-separator-rejected)", async () => {
    expect(formatField.deviations?.map((d) => d.id)).toEqual(["empty-separator-rejected"]);
    const [oracle] = await intelmqExpertOutcomes([
      {
        module: MODULE,
        params: { split_column: "extra.tags", split_separator: "" },
        events: EVENTS.slice(0, 1),
      },
    ]);
    expect(oracle).toEqual({ results: [{ error: "ValueError: empty separator" }] });
    await expect(petrelExpert(formatField, { split_separator: "" })).rejects.toThrow(/split_separator/);
  });

  it("has Python's str.replace and str.strip semantics", () => {
    expect(pyReplace("aaaa", "a", "b", 2)).toBe("bbaa");
    expect(pyReplace("aaaa", "a", "b", -3)).toBe("bbbb");
    expect(pyReplace("ab", "", "-", -1)).toBe("-a-b-");
    expect(pyReplace("a🙂b", "", "-", 3)).toBe("-a-🙂-b");
    expect(pyReplace("", "", "x", 1)).toBe("x");
    expect(stripper("🙂")("🙂a🙂🙂")).toBe("a");
    expect(stripper(null)("\u0085 a\u001c")).toBe("a");
    expect(stripper("")(" a ")).toBe(" a ");
  });

  it("handles well over 23,500 events/s", async () => {
    const expert = await petrelExpert(formatField, {
      strip_columns: "malware.name,extra.abuse",
      replace_column: "feed.url",
      old_value: "localhost",
      new_value: "127.0.0.1",
      split_column: "extra.tags",
    });
    const events = Array.from({ length: 5000 }, (_, i) =>
      event({
        "malware.name": ` zeus${i} `,
        "extra.abuse": " abuse@example.com",
        "feed.url": `http://localhost/${i}`,
        "extra.tags": "a,b,c",
      }),
    );
    const rate = measureThroughput(expert, events);
    console.log(`experts.format_field: ${Math.round(rate)} events/s (process only)`);
    expect(rate).toBeGreaterThan(50_000);
  });
});
