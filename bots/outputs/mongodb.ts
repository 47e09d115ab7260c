// Stores events as MongoDB documents, as IntelMQ's MongoDB output does: flat with the dots of field names
// replaced (replacement_char), or nested on the dots (hierarchical_output); time.source and
// time.observation as dates; numbers with the BSON types pymongo gives them (Float fields as doubles).
// A batch is one unordered insertMany. Each document's _id is derived from the event hash, so a
// redelivered event meets a duplicate-key error on _id, which counts as stored.
import {
  Double,
  Long,
  MongoBulkWriteError,
  MongoClient,
  type MongoClientOptions,
  type WriteError,
} from "mongodb";
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import { DOCUMENT_ID_DESCRIPTION, DOCUMENT_ID_MODES, eventDocumentId } from "./event-id.ts";

const parameters = z.object({
  host: z
    .string()
    .min(1)
    .default("localhost")
    .describe(
      "Host name of the MongoDB server, or (as pymongo accepts) a mongodb:// or mongodb+srv:// connection string, which then also carries options such as authSource, tls or replicaSet.",
    ),
  port: z.number().int().min(1).max(65535).default(27017).describe("Port of the MongoDB server."),
  database: z.string().min(1).describe("The database to write to."),
  collection: z.string().min(1).describe("The collection to write to."),
  db_user: z
    .string()
    .nullable()
    .optional()
    .describe("User to authenticate as (with db_pass; authSource admin)."),
  db_pass: z.string().nullable().optional().describe("Password of db_user; without it, no authentication."),
  hierarchical_output: z
    .boolean()
    .default(false)
    .describe("Nest documents on the dots of field names instead of replacing the dots."),
  replacement_char: z
    .string()
    .default("_")
    .refine((c) => c !== ".", { message: "replacement_char must not be '.'" })
    .describe(
      "Replaces the dots of field names in flat documents (source.ip becomes source_ip), and of keys inside nested values in both modes.",
    ),
  document_id: z
    .enum(DOCUMENT_ID_MODES)
    .default("event_hash_and_observation")
    .describe(DOCUMENT_ID_DESCRIPTION),
});

const TIME_FIELDS = ["time.observation", "time.source"] as const;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** A date from an IntelMQ timestamp (UTC, maybe with microseconds), truncated to milliseconds as BSON. */
function bsonDate(value: unknown, field: string): Date {
  const match = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:\+00:00|Z)$/.exec(String(value));
  const date = match ? new Date(`${match[1]}.${(match[2] ?? "").padEnd(3, "0").slice(0, 3)}Z`) : undefined;
  if (!date || Number.isNaN(date.getTime()))
    throw new Error(`${field}: not a UTC timestamp: ${String(value)}`);
  return date;
}

/**
 * Numbers as pymongo encodes Python's: ints as int32 or int64, floats as doubles. Dots in the keys of
 * nested objects become `dotReplacement`.
 */
function bsonValue(value: unknown, float: boolean, dotReplacement: string): unknown {
  if (typeof value === "number") {
    if (float) return new Double(value);
    if (Number.isInteger(value)) {
      return value >= INT32_MIN && value <= INT32_MAX ? value : Long.fromNumber(value);
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => bsonValue(v, false, dotReplacement));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value))
      out[k.replaceAll(".", dotReplacement)] = bsonValue(v, false, dotReplacement);
    return out;
  }
  return value;
}

/** The document IntelMQ's output builds for the event (without _id). */
function mongoDocument(
  event: Event,
  hierarchical: boolean,
  replacementChar: string,
): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  if (hierarchical) {
    for (const [key, value] of Object.entries(event.toDict({ hierarchical: true }))) {
      doc[key] = bsonValue(value, false, replacementChar);
    }
    // Float fields and dates sit one level down: put them in place.
    for (const [key, value] of event.entries()) {
      const float = isFloatField(key);
      const time = (TIME_FIELDS as readonly string[]).includes(key);
      if (!float && !time) continue;
      const parts = key.split(".");
      const parent = parts.slice(0, -1).reduce((node, part) => node[part] as Record<string, unknown>, doc);
      parent[parts[parts.length - 1] as string] = time
        ? bsonDate(value, key)
        : bsonValue(value, true, replacementChar);
    }
    return doc;
  }
  for (const [key, value] of event.entries()) {
    const name = key.replaceAll(".", replacementChar);
    doc[name] = (TIME_FIELDS as readonly string[]).includes(key)
      ? bsonDate(value, key)
      : bsonValue(value, isFloatField(key), replacementChar);
  }
  return doc;
}

const DUPLICATE_KEY = 11000;

export default defineOutput({
  id: "outputs.mongodb",
  intelmqModules: ["intelmq.bots.outputs.mongodb.output"],
  kind: "output",
  description:
    "Stores events as documents in a MongoDB collection, flat (dots replaced) or nested, with dates for time fields.",
  parameters,
  deviations: [
    {
      id: "event-hash-id",
      summary:
        "Documents get an _id derived from the event hash (document_id) instead of a server-generated ObjectId, and a duplicate _id counts as stored.",
      reason:
        "A redelivered event must not be stored twice; the runtime redelivers after crashes and failed batches.",
    },
    {
      id: "nested-key-dots-replaced",
      summary:
        "Dots in the keys of nested values (objects inside extra.* fields) are replaced with replacement_char, in flat and hierarchical documents; IntelMQ leaves them.",
      reason:
        "MongoDB before 5.0 (and FerretDB) refuses such keys, failing the event; later versions store them under names that dotted query paths cannot reach.",
    },
    {
      id: "flat-time-source-date",
      summary:
        "In flat documents time_source is stored as a date, like time_observation; IntelMQ's flat mode leaves it a string (a typo in its key).",
      reason:
        "IntelMQ documents both time fields as dates, and its hierarchical mode stores both as dates; one field type per field keeps range queries working.",
    },
  ],
  async create(params, ctx) {
    const isUri = /^mongodb(\+srv)?:\/\//.test(params.host);
    const uri = isUri
      ? params.host
      : `mongodb://${params.host.includes(":") ? `[${params.host}]` : params.host}:${params.port}/`;
    const where = isUri
      ? `MongoDB ${params.host.replace(/\/\/[^@/]*@/, "//")} (host)`
      : `MongoDB ${params.host}:${params.port} (host, port)`;
    const options: MongoClientOptions = { appName: `petrel ${ctx.botId}` };
    // A write fails after 10 s without a server (the driver's 30 s unless the connection string says).
    if (!/[?&]serverSelectionTimeoutMS=/i.test(uri)) options.serverSelectionTimeoutMS = 10_000;
    // As IntelMQ: no password, no authentication (a user alone is not enough).
    if (params.db_pass && params.db_user) {
      options.auth = { username: params.db_user, password: params.db_pass };
    }
    const client = new MongoClient(uri, options);
    try {
      // As IntelMQ: ask for the server's version when the bot starts, to fail early.
      const info = await client.db("admin").command({ buildInfo: 1 });
      ctx.log.info({ version: info.version }, `Connected to ${where}.`);
    } catch (error) {
      await client.close();
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    const collection = client.db(params.database).collection(params.collection);

    return {
      async write(events) {
        const docs = events.map((event) => ({
          _id: eventDocumentId(event, params.document_id),
          ...mongoDocument(event, params.hierarchical_output, params.replacement_char),
        })) as Array<Record<string, unknown> & { _id: string }>;
        try {
          await collection.insertMany(docs as never[], { ordered: false });
        } catch (error) {
          if (!(error instanceof MongoBulkWriteError)) {
            throw new Error(`${where}: ${(error as Error).message}`, { cause: error });
          }
          const writeErrors = ([] as WriteError[]).concat(error.writeErrors ?? []);
          // A command-level failure (authentication, a lost connection) comes without per-document errors.
          if (writeErrors.length === 0) throw new Error(`${where}: ${error.message}`, { cause: error });
          // A duplicate key is a redelivery when a document with that _id is stored. (Not every server
          // says which unique index refused the document, and a user's own unique index may.)
          const duplicates = writeErrors.filter((w) => w.code === DUPLICATE_KEY);
          const ids = duplicates.map((w) => docs[w.index]?._id as string);
          const stored = new Set<unknown>();
          if (ids.length > 0) {
            const found = collection.find({ _id: { $in: ids } } as never, { projection: { _id: 1 } });
            for await (const doc of found) stored.add(doc._id);
          }
          const failures = writeErrors.filter(
            (w) => w.code !== DUPLICATE_KEY || !stored.has(docs[w.index]?._id),
          );
          const concern = error.result.getWriteConcernError();
          if (failures.length === 0 && !concern) return;
          const first = failures[0];
          throw new Error(
            `${where}: ${failures.length} of ${docs.length} documents not stored in ${params.database}.${params.collection}: ` +
              (first ? `${first.errmsg ?? `code ${first.code}`}` : `write concern: ${concern?.errmsg}`),
          );
        }
      },
      async close() {
        await client.close();
      },
    };
  },
});
