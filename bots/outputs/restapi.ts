// POSTs each event to a REST API, as IntelMQ's REST API output does: one request per event, in order,
// the event as JSON (the body Python's requests sends: json.dumps of the event dict, raw included), or
// as a form. A batch resolves once every request of it was answered with a 2xx (after redirects); the
// first failure fails the write, and the runtime retries or isolates its events.
import { z } from "zod";
import { pyJsonDumps } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { pyFloatRepr } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import { HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";

const parameters = httpParameters.extend({
  host: z.url().describe("The URL events are POSTed to."),
  auth_type: z
    .enum(["http_basic_auth", "http_header"])
    .nullable()
    .optional()
    .describe(
      "http_basic_auth: auth_token_name and auth_token as user and password; http_header: a header auth_token_name with the value auth_token.",
    ),
  auth_token_name: z.string().nullable().optional().describe("The user (basic auth) or the header name."),
  auth_token: z.string().nullable().optional().describe("The password (basic auth) or the header value."),
  hierarchical_output: z.boolean().default(false).describe("Nest the event on the dots of field names."),
  use_json: z
    .boolean()
    .default(true)
    .describe("Send the event as JSON; false: as an HTML form (application/x-www-form-urlencoded)."),
});

interface Tree {
  [key: string]: Tree | { leaf: string };
}

/** Python's json.dumps(event.to_dict(hierarchical)): insertion order, ASCII escapes, floats as 90.0. */
function jsonBody(event: Event, hierarchical: boolean): string {
  const leaf = (key: string, value: unknown) =>
    isFloatField(key) && typeof value === "number" ? pyFloatRepr(value) : pyJsonDumps(value);
  if (!hierarchical) {
    const parts: string[] = [];
    for (const [key, value] of event.entries()) parts.push(`${pyJsonDumps(key)}: ${leaf(key, value)}`);
    return `{${parts.join(", ")}}`;
  }
  const tree: Tree = {};
  for (const [key, value] of event.entries()) {
    const path = key.split(".");
    let node = tree;
    for (const part of path.slice(0, -1)) {
      const next = node[part];
      if (next === undefined || "leaf" in next) node[part] = {};
      node = node[part] as Tree;
    }
    node[path[path.length - 1] as string] = { leaf: leaf(key, value) };
  }
  const write = (node: Tree): string =>
    `{${Object.entries(node)
      .map(
        ([k, v]) =>
          `${pyJsonDumps(k)}: ${"leaf" in v && typeof v.leaf === "string" ? v.leaf : write(v as Tree)}`,
      )
      .join(", ")}}`;
  return write(tree);
}

/** Python's urllib.parse.quote_plus. */
function quotePlus(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll("%20", "+");
}

/** The event as a form, as requests encodes a dict: lists as repeated keys, None left out. */
function formBody(event: Event, hierarchical: boolean): string {
  const pairs: string[] = [];
  const add = (key: string, value: unknown, float: boolean) => {
    if (value === null || value === undefined) return;
    const text =
      typeof value === "string"
        ? value
        : typeof value === "object"
          ? pyJsonDumps(value) // form-nested-as-json
          : pyStr(value, float);
    pairs.push(`${quotePlus(key)}=${quotePlus(text)}`);
  };
  for (const [key, value] of Object.entries(event.toDict({ hierarchical }))) {
    if (Array.isArray(value)) for (const element of value) add(key, element, false);
    else add(key, value, isFloatField(key));
  }
  return pairs.join("&");
}

export default defineOutput({
  id: "outputs.restapi",
  intelmqModules: ["intelmq.bots.outputs.restapi.output"],
  kind: "output",
  description: "POSTs each event to a REST API as JSON (or as a form), with basic or header authentication.",
  parameters,
  deviations: [
    {
      id: "form-content-type",
      summary:
        "With use_json false the form is sent as application/x-www-form-urlencoded; IntelMQ labels it application/json.",
      reason:
        "A receiver must be told what the body is to parse it; IntelMQ sets its JSON content type for both cases.",
    },
    {
      id: "form-nested-as-json",
      summary:
        "With use_json false an object value (hierarchical_output, or an extra.* object) is sent as its JSON text; IntelMQ's requests sends only the object's keys.",
      reason: "The keys alone lose the values; JSON text keeps them readable.",
    },
    {
      id: "auth-incomplete-rejected",
      summary:
        "auth_type without auth_token_name or auth_token is a configuration error; IntelMQ then sends no authentication.",
      reason:
        "Requests that silently go out unauthenticated only fail later, at the receiver, with less to go on.",
    },
  ],
  create(params) {
    if (params.auth_type && !(params.auth_token_name && params.auth_token)) {
      throw new Error(`auth_type ${params.auth_type} needs auth_token_name and auth_token`);
    }
    const client = new HttpClient(params);
    const headers: Record<string, string> = {
      "content-type": params.use_json
        ? "application/json; charset=utf-8"
        : "application/x-www-form-urlencoded",
    };
    if (params.auth_type === "http_header") {
      headers[params.auth_token_name as string] = params.auth_token as string;
    } else if (params.auth_type === "http_basic_auth") {
      const credentials = Buffer.from(`${params.auth_token_name}:${params.auth_token}`).toString("base64");
      headers.authorization = `Basic ${credentials}`;
    }
    const body = params.use_json ? jsonBody : formBody;
    return {
      async write(events) {
        // One request per event, in order, as IntelMQ.
        for (const event of events) {
          await client.request(params.host, {
            method: "POST",
            headers,
            body: body(event, params.hierarchical_output),
          });
        }
      },
      close: () => client.close(),
    };
  },
});
