// Sends each event as one UDP datagram (e.g. to a syslog daemon), as IntelMQ's UDP output: the header
// and then the event as JSON, or as "key:value" pairs joined by a delimiter; control characters are
// removed and a newline ends each datagram. UDP has no acknowledgement: a batch counts as written once
// the kernel took every datagram.
import { createSocket, type Socket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { z } from "zod";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { exportEventText, isFloatField } from "../../bot-runtime/src/sdk/export.ts";

const parameters = z.object({
  format: z
    .string()
    .transform((v) => v.toLowerCase())
    .pipe(z.enum(["json", "delimited"]))
    .describe(
      '"json": the header, then the event as JSON; "delimited": the header, then delimiter + key:value per field.',
    ),
  field_delimiter: z
    .string()
    .default("|")
    .describe("Put before each key:value pair in the delimited format."),
  header: z.string().default("<header text>").describe("Text at the start of every datagram."),
  keep_raw_field: z.boolean().default(false).describe("Keep the raw field."),
  udp_host: z.string().min(1).default("localhost").describe("Host name or address to send to."),
  udp_port: z.number().int().min(1).max(65535).describe("UDP port to send to."),
});

// Python's unicodedata category "C*": control, format, surrogate, private use and unassigned.
const CONTROL_CHARACTERS = /\p{C}/gu;

function fieldsText(event: Event, delimiter: string, keepRaw: boolean): string {
  let text = "";
  for (const [key, value] of event.entries()) {
    if (key === "raw" && !keepRaw) continue;
    text += `${delimiter}${key}:${pyStr(value, isFloatField(key))}`;
  }
  return text;
}

export default defineOutput({
  id: "outputs.udp",
  intelmqModules: ["intelmq.bots.outputs.udp.output"],
  kind: "output",
  description: "Sends each event as a UDP datagram (header + JSON or key:value pairs), e.g. to syslog.",
  parameters,
  deviations: [
    {
      id: "event-without-raw",
      summary:
        "An event without a raw field is sent like any other; IntelMQ's UDP output fails on it (KeyError) unless keep_raw_field is set.",
      reason:
        "Events made by experts or parsers often have no raw field; failing on them loses them for nothing.",
    },
    {
      id: "ipv6-destination",
      summary: "udp_host may be or resolve to an IPv6 address; IntelMQ resolves IPv4 addresses only.",
      reason: "Syslog receivers on IPv6-only networks are common.",
    },
  ],
  async create(params, ctx) {
    const address = isIP(params.udp_host) ? params.udp_host : (await lookup(params.udp_host)).address;
    const socket: Socket = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
    socket.on("error", (error) => ctx.log.error({ err: error }, "UDP socket error."));
    const keepRaw = params.keep_raw_field;
    const render =
      params.format === "json"
        ? (event: Event) => params.header + exportEventText(event, { keepRawField: keepRaw })
        : (event: Event) => params.header + fieldsText(event, params.field_delimiter, keepRaw);
    const send = (data: Buffer) =>
      new Promise<void>((resolve, reject) => {
        socket.send(data, params.udp_port, address, (error) =>
          error
            ? reject(new Error(`sending to ${address}:${params.udp_port} failed: ${error.message}`))
            : resolve(),
        );
      });
    return {
      async write(events) {
        // Rendered first: an event that cannot be rendered fails the batch before anything is sent.
        const datagrams = events.map((event) =>
          Buffer.from(`${render(event).replace(CONTROL_CHARACTERS, "")}\n`, "utf8"),
        );
        await Promise.all(datagrams.map(send));
      },
      close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
    };
  },
});
