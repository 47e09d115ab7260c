// Sends events over one TCP connection, as IntelMQ's TCP output: each event's JSON either framed by a
// 4-byte big-endian length (the framing of IntelMQ's and Petrel's TCP collectors), with the peer
// answering "Ok" for each message it stored (counterpart_is_intelmq), or followed by a separator for
// receivers that expect lines (Logstash, Filebeat, Splunk). A batch is sent at once and confirmed
// when every "Ok" arrived; a broken connection is opened again on the next write.
import { connect, type Socket } from "node:net";
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { encodeUtf8, exportEventText } from "../../bot-runtime/src/sdk/export.ts";
import { DeliveredBefore } from "./delivered.ts";

const parameters = z.object({
  ip: z.string().min(1).describe("Host name or address of the receiver."),
  port: z.number().int().min(1).max(65535).describe("TCP port of the receiver."),
  counterpart_is_intelmq: z
    .boolean()
    .default(true)
    .describe(
      "The receiver is IntelMQ's or Petrel's TCP collector: each message is confirmed by its \"Ok\".",
    ),
  hierarchical_output: z.boolean().default(false).describe("Nest the JSON on the dots of field names."),
  separator: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe(
      "Send each event followed by this text (e.g. a newline) instead of length-prefixed; needs counterpart_is_intelmq false.",
    ),
  timeout: z
    .number()
    .positive()
    .default(15)
    .describe("Petrel: seconds to wait for the connection and, after each confirmation, for the next one."),
});

const OK = Buffer.from("Ok");

/** One connection; answers are counted as they arrive. */
class Connection {
  readonly socket: Socket;
  acknowledged = 0;
  failure: Error | undefined;
  #answer: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;

  constructor(socket: Socket, endpoint: string) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#answer = this.#answer.length ? Buffer.concat([this.#answer, chunk]) : chunk;
      while (this.#answer.length >= 2) {
        if (!this.#answer.subarray(0, 2).equals(OK)) {
          this.fail(
            new Error(`${endpoint} answered ${JSON.stringify(this.#answer.toString())} instead of "Ok"`),
          );
          return;
        }
        this.#answer = this.#answer.subarray(2);
        this.acknowledged++;
      }
      this.#notify();
    });
    socket.on("error", (error) => this.fail(new Error(`connection to ${endpoint}: ${error.message}`)));
    socket.on("close", () => this.fail(new Error(`${endpoint} closed the connection`)));
  }

  fail(error: Error): void {
    this.failure ??= error;
    this.socket.destroy();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** Resolves when something happened (an answer, a failure) or after `ms`. */
  changed(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }
}

export default defineOutput({
  id: "outputs.tcp",
  intelmqModules: ["intelmq.bots.outputs.tcp.output"],
  kind: "output",
  description:
    'Sends events as JSON over TCP: length-prefixed to an IntelMQ/Petrel TCP collector (confirmed by its "Ok"), or separated by a delimiter.',
  parameters,
  deviations: [
    {
      id: "separator-needs-no-counterpart",
      summary:
        'A separator together with counterpart_is_intelmq true is refused as a configuration error; IntelMQ accepts it and then waits for an "Ok" that a line-based receiver never sends.',
      reason:
        "That combination can never deliver anything; saying so at start is better than retrying forever.",
    },
    {
      id: "connects-when-needed",
      summary:
        "The connection is opened with the first batch and again after it broke; IntelMQ's output fails to start while the receiver is down.",
      reason:
        "A receiver that is down for a while delays delivery (the events wait in the queue) instead of crash-looping the bot.",
    },
    {
      id: "pipelined-batches",
      summary:
        'A batch is sent at once and its "Ok"s are awaited together; IntelMQ sends one event and waits for its "Ok" before the next.',
      reason:
        "One round trip per event limits throughput to the network latency; the receivers answer in order either way.",
    },
  ],
  create(params, ctx) {
    if (params.separator !== null && params.counterpart_is_intelmq) {
      throw new Error(
        'separator is set, but counterpart_is_intelmq is true: an IntelMQ or Petrel TCP collector expects length-prefixed messages and a separator-based receiver sends no "Ok"; set counterpart_is_intelmq to false',
      );
    }
    const endpoint = `${params.ip}:${params.port}`;
    const timeoutMs = params.timeout * 1000;
    const separator = params.separator === null ? undefined : Buffer.from(params.separator, "utf8");
    let connection: Connection | undefined;
    // Events the peer confirmed in a batch that failed later are not sent again.
    const confirmedBefore = new DeliveredBefore();

    const open = (): Promise<Connection> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: params.ip, port: params.port, noDelay: true });
        const timer = setTimeout(() => {
          socket.destroy();
          reject(new Error(`cannot connect to ${endpoint}: no answer within ${params.timeout} s`));
        }, timeoutMs);
        socket.once("error", (error) => {
          clearTimeout(timer);
          reject(new Error(`cannot connect to ${endpoint}: ${error.message}`));
        });
        socket.once("connect", () => {
          clearTimeout(timer);
          socket.removeAllListeners("error");
          ctx.log.info({ endpoint }, "Connected.");
          resolve(new Connection(socket, endpoint));
        });
      });

    const frame = (event: Event): Buffer => {
      const data = encodeUtf8(
        exportEventText(event, { hierarchical: params.hierarchical_output, keepRawField: true }),
      );
      if (separator) return Buffer.concat([data, separator]);
      const length = Buffer.allocUnsafe(4);
      length.writeUInt32BE(data.length);
      return Buffer.concat([length, data]);
    };

    const send = async (events: readonly Event[]): Promise<void> => {
      // Encoded first: an event that cannot be encoded fails the batch before anything is sent.
      const frames = events.map(frame);
      if (connection === undefined || connection.failure) connection = await open();
      const current = connection;
      const start = current.acknowledged;
      const written = new Promise<void>((resolve, reject) =>
        current.socket.write(Buffer.concat(frames), (error) => (error ? reject(error) : resolve())),
      );
      try {
        if (!params.counterpart_is_intelmq) {
          await written;
          return;
        }
        written.catch(() => undefined);
        while (current.acknowledged - start < frames.length) {
          if (current.failure) throw current.failure;
          if (!(await current.changed(timeoutMs)) && current.acknowledged - start < frames.length) {
            current.fail(new Error(`no "Ok" from ${endpoint} within ${params.timeout} s`));
          }
        }
      } catch (error) {
        confirmedBefore.remember(events.slice(0, Math.min(current.acknowledged - start, frames.length)));
        throw error;
      }
    };

    return {
      async write(events) {
        const unsent = confirmedBefore.pending(events);
        if (unsent.length < events.length) {
          ctx.log.info(
            { skipped: events.length - unsent.length },
            "Not sending events the receiver already confirmed.",
          );
        }
        if (unsent.length > 0) await send(unsent);
      },
      async close() {
        const current = connection;
        connection = undefined;
        if (!current || current.failure) return;
        // The collector answers the end of the stream ("End") and closes.
        current.socket.end();
        await current.changed(timeoutMs);
        current.socket.destroy();
      },
    };
  },
});
