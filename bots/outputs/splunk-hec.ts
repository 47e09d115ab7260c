// Sends events to Splunk's HTTP Event Collector (HEC): a batch is POSTed as concatenated JSON event
// objects ({"time", "host", "source", "sourcetype", "index", "event", "fields"}) with
// `Authorization: Splunk <token>`, split into requests of at most max_content_length bytes. A request
// counts as stored when HEC answers 200 with code 0; with use_ack, only once Splunk's indexer
// acknowledgement confirms its ackId. "Server busy" (503) and internal errors (500) are retried with
// backoff. HEC has no event ids: an event whose request was indexed but whose reply was lost is
// indexed again when retried (Splunk searches can dedup on the event's fields).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { exportEventValue } from "../../bot-runtime/src/sdk/export.ts";
import { HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";

const parameters = httpParameters
  .omit({ http_username: true, http_password: true, http_bearer_token: true })
  .extend({
    hec_url: z
      .url()
      .describe(
        "The HTTP Event Collector, e.g. https://splunk.example.com:8088 (/services/collector/event is added when the URL has no path).",
      ),
    auth_token: z.string().min(1).describe("The HEC token, sent as `Authorization: Splunk <token>`."),
    index: z.string().nullable().optional().describe("Splunk index; the token's default index when not set."),
    source: z
      .string()
      .nullable()
      .optional()
      .describe("The events' source; the token's default when not set."),
    sourcetype: z
      .string()
      .nullable()
      .optional()
      .describe("The events' sourcetype (e.g. _json); the token's default when not set."),
    event_host: z
      .string()
      .nullable()
      .optional()
      .describe("The events' host field; the sender's when not set."),
    time_field: z
      .string()
      .nullable()
      .default("time.source")
      .describe(
        "The event field giving the event's Splunk time (time.observation when the event lacks it); null: the time Splunk receives it.",
      ),
    indexed_fields: z
      .array(z.string())
      .default([])
      .describe("Event fields also sent as HEC indexed fields (the fields object), for tstats searches."),
    hierarchical_output: z.boolean().default(false).describe("Nest the event on the dots of field names."),
    keep_raw_field: z.boolean().default(false).describe("Keep the raw field in the event."),
    use_ack: z
      .boolean()
      .default(false)
      .describe(
        "Use indexer acknowledgement (the token must have it enabled): a write resolves only once Splunk confirms the events are indexed.",
      ),
    ack_timeout: z
      .number()
      .positive()
      .default(300)
      .describe("Seconds to wait for indexer acknowledgement before the write fails (and is retried)."),
    max_content_length: z
      .number()
      .int()
      .min(1024)
      .default(1_000_000)
      .describe("Bytes per request at most (Splunk's max_content_length for HEC); larger batches are split."),
  });

const TIME = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?\+00:00$/;

/** Epoch seconds of an IntelMQ timestamp, microseconds kept. */
function epochSeconds(value: unknown): number | undefined {
  const m = typeof value === "string" ? TIME.exec(value) : null;
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, fraction = ""] = m.map((p) => p ?? "") as string[];
  const seconds = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)) / 1000;
  return fraction ? Number(`${seconds}.${(fraction as string).padEnd(6, "0")}`) : seconds;
}

/** What HEC answered, for messages: its text and code, and the parameter that is likely wrong. */
function hecFailure(status: number, body: string): Error {
  let reply: { text?: string; code?: number; "invalid-event-number"?: number } = {};
  try {
    reply = JSON.parse(body);
  } catch {
    // not HEC's JSON (a proxy's page): the status says enough
  }
  const hint: Record<number, string> = {
    1: " (auth_token)",
    2: " (auth_token)",
    3: " (auth_token)",
    4: " (auth_token)",
    7: " (index)",
    10: " (use_ack: the token needs indexer acknowledgement)",
    11: " (use_ack)",
    14: " (use_ack: the token has indexer acknowledgement disabled)",
  };
  const event =
    reply["invalid-event-number"] !== undefined
      ? `, event ${reply["invalid-event-number"]} of the request`
      : "";
  return new Error(
    `HTTP ${status}: ${reply.text ?? body.slice(0, 200)}${reply.code !== undefined ? ` (code ${reply.code})` : ""}${event}${reply.code !== undefined ? (hint[reply.code] ?? "") : ""}`,
  );
}

export default defineOutput({
  id: "outputs.splunk_http_event_collector",
  intelmqModules: [],
  kind: "output",
  description:
    "Sends events to Splunk's HTTP Event Collector in batches, optionally confirmed by indexer acknowledgement.",
  parameters,
  async create(params, ctx) {
    const base = new URL(params.hec_url);
    if (base.pathname === "/" || base.pathname === "") base.pathname = "/services/collector/event";
    const eventUrl = base.toString();
    const ackUrl = new URL(
      /\/event(\/1\.0)?\/?$/.test(base.pathname)
        ? base.pathname.replace(/\/event(\/1\.0)?\/?$/, "/ack")
        : "/services/collector/ack",
      base,
    ).toString();
    const where = `Splunk HEC ${eventUrl} (hec_url)`;
    const client = new HttpClient({ ...params, http_username: undefined, http_password: undefined });
    const headers: Record<string, string> = {
      authorization: `Splunk ${params.auth_token}`,
      "content-type": "application/json",
    };
    // One channel per bot instance: acknowledgements are tracked per channel.
    if (params.use_ack) headers["x-splunk-request-channel"] = randomUUID();
    const exportOptions = { hierarchical: params.hierarchical_output, keepRawField: params.keep_raw_field };
    const metadata: Record<string, string> = {};
    for (const key of ["index", "source", "sourcetype"] as const) {
      const value = params[key];
      if (value) metadata[key] = value;
    }
    if (params.event_host) metadata.host = params.event_host;

    const eventText = (event: Event): string => {
      const object: Record<string, unknown> = {};
      if (params.time_field) {
        const time =
          epochSeconds(event.get(params.time_field)) ?? epochSeconds(event.get("time.observation"));
        if (time !== undefined) object.time = time;
      }
      Object.assign(object, metadata);
      object.event = exportEventValue(event, exportOptions);
      if (params.indexed_fields.length > 0) {
        const fields: Record<string, unknown> = {};
        for (const key of params.indexed_fields) {
          const value = event.get(key);
          // HEC takes strings, numbers or lists of them as indexed field values.
          if (value !== undefined && value !== null) {
            fields[key] = typeof value === "object" && !Array.isArray(value) ? JSON.stringify(value) : value;
          }
        }
        object.fields = fields;
      }
      return JSON.stringify(object);
    };

    /** POSTs with retries while HEC is busy (503) or failing internally (500); returns its reply. */
    const post = async (url: string, body: string): Promise<Record<string, unknown>> => {
      for (let attempt = 1; ; attempt++) {
        const response = await client.request(url, { method: "POST", headers, body, raiseForStatus: false });
        const text = response.body.toString("utf8");
        if (response.status === 200) {
          try {
            return JSON.parse(text) as Record<string, unknown>;
          } catch {
            throw new Error(`${where}: HTTP 200 without HEC's JSON reply: ${text.slice(0, 200)}`);
          }
        }
        const retriable = response.status === 503 || response.status === 500;
        if (!retriable || attempt >= params.http_timeout_max_tries) {
          throw new Error(`${where}: ${hecFailure(response.status, text).message}`);
        }
        await sleep(Math.min(500 * 2 ** (attempt - 1), 5000), undefined, { signal: ctx.signal });
      }
    };

    const awaitAcks = async (ids: number[]) => {
      const deadline = Date.now() + params.ack_timeout * 1000;
      let pending = ids;
      for (let wait = 50; pending.length > 0; wait = Math.min(wait * 2, 2000)) {
        await sleep(wait, undefined, { signal: ctx.signal });
        const reply = await post(ackUrl, JSON.stringify({ acks: pending }));
        const acks = (reply.acks ?? {}) as Record<string, boolean>;
        pending = pending.filter((id) => acks[String(id)] !== true);
        if (pending.length > 0 && Date.now() > deadline) {
          throw new Error(
            `${where}: no indexer acknowledgement within ${params.ack_timeout} s (ack_timeout) for ackIds ${pending.join(", ")}`,
          );
        }
      }
    };

    return {
      async write(events) {
        // Requests of at most max_content_length bytes.
        const bodies: string[] = [];
        let body = "";
        for (const event of events) {
          const text = eventText(event);
          if (body && Buffer.byteLength(body) + Buffer.byteLength(text) + 1 > params.max_content_length) {
            bodies.push(body);
            body = "";
          }
          body += body ? `\n${text}` : text;
        }
        if (body) bodies.push(body);
        const ackIds: number[] = [];
        for (const request of bodies) {
          const reply = await post(eventUrl, request);
          if (reply.code !== 0)
            throw new Error(`${where}: ${hecFailure(200, JSON.stringify(reply)).message}`);
          if (params.use_ack) {
            if (typeof reply.ackId !== "number") {
              throw new Error(
                `${where}: no ackId in HEC's reply: does the token have indexer acknowledgement enabled (use_ack)?`,
              );
            }
            ackIds.push(reply.ackId);
          }
        }
        if (ackIds.length > 0) await awaitAcks(ackIds);
      },
      close: () => client.close(),
    };
  },
});
