// A local Splunk HTTP Event Collector for tests (node:http), answering as Splunk documents HEC: the
// event endpoint (/services/collector, /services/collector/event, .../event/1.0) taking concatenated
// JSON event objects, `Authorization: Splunk <token>`, JSON replies {"text", "code"} with Splunk's
// status codes (0 success, 1 token disabled, 2 token required, 3 invalid authorization, 4 invalid token,
// 5 no data, 6 invalid data format, 7 incorrect index, 9 server busy, 10/11 data channel missing or
// invalid, 12/13 event field required or blank, 14 ACK disabled, 15 indexed fields, 17 healthy) and
// "invalid-event-number" where Splunk gives it; indexer acknowledgement (channels, ackId, the ack
// endpoint) for tokens that have it; the health endpoint. Events before an invalid one in a request are
// kept, as Splunk indexes them. "Busy" replies can be injected.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HecToken {
  /** Index used when an event names none (default "main"). */
  defaultIndex?: string;
  /** Indexes the token may write to (default: only defaultIndex). */
  indexes?: string[];
  /** Indexer acknowledgement enabled: requests need a channel and get an ackId. */
  ack?: boolean;
  disabled?: boolean;
}

export interface HecEvent {
  index: string;
  token: string;
  time?: number | string;
  host?: string;
  source?: string;
  sourcetype?: string;
  event: unknown;
  fields?: Record<string, unknown>;
}

export interface TestSplunkHec {
  readonly url: string;
  readonly port: number;
  /** Events indexed, in order. */
  readonly events: HecEvent[];
  readonly requests: Array<{ path: string; headers: IncomingMessage["headers"]; body: string }>;
  /** The next `count` event requests are answered 503 "Server is busy" (code 9), nothing indexed. */
  busy(count: number): void;
  /** Milliseconds until an ackId is acknowledged (default 30). */
  ackDelayMs: number;
  close(): Promise<void>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

class HecReply extends Error {
  readonly status: number;
  readonly code: number;
  readonly eventNumber: number | undefined;
  constructor(status: number, code: number, text: string, eventNumber?: number) {
    super(text);
    this.status = status;
    this.code = code;
    this.eventNumber = eventNumber;
  }
}

/** Splits concatenated JSON objects; a malformed one throws with its number (0-based). */
function* splitEvents(body: string): Generator<{ text: string; number: number }> {
  let i = 0;
  let number = 0;
  while (i < body.length) {
    while (i < body.length && /\s/.test(body[i] as string)) i++;
    if (i >= body.length) return;
    if (body[i] !== "{") throw new HecReply(400, 6, "Invalid data format", number);
    let depth = 0;
    let inString = false;
    const start = i;
    for (; i < body.length; i++) {
      const c = body[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{" || c === "[") depth++;
      else if (c === "}" || c === "]") {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      }
    }
    if (depth !== 0) throw new HecReply(400, 6, "Invalid data format", number);
    yield { text: body.slice(start, i), number: number++ };
  }
}

export async function startSplunkHec(tokens: Record<string, HecToken>): Promise<TestSplunkHec> {
  const events: HecEvent[] = [];
  const requests: TestSplunkHec["requests"] = [];
  const channels = new Map<string, { next: number; acked: Map<number, number> }>();
  let busy = 0;

  const tokenOf = (req: IncomingMessage): [string, HecToken] => {
    const header = req.headers.authorization;
    if (header === undefined) throw new HecReply(401, 2, "Token is required");
    const match = /^Splunk\s+(\S+)$/.exec(header);
    if (!match) throw new HecReply(401, 3, "Invalid authorization");
    const token = tokens[match[1] as string];
    if (!token) throw new HecReply(403, 4, "Invalid token");
    if (token.disabled) throw new HecReply(403, 1, "Token disabled");
    return [match[1] as string, token];
  };

  const channelOf = (req: IncomingMessage, url: URL, token: HecToken) => {
    if (!token.ack) return undefined;
    const id =
      (req.headers["x-splunk-request-channel"] as string | undefined) ?? url.searchParams.get("channel");
    if (!id) throw new HecReply(400, 10, "Data channel is missing");
    if (!GUID.test(id)) throw new HecReply(400, 11, "Invalid data channel");
    let channel = channels.get(id);
    if (!channel) {
      channel = { next: 0, acked: new Map() };
      channels.set(id, channel);
    }
    return channel;
  };

  const handle = (req: IncomingMessage, body: string, api: TestSplunkHec): Record<string, unknown> => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const path = url.pathname.replace(/\/+$/, "");
    if (path === "/services/collector/health" || path === "/services/collector/health/1.0") {
      return { text: "HEC is healthy", code: 17 };
    }
    if (req.method !== "POST")
      throw new HecReply(404, 404, "The requested URL was not found on this server.");
    if (path === "/services/collector/ack") {
      const [, token] = tokenOf(req);
      if (!token.ack) throw new HecReply(400, 14, "ACK is disabled");
      const channel = channelOf(req, url, token);
      let ids: unknown;
      try {
        ids = (JSON.parse(body) as { acks?: unknown }).acks;
      } catch {
        throw new HecReply(400, 6, "Invalid data format");
      }
      if (!Array.isArray(ids)) throw new HecReply(400, 6, "Invalid data format");
      const now = Date.now();
      const acks: Record<string, boolean> = {};
      for (const id of ids) {
        const due = channel?.acked.get(Number(id));
        acks[String(id)] = due !== undefined && due <= now;
      }
      return { acks };
    }
    if (
      !["/services/collector", "/services/collector/event", "/services/collector/event/1.0"].includes(path)
    ) {
      throw new HecReply(404, 404, "The requested URL was not found on this server.");
    }
    const [tokenName, token] = tokenOf(req);
    const channel = channelOf(req, url, token);
    if (busy > 0) {
      busy--;
      throw new HecReply(503, 9, "Server is busy");
    }
    if (body.trim() === "") throw new HecReply(400, 5, "No data");
    const allowed = new Set(token.indexes ?? [token.defaultIndex ?? "main"]);
    for (const { text, number } of splitEvents(body)) {
      let object: Record<string, unknown>;
      try {
        object = JSON.parse(text) as Record<string, unknown>;
      } catch {
        throw new HecReply(400, 6, "Invalid data format", number);
      }
      if (!("event" in object)) throw new HecReply(400, 12, "Event field is required", number);
      if (object.event === "" || object.event === null)
        throw new HecReply(400, 13, "Event field cannot be blank", number);
      const index = typeof object.index === "string" ? object.index : (token.defaultIndex ?? "main");
      if (!allowed.has(index)) throw new HecReply(400, 7, "Incorrect index", number);
      const fields = object.fields;
      if (
        fields !== undefined &&
        (fields === null ||
          typeof fields !== "object" ||
          Array.isArray(fields) ||
          Object.values(fields).some((v) => v !== null && typeof v === "object" && !Array.isArray(v)))
      ) {
        throw new HecReply(400, 15, "Error in handling indexed fields", number);
      }
      events.push({
        index,
        token: tokenName,
        event: object.event,
        ...(object.time !== undefined ? { time: object.time as number } : {}),
        ...(typeof object.host === "string" ? { host: object.host } : {}),
        ...(typeof object.source === "string" ? { source: object.source } : {}),
        ...(typeof object.sourcetype === "string" ? { sourcetype: object.sourcetype } : {}),
        ...(fields !== undefined ? { fields: fields as Record<string, unknown> } : {}),
      });
    }
    if (!channel) return { text: "Success", code: 0 };
    const ackId = channel.next++;
    channel.acked.set(ackId, Date.now() + api.ackDelayMs);
    return { text: "Success", code: 0, ackId };
  };

  const api: TestSplunkHec = {
    url: "",
    port: 0,
    events,
    requests,
    ackDelayMs: 30,
    busy(count) {
      busy = count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({ path: req.url ?? "/", headers: req.headers, body });
      let status = 200;
      let reply: Record<string, unknown>;
      try {
        reply = handle(req, body, api);
      } catch (error) {
        if (!(error instanceof HecReply)) throw error;
        status = error.status;
        reply = { text: error.message, code: error.code };
        if (error.eventNumber !== undefined) reply["invalid-event-number"] = error.eventNumber;
      }
      const text = JSON.stringify(reply);
      res.writeHead(status, {
        "content-type": "application/json; charset=UTF-8",
        "content-length": Buffer.byteLength(text),
      });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(api, { url: `http://127.0.0.1:${port}`, port });
}
