// The Elasticsearch output against a protocol-faithful local Elasticsearch (test-support/elasticsearch.ts):
// the documents and index names IntelMQ's Elasticsearch output produces for the same events, idempotent
// redelivery (create + 409), partial bulk failures, retries, authentication, media types Elasticsearch
// 8 and 9 accept, throughput, and petrelctl run. The elasticsearch Python client is not in the oracle
// venv, so the oracle runs IntelMQ's bot with a stand-in client that records what it is asked to index.
import { Writable } from "node:stream";
import { Client } from "@elastic/elasticsearch";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DISCARD_METRICS } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { startElasticsearch, type TestElasticsearch } from "../../bot-runtime/test-support/elasticsearch.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import elasticsearchOutput from "./elasticsearch.ts";
import { eventDocumentId } from "./event-id.ts";
import {
  createOutput,
  manyEvents,
  measureThroughput,
  petrelctlRun,
  SAMPLE_EVENTS,
  sampleEvent,
} from "./test-support/sample-events.ts";

// IntelMQ's Elasticsearch output with a stand-in client: prints [{index, body}] per case.
const ORACLE = `${INTELMQ_PREAMBLE}
import types
indexed = []
class Indices:
    def exists_template(self, name):
        return True
    def exists(self, index):
        return True
    def create(self, index, ignore):
        pass
class Elasticsearch:
    def __init__(self, *args, **kwargs):
        self.indices = Indices()
    def index(self, index, body):
        indexed.append({"index": index, "body": body})
module = types.ModuleType("elasticsearch")
module.Elasticsearch = Elasticsearch
sys.modules["elasticsearch"] = module
from intelmq.bots.outputs.elasticsearch.output import ElasticsearchOutputBot
for line in sys.stdin:
    case = json.loads(line)
    indexed.clear()
    bot = ElasticsearchOutputBot("oracle-elasticsearch-output", settings=library_settings(case["params"]))
    bot.process_message(*[read_message(e) for e in case["events"]])
    print(json.dumps(indexed))
    bot.shutdown()
sys.stdout.flush()
os._exit(0)
`;

interface Indexed {
  index: string;
  body: Record<string, unknown>;
}

/** A bot context whose log lines are kept. */
function loggingContext(lines: string[]) {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return {
    botId: "test-bot",
    pipeline: "test",
    log: pino({ level: "info" }, sink),
    signal: new AbortController().signal,
    state: () => Promise.reject(new Error("no state")),
    metrics: DISCARD_METRICS,
  };
}

describe("outputs.elasticsearch", () => {
  let es: TestElasticsearch;
  let indexNumber = 0;
  const nextIndex = () => `intelmq${++indexNumber}`;

  beforeAll(async () => {
    es = await startElasticsearch();
  });
  afterAll(async () => {
    await es?.close();
  });

  const connection = (server = es) => ({ elastic_host: "127.0.0.1", elastic_port: server.port });
  const sources = (index: string) => es.documents(index).map((d) => d._source);

  it("indexes the documents IntelMQ's Elasticsearch output sends, into the same indices", async () => {
    const cases = [
      { name: "defaults", params: {} },
      { name: "replacement_char _", params: { replacement_char: "_" } },
      { name: "flatten_fields as text", params: { flatten_fields: "extra.nested,output" } },
      {
        name: "flatten_fields as list, replacement_char",
        params: { flatten_fields: ["output"], replacement_char: "-" },
      },
      ...(["daily", "weekly", "monthly", "yearly"] as const).map((rotate_index) => ({
        name: `rotate_index ${rotate_index}`,
        params: { rotate_index },
      })),
    ].map((c) => ({ ...c, prefix: nextIndex() }));
    const expected = await runOracle<unknown, Indexed[]>(
      ORACLE,
      cases.map((c) => ({
        params: { ...c.params, elastic_index: c.prefix },
        events: oracleEvents(SAMPLE_EVENTS),
      })),
    );
    for (const [i, c] of cases.entries()) {
      const output = await createOutput(elasticsearchOutput, {
        ...connection(),
        ...c.params,
        elastic_index: c.prefix,
      });
      await output.write(SAMPLE_EVENTS);
      await output.close?.();
      const intelmq = expected[i] as Indexed[];
      expect(intelmq, c.name).toHaveLength(SAMPLE_EVENTS.length);
      for (const [n, { index, body }] of intelmq.entries()) {
        const stored = es
          .documents(index)
          .find((d) => d._id === eventDocumentId(SAMPLE_EVENTS[n] as never, "event_hash_and_observation"));
        expect(stored?._source, `${c.name}, event ${n} in ${index}`).toEqual(body);
      }
      if (!("rotate_index" in c.params)) expect(es.indices(), c.name).toContain(c.prefix);
    }
    // Float fields are sent as floats (90.0), as Python's json does: Elasticsearch maps them as float.
    expect(es.mapping(cases[0]?.prefix as string)).toMatchObject({
      feed: "object",
      "feed.accuracy": "float",
      "source.port": "long",
    });
    expect(es.indices()).toEqual(
      expect.arrayContaining([`${cases[4]?.prefix}-2024-04-30`, `${cases[5]?.prefix}-2024-18`]),
    );
  });

  it(`${declaredDeviation(elasticsearchOutput, "rotate-by-event-time")}: the event's own date chooses the index`, async () => {
    const prefix = nextIndex();
    const late = sampleEvent({ "time.source": "2024-04-30T23:59:59.500000+00:00", "source.ip": "192.0.2.7" });
    const [intelmq, renamed] = await runOracle<unknown, Indexed[]>(ORACLE, [
      { params: { elastic_index: prefix, rotate_index: "daily" }, events: oracleEvents([late]) },
      {
        params: { elastic_index: prefix, rotate_index: "daily", replacement_char: "_" },
        events: oracleEvents(SAMPLE_EVENTS.slice(0, 1)),
      },
    ]);
    // IntelMQ: fractional seconds are not read, so time.observation (the next day) decides ...
    expect(intelmq?.[0]?.index).toBe(`${prefix}-2024-05-01`);
    // ... and with replacement_char, the current local date.
    expect(renamed?.[0]?.index).not.toBe(`${prefix}-2024-04-30`);
    const output = await createOutput(elasticsearchOutput, {
      ...connection(),
      elastic_index: prefix,
      rotate_index: "daily",
    });
    await output.write([late]);
    await output.close?.();
    expect(es.documents(`${prefix}-2024-04-30`)).toHaveLength(1);
    const renaming = await createOutput(elasticsearchOutput, {
      ...connection(),
      elastic_index: prefix,
      rotate_index: "daily",
      replacement_char: "_",
    });
    await renaming.write(SAMPLE_EVENTS.slice(0, 1));
    const undated = sampleEvent({ "source.ip": "192.0.2.8" });
    undated.remove("time.observation");
    await renaming.write([undated]);
    await renaming.close?.();
    expect(es.documents(`${prefix}-2024-04-30`)).toHaveLength(2);
    expect(es.documents(`${prefix}-${new Date().toISOString().slice(0, 10)}`)).toHaveLength(1);
  });

  it(`${declaredDeviation(elasticsearchOutput, "rotate-template-optional")}: rotation without a template warns and indexes`, async () => {
    const prefix = nextIndex();
    const log: string[] = [];
    const params = parameterSchema(elasticsearchOutput).parse({
      ...connection(),
      elastic_index: prefix,
      rotate_index: "monthly",
    });
    const output = await elasticsearchOutput.create(params as never, loggingContext(log));
    await output.write(SAMPLE_EVENTS.slice(0, 1));
    await output.close?.();
    expect(log.join("")).toContain(`no index template named ${prefix}`);
    expect(es.documents(`${prefix}-2024-04`)).toHaveLength(1);
    es.addIndexTemplate(prefix);
    const quiet: string[] = [];
    await (await elasticsearchOutput.create(params as never, loggingContext(quiet))).close?.();
    expect(quiet.join("")).not.toContain("no index template");
  });

  it(`${declaredDeviation(elasticsearchOutput, "event-hash-id")}: redelivered events are not indexed twice; re-observed ones are`, async () => {
    const index = nextIndex();
    const output = await createOutput(elasticsearchOutput, { ...connection(), elastic_index: index });
    await output.write(SAMPLE_EVENTS.slice(0, 2));
    await output.write(SAMPLE_EVENTS);
    await output.write(SAMPLE_EVENTS);
    const reobserved = SAMPLE_EVENTS[0]?.copy();
    reobserved?.add("time.observation", "2024-05-02T10:00:00+00:00", { overwrite: true });
    await output.write([reobserved as never]);
    await output.close?.();
    expect(es.documents(index)).toHaveLength(SAMPLE_EVENTS.length + 1);
    expect(es.documents(index).every((d) => d._version === 1)).toBe(true);

    const once = nextIndex();
    const byHash = await createOutput(elasticsearchOutput, {
      ...connection(),
      elastic_index: once,
      document_id: "event_hash",
    });
    await byHash.write([...SAMPLE_EVENTS, reobserved as never]);
    await byHash.close?.();
    expect(es.documents(once).map((d) => d._id)).toEqual(SAMPLE_EVENTS.map((e) => e.hash()));
  });

  it("fails a batch with a refused document, and stores it all on the retry once the cause is gone", async () => {
    const index = nextIndex();
    const output = await createOutput(elasticsearchOutput, { ...connection(), elastic_index: index });
    // Overloaded: one item rejected with 429. The write fails; its retry stores the rest once.
    es.rejectItems(1);
    await expect(output.write(SAMPLE_EVENTS)).rejects.toThrow(
      /Elasticsearch http:\/\/127\.0\.0\.1:\d+ \(elastic_host, elastic_port\): 1 of 3 documents not indexed; first: 429 es_rejected_execution_exception/,
    );
    expect(es.documents(index)).toHaveLength(2);
    await output.write(SAMPLE_EVENTS);
    expect(es.documents(index)).toHaveLength(3);
    // A mapping conflict fails only that document; the runtime isolates it, the others are stored.
    const numeric = sampleEvent({ "extra.value": 5, "source.ip": "192.0.2.10" });
    const object = sampleEvent({ "extra.value": { a: 1 }, "source.ip": "192.0.2.11" });
    const fine = sampleEvent({ "source.ip": "192.0.2.12" });
    await output.write([numeric]);
    await expect(output.write([object, fine])).rejects.toThrow(
      /1 of 2 documents not indexed; first: 400 document_parsing_exception/,
    );
    await output.write([fine]);
    await expect(output.write([object])).rejects.toThrow(/document_parsing_exception/);
    // Whole requests failing (503) are retried by the client; create makes that safe.
    es.failRequests(2);
    await output.write([sampleEvent({ "source.ip": "192.0.2.13" })]);
    es.failRequests(10);
    await expect(output.write([sampleEvent({ "source.ip": "192.0.2.14" })])).rejects.toThrow(
      /503|unavailable_shards/,
    );
    es.failRequests(0);
    await output.close?.();
    // (The event refused with 429 was stored by the retry, after the other two.)
    expect(es.documents(index).map((d) => d._source["source.ip"])).toEqual([
      undefined,
      undefined,
      "192.0.2.1",
      "192.0.2.10",
      "192.0.2.12",
      "192.0.2.13",
    ]);
  });

  it("talks to Elasticsearch 8 and 9 (plain media types), creates its index, and authenticates", async () => {
    const es8 = await startElasticsearch({
      major: 8,
      basicAuth: { username: "elastic", password: "s3cret" },
    });
    try {
      const defaults = new Client({ node: es8.url, auth: { username: "elastic", password: "s3cret" } });
      // The client's own media type (compatible-with=9) is what Elasticsearch 8 refuses.
      await expect(defaults.info()).rejects.toThrow(/media_type_header_exception/);
      await defaults.close();
      const output = await createOutput(elasticsearchOutput, {
        ...connection(es8),
        http_username: "elastic",
        http_password: "s3cret",
      });
      expect(es8.indices()).toEqual(["intelmq"]);
      await output.write(SAMPLE_EVENTS);
      await output.close?.();
      expect(es8.documents("intelmq")).toHaveLength(SAMPLE_EVENTS.length);
      await expect(
        createOutput(elasticsearchOutput, {
          ...connection(es8),
          http_username: "elastic",
          http_password: "wrong",
        }),
      ).rejects.toThrow(/Elasticsearch http:\/\/127\.0\.0\.1:\d+ \(elastic_host, elastic_port\): HTTP 401/);
    } finally {
      await es8.close();
    }
    const keyed = await startElasticsearch({ apiKey: { id: "petrel", key: "k3y" } });
    try {
      const output = await createOutput(elasticsearchOutput, {
        ...connection(keyed),
        elastic_api_key: Buffer.from("petrel:k3y").toString("base64"),
      });
      await output.write(SAMPLE_EVENTS);
      await output.close?.();
      expect(keyed.documents("intelmq")).toHaveLength(SAMPLE_EVENTS.length);
      expect(keyed.requests.every((r) => !String(r.headers.accept).includes("compatible-with"))).toBe(true);
    } finally {
      await keyed.close();
    }
    expect(() => elasticsearchOutput.parameters.parse({ rotate_index: "hourly" })).toThrow(/rotate_index/);
    await expect(
      createOutput(elasticsearchOutput, { ...connection(), elastic_index: "IntelMQ" }),
    ).rejects.toThrow(
      /HTTP 400: invalid_index_name_exception: Invalid index name \[IntelMQ\], must be lowercase/,
    );
  });

  it("works through petrelctl run", async () => {
    const index = nextIndex();
    const summary = await petrelctlRun(
      "intelmq.bots.outputs.elasticsearch.output",
      { ...connection(), elastic_index: index },
      SAMPLE_EVENTS,
    );
    expect(summary.written).toBe(SAMPLE_EVENTS.length);
    expect(sources(index)).toHaveLength(SAMPLE_EVENTS.length);
  });

  it("writes at least 5,000 events/s in batches of 500", async () => {
    const index = nextIndex();
    const output = await createOutput(elasticsearchOutput, { ...connection(), elastic_index: index });
    const events = manyEvents(20_000);
    const rate = await measureThroughput(output, events, 500);
    await output.close?.();
    console.log(`outputs.elasticsearch (local server): ${rate} events/s`);
    expect(es.documents(index)).toHaveLength(events.length);
    expect(rate).toBeGreaterThan(5000);
  }, 30_000);
});
