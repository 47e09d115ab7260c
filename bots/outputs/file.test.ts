// The file output against IntelMQ's own: byte-identical files for the same events and parameters;
// one fdatasync per batch; reopening a rotated file.
import { mkdtemp, open, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import type { Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import fileOutput from "./file.ts";
import { sampleEvent } from "./test-support/sample-events.ts";

// Runs IntelMQ's file output over each case's events (read the way IntelMQ reads its queues, floats
// as floats) and reports whether it raised.
const ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.file.output import FileOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = FileOutputBot("oracle-output", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    try:
        bot.process_message(*messages)
        print(json.dumps({"error": None}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__}))
    bot.shutdown()
sys.stdout.flush()
os._exit(0)
`;

const EVENTS = [
  sampleEvent({
    "time.source": "2024-04-30T22:15:00+00:00",
    "source.ip": "192.0.2.1",
    "source.port": 22,
    "classification.type": "brute-force",
    "extra.tags": ["ssh", "ünïcödé"],
    "extra.nested": { b: 1, a: [true, null] },
    "event_description.text": 'quote " and tab \t and €',
    raw: "MTkyLjAuMi4xCg==",
  }),
  sampleEvent({
    "time.source": "2024-05-01T01:02:03.250000+00:00",
    "source.url": "http://malware.example.com/x.exe",
    "classification.type": "malware-distribution",
    output: JSON.stringify("the output text"),
    raw: Buffer.from([0x61, 0xff, 0x62, 0xe2, 0x82, 0x0a]).toString("base64"),
  }),
  sampleEvent({
    "time.source": "2024-05-01T03:00:00+00:00",
    "source.fqdn": "c2.example.net",
    "classification.type": "c2-server",
    output: JSON.stringify({ z: 1, a: "ä" }),
    "extra.score": 0.5,
  }),
];

const CASES: Array<{ name: string; params: Record<string, unknown> }> = [
  { name: "defaults", params: {} },
  {
    name: "hierarchical, with type, raw kept",
    params: { hierarchical_output: true, message_with_type: true, keep_raw_field: true },
  },
  {
    name: "jsondict as string (ignored by IntelMQ's file output)",
    params: { message_jsondict_as_string: true },
  },
  { name: "single_key raw", params: { single_key: "raw" } },
  { name: "single_key source.ip (missing ones are None)", params: { single_key: "source.ip" } },
  { name: "single_key feed.accuracy", params: { single_key: "feed.accuracy" } },
  { name: "single_key extra", params: { single_key: "extra" } },
];

describe("outputs.file", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "petrel-file-output-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function petrel(params: Record<string, unknown>): Promise<Output> {
    const parsed = parameterSchema(fileOutput).parse(params);
    return fileOutput.create(parsed as never, testContext());
  }

  it("writes the same bytes as IntelMQ's file output", async () => {
    const cases = [
      ...CASES,
      { name: "single_key output", params: { single_key: "output" } },
      ...["ignore", "replace", "backslashreplace", "xmlcharrefreplace", "surrogatepass"].map((mode) => ({
        name: `encoding_errors_mode ${mode}`,
        params: { encoding_errors_mode: mode },
        events: [sampleEvent({ "extra.text": "lone \ud800 surrogate", "source.ip": "192.0.2.9" })],
      })),
    ].map((c, i) => ({
      ...c,
      events: "events" in c ? c.events : c.name === "single_key output" ? EVENTS.slice(1) : EVENTS,
      intelmqFile: join(dir, `intelmq-${i}`, "out.txt"),
      petrelFile: join(dir, `petrel-${i}`, "out.txt"),
    }));
    const results = await runOracle<unknown, { error: string | null }>(
      ORACLE,
      cases.map((c) => ({
        params: { ...c.params, file: c.intelmqFile },
        events: oracleEvents(c.events),
      })),
    );
    for (const [i, c] of cases.entries()) {
      expect(results[i]?.error, c.name).toBeNull();
      const output = await petrel({ ...c.params, file: c.petrelFile });
      // Two batches: appending works as IntelMQ's one-by-one writes.
      await output.write(c.events.slice(0, 1));
      await output.write(c.events.slice(1));
      await output.close?.();
      const expected = await readFile(c.intelmqFile);
      expect((await readFile(c.petrelFile)).toString("latin1"), c.name).toBe(expected.toString("latin1"));
      expect(expected.length, c.name).toBeGreaterThan(0);
    }
  });

  it("fails on a lone surrogate in strict mode, as IntelMQ does, and writes nothing of the batch", async () => {
    const bad = sampleEvent({ "extra.text": "lone \ud800", "source.ip": "192.0.2.9" });
    const file = join(dir, "strict", "out.txt");
    const [result] = await runOracle<unknown, { error: string | null }>(ORACLE, [
      { params: { file: join(dir, "strict-intelmq.txt") }, events: oracleEvents([bad]) },
    ]);
    expect(result?.error).toBe("UnicodeEncodeError");
    const output = await petrel({ file });
    await expect(output.write([EVENTS[0] as Event, bad])).rejects.toThrow(/surrogates not allowed/);
    await output.close?.();
    expect(await readFile(file, "utf8")).toBe("");
  });

  it("names files after event fields like IntelMQ's format_filename", async () => {
    const template =
      "{event[classification.type]:_>14}/{event[time.source]:%Y-%m-%d_%H%M%S.%f %a %b %j%z%Z}/{event[time.observation]!s:.10}_{event[time.observation]}-{event[feed.accuracy]}-{event[feed.accuracy]:.3f}.txt";
    const [result] = await runOracle<unknown, { error: string | null }>(ORACLE, [
      {
        params: { file: join(dir, "fmt-intelmq", template), format_filename: true },
        events: oracleEvents(EVENTS),
      },
    ]);
    expect(result?.error).toBeNull();
    const output = await petrel({ file: join(dir, "fmt-petrel", template), format_filename: true });
    await output.write(EVENTS);
    await output.close?.();
    const names = [
      "___brute-force/2024-04-30_221500.000000 Tue Apr 121/2024-05-01_2024-05-01 10:00:00-90.0-90.000.txt",
      "malware-distribution/2024-05-01_010203.250000 Wed May 122/2024-05-01_2024-05-01 10:00:00-90.0-90.000.txt",
      "_____c2-server/2024-05-01_030000.000000 Wed May 122/2024-05-01_2024-05-01 10:00:00-90.0-90.000.txt",
    ];
    for (const name of names) {
      const expected = await readFile(join(dir, "fmt-intelmq", name), "utf8");
      expect(await readFile(join(dir, "fmt-petrel", name), "utf8")).toBe(expected);
    }
  });

  it("syncs once per batch and per file, and only then resolves", async () => {
    const probe = await open(join(dir, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const datasync = vi.spyOn(proto, "datasync");
    try {
      const file = join(dir, "sync", "out.txt");
      const output = await petrel({ file });
      await output.write(EVENTS);
      expect(datasync).toHaveBeenCalledTimes(1);
      expect((await readFile(file, "utf8")).split("\n")).toHaveLength(EVENTS.length + 1);
      await output.write(EVENTS.slice(0, 1));
      expect(datasync).toHaveBeenCalledTimes(2);
      await output.close?.();

      const perType = await petrel({
        file: join(dir, "sync2", "{event[classification.type]}.txt"),
        format_filename: true,
      });
      await perType.write(EVENTS);
      expect(datasync).toHaveBeenCalledTimes(5);
      await perType.close?.();
    } finally {
      datasync.mockRestore();
    }
  });

  it("reopens the file when it was rotated away", async () => {
    const file = join(dir, "rotate", "out.txt");
    const output = await petrel({ file });
    await output.write(EVENTS.slice(0, 1));
    await rename(file, `${file}.1`);
    await output.write(EVENTS.slice(1, 2));
    await output.close?.();
    expect((await readFile(`${file}.1`, "utf8")).trim().split("\n")).toHaveLength(1);
    expect(JSON.parse(await readFile(file, "utf8"))["source.url"]).toBe("http://malware.example.com/x.exe");
  });

  it("rejects file name templates it cannot fill", async () => {
    await expect(petrel({ file: join(dir, "{event[extra]}.txt"), format_filename: true })).rejects.toThrow(
      /KeyError/,
    );
    await expect(
      petrel({ file: join(dir, "{event[time.source]!r}.txt"), format_filename: true }),
    ).rejects.toThrow(/!r of a time is not supported/);
    await expect(
      petrel({ file: join(dir, "{event[source.ip]:<<<}.txt"), format_filename: true }),
    ).rejects.toThrow(/invalid format specifier/);
    await expect(
      petrel({ file: join(dir, "{event[source.nope]}.txt"), format_filename: true }),
    ).rejects.toThrow(/not an event field/);
    await expect(petrel({ file: join(dir, "{other}.txt"), format_filename: true })).rejects.toThrow(
      /placeholders/,
    );
  });
});
