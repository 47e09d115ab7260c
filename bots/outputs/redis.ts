// Pushes events onto a Redis list as JSON, as IntelMQ's Redis output does (LPUSH, so a consumer's
// BRPOP/RPOP takes them oldest first). A batch goes out as multi-value LPUSHes in one pipeline and is
// acknowledged when Redis replied. A list cannot refuse a duplicate: an event whose LPUSH reached Redis
// but whose reply was lost is pushed again when it is retried, unless redis_dedup_ttl is set: then a
// Lua script pushes each event only if its marker key (set with the same script, atomically) is absent.
import { createClient } from "redis";
import { z } from "zod";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { encodeUtf8, exportEventText } from "../../bot-runtime/src/sdk/export.ts";
import { eventDocumentId } from "./event-id.ts";

const parameters = z.object({
  redis_server_ip: z
    .string()
    .min(1)
    .default("127.0.0.1")
    .describe("Host name or address of the Redis server."),
  redis_server_port: z.number().int().min(1).max(65535).default(6379).describe("Port of the Redis server."),
  redis_db: z.number().int().min(0).default(2).describe("Redis database number."),
  redis_password: z.string().nullable().optional().describe("Password of the Redis server (AUTH)."),
  redis_queue: z
    .string()
    .min(1)
    .describe("The list events are pushed onto (LPUSH), e.g. remote-server-queue."),
  redis_timeout: z
    .number()
    .int()
    .positive()
    .default(5000)
    .describe(
      "Milliseconds to wait for the connection, and for a batch to be sent while Redis is unreachable, before the write fails and is retried.",
    ),
  hierarchical_output: z.boolean().default(false).describe("Nest the JSON on the dots of field names."),
  with_type: z.boolean().default(true).describe('Add "__type": "Event" to the JSON.'),
  redis_dedup_ttl: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe(
      "Petrel: seconds during which an event delivered again (same message hash and time.observation) is not pushed a second time; a marker key petrel-dedup:<redis_queue>:<id> per event lives that long. 0 (default) pushes every delivery, as IntelMQ does.",
    ),
});

/** Values per LPUSH / script call: bounds the size of one command. */
const CHUNK = 1000;

// KEYS[1] the list, KEYS[2..] the markers; ARGV[1..n] the values, ARGV[n+1] the marker TTL in seconds.
// Runs atomically: a marker exists if and only if its value was pushed.
const DEDUP_PUSH = `local ttl = ARGV[#ARGV]
local pushed = 0
for i = 1, #ARGV - 1 do
  if redis.call('SET', KEYS[i + 1], '1', 'NX', 'EX', ttl) then
    redis.call('LPUSH', KEYS[1], ARGV[i])
    pushed = pushed + 1
  end
end
return pushed`;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export default defineOutput({
  id: "outputs.redis",
  intelmqModules: ["intelmq.bots.outputs.redis.output"],
  kind: "output",
  description: "Pushes events as JSON onto a Redis list (LPUSH), e.g. for Logstash or another IntelMQ.",
  parameters,
  deviations: [
    {
      id: "redis-timeout-milliseconds",
      summary:
        "redis_timeout (milliseconds) bounds connecting and sending a batch while Redis is unreachable; in IntelMQ it has no effect (redis-py ignores the socket timeout it is given next to a connection pool).",
      reason:
        "IntelMQ documents it as a timeout in milliseconds; a write must fail in bounded time so the runtime can retry it.",
    },
    {
      id: "unencodable-text-fails",
      summary:
        "An event whose text cannot be UTF-8 (a lone surrogate) fails its write and is retried and dead-lettered alone; IntelMQ's output takes redis-py's encoding error for a connection problem and retries that message for ever.",
      reason: "A message that can never be pushed must not block the events behind it.",
    },
  ],
  async create(params, ctx) {
    const host = params.redis_server_ip;
    const where = `Redis ${host}:${params.redis_server_port} (redis_server_ip, redis_server_port)`;
    const exportOptions = {
      hierarchical: params.hierarchical_output,
      withType: params.with_type,
      keepRawField: true, // IntelMQ's Redis output writes the whole message, raw included
    };
    const client = createClient({
      socket: {
        host,
        port: params.redis_server_port,
        connectTimeout: params.redis_timeout,
        // Reconnect for ever, backing off to 2 s: writes wait (up to redis_timeout) and then fail.
        reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2000),
      },
      database: params.redis_db,
      ...(params.redis_password ? { password: params.redis_password } : {}),
    }).withCommandOptions({ timeout: params.redis_timeout });
    let lastError = "";
    client.on("error", (error: Error) => {
      if (error.message === lastError) return;
      lastError = error.message;
      ctx.log.warn({ err: error }, `${where}: connection error`);
    });
    client.on("ready", () => {
      lastError = "";
    });
    // As IntelMQ: connect (and ask for the server's version) when the bot starts, to fail early.
    const connected = client.connect().then(() => client.info("server"));
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${where} not reachable within ${params.redis_timeout} ms: ${lastError}`)),
        params.redis_timeout,
      ).unref(),
    );
    try {
      const info = await Promise.race([connected, timeout]);
      ctx.log.info({ version: /redis_version:(\S+)/.exec(info)?.[1] }, `Connected to ${where}.`);
    } catch (error) {
      client.destroy();
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    const queue = params.redis_queue;
    const ttl = String(params.redis_dedup_ttl);
    const markerPrefix = `petrel-dedup:${queue}:`;

    return {
      async write(events) {
        // Encoded before anything is sent: an event that cannot be encoded fails the batch untouched.
        const values = events.map((event) => encodeUtf8(exportEventText(event, exportOptions)));
        if (params.redis_dedup_ttl === 0) {
          await Promise.all(chunks(values).map((chunk) => client.lPush(queue, chunk)));
          return;
        }
        const ids = events.map(
          (event) => markerPrefix + eventDocumentId(event, "event_hash_and_observation"),
        );
        const batches = chunks(values.map((value, i) => [value, ids[i] as string] as const));
        await Promise.all(
          batches.map((batch) =>
            client.eval(DEDUP_PUSH, {
              keys: [queue, ...batch.map(([, id]) => id)],
              arguments: [...batch.map(([value]) => value), ttl],
            }),
          ),
        );
      },
      async close() {
        await client.close();
      },
    };
  },
});
