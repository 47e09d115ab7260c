// The key=value parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import keyValue from "./key-value.ts";

const MODULE = "intelmq.bots.parsers.key_value.parser";

const KEYS = {
  src: "source.ip",
  dst: "destination.ip",
  dpt: "destination.port",
  proto: "protocol.transport",
  ts: "time.source",
  msg: "event_description.text",
  type: "classification.type",
  "extra=key": "extra.odd",
};

const LINES = [
  "ts=1714550400 src=192.0.2.80 dst=198.51.100.80 dpt=443 proto=tcp type=scanner",
  'ts="2024-05-01 10:00:00 +0200" src=192.0.2.81 msg="quoted" other=ignored',
  "ts=2024-05-01T08:00:00Z src=2001:DB8::81  dpt=notaport proto=TCP",
  "ts=yesterday-ish src=192.0.2.82",
  "ts= src=192.0.2.83 =novalue nokey",
  "ts=1714550400.5 src=192.0.2.84",
  'src=192.0.2.85 msg=" spaced " msg2="',
  "src=192.0.2.86 extra=key=value a==b",
  "src=192.0.2.87 ts=٢٠٢٤",
  "src=192.0.2.88 ts=99999999999999",
  "src=192.0.2.89 src=192.0.2.90",
  "src=not-an-ip type=nonsense",
  "  src=192.0.2.91\tdst=198.51.100.91  ",
  'msg="',
];

describe("parsers.key_value against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": "https://logs.example.com/fw.log" });
  const CASES = [
    { params: { keys: KEYS }, raw: LINES.join("\n") },
    { params: { keys: KEYS, strip_quotes: false }, raw: LINES.join("\n") },
    {
      params: { keys: { s: "source.ip", t: "time.source" }, kv_separator: ":", pair_separator: "|" },
      raw: "s:192.0.2.92|t:2024-05-01 12:00|x:y\ns:192.0.2.93|t:1714550400",
    },
    { params: { keys: KEYS, pair_separator: ", " }, raw: "src=192.0.2.94, dst=198.51.100.94,dpt=80" },
  ];
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(
      MODULE,
      CASES.map((c) => ({ params: c.params, report: report(c.raw) })),
    );
  });

  it("gives IntelMQ's events for every separator and quoting setting", async () => {
    for (const [i, c] of CASES.entries()) {
      const [petrel] = await petrelParse(keyValue, c.params, [report(c.raw)]);
      expect(petrel, JSON.stringify(c.params)).toEqual(intelmq[i]);
    }
    expect(intelmq[0]?.events).toHaveLength(13);
    expect(intelmq[0]?.errors).toEqual(["src=192.0.2.89 src=192.0.2.90"]);
    // Quotes do not protect the pair separator: ts="2024-05-01 10:00:00 +0200" gives the date only.
    expect(intelmq[0]?.events[1]?.["time.source"]).toBe("2024-05-01T00:00:00+00:00");
  });

  it("refuses a configuration without keys", async () => {
    await expect(petrelParse(keyValue, { keys: {} }, [report("a=b")])).rejects.toThrow(/key/);
  });
});
