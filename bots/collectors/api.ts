// An HTTP endpoint that takes reports pushed to it, as IntelMQ's API collector: every POST to
// /intelmq/push becomes one report with the request body as raw, on a TCP port or a Unix socket. Petrel
// answers 200 only once the report is stored (503 if it could not be), so a client that got 200 knows
// the data is safe and one that did not can send it again. On a TCP port a bearer token is required.
// On Kubernetes, declare the port in the Bot's spec.ports so the operator opens it and puts a Service
// in front.
import { createHash, timingSafeEqual } from "node:crypto";
import { chmod, chown, lstat, readFile, unlink } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";

const parameters = z.object({
  port: z.number().int().min(1).max(65535).default(5000).describe("TCP port to listen on."),
  use_socket: z.boolean().default(false).describe("Listen on the Unix socket socket_path instead of port."),
  socket_path: z.string().default("/tmp/imq_api_default_socket").describe("Path of the Unix socket."),
  socket_perms: z
    .string()
    .regex(/^[0-7]{3,4}$/)
    .default("600")
    .describe("Permissions of the socket (octal)."),
  socket_group: z.string().default("").describe("Group to give the socket to (empty: unchanged)."),
  api_token: z
    .string()
    .optional()
    .describe(
      "Petrel: clients must send `Authorization: Bearer <api_token>` (take it from a Secret with parametersFrom).",
    ),
  allow_unauthenticated: z
    .boolean()
    .default(false)
    .describe("Petrel: accept pushes without a token on a TCP port (IntelMQ's behaviour)."),
  max_body_size: z
    .number()
    .int()
    .positive()
    .default(100 * 1024 * 1024)
    .describe("Petrel: largest request body accepted, in bytes (Tornado's default, 100 MiB)."),
});

const PUSH_PATH = "/intelmq/push";

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

async function groupId(name: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  const groups = await readFile("/etc/group", "utf8");
  for (const line of groups.split("\n")) {
    const [group, , gid] = line.split(":");
    if (group === name && gid !== undefined) return Number(gid);
  }
  throw new Error(`socket_group: no group named ${name}`);
}

/** The request body, or undefined (answered with 413) when it is larger than `limit`. */
async function body(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    res.writeHead(413, { connection: "close" }).end("Request body too large.\n");
    req.resume();
    return undefined;
  }
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    size += (part as Buffer).length;
    if (size > limit) {
      res.writeHead(413, { connection: "close" }).end("Request body too large.\n");
      req.destroy();
      return undefined;
    }
    parts.push(part as Buffer);
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, size);
}

export default defineCollector({
  id: "collectors.api",
  intelmqModules: ["intelmq.bots.collectors.api.collector_api"],
  kind: "collector",
  mode: "continuous",
  description:
    "Listens for HTTP POSTs to /intelmq/push (on a port or a Unix socket) and makes each body a report; answers once the report is stored. Declare the port in the Bot's spec.ports.",
  parameters,
  deviations: [
    {
      id: "api-token-required",
      summary:
        "On a TCP port the collector needs api_token (clients send it as a bearer token) and answers 401 without it; it starts without one only with allow_unauthenticated: true. IntelMQ's API collector accepts anyone.",
      reason:
        "An unauthenticated push endpoint lets anyone who reaches the port inject data into the pipeline.",
    },
    {
      id: "api-answers-after-storage",
      summary:
        "The answer comes once the report is stored: 200, or 503 when it could not be stored (413 when it is larger than NATS accepts); an empty body is answered 400. IntelMQ answers 200 as soon as it queued the report, and 500 for an empty body.",
      reason: "A client must be able to tell whether its data was kept, so it can send it again if not.",
    },
  ],
  create(params, ctx) {
    const common = params as typeof params & { name?: string; provider?: string };
    const feedName = common.name ?? "API";
    const feedProvider = common.provider ?? "APICollector";
    if (!params.use_socket && !params.api_token && !params.allow_unauthenticated) {
      throw new Error(
        "the API collector needs api_token on a TCP port (or allow_unauthenticated: true to accept anyone)",
      );
    }
    const expected = params.api_token ? digest(`Bearer ${params.api_token}`) : undefined;
    const authorized = (req: IncomingMessage) => {
      if (!expected) return true;
      const given = req.headers.authorization;
      return typeof given === "string" && timingSafeEqual(digest(given), expected);
    };

    return {
      async collect(emit) {
        const server = createServer((req, res) => {
          void (async () => {
            const path = new URL(req.url ?? "/", "http://localhost").pathname;
            if (path !== PUSH_PATH) {
              req.resume();
              res.writeHead(404).end();
              return;
            }
            if (req.method !== "POST") {
              req.resume();
              res.writeHead(405, { allow: "POST" }).end();
              return;
            }
            if (!authorized(req)) {
              req.resume();
              res.writeHead(401, { "www-authenticate": 'Bearer realm="petrel"' }).end();
              return;
            }
            const data = await body(req, res, params.max_body_size);
            if (!data) return;
            if (data.length === 0) {
              res.writeHead(400).end("Empty body.\n");
              return;
            }
            const report = Report.create();
            report.add("feed.name", feedName);
            report.add("feed.provider", feedProvider);
            report.add("raw", data.toString("base64"), { sanitize: false });
            try {
              await emit(report);
              if (ctx.signal.aborted) res.setHeader("connection", "close");
              res.writeHead(200).end();
            } catch (error) {
              ctx.log.error({ err: error }, "A pushed report could not be stored.");
              // A report larger than NATS accepts will never be stored: no use sending it again.
              if ((error as Error).name === "OutputTooLargeError")
                res.writeHead(413).end(`${(error as Error).message}\n`);
              else res.writeHead(503).end("Not stored, try again.\n");
            }
          })().catch((error: unknown) => {
            ctx.log.error({ err: error }, "Request failed.");
            if (!res.headersSent) res.writeHead(500);
            res.end();
          });
        });
        if (params.use_socket) {
          const stale = await lstat(params.socket_path).catch(() => undefined);
          if (stale?.isSocket()) await unlink(params.socket_path);
          await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(params.socket_path, () => resolve());
          });
          await chmod(params.socket_path, Number.parseInt(params.socket_perms, 8));
          if (params.socket_group) await chown(params.socket_path, -1, await groupId(params.socket_group));
          ctx.log.info({ socket: params.socket_path }, "Listening.");
        } else {
          await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(params.port, () => resolve());
          });
          ctx.log.info({ port: params.port }, "Listening.");
        }
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        });
        // No new connections; requests in progress finish (their reports are stored) before this ends.
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
        if (params.use_socket) await unlink(params.socket_path).catch(() => undefined);
      },
    };
  },
});
