// Publishes events to an exchange of an AMQP 0-9-1 broker (RabbitMQ), as IntelMQ's amqptopic output:
// the body is the exported event, the routing key fixed or filled from the event, the properties
// IntelMQ sets plus a message id that lets consumers drop a message published twice. A batch is
// published at once and write() resolves only after the broker confirmed every message (publisher
// confirms, which IntelMQ's output with pika 1.x always uses); a message no queue takes fails the batch.
import type { ChannelModel, ConfirmChannel } from "amqplib";
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { amqpConnectionParameters, amqpEndpoint, connectAmqp } from "../../bot-runtime/src/sdk/amqp.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import {
  compileEventTemplate,
  type ExportOptions,
  encodeUtf8,
  exportEventText,
} from "../../bot-runtime/src/sdk/export.ts";
import { DOCUMENT_ID_DESCRIPTION, DOCUMENT_ID_MODES, eventDocumentId } from "./event-id.ts";

const parameters = z.object({
  ...amqpConnectionParameters,
  exchange_name: z
    .string()
    .nullable()
    .default(null)
    .describe(
      "Exchange to publish to (declared unless unset); unset: the default exchange, routing_key names the queue.",
    ),
  exchange_type: z
    .enum(["topic", "direct", "fanout", "headers"])
    .default("topic")
    .describe("Type the exchange is declared with."),
  exchange_durable: z
    .boolean()
    .default(true)
    .describe("Declare the exchange durable (it survives a broker restart)."),
  routing_key: z
    .string()
    .describe(
      "Routing key of every message; with format_routing_key a template like {ev[classification.type]}.",
    ),
  format_routing_key: z
    .boolean()
    .default(false)
    .describe("Fill {ev[field]} placeholders of routing_key from each event (Python format syntax)."),
  delivery_mode: z
    .union([z.literal(1), z.literal(2)])
    .default(2)
    .describe("1: transient, 2: persistent (written to disk by the broker before it confirms)."),
  content_type: z.string().default("application/json").describe("The content_type property of each message."),
  require_confirmation: z
    .boolean()
    .default(true)
    .describe(
      "Accepted for compatibility: every message is confirmed by the broker (publisher confirms), as in IntelMQ with pika 1.x.",
    ),
  keep_raw_field: z.boolean().default(false).describe("Keep the raw field in the JSON."),
  message_hierarchical_output: z
    .boolean()
    .default(false)
    .describe("Nest the JSON on the dots of field names."),
  message_jsondict_as_string: z
    .boolean()
    .default(false)
    .describe("Accepted for compatibility; IntelMQ's text export never applies it, and neither does Petrel."),
  message_with_type: z.boolean().default(false).describe('Add "__type": "Event" to the JSON.'),
  single_key: z
    .union([z.string(), z.literal(false)])
    .nullable()
    .default(false)
    .describe('Publish only this field\'s value: "raw" decoded, "output" as the text it holds.'),
  document_id: z
    .enum(DOCUMENT_ID_MODES)
    .default("event_hash_and_observation")
    .describe(`${DOCUMENT_ID_DESCRIPTION} It is sent as the message_id property.`),
});

interface Link {
  connection: ChannelModel;
  channel: ConfirmChannel;
  /** Message ids the broker returned as unroutable. */
  returned: Set<string>;
  broken: Error | undefined;
}

export default defineOutput({
  id: "outputs.amqp_topic",
  intelmqModules: ["intelmq.bots.outputs.amqptopic.output"],
  kind: "output",
  description:
    "Publishes events to an AMQP exchange (RabbitMQ) with a fixed or event-dependent routing key, confirmed by the broker.",
  parameters,
  deviations: [
    {
      id: "message-id",
      summary:
        "Each message carries a message_id property (see document_id); IntelMQ sets only content_type and delivery_mode.",
      reason:
        "A message published again after a failed batch has the same id, so consumers can drop the copy.",
    },
    {
      id: "unroutable-fails-batch",
      summary:
        "A message the broker cannot route to any queue fails its batch, which is retried and then dead-lettered; IntelMQ's output stops the bot.",
      reason:
        "Events are not lost, and a routing key that no queue takes does not stop the delivery of all the others.",
    },
  ],
  create(params, ctx) {
    const endpoint = amqpEndpoint(params);
    const exchange = params.exchange_name ?? "";
    const routingKey = params.format_routing_key
      ? compileEventTemplate(params.routing_key, {
          variable: "ev",
          missing: "error",
          parameter: "routing_key",
        })
      : () => params.routing_key;
    const exportOptions: ExportOptions = {
      hierarchical: params.message_hierarchical_output,
      withType: params.message_with_type,
      singleKey: params.single_key,
      keepRawField: params.keep_raw_field,
    };
    let link: Link | undefined;

    const open = async (): Promise<Link> => {
      const opened = await connectAmqp(params, ctx.log, ctx.signal);
      try {
        const channel = await opened.createConfirmChannel();
        const made: Link = { connection: opened, channel, returned: new Set(), broken: undefined };
        const lost = (error?: Error) => {
          made.broken ??= error ?? new Error(`the connection to ${endpoint} or its channel was closed`);
        };
        opened.on("error", lost);
        opened.on("close", lost);
        channel.on("error", lost);
        channel.on("close", () => lost());
        channel.on("return", (message: { properties: { messageId?: string } }) => {
          if (message.properties.messageId) made.returned.add(message.properties.messageId);
        });
        if (params.exchange_name) {
          try {
            await channel.assertExchange(params.exchange_name, params.exchange_type, {
              durable: params.exchange_durable,
            });
          } catch (error) {
            throw new Error(
              `declaring exchange ${params.exchange_name} failed: ${(error as Error).message}`,
              {
                cause: error,
              },
            );
          }
        }
        ctx.log.info({ endpoint, exchange }, "Connected to the AMQP broker.");
        return made;
      } catch (error) {
        await opened.close().catch(() => undefined);
        throw error;
      }
    };

    const publishAll = async (
      current: Link,
      messages: ReadonlyArray<{ key: string; body: Buffer; id: string }>,
    ) => {
      for (const { key, body, id } of messages) {
        if (current.broken) throw current.broken;
        const more = current.channel.publish(exchange, key, body, {
          contentType: params.content_type,
          deliveryMode: params.delivery_mode,
          messageId: id,
          mandatory: true,
        });
        if (!more) {
          // Wait for room in the write buffer, or for the channel to go away (checked at the loop's top).
          await new Promise<void>((resolve) => {
            const done = () => {
              current.channel.off("drain", done);
              current.channel.off("close", done);
              resolve();
            };
            current.channel.once("drain", done);
            current.channel.once("close", done);
          });
        }
      }
    };

    return {
      async write(events: readonly Event[]) {
        // Rendered first: an event that cannot be rendered fails the batch before anything is sent.
        const messages = events.map((event) => ({
          key: routingKey(event),
          // Unicode that cannot be UTF-8 (lone surrogates) is written as \\u escapes, as IntelMQ does.
          body: encodeUtf8(exportEventText(event, exportOptions), "backslashreplace"),
          id: eventDocumentId(event, params.document_id),
        }));
        if (link === undefined || link.broken) {
          const old = link;
          link = undefined;
          await old?.connection.close().catch(() => undefined);
          link = await open();
        }
        const current = link;
        for (const { id } of messages) current.returned.delete(id);
        try {
          await publishAll(current, messages);
          await current.channel.waitForConfirms();
        } catch (error) {
          current.broken ??= error as Error;
          throw new Error(
            `publishing to ${endpoint} was not confirmed: ${(error as Error).message ?? String(error)}`,
            { cause: error },
          );
        }
        const unroutable = messages.filter(({ id }) => current.returned.has(id));
        if (unroutable.length > 0) {
          for (const { id } of unroutable) current.returned.delete(id);
          const keys = [...new Set(unroutable.map((m) => m.key))].map((k) => JSON.stringify(k)).join(", ");
          throw new Error(
            `${unroutable.length} message(s) with routing key ${keys} could not be routed from exchange ${JSON.stringify(exchange)} to any queue: declare a queue and bind it`,
          );
        }
      },
      async close() {
        const current = link;
        link = undefined;
        // The channel first: its close is answered after everything published on it.
        await current?.channel.close().catch(() => undefined);
        await current?.connection.close().catch(() => undefined);
      },
    };
  },
});
