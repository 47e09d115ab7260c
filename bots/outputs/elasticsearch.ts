// Indexes events into Elasticsearch, as IntelMQ's Elasticsearch output does: the flat event (raw
// included), flatten_fields expanded, dots in keys replaced when replacement_char is set, and an index
// per day/week/month/year of the event with rotate_index. A batch is one _bulk request of `create`
// operations whose _id derives from the event hash: a redelivered event meets a 409 conflict, which
// counts as stored; any other failed item fails the write (the runtime then retries or isolates).
import { readFileSync } from "node:fs";
import { Client } from "@elastic/elasticsearch";
import { z } from "zod";
import { pyFloatRepr } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { strftime } from "../../bot-runtime/src/event/compat/strftime.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import { DOCUMENT_ID_DESCRIPTION, DOCUMENT_ID_MODES, eventDocumentId } from "./event-id.ts";

type ClientOptions = ConstructorParameters<typeof Client>[0];

const ROTATIONS = { never: "", daily: "%Y-%m-%d", weekly: "%Y-%W", monthly: "%Y-%m", yearly: "%Y" } as const;

const parameters = z.object({
  elastic_host: z.string().min(1).default("127.0.0.1").describe("Host name or address of Elasticsearch."),
  elastic_port: z.number().int().min(1).max(65535).default(9200).describe("Port of Elasticsearch."),
  elastic_index: z
    .string()
    .min(1)
    .default("intelmq")
    .describe("The index, or with rotate_index the prefix of the index names (intelmq-2024-05-01)."),
  rotate_index: z
    .enum(Object.keys(ROTATIONS) as [keyof typeof ROTATIONS, ...(keyof typeof ROTATIONS)[]])
    .default("never")
    .describe(
      "One index per day (<elastic_index>-%Y-%m-%d), week (%Y-%W), month (%Y-%m) or year (%Y) of the event's time.source, else time.observation; never: elastic_index itself.",
    ),
  flatten_fields: z
    .union([z.string(), z.array(z.string())])
    .default(["extra"])
    .describe(
      "Fields whose object value (or JSON text of one) is replaced by one field per key, <field>_<key>; a list or comma-separated.",
    ),
  replacement_char: z
    .string()
    .nullable()
    .optional()
    .describe(
      "Replaces the dots in all keys (nested ones included) when set, for Elasticsearch 2.x; e.g. _.",
    ),
  http_username: z.string().nullable().optional().describe("User for HTTP basic authentication."),
  http_password: z.string().nullable().optional().describe("Password for HTTP basic authentication."),
  use_ssl: z.boolean().default(false).describe("Connect with HTTPS."),
  http_verify_cert: z
    .boolean()
    .default(false)
    .describe("Verify the server's TLS certificate (IntelMQ's default for this output is not to)."),
  ssl_ca_certificate: z
    .string()
    .nullable()
    .optional()
    .describe("CA certificate file (PEM) to verify the server with."),
  ssl_show_warnings: z
    .boolean()
    .default(true)
    .describe("Log a warning at start when HTTPS is used without verifying the certificate."),
  elastic_api_key: z
    .string()
    .nullable()
    .optional()
    .describe("Petrel: an Elasticsearch API key (the encoded id:key), sent as `Authorization: ApiKey …`."),
  document_id: z
    .enum(DOCUMENT_ID_MODES)
    .default("event_hash_and_observation")
    .describe(DOCUMENT_ID_DESCRIPTION),
});

// Plain media types: accepted by Elasticsearch 7, 8 and 9 alike, where the client's default vendor type
// (compatible-with=9) is refused by Elasticsearch 8.
const JSON_HEADERS = { accept: "application/json", "content-type": "application/json" };
const NDJSON_HEADERS = { accept: "application/json", "content-type": "application/x-ndjson" };

/** A value as JSON text; Float fields as Python writes floats (90.0), so Elasticsearch maps them as float. */
interface Field {
  value: unknown;
  float: boolean;
}

function replaceKeys(value: unknown, replacement: string): unknown {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value))
    out[key.replaceAll(".", replacement)] = replaceKeys(child, replacement);
  return out;
}

/** An error of the client with the HTTP status, which a HEAD response's empty message leaves out. */
function describeError(error: unknown): string {
  const { message, meta } = error as {
    message?: string;
    meta?: { statusCode?: number; body?: { error?: { type?: string; reason?: string } } };
  };
  const status = meta?.statusCode;
  if (!status) return message ?? String(error);
  const cause = meta?.body?.error;
  return `HTTP ${status}${cause?.type ? `: ${cause.type}: ${cause.reason ?? ""}` : message ? `: ${message}` : ""}`;
}

const TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.\d+)?\+00:00$/;

/** The UTC date of an IntelMQ timestamp, fractional seconds allowed. */
function eventDate(value: unknown): { year: number; month: number; day: number } | undefined {
  const m = typeof value === "string" ? TIME.exec(value) : null;
  return m ? { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) } : undefined;
}

export default defineOutput({
  id: "outputs.elasticsearch",
  intelmqModules: ["intelmq.bots.outputs.elasticsearch.output"],
  kind: "output",
  description:
    "Indexes events into Elasticsearch with the bulk API, in one index or one per day, week, month or year.",
  parameters,
  deviations: [
    {
      id: "event-hash-id",
      summary:
        "Documents are created with an _id derived from the event hash (document_id) instead of one Elasticsearch generates; a 409 conflict for that _id counts as stored.",
      reason:
        "A redelivered event must not be indexed twice; the runtime redelivers after crashes and failed batches.",
    },
    {
      id: "rotate-by-event-time",
      summary:
        "With rotate_index, time.source (else time.observation) decides the index also when it has fractional seconds or replacement_char renamed it, and events without either go to the current UTC date's index; IntelMQ then uses the local current date.",
      reason:
        "An event belongs in the index of its own date; IntelMQ's parser only accepts whole seconds and looks the fields up by their original names.",
    },
    {
      id: "rotate-template-optional",
      summary:
        "With rotate_index, a missing index template named elastic_index (composable or legacy) is logged as a warning; IntelMQ refuses to start without a legacy template.",
      reason:
        "Legacy templates are deprecated since Elasticsearch 7.8 and templates are often named otherwise; dynamic mapping still stores every event.",
    },
  ],
  async create(params, ctx) {
    const scheme = params.use_ssl ? "https" : "http";
    const host = params.elastic_host.includes(":") ? `[${params.elastic_host}]` : params.elastic_host;
    const node = `${scheme}://${host}:${params.elastic_port}`;
    const where = `Elasticsearch ${node} (elastic_host, elastic_port)`;
    if (Boolean(params.http_username) !== Boolean(params.http_password)) {
      throw new Error("http_username and http_password must be set together");
    }
    const options: ClientOptions = { node, requestTimeout: 30_000, maxRetries: 3 };
    if (params.elastic_api_key) options.auth = { apiKey: params.elastic_api_key };
    else if (params.http_username && params.http_password) {
      options.auth = { username: params.http_username, password: params.http_password };
    }
    if (params.use_ssl) {
      options.tls = {
        rejectUnauthorized: params.http_verify_cert,
        ...(params.ssl_ca_certificate ? { ca: readFileSync(params.ssl_ca_certificate) } : {}),
      };
      if (!params.http_verify_cert && params.ssl_show_warnings) {
        ctx.log.warn(`${where}: the server's TLS certificate is not verified (http_verify_cert).`);
      }
    }
    const client = new Client(options);
    const flatten = (
      typeof params.flatten_fields === "string" ? params.flatten_fields.split(",") : params.flatten_fields
    ).filter((f) => f !== "");
    const replacement =
      params.replacement_char && params.replacement_char !== "." ? params.replacement_char : "";
    const rotation = ROTATIONS[params.rotate_index];
    const prefix = params.elastic_index;

    try {
      if (rotation) {
        const found = await Promise.all([
          client.indices.existsIndexTemplate({ name: prefix }, { headers: JSON_HEADERS }),
          client.indices.existsTemplate({ name: prefix }, { headers: JSON_HEADERS }),
        ]).catch(() => [false, false]);
        if (!found.some(Boolean)) {
          ctx.log.warn(
            `${where}: no index template named ${prefix}: rotated indices (${prefix}-…) get dynamic mappings.`,
          );
        }
      } else if (!(await client.indices.exists({ index: prefix }, { headers: JSON_HEADERS }))) {
        // As IntelMQ: create the index when the bot starts (another replica may be quicker).
        await client.indices.create({ index: prefix }, { headers: JSON_HEADERS }).catch((error: unknown) => {
          const type = (error as { meta?: { body?: { error?: { type?: string } } } }).meta?.body?.error?.type;
          if (type !== "resource_already_exists_exception") throw error;
        });
      }
    } catch (error) {
      await client.close();
      throw new Error(`${where}: ${describeError(error)}`);
    }

    const indexFor = (fields: Map<string, Field>): string => {
      if (!rotation) return prefix;
      let date = undefined as ReturnType<typeof eventDate>;
      for (const key of ["time.source", "time.observation"]) {
        date ??= eventDate(fields.get(key)?.value);
      }
      if (!date) {
        const now = new Date();
        date = { year: now.getUTCFullYear(), month: now.getUTCMonth() + 1, day: now.getUTCDate() };
      }
      return `${prefix}-${strftime({ ...date, hour: 0, minute: 0, second: 0, microsecond: 0 }, rotation)}`;
    };

    /** The document as JSON text and the index it goes to. */
    const documentOf = (event: Event): { index: string; text: string } => {
      const fields = new Map<string, Field>();
      for (const [key, value] of event.entries()) fields.set(key, { value, float: isFloatField(key) });
      // The index is chosen by the event's own fields, before any renaming.
      const index = indexFor(fields);
      for (const name of flatten) {
        const field = fields.get(name);
        if (field === undefined) continue;
        let value = field.value;
        if (typeof value === "string") {
          try {
            value = JSON.parse(value);
          } catch {
            // not JSON: stays as it is
          }
        }
        if (value === null || typeof value !== "object" || Array.isArray(value)) continue;
        for (const [key, child] of Object.entries(value))
          fields.set(`${name}_${key}`, { value: child, float: false });
        fields.delete(name);
      }
      let text = "{";
      for (const [key, { value, float }] of fields) {
        const name = replacement ? key.replaceAll(".", replacement) : key;
        const json =
          float && typeof value === "number"
            ? pyFloatRepr(value)
            : JSON.stringify(replacement ? replaceKeys(value, replacement) : value);
        text += `${text.length > 1 ? "," : ""}${JSON.stringify(name)}:${json}`;
      }
      return { index, text: `${text}}` };
    };

    return {
      async write(events) {
        const lines: string[] = [];
        for (const event of events) {
          const { index, text } = documentOf(event);
          lines.push(
            JSON.stringify({ create: { _index: index, _id: eventDocumentId(event, params.document_id) } }),
            text,
          );
        }
        let response: Awaited<ReturnType<typeof client.bulk>>;
        try {
          response = await client.bulk({ operations: lines }, { headers: NDJSON_HEADERS });
        } catch (error) {
          throw new Error(`${where}: ${describeError(error)}`, { cause: error });
        }
        if (!response.errors) return;
        const failures: string[] = [];
        for (const item of response.items) {
          const result = item.create ?? item.index;
          // 409 on create: a document with this _id is stored already, i.e. this event.
          if (!result?.error || result.status === 409) continue;
          failures.push(
            `${result.status} ${result.error.type} in ${result._index}: ${result.error.reason ?? ""}`,
          );
        }
        if (failures.length > 0) {
          throw new Error(
            `${where}: ${failures.length} of ${events.length} documents not indexed; first: ${failures[0]}`,
          );
        }
      },
      async close() {
        await client.close();
      },
    };
  },
});
