// Sends one mail per event, as IntelMQ's SMTP output: subject, text and addresses are Python format
// strings filled from the event ({ev[source.asn]}; a missing field gives None), and the fields named
// in fieldnames go into a CSV attachment (events.csv, ";"-separated, a header and one row). A batch
// counts as written once the SMTP server accepted every one of its mails; mails it accepted in a
// batch that failed later are not sent again when the batch is retried.
import { z } from "zod";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { compileEventTemplate, isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import { DeliveredBefore } from "./delivered.ts";
import { csvRow, recipients, smtpTransport } from "./mail.ts";

const DEFAULT_TEXT =
  "Dear network owner,\n\nWe have been informed that the following device might have security problems.\n\nYour localhost CERT";

const parameters = z.object({
  smtp_host: z.string().min(1).default("localhost").describe("The SMTP server."),
  smtp_port: z.number().int().min(1).max(65535).default(25).describe("Its port."),
  smtp_username: z
    .string()
    .nullable()
    .default(null)
    .describe("User name to log in with (with smtp_password)."),
  smtp_password: z.string().nullable().default(null).describe("Password to log in with."),
  ssl: z.boolean().default(false).describe("TLS from the start (SMTPS, usually port 465)."),
  starttls: z
    .boolean()
    .default(true)
    .describe("Require STARTTLS (ignored with ssl); false: send without TLS."),
  http_verify_cert: z.boolean().default(true).describe("Verify the server's TLS certificate."),
  ssl_ca_certificate: z
    .string()
    .nullable()
    .default(null)
    .describe("Petrel: CA certificate file (PEM) to verify the server with; unset: the system's CAs."),
  mail_from: z
    .string()
    .min(1)
    .default("cert@localhost")
    .describe("Sender; may use {ev[field]} placeholders."),
  mail_to: z
    .string()
    .min(1)
    .default("{ev[source.abuse_contact]}")
    .describe("Recipients, comma-separated; may use {ev[field]} placeholders."),
  subject: z
    .string()
    .default("Incident in your AS {ev[source.asn]}")
    .describe("Subject; may use {ev[field]} placeholders."),
  text: z
    .string()
    .nullable()
    .default(DEFAULT_TEXT)
    .describe("Body text; may use {ev[field]} placeholders; null: no text part."),
  fieldnames: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .default(
      "classification.taxonomy,classification.type,classification.identifier,source.ip,source.asn,source.port",
    )
    .describe("Fields of the CSV attachment events.csv (comma-separated or a list); empty: no attachment."),
});

const CSV_DIALECT = { delimiter: ";", lineTerminator: "\n" };

export default defineOutput({
  id: "outputs.smtp",
  intelmqModules: ["intelmq.bots.outputs.smtp.output"],
  kind: "output",
  description:
    "Sends one mail per event (subject, text and recipients filled from the event) with the event's fields as a CSV attachment.",
  parameters,
  deviations: [
    {
      id: "default-text-newlines",
      summary:
        "The default text has line breaks; IntelMQ's default holds the two characters \\n where the line breaks should be.",
      reason: "A mail with literal \\n in it is a bug, not a format anyone relies on.",
    },
    {
      id: "ssl-without-starttls",
      summary:
        "With ssl, starttls is ignored; IntelMQ then also tries STARTTLS on the TLS connection and fails.",
      reason: "STARTTLS on a connection that is already encrypted is meaningless; ssl alone should work.",
    },
    {
      id: "recipient-must-be-an-address",
      summary:
        'A recipient that is no address (an event without source.abuse_contact gives "None") fails the event, which is retried and dead-lettered; IntelMQ hands "None" to the SMTP server.',
      reason:
        "A mail to None is lost at best; the event in the dead-letter queue can be fixed and sent again.",
    },
    {
      id: "envelope-sender-formatted",
      summary:
        "Placeholders in mail_from are filled in the envelope sender too; IntelMQ fills them only in the From header.",
      reason: "An envelope sender with {ev[...]} in it is refused by servers or bounces.",
    },
    {
      id: "mime-layout",
      summary:
        "The mail has the same headers, text and attachment, laid out by nodemailer (Date and Message-ID headers added, other boundaries and transfer encodings) instead of Python's email package.",
      reason: "What recipients read is the same; the encoding details are the mail library's.",
    },
  ],
  create(params, ctx) {
    const template = (text: string, parameter: string) =>
      compileEventTemplate(text, { variable: "ev", missing: "none", parameter });
    const subject = template(params.subject, "subject");
    const from = template(params.mail_from, "mail_from");
    const to = template(params.mail_to, "mail_to");
    const text = params.text === null ? undefined : template(params.text, "text");
    const fieldnames = (
      typeof params.fieldnames === "string" ? params.fieldnames.split(",") : (params.fieldnames ?? [])
    ).filter((name) => name !== "");
    const header = fieldnames.length > 0 ? csvRow(fieldnames, CSV_DIALECT) : "";
    const attachment = (event: Event) => {
      const values = fieldnames.map((name) => {
        const value = event.get(name);
        return value === undefined || value === null ? "" : pyStr(value, isFloatField(name));
      });
      return header + csvRow(values, CSV_DIALECT);
    };
    const transport = smtpTransport({
      host: params.smtp_host,
      port: params.smtp_port,
      tls: params.ssl,
      starttls: params.starttls,
      username: params.smtp_username,
      password: params.smtp_password,
      verifyCertificate: params.http_verify_cert,
      caFile: params.ssl_ca_certificate,
      pool: true,
    });
    const sentBefore = new DeliveredBefore();

    return {
      async write(events) {
        // Every mail is made before the first is sent: an event that cannot be made into one fails
        // the batch before anything went out.
        const mails = sentBefore.pending(events).map((event) => {
          const sender = from(event);
          const recipientList = to(event);
          return {
            event,
            mail: {
              from: sender,
              to: recipientList,
              subject: subject(event),
              envelope: { from: sender, to: recipients(recipientList, "mail_to") },
              ...(text ? { text: text(event) } : {}),
              attachments:
                fieldnames.length > 0
                  ? [{ filename: "events.csv", content: attachment(event), contentType: "text/csv" }]
                  : [],
            },
          };
        });
        const sent: Event[] = [];
        try {
          for (const { event, mail } of mails) {
            const info = await transport.sendMail(mail);
            if ((info.rejected?.length ?? 0) > 0) {
              ctx.log.warn(
                { rejected: info.rejected, accepted: info.accepted },
                "Some recipients were refused.",
              );
            }
            sent.push(event);
          }
        } catch (error) {
          sentBefore.remember(sent);
          throw new Error(
            `sending mail via ${params.smtp_host}:${params.smtp_port} failed: ${(error as Error).message}`,
            {
              cause: error,
            },
          );
        }
      },
      async close() {
        transport.close();
      },
    };
  },
});
