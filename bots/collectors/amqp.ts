// Consumes a queue of an AMQP 0-9-1 broker (RabbitMQ): each message's body becomes a report's raw,
// or, with expect_intelmq_message, the body is an IntelMQ message sent on as it is. A message is
// acknowledged only once its report is stored; one that cannot be stored goes back to the queue.
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { z } from "zod";
import { FieldError, type Message, parseMessage, Report } from "../../bot-runtime/src/event/message.ts";
import { amqpConnectionParameters, amqpEndpoint, connectAmqp } from "../../bot-runtime/src/sdk/amqp.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { sleep } from "../../bot-runtime/src/sdk/sleep.ts";

const parameters = z.object({
  ...amqpConnectionParameters,
  queue_name: z.string().min(1).describe("The queue to consume."),
  expect_intelmq_message: z
    .boolean()
    .default(false)
    .describe("Bodies are IntelMQ messages (JSON with __type): sent on as they are instead of as raw."),
  prefetch_count: z
    .number()
    .int()
    .min(1)
    .default(100)
    .describe("Petrel: messages handled at once (each acknowledged once stored); 1 keeps the queue's order."),
});

const FAILED_RUN_PAUSE_MS = 5_000;

/** An IntelMQ message from a body: as IntelMQ reads messages, values that are not valid are sanitized. */
function intelmqMessage(body: Buffer): Message {
  const text = body.toString("utf8");
  try {
    return parseMessage(text);
  } catch (error) {
    if (!(error instanceof FieldError) || error.code === "InvalidMessage") throw error;
    return parseMessage(text, { mode: "sanitize" });
  }
}

export default defineCollector({
  id: "collectors.amqp",
  intelmqModules: ["intelmq.bots.collectors.amqp.collector_amqp"],
  kind: "collector",
  mode: "continuous",
  description:
    "Consumes an AMQP queue (RabbitMQ): each message body becomes a report, or is forwarded as the IntelMQ message it holds; acknowledged once stored.",
  parameters,
  deviations: [
    {
      id: "invalid-intelmq-message-rejected",
      summary:
        "With expect_intelmq_message, a body that is not an IntelMQ message is rejected (not requeued: the queue's dead-letter exchange gets it, if it has one) and the collector goes on; IntelMQ's collector fails on it and leaves it unacknowledged.",
      reason:
        "A message that can never be read would otherwise come back forever and hold up the queue; RabbitMQ's dead-lettering keeps it for inspection.",
    },
    {
      id: "feed-fields-on-forwarded-messages",
      summary:
        "With expect_intelmq_message, forwarded messages get the bot's feed fields (name, provider, code, documentation, accuracy) where they lack them; IntelMQ forwards them without adding any.",
      reason:
        "Petrel's runtime adds the feed fields to everything a collector sends, and never overwrites a field the message has.",
    },
  ],
  create(params, ctx) {
    const endpoint = amqpEndpoint(params);

    const open = (): Promise<ChannelModel> => connectAmqp(params, ctx.log, ctx.signal);

    /** Builds what the message carries, stores it, then acknowledges; returns it to the queue on failure. */
    const handle = async (
      channel: Channel,
      msg: ConsumeMessage,
      emit: (report: Report) => Promise<void>,
    ): Promise<void> => {
      let message: Message;
      if (params.expect_intelmq_message) {
        try {
          message = intelmqMessage(msg.content);
        } catch (error) {
          ctx.log.error(
            { err: error, body: msg.content.toString("utf8").slice(0, 1000) },
            "The message is not an IntelMQ message; rejected.",
          );
          channel.nack(msg, false, false);
          return;
        }
      } else {
        const report = Report.create();
        report.add("raw", msg.content.toString("base64"), { sanitize: false });
        message = report;
      }
      try {
        // A forwarded Event is published like a report: the runtime only serialises it.
        await emit(message as Report);
      } catch (error) {
        const tooLarge = (error as Error).name === "OutputTooLargeError";
        ctx.log.error(
          { err: error },
          tooLarge
            ? "The message can never be stored (too large); rejected."
            : "The report could not be stored; the message goes back to the queue.",
        );
        channel.nack(msg, false, !tooLarge);
        return;
      }
      channel.ack(msg);
    };

    return {
      async collect(emit) {
        const signal = ctx.signal;
        if (signal.aborted) return;
        let connection: ChannelModel;
        try {
          connection = await open();
        } catch (error) {
          // The runtime restarts a continuous collector at once: wait a little before it tries again.
          await sleep(FAILED_RUN_PAUSE_MS, signal);
          throw error;
        }
        const inFlight = new Set<Promise<void>>();
        try {
          const channel = await connection.createChannel();
          const lost = new Promise<never>((_, reject) => {
            const fail = (error?: Error) =>
              reject(error ?? new Error(`the connection to ${endpoint} or its channel was closed`));
            connection.on("error", fail);
            connection.on("close", fail);
            channel.on("error", fail);
            channel.on("close", () => fail());
          });
          lost.catch(() => undefined);
          await channel.prefetch(params.prefetch_count);
          const stopped = new Promise<void>((resolve) =>
            signal.addEventListener("abort", () => resolve(), { once: true }),
          );
          const cancelled = new Promise<never>((_, reject) => {
            void channel
              .consume(
                params.queue_name,
                (msg) => {
                  if (msg === null) {
                    reject(new Error(`the broker cancelled the consumer of queue ${params.queue_name}`));
                    return;
                  }
                  const work = handle(channel, msg, emit).catch((error: unknown) =>
                    ctx.log.error({ err: error }, "Acknowledging a message failed."),
                  );
                  inFlight.add(work);
                  void work.finally(() => inFlight.delete(work));
                },
                { noAck: false },
              )
              .then(({ consumerTag }) => {
                ctx.log.info({ queue: params.queue_name }, "Consuming.");
                void stopped.then(() => channel.cancel(consumerTag).catch(() => undefined));
              }, reject);
          });
          cancelled.catch(() => undefined);
          await Promise.race([stopped, lost, cancelled]);
          // Stopping: what is being stored is acknowledged before the connection closes.
          await Promise.all(inFlight);
        } catch (error) {
          if (!signal.aborted) await sleep(FAILED_RUN_PAUSE_MS, signal);
          throw error;
        } finally {
          await connection.close().catch(() => undefined);
        }
      },
    };
  },
});
