// The files output against IntelMQ's own: the same file contents for the same events and parameters;
// file names are the event hashes (a declared deviation); files are synced and moved into place
// atomically, and an event delivered again replaces its own file.
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import type { Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation, testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { eventDocumentId } from "./event-id.ts";
import files from "./files.ts";
import { sampleEvent } from "./test-support/sample-events.ts";

// IntelMQ's files output in library mode, one bot per case; prints the events' hashes and the error.
const ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.files.output import FilesOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = FilesOutputBot("oracle-files", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    hashes = [m.hash() for m in messages]
    try:
        bot.process_message(*messages)
        print(json.dumps({"error": None, "hashes": hashes}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__, "hashes": hashes}))
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
    "source.url": "http://malware.example.com/x.exe",
    "classification.type": "malware-distribution",
    output: JSON.stringify("the output text"),
    raw: Buffer.from([0x61, 0xff, 0x62, 0x0a]).toString("base64"),
  }),
  sampleEvent({
    "source.fqdn": "c2.example.net",
    "classification.type": "c2-server",
    output: JSON.stringify({ z: 1, a: "ä" }),
    "extra.score": 0.5,
  }),
];

const CASES: Array<{ name: string; params: Record<string, unknown> }> = [
  { name: "defaults", params: {} },
  {
    name: "hierarchical, with type, raw kept, other suffix",
    params: { hierarchical_output: true, message_with_type: true, keep_raw_field: true, suffix: ".txt" },
  },
  { name: "jsondict as string (ignored by IntelMQ)", params: { message_jsondict_as_string: true } },
  { name: "single_key raw", params: { single_key: "raw" } },
  { name: "single_key source.ip", params: { single_key: "source.ip" } },
  { name: "single_key feed.accuracy", params: { single_key: "feed.accuracy" } },
  { name: "single_key extra", params: { single_key: "extra" } },
];

async function contents(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) out.set(name, await readFile(join(dir, name), "latin1"));
  return out;
}

describe("outputs.files", () => {
  let root: string;
  let n = 0;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "petrel-files-output-"));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function dirs(): { dir: string; tmp: string } {
    n++;
    return { dir: join(root, `out-${n}`, "incoming"), tmp: join(root, `out-${n}`, "tmp") };
  }

  async function petrel(params: Record<string, unknown>): Promise<Output> {
    return files.create(parameterSchema(files).parse(params) as never, testContext());
  }

  it("writes files with the same contents as IntelMQ's files output, named after the event hashes", async () => {
    const cases = [
      ...CASES.map((c) => ({ ...c, events: EVENTS })),
      { name: "single_key output", params: { single_key: "output" }, events: EVENTS.slice(1) },
    ].map((c) => ({ ...c, intelmq: dirs(), petrel: dirs() }));
    // IntelMQ creates only the last level of each directory.
    for (const c of cases) await rm(join(c.intelmq.dir, ".."), { recursive: true, force: true });
    for (const c of cases) await mkdir(join(c.intelmq.dir, ".."), { recursive: true });
    const results = await runOracle<unknown, { error: string | null; hashes: string[] }>(
      ORACLE,
      cases.map((c) => ({
        params: { ...c.params, ...c.intelmq },
        events: oracleEvents(c.events),
      })),
    );
    for (const [i, c] of cases.entries()) {
      const result = results[i];
      expect(result?.error, c.name).toBeNull();
      const output = await petrel({ ...c.params, ...c.petrel });
      await output.write(c.events.slice(0, 1));
      await output.write(c.events.slice(1));
      await output.close?.();
      const theirs = await contents(c.intelmq.dir);
      const ours = await contents(c.petrel.dir);
      expect([...ours.values()].sort(), c.name).toEqual([...theirs.values()].sort());
      expect(ours.size, c.name).toBe(c.events.length);
      const suffix = (c.params as { suffix?: string }).suffix ?? ".json";
      // Each file is named after its event: IntelMQ's hash of it, combined with time.observation.
      for (const [j, e] of c.events.entries()) {
        expect(result?.hashes[j]).toBe(e.hash());
        expect(ours.has(`${eventDocumentId(e, "event_hash_and_observation")}${suffix}`), c.name).toBe(true);
      }
      expect(await readdir(c.petrel.tmp), c.name).toEqual([]);
      expect(await readdir(c.intelmq.tmp), c.name).toEqual([]);
    }
  });

  it(declaredDeviation(files, "file-named-after-event"), async () => {
    const intelmq = dirs();
    await mkdir(join(intelmq.dir, ".."), { recursive: true });
    const twice = [EVENTS[0] as Event, EVENTS[0] as Event];
    await runOracle(ORACLE, [{ params: intelmq, events: oracleEvents(twice) }]);
    const theirs = await readdir(intelmq.dir);
    expect(theirs).toHaveLength(2);
    expect(theirs[0]).toMatch(/^.+\.\d+\.\d+\.\d+\.\d+\.\d+\.json$/);

    const ours = dirs();
    const output = await petrel(ours);
    await output.write(twice);
    // Delivered again, as after a crash before the acknowledgement: the same file, not another one.
    await output.write([EVENTS[0] as Event]);
    const name = `${eventDocumentId(EVENTS[0] as Event, "event_hash_and_observation")}.json`;
    expect(await readdir(ours.dir)).toEqual([name]);
    // Observed again later: another file; with document_id event_hash, the same one.
    const later = (EVENTS[0] as Event).copy();
    later.add("time.observation", "2024-05-02T00:00:00+00:00", { overwrite: true });
    await output.write([later]);
    expect(await readdir(ours.dir)).toHaveLength(2);
    const byHash = dirs();
    const hashOnly = await petrel({ ...byHash, document_id: "event_hash" });
    await hashOnly.write([EVENTS[0] as Event, later]);
    expect(await readdir(byHash.dir)).toEqual([`${(EVENTS[0] as Event).hash()}.json`]);
    expect(
      JSON.parse(await readFile(join(byHash.dir, `${later.hash()}.json`), "utf8"))["time.observation"],
    ).toBe("2024-05-02T00:00:00+00:00");
    expect(await readdir(ours.tmp)).toEqual([]);
  });

  it("syncs every file before it is moved, and both directories before write() resolves", async () => {
    const probe = await open(join(root, "probe"), "w");
    const proto = Object.getPrototypeOf(probe) as {
      datasync: () => Promise<void>;
      sync: () => Promise<void>;
    };
    await probe.close();
    const datasync = vi.spyOn(proto, "datasync");
    const sync = vi.spyOn(proto, "sync");
    try {
      const where = dirs();
      const output = await petrel(where);
      await output.write(EVENTS);
      expect(datasync).toHaveBeenCalledTimes(EVENTS.length);
      expect(sync).toHaveBeenCalledTimes(2);
      expect(await readdir(where.dir)).toHaveLength(EVENTS.length);
    } finally {
      datasync.mockRestore();
      sync.mockRestore();
    }
  });

  it("writes large batches (more files than are handled at once)", async () => {
    const where = dirs();
    const output = await petrel(where);
    const many = Array.from({ length: 1000 }, (_, i) =>
      sampleEvent({ "source.ip": "192.0.2.1", "source.port": i + 1 }),
    );
    const started = performance.now();
    await output.write(many);
    console.info(
      `outputs.files: ${Math.round(1000 / ((performance.now() - started) / 1000))} events/s (1000 files, each synced)`,
    );
    expect(await readdir(where.dir)).toHaveLength(1000);
    expect(await readdir(where.tmp)).toEqual([]);
  });

  it("fails a batch with an event it cannot encode without leaving any file, as IntelMQ fails on it", async () => {
    const bad = sampleEvent({ "extra.text": "lone \ud800", "source.ip": "192.0.2.9" });
    const intelmq = dirs();
    await mkdir(join(intelmq.dir, ".."), { recursive: true });
    const [result] = await runOracle<unknown, { error: string | null }>(ORACLE, [
      { params: intelmq, events: oracleEvents([bad]) },
    ]);
    expect(result?.error).toBe("UnicodeEncodeError");
    const ours = dirs();
    const output = await petrel(ours);
    await expect(output.write([EVENTS[0] as Event, bad])).rejects.toThrow(/surrogates not allowed/);
    expect(await readdir(ours.dir)).toEqual([]);
    expect(await readdir(ours.tmp)).toEqual([]);
  });

  it("says which parameter is wrong when a directory cannot be used", async () => {
    const where = dirs();
    await mkdir(join(where.dir, ".."), { recursive: true });
    await writeFile(where.dir, "a file, not a directory");
    await expect(petrel(where)).rejects.toThrow(/^(dir: .* is not a directory|EEXIST.*)/);
  });
});
