import { describe, expect, it } from "vitest";
import { Event, FieldError, parseMessage, Report } from "./message.ts";

describe("Message.add", () => {
  it("sanitizes by default and validates strictly on request", () => {
    const e = new Event();
    expect(e.add("source.ip", " 192.0.2.1/32 ")).toBe(true);
    expect(e.get("source.ip")).toBe("192.0.2.1");
    expect(() => e.add("destination.ip", "192.0.2.1/32", { sanitize: false })).toThrow(FieldError);
  });

  it("follows IntelMQ's overwrite rules", () => {
    const e = new Event();
    e.add("comment", "first");
    expect(() => e.add("comment", "second")).toThrow(/already set/);
    expect(e.add("comment", "second", { overwrite: false })).toBe(false);
    expect(e.get("comment")).toBe("first");
    expect(e.add("comment", "second", { overwrite: true })).toBe(true);
    expect(e.get("comment")).toBe("second");
    // A "no value" with overwrite deletes the field.
    expect(e.add("comment", "N/A", { overwrite: true })).toBeUndefined();
    expect(e.has("comment")).toBe(false);
  });

  it("ignores null, empty, '-' and 'N/A' and the caller's ignore list", () => {
    const e = new Event();
    for (const v of [null, "", "-", "N/A"]) expect(e.add("comment", v)).toBeUndefined();
    expect(e.add("comment", "unknown", { ignore: ["unknown"] })).toBeUndefined();
    expect(e.size).toBe(0);
  });

  it("explodes extra into sub-keys and reads it back as JSON", () => {
    const e = new Event();
    e.add("extra", { b: 1, a: { c: [1, 2] }, empty: "" });
    expect(e.keys()).toEqual(["extra.a", "extra.b", "extra.empty"]);
    expect(e.has("extra")).toBe(true);
    expect(JSON.parse(e.get("extra") as string)).toEqual({ a: { c: [1, 2] }, b: 1, empty: "" });
    expect(e.add("extra.x.y", { z: true })).toBe(true);
    expect(e.toDict({ hierarchical: true })).toEqual({
      extra: { a: { c: [1, 2] }, b: 1, empty: "", x: { y: { z: true } } },
    });
    // As IntelMQ's json.dumps(ensure_ascii=False), dotted sub-keys kept (its quirk).
    expect(e.toDict({ jsondictAsString: true })).toEqual({
      extra: '{"a": {"c": [1, 2]}, "b": 1, "empty": "", "x.y": {"z": true}}',
    });
    expect(e.toDict({ omit: new Set(["extra.b"]) })).not.toHaveProperty("extra.b");
    expect(e.remove("extra")).toBe(true);
    expect(e.size).toBe(0);
  });

  it("forgets removed fields in every view of the message, and re-adds them at the end", () => {
    const e = parseMessage(
      '{"__type":"Event","source.ip":"192.0.2.1","source.port":80,"extra.a":1,"extra.b":{"c":2},"comment":"x"}',
    );
    expect(e.remove("source.port")).toBe(true);
    expect(e.remove("source.port")).toBe(false);
    expect(e.remove("extra")).toBe(true);
    expect(e.size).toBe(2);
    expect(e.has("source.port")).toBe(false);
    expect(e.get("source.port")).toBeUndefined();
    expect(e.has("extra")).toBe(false);
    expect([...e.entries()]).toEqual([
      ["source.ip", "192.0.2.1"],
      ["comment", "x"],
    ]);
    expect(e.serialize()).toBe('{"__type":"Event","source.ip":"192.0.2.1","comment":"x"}');
    const copy = e.copy();
    expect(copy.toJSON()).toEqual({ __type: "Event", "source.ip": "192.0.2.1", comment: "x" });
    e.add("source.port", 443);
    expect(e.toJSON()).toEqual({
      __type: "Event",
      "source.ip": "192.0.2.1",
      comment: "x",
      "source.port": 443,
    });
    expect(Object.keys(e.toJSON())).toEqual(["__type", "source.ip", "comment", "source.port"]);
    expect(copy.size).toBe(2);
    expect(e.hash()).toBe(parseMessage(e.serialize()).hash());
  });

  it("hashes each event by its own fields when one filter set serves events of several shapes", () => {
    // The sorted field list is kept per filter set and reused while events have the same keys.
    const shapes = [
      '{"__type":"Event","source.ip":"192.0.2.1","source.port":80,"raw":"eA=="}',
      '{"__type":"Event","source.port":80,"source.ip":"192.0.2.1","raw":"eA=="}',
      '{"__type":"Event","source.ip":"192.0.2.1","feed.accuracy":50,"raw":"eA=="}',
      '{"__type":"Event","source.ip":"192.0.2.1","source.port":80,"comment":"Ω","raw":"eA=="}',
      '{"__type":"Event","source.ip":"192.0.2.1","source.port":80,"raw":"eA=="}',
    ];
    const shared = new Set(["raw", "source.port"]);
    for (const filterType of ["blacklist", "whitelist", "blacklist"] as const) {
      for (const text of shapes) {
        const fresh = parseMessage(text).hash({ filterKeys: ["raw", "source.port"], filterType });
        expect(parseMessage(text).hash({ filterKeys: shared, filterType }), `${filterType} ${text}`).toBe(
          fresh,
        );
      }
    }
    // Same fields in another order: the same hash; another field type (Float): another repr.
    const [first, reordered, withAccuracy] = shapes.map((t) => parseMessage(t).hash({ filterKeys: shared }));
    expect(reordered).toBe(first);
    expect(withAccuracy).not.toBe(first);
  });

  it("names the field, the value and the rule in errors", () => {
    const e = new Event();
    try {
      e.add("source.asn", "AS0");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(FieldError);
      const fe = error as FieldError;
      expect(fe.code).toBe("InvalidValue");
      expect(fe.field).toBe("source.asn");
      expect(fe.value).toBe("AS0");
      expect(fe.message).toBe(
        'source.asn: value "AS0" cannot be made a valid ASN: must be an autonomous system number, 1 to 4294967295',
      );
    }
    expect(() => e.add("source.nonsense", 1)).toThrow("source.nonsense: value 1: no such field in an Event");
    expect(() => e.add("extra.Bad", 1)).toThrow(/sub-keys must match/);
    expect(() => e.add("feed.code", "x".repeat(101))).toThrow("at most 100 characters");
    expect(() => e.add("protocol.transport", "tcpx")).toThrow(/does not match/);
  });

  it("update tries values as given, then sanitized; change needs an existing key", () => {
    const e = new Event();
    e.update({ "source.port": "80", "source.ip": "192.0.2.1" });
    expect(e.toDict()).toEqual({ "source.port": 80, "source.ip": "192.0.2.1" });
    expect(() => e.change("comment", "x")).toThrow(/is not set/);
    e.change("source.port", 443);
    expect(e.get("source.port")).toBe(443);
  });
});

describe("Reports and Events", () => {
  it("copies feed fields, rtir_id and time.observation (never raw) into events", () => {
    const r = Report.create(new Date("2021-05-05T10:00:00.999Z"));
    expect(r.get("time.observation")).toBe("2021-05-05T10:00:00+00:00");
    r.add("feed.name", "Feed");
    r.add("raw", "line");
    r.add("extra.file_name", "a.csv");
    const e = Event.fromReport(r as Report, ["extra.file_name"]);
    expect(e.toDict()).toEqual({
      "time.observation": "2021-05-05T10:00:00+00:00",
      "feed.name": "Feed",
      "extra.file_name": "a.csv",
    });
    expect(() => r.add("source.ip", "192.0.2.1")).toThrow(/no such field in a Report/);
  });

  it("reads strict messages into canonical shape and serialises them compactly", () => {
    const text = '{"source.ip":"192.0.2.1","__type":"Event","comment":"-","extra":"{\\"a\\": 1}"}';
    const m = parseMessage(text);
    expect(m.serialize()).toBe('{"__type":"Event","source.ip":"192.0.2.1","extra.a":1}');
    expect(parseMessage(m.serialize()).serialize()).toBe(m.serialize());
    expect(() => parseMessage('{"source.ip":"192.0.2.1"}')).toThrow(/__type: \(no value\) is missing/);
    expect(parseMessage('{"source.ip":"192.0.2.1"}', { defaultType: "Event" }).kind).toBe("Event");
    expect(() => parseMessage("[1]")).toThrow(/must be a JSON object/);
    expect(() => parseMessage("{")).toThrow(/not valid JSON/);
  });
});
