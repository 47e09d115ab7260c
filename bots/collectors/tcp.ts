// A TCP server speaking IntelMQ's framing (the peer of IntelMQ's TCP output with
// counterpart_is_intelmq): each message is a 4-byte big-endian length and that many bytes; each one
// becomes a report whose raw is the message, and the sender gets "Ok" once the report is stored —
// so a sender that loses the connection before its "Ok" sends the message again. At the end of the
// stream the collector answers "End", or "Incomplete message" when the stream ends inside a message.
import { createServer, type Server, type Socket } from "node:net";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";

const parameters = z.object({
  ip: z
    .string()
    .min(1)
    .default("0.0.0.0")
    .describe("Address to listen on (0.0.0.0: every IPv4 address, :: every address)."),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .describe("TCP port to listen on; declare it in the Bot's ports so it is reachable."),
});

/** Bytes received and not consumed yet, as a list of chunks (no copying until a message is complete). */
class Received {
  #chunks: Buffer[] = [];
  size = 0;
  push(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.size += chunk.length;
  }
  /** Removes and returns the first `n` bytes (n <= size). */
  take(n: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= n) {
      if (first.length === n) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(n);
      this.size -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.#chunks[0] as Buffer;
      const part = Math.min(chunk.length, n - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part);
    }
    this.size -= n;
    return out;
  }
}

const LISTEN_RETRY_MS = 5_000;

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host }, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

export default defineCollector({
  id: "collectors.tcp",
  intelmqModules: ["intelmq.bots.collectors.tcp.collector"],
  kind: "collector",
  mode: "continuous",
  description:
    "Receives messages over TCP in IntelMQ's framing (4-byte length + data, e.g. from IntelMQ's TCP output); each becomes a report, answered with Ok once stored.",
  parameters,
  deviations: [
    {
      id: "concurrent-connections",
      summary:
        "Several senders may be connected at once, each served as it sends; IntelMQ's collector serves one connection at a time and leaves the others waiting until it ends.",
      reason:
        "Several IntelMQ instances or outputs commonly feed one collector, and a long-lived connection would otherwise block all the others.",
    },
  ],
  create(params, ctx) {
    return {
      async collect(emit) {
        const signal = ctx.signal;
        if (signal.aborted) return;
        const connections = new Map<Socket, { emitting: boolean }>();
        const closed = new Set<Promise<void>>();

        const serve = async (socket: Socket, state: { emitting: boolean }) => {
          const peer = `${socket.remoteAddress}:${socket.remotePort}`;
          const received = new Received();
          let length: number | undefined;
          try {
            for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
              received.push(chunk as Buffer);
              for (;;) {
                if (length === undefined) {
                  if (received.size < 4) break;
                  length = received.take(4).readUInt32BE(0);
                  if (length === 0) {
                    // An empty message: IntelMQ's collector reads nothing and gives up on the stream.
                    ctx.log.warn({ peer }, "Incomplete message received.");
                    socket.end("Incomplete message");
                    return;
                  }
                }
                if (received.size < length) break;
                const data = received.take(length);
                length = undefined;
                const report = Report.create();
                report.add("raw", data.toString("base64"), { sanitize: false });
                state.emitting = true;
                try {
                  await emit(report);
                } finally {
                  state.emitting = false;
                }
                socket.write("Ok");
                if (signal.aborted) {
                  socket.end();
                  return;
                }
              }
            }
            if (length !== undefined) {
              ctx.log.warn({ peer }, "Incomplete message received.");
              socket.end("Incomplete message");
            } else {
              socket.end("End");
            }
          } catch (error) {
            socket.destroy();
            // Not acknowledged: the sender sends the message again on a new connection.
            if (!signal.aborted || length !== undefined) {
              ctx.log.error({ err: error, peer }, "Connection closed without acknowledging a message.");
            }
          }
        };

        const server = createServer({ allowHalfOpen: true }, (socket) => {
          const state = { emitting: false };
          connections.set(socket, state);
          socket.on("error", () => undefined);
          const done = serve(socket, state).finally(() => {
            connections.delete(socket);
            closed.delete(done);
          });
          closed.add(done);
        });
        try {
          await listen(server, params.port, params.ip);
        } catch (error) {
          // The runtime restarts a continuous collector at once: wait a little before it tries again.
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, LISTEN_RETRY_MS);
            signal.addEventListener("abort", () => resolve(clearTimeout(timer)), { once: true });
          });
          throw new Error(`cannot listen on ${params.ip}:${params.port}: ${(error as Error).message}`);
        }
        ctx.log.info({ ip: params.ip, port: params.port }, "Listening.");
        await new Promise<void>((resolve) =>
          signal.addEventListener("abort", () => resolve(), { once: true }),
        );
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        // Idle connections end now; one waiting for its report to be stored ends after its "Ok".
        for (const [socket, state] of connections) if (!state.emitting) socket.destroy();
        await Promise.all([stopped, ...closed]);
      },
    };
  },
});
