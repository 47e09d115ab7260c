// The MongoDB output against FerretDB (a MongoDB wire-protocol server on SQLite, built from Go modules,
// private and on a random port): documents with the values and BSON types IntelMQ's MongoDB output
// builds for the same events, idempotent redelivery through _id, authentication, throughput, and
// petrelctl run. pymongo is not in the oracle venv, so the oracle runs IntelMQ's bot with a stand-in
// pymongo that records the documents it is given: IntelMQ's own code builds them.
import { EJSON } from "bson";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { startMongoDb, type TestMongoDb } from "../../bot-runtime/test-support/mongodb.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { eventDocumentId } from "./event-id.ts";
import mongoOutput from "./mongodb.ts";
import {
  createOutput,
  manyEvents,
  measureThroughput,
  petrelctlRun,
  SAMPLE_EVENTS,
} from "./test-support/sample-events.ts";

// IntelMQ's MongoDB output with a pymongo stand-in; prints each document as canonical Extended JSON
// (the types pymongo would encode: int32/int64 by size, doubles, dates in milliseconds).
const ORACLE = `${INTELMQ_PREAMBLE}
import calendar, datetime, types
pymongo = types.ModuleType("pymongo")
pymongo.version_tuple = (4, 6, 0)
pymongo.errors = types.SimpleNamespace(AutoReconnect=type("AutoReconnect", (Exception,), {}),
                                       ConnectionFailure=type("ConnectionFailure", (Exception,), {}),
                                       OperationFailure=type("OperationFailure", (Exception,), {}))
inserted = []
class Collection:
    def insert_one(self, doc):
        inserted.append(doc)
class Database:
    def __getitem__(self, name):
        return Collection()
class MongoClient:
    def __init__(self, *args, **kwargs):
        pass
    def server_info(self):
        return {"version": "7.0.0"}
    def __getitem__(self, name):
        return Database()
    def close(self):
        pass
pymongo.MongoClient = MongoClient
sys.modules["pymongo"] = pymongo
from intelmq.bots.outputs.mongodb.output import MongoDBOutputBot
def ejson(value):
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return {"$numberInt": str(value)} if -2**31 <= value < 2**31 else {"$numberLong": str(value)}
    if isinstance(value, float):
        return {"$numberDouble": repr(value)}
    if isinstance(value, datetime.datetime):
        ms = calendar.timegm(value.utctimetuple()) * 1000 + value.microsecond // 1000
        return {"$date": {"$numberLong": str(ms)}}
    if isinstance(value, dict):
        return {k: ejson(v) for k, v in value.items()}
    if isinstance(value, list):
        return [ejson(v) for v in value]
    raise TypeError(type(value))
for line in sys.stdin:
    case = json.loads(line)
    inserted.clear()
    bot = MongoDBOutputBot("oracle-mongodb-output", settings=library_settings(case["params"]))
    bot.process_message(*[read_message(e) for e in case["events"]])
    print(json.dumps([ejson(d) for d in inserted]))
    bot.shutdown()
sys.stdout.flush()
os._exit(0)
`;

/** The document with the dots of all its keys replaced (IntelMQ's top-level keys have none left). */
function replaceNestedDots(value: unknown, replacement: string): Record<string, unknown> {
  const walk = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(walk)
      : v !== null && typeof v === "object"
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k.replaceAll(".", replacement), walk(x)]))
        : v;
  return walk(value) as Record<string, unknown>;
}

describe("outputs.mongodb", () => {
  let mongo: TestMongoDb;
  let reader: MongoClient;
  let collectionNumber = 0;
  const nextCollection = () => `events_${++collectionNumber}`;

  beforeAll(async () => {
    mongo = await startMongoDb();
    reader = new MongoClient(mongo.url);
    await reader.connect();
  }, 120_000); // the first run builds FerretDB
  afterAll(async () => {
    await reader?.close();
    await mongo?.dispose();
  });

  const connection = () => ({
    host: mongo.host,
    port: mongo.port,
    db_user: mongo.user,
    db_pass: mongo.password,
    database: "intelmq",
  });
  /** The stored documents in insertion order, as canonical Extended JSON (types visible). */
  const stored = async (collection: string) => {
    const docs = await reader
      .db("intelmq")
      .collection(collection)
      .find({}, { promoteValues: false })
      .toArray();
    return docs.map((d) => EJSON.serialize(d, { relaxed: false }) as Record<string, unknown>);
  };

  it("stores the documents IntelMQ's MongoDB output builds, with their BSON types", async () => {
    const cases = [
      { name: "flat (defaults)", params: {} },
      { name: "flat, replacement_char -", params: { replacement_char: "-" } },
      { name: "hierarchical", params: { hierarchical_output: true } },
    ].map((c) => ({ ...c, collection: nextCollection() }));
    const expected = await runOracle<unknown, Array<Record<string, unknown>>>(
      ORACLE,
      cases.map((c) => ({
        params: { ...c.params, database: "intelmq", collection: c.collection },
        events: oracleEvents(SAMPLE_EVENTS),
      })),
    );
    for (const [i, c] of cases.entries()) {
      const output = await createOutput(mongoOutput, {
        ...connection(),
        ...c.params,
        collection: c.collection,
      });
      await output.write(SAMPLE_EVENTS);
      await output.close?.();
      const docs = await stored(c.collection);
      expect(docs, c.name).toHaveLength(SAMPLE_EVENTS.length);
      for (const [n, doc] of docs.entries()) {
        const { _id, ...fields } = doc;
        expect(_id, c.name).toBe(eventDocumentId(SAMPLE_EVENTS[n] as never, "event_hash_and_observation"));
        const intelmq = { ...expected[i]?.[n] };
        const timeSource = c.params.replacement_char === "-" ? "time-source" : "time_source";
        if (!c.params.hierarchical_output && timeSource in intelmq) {
          // flat-time-source-date (asserted below): IntelMQ leaves it a string.
          expect(typeof intelmq[timeSource], c.name).toBe("string");
          intelmq[timeSource] = fields[timeSource];
        }
        // nested-key-dots-replaced (asserted below): dots inside nested keys become replacement_char.
        const dotless = replaceNestedDots(intelmq, (c.params.replacement_char as string | undefined) ?? "_");
        expect(fields, `${c.name}, event ${n}`).toEqual(dotless);
      }
    }
  });

  it(`${declaredDeviation(mongoOutput, "flat-time-source-date")}: flat documents hold time_source as a date`, async () => {
    const collection = nextCollection();
    const [intelmq] = await runOracle<unknown, Array<Record<string, unknown>>>(ORACLE, [
      { params: { database: "intelmq", collection }, events: oracleEvents(SAMPLE_EVENTS.slice(1, 2)) },
    ]);
    expect(intelmq?.[0]?.time_source).toBe("2024-05-01T01:02:03.250000+00:00");
    const output = await createOutput(mongoOutput, { ...connection(), collection });
    await output.write(SAMPLE_EVENTS.slice(1, 2));
    await output.close?.();
    const doc = await reader.db("intelmq").collection(collection).findOne({});
    expect(doc?.time_source).toEqual(new Date("2024-05-01T01:02:03.250Z"));
    expect(doc?.time_observation).toEqual(new Date("2024-05-01T10:00:00Z"));
  });

  it(`${declaredDeviation(mongoOutput, "event-hash-id")}: a redelivered batch stores nothing twice; a re-observed event is stored again`, async () => {
    const collection = nextCollection();
    const output = await createOutput(mongoOutput, { ...connection(), collection });
    await output.write(SAMPLE_EVENTS.slice(0, 2));
    // Redelivery of part of the batch together with a new event: the new one is stored, nothing fails.
    await output.write(SAMPLE_EVENTS);
    await output.write(SAMPLE_EVENTS);
    const reobserved = SAMPLE_EVENTS[0]?.copy();
    reobserved?.add("time.observation", "2024-05-02T10:00:00+00:00", { overwrite: true });
    await output.write([reobserved as never]);
    await output.close?.();
    expect(await reader.db("intelmq").collection(collection).countDocuments()).toBe(SAMPLE_EVENTS.length + 1);

    // document_id event_hash: one document per event, however often it is observed.
    const once = nextCollection();
    const byHash = await createOutput(mongoOutput, {
      ...connection(),
      collection: once,
      document_id: "event_hash",
    });
    await byHash.write([...SAMPLE_EVENTS, reobserved as never]);
    await byHash.close?.();
    expect(await reader.db("intelmq").collection(once).countDocuments()).toBe(SAMPLE_EVENTS.length);
  });

  it(`${declaredDeviation(mongoOutput, "nested-key-dots-replaced")}: dots inside nested keys are replaced, in both modes`, async () => {
    const [flat, nested] = [nextCollection(), nextCollection()];
    const [intelmq] = await runOracle<unknown, Array<Record<string, unknown>>>(ORACLE, [
      { params: { database: "intelmq", collection: flat }, events: oracleEvents(SAMPLE_EVENTS.slice(0, 1)) },
    ]);
    expect(intelmq?.[0]?.extra_nested).toMatchObject({ "dotted.key": "x" });
    for (const [collection, hierarchical_output] of [
      [flat, false],
      [nested, true],
    ] as const) {
      const output = await createOutput(mongoOutput, { ...connection(), collection, hierarchical_output });
      await output.write(SAMPLE_EVENTS.slice(0, 1));
      await output.close?.();
    }
    expect((await reader.db("intelmq").collection(flat).findOne({}))?.extra_nested).toEqual({
      b: 1,
      a: [true, null],
      dotted_key: "x",
    });
    expect((await reader.db("intelmq").collection(nested).findOne({}))?.extra?.nested?.dotted_key).toBe("x");
  });

  it("fails a batch when a document is refused for another reason than a duplicate _id", async () => {
    const collection = nextCollection();
    // A unique index of the user's: a duplicate on it is a real failure, as in IntelMQ, even though the
    // server reports it as a duplicate key like a redelivery.
    await reader.db("intelmq").collection(collection).createIndex({ source_ip: 1 }, { unique: true });
    const output = await createOutput(mongoOutput, { ...connection(), collection });
    const sameIp = SAMPLE_EVENTS[0]?.copy();
    sameIp?.add("comment", "another event, same source.ip");
    const otherIp = SAMPLE_EVENTS[0]?.copy();
    otherIp?.add("source.ip", "192.0.2.99", { overwrite: true });
    await output.write(SAMPLE_EVENTS.slice(0, 1));
    await output.write(SAMPLE_EVENTS.slice(0, 1)); // a redelivery: fine
    await expect(output.write([sameIp as never, otherIp as never])).rejects.toThrow(
      /MongoDB 127\.0\.0\.1:\d+ \(host, port\): 1 of 2 documents not stored in intelmq\.events_\d+: E11000/,
    );
    await output.close?.();
    expect(await reader.db("intelmq").collection(collection).countDocuments()).toBe(2);
  });

  it("authenticates with db_user/db_pass, and names the server when it cannot connect", async () => {
    await expect(
      createOutput(mongoOutput, { ...connection(), db_pass: "wrong", collection: "x" }),
    ).rejects.toThrow(/MongoDB 127\.0\.0\.1:\d+ \(host, port\): Authentication failed/);
    await expect(
      createOutput(mongoOutput, {
        host: "mongodb://petrel:secret@127.0.0.1:1/?serverSelectionTimeoutMS=300",
        database: "intelmq",
        collection: "x",
      }),
    ).rejects.toThrow(
      /MongoDB mongodb:\/\/127\.0\.0\.1:1\/\?serverSelectionTimeoutMS=300 \(host\): .*ECONNREFUSED/,
    );
    // Without a password, IntelMQ does not authenticate: this server then refuses the insert.
    const anonymous = await createOutput(mongoOutput, { ...connection(), db_pass: null, collection: "x" });
    await expect(anonymous.write(SAMPLE_EVENTS)).rejects.toThrow(/requires authentication/);
    await anonymous.close?.();
    // A connection string as host.
    const viaUri = await createOutput(mongoOutput, {
      host: mongo.url,
      database: "intelmq",
      collection: "uri",
    });
    await viaUri.write(SAMPLE_EVENTS);
    await viaUri.close?.();
    expect(await reader.db("intelmq").collection("uri").countDocuments()).toBe(SAMPLE_EVENTS.length);
    expect(() =>
      mongoOutput.parameters.parse({ database: "d", collection: "c", replacement_char: "." }),
    ).toThrow(/replacement_char must not be '\.'/);
  });

  it("works through petrelctl run", async () => {
    const collection = nextCollection();
    const summary = await petrelctlRun(
      "intelmq.bots.outputs.mongodb.output",
      { ...connection(), collection },
      SAMPLE_EVENTS,
    );
    expect(summary.written).toBe(SAMPLE_EVENTS.length);
    expect(await reader.db("intelmq").collection(collection).countDocuments()).toBe(SAMPLE_EVENTS.length);
  });

  it("writes at least 1,000 events/s in batches of 500", async () => {
    const collection = nextCollection();
    const output = await createOutput(mongoOutput, { ...connection(), collection });
    const events = manyEvents(10_000);
    const rate = await measureThroughput(output, events, 500);
    await output.close?.();
    console.log(`outputs.mongodb (FerretDB/SQLite): ${rate} events/s`);
    expect(await reader.db("intelmq").collection(collection).countDocuments()).toBe(events.length);
    expect(rate).toBeGreaterThan(1000);
  }, 40_000);
});
