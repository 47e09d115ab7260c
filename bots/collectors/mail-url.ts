// IntelMQ's mail URL fetcher: in the plain bodies of unseen mails, the first match of url_regex is
// downloaded (streaming) into a report, or into chunks with chunk_size, with feed.url, the file name
// the server gives and the mail's subject, sender, message id and date; the mail is flagged seen once
// they are stored. A failed download leaves the mail unseen, to be tried again.
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import {
  contentLength,
  fileNameFromResponse,
  HttpClient,
  httpParameters,
} from "../../bot-runtime/src/sdk/http.ts";
import { emitReports } from "../../bot-runtime/src/sdk/report-payloads.ts";
import { addMailFields, MAIL_DEVIATIONS, mailCollector, mailParameters, pythonRegex } from "./mail-imap.ts";

const parameters = mailParameters.extend(httpParameters.shape).extend({
  url_regex: z
    .string()
    .default("http://")
    .describe("The first match of this regular expression in a plain body is the URL downloaded."),
  chunk_size: z
    .number()
    .int()
    .positive()
    .nullable()
    .optional()
    .describe("Split downloads into reports of about this many bytes, at line ends; unset: one report."),
  chunk_replicate_header: z
    .boolean()
    .default(true)
    .describe("With chunk_size: repeat the download's first line at the start of every chunk."),
});

export default defineCollector({
  id: "collectors.mail_url",
  intelmqModules: ["intelmq.bots.collectors.mail.collector_mail_url"],
  kind: "collector",
  mode: "interval",
  description:
    "Downloads the URL found in unseen IMAP mails into reports (feed.url, extra.file_name, extra.email_*); flags each mail seen once its reports are stored.",
  parameters,
  deviations: [MAIL_DEVIATIONS.unfoldedSubject, MAIL_DEVIATIONS.failedDownloadStaysUnseen],
  create(params, ctx) {
    const urlRegex = pythonRegex(params.url_regex, "url_regex");
    const http = new HttpClient(params);
    const collector = mailCollector(params, ctx, async (mail, emit, log) => {
      let seen = false;
      for (const part of mail.plain) {
        const match = urlRegex.exec((await mail.body(part)).toString("utf8"));
        if (!match) continue;
        const url = match[0].trim();
        log.info({ url }, "Downloading report.");
        const response = await http.stream(url, { raiseForStatus: false, signal: ctx.signal });
        if (response.status < 200 || response.status >= 300) {
          response.body.on("error", () => undefined).destroy();
          throw new Error(`HTTP response status code was ${response.status} for ${url}`);
        }
        const template = Report.create();
        template.add("feed.url", url);
        addMailFields(template, mail, fileNameFromResponse(response));
        const reports = await emitReports(
          template,
          response.body,
          params,
          emit,
          contentLength(response.headers),
        );
        if (reports === 0) log.warn({ url }, "Got empty response from server.");
        else log.info({ url, reports }, "Report downloaded.");
        seen = true;
      }
      return seen;
    });
    return {
      collect: (emit) => collector.collect(emit),
      close: () => http.close(),
    };
  },
});
