// IntelMQ's mail body fetcher: each plain and/or HTML body of unseen mails becomes a report with the
// mail's subject, sender, message id and date; the mail is flagged seen once they are stored.
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { addMailFields, MAIL_DEVIATIONS, mailCollector, mailParameters } from "./mail-imap.ts";

const CONTENT_TYPES = ["plain", "html"] as const;

const parameters = mailParameters.extend({
  content_types: z
    .union([z.boolean(), z.string(), z.array(z.string())])
    .nullable()
    .default(["plain", "html"])
    .describe(
      'Which bodies to read, in this order: "plain", "html", or both (a list or comma-separated); true, false or empty: both.',
    ),
});

/** IntelMQ's reading of content_types: a comma-separated string, or any false value or true for both. */
function contentTypes(value: boolean | string | string[] | null): Array<(typeof CONTENT_TYPES)[number]> {
  const list =
    typeof value === "string" && value.trim() !== ""
      ? value.split(",").map((t) => t.trim())
      : Array.isArray(value) && value.length > 0
        ? value
        : [...CONTENT_TYPES];
  for (const type of list) {
    if (!(CONTENT_TYPES as readonly string[]).includes(type)) {
      throw new Error(`content_types: ${JSON.stringify(type)} is not a body type (plain or html)`);
    }
  }
  return list as Array<(typeof CONTENT_TYPES)[number]>;
}

export default defineCollector({
  id: "collectors.mail_body",
  intelmqModules: ["intelmq.bots.collectors.mail.collector_mail_body"],
  kind: "collector",
  mode: "interval",
  description:
    "Reads the plain and/or HTML bodies of unseen IMAP mails into reports (extra.email_*); flags each mail seen once its reports are stored.",
  parameters,
  deviations: [MAIL_DEVIATIONS.unfoldedSubject],
  create(params, ctx) {
    const types = contentTypes(params.content_types);
    return mailCollector(params, ctx, async (mail, emit) => {
      let seen = false;
      for (const type of types) {
        for (const part of mail[type]) {
          const body = await mail.body(part);
          if (body.length === 0) continue;
          const report = Report.create();
          report.add("raw", body.toString("base64"), { sanitize: false });
          addMailFields(report, mail);
          await emit(report);
          seen = true;
        }
      }
      return seen;
    });
  },
});
