// What IntelMQ's mail collectors share (collectors/mail/_lib.py, reading mail as imbox does): IMAP
// over TLS, STARTTLS or plain; the unseen mails of a folder (optionally only from or to an address)
// whose subject matches; each mail's bodies and attachments told apart as imbox tells them; and the
// \Seen flag set only after every report of the mail was stored. Parts are downloaded one at a time,
// streaming, never the whole mail.
import { readFileSync } from "node:fs";
import { type FetchMessageObject, ImapFlow, type MessageStructureObject } from "imapflow";
import { simpleParser } from "mailparser";
import type { Logger } from "pino";
import { z } from "zod";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import type { BotContext, BotDeviation, Collector } from "../../bot-runtime/src/sdk/bot.ts";
import { untrustedCertificateError } from "../../bot-runtime/src/sdk/tls.ts";

export const mailParameters = z.object({
  mail_host: z.string().min(1).describe("IMAP server host name."),
  mail_user: z.string().describe("IMAP user."),
  mail_password: z.string().describe("IMAP password (take it from a Secret with parametersFrom)."),
  mail_ssl: z.boolean().default(true).describe("Connect with TLS (IMAPS, port 993 by default)."),
  mail_port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .nullable()
    .optional()
    .describe("IMAP port; unset: 993 with mail_ssl, else 143."),
  mail_starttls: z
    .boolean()
    .default(false)
    .describe("Without mail_ssl: upgrade the connection with STARTTLS (required then)."),
  folder: z.string().default("INBOX").describe("The folder to read."),
  subject_regex: z
    .string()
    .nullable()
    .optional()
    .describe("Only mails whose subject matches this regular expression (searched, not anchored)."),
  sent_from: z.string().nullable().optional().describe("Only mails whose From contains this."),
  sent_to: z.string().nullable().optional().describe("Only mails whose To contains this."),
  ssl_ca_certificate: z
    .string()
    .nullable()
    .optional()
    .describe("CA certificate file (PEM) to verify the IMAP server with; unset: the system's CAs."),
  http_verify_cert: z
    .union([z.boolean(), z.string().min(1)])
    .default(true)
    .describe(
      "Verify the IMAP server's TLS certificate (IntelMQ's name); a path verifies against that CA file instead.",
    ),
});
export type MailParameters = z.output<typeof mailParameters>;

/** Deliberate differences of the mail collectors (each module lists those that concern it). */
export const MAIL_DEVIATIONS = {
  unfoldedSubject: {
    id: "unfolded-subject",
    summary:
      "extra.email_subject is the subject with header folding removed (RFC 5322 unfolding); imbox keeps the line break and indentation of a long subject folded over several lines when it has no encoded words.",
    reason: "Folding is how a long header is transported, not part of the subject text.",
  },
  mimeFileNames: {
    id: "mime-file-names",
    summary:
      "Attachment names are decoded as MIME specifies (RFC 2231 continuations and charsets, RFC 2047 words) and taken from the Content-Type name parameter when Content-Disposition has none; imbox 0.10 decodes only RFC 2047 words and reads only the Content-Disposition filename.",
    reason: "Names then match what mail clients show; older imbox releases read the name parameter too.",
  },
  singlePartAttachment: {
    id: "single-part-attachment",
    summary:
      "A mail that is one non-text part (e.g. a bare application/zip with a Content-Disposition) is read like a part of a multipart mail, so it is an attachment; imbox only looks at such a mail when it is an image or a PDF.",
    reason:
      "Some report senders mail the file itself as the whole message; IntelMQ would leave such mails unread forever.",
  },
  failedMailStaysUnseen: {
    id: "failed-mail-stays-unseen",
    summary:
      "A mail whose attachment cannot be read (a broken archive, a failed decryption, an empty file without allow_empty) is logged and left unseen, and the collector goes on with the next mail; IntelMQ's run stops at it (a failed decryption it logs and marks the mail seen, without a report).",
    reason:
      "Nothing fetched is lost, and one broken mail does not hold up the others; it is tried again next run.",
  },
  failedDownloadStaysUnseen: {
    id: "failed-download-stays-unseen",
    summary:
      "A mail whose download fails (an HTTP error status, a connection failure) is logged and left unseen, to be tried again next run, and the collector goes on with the next mail; IntelMQ marks it seen under error_procedure pass (losing the report) and stops its run on a connection failure.",
    reason: "Nothing announced by mail is lost to a temporary failure of the download server.",
  },
} satisfies Record<string, BotDeviation>;

/** A body part or attachment of a mail, as imbox classifies it. */
export interface MailPart {
  /** The IMAP section to download. */
  readonly section: string;
  /** Content type, lower case. */
  readonly type: string;
  readonly charset: string | undefined;
  /** Bodies only: imbox decodes the text of a part without Content-Disposition from its charset. */
  readonly decode: boolean;
  /** Attachments only; "" when the part names none. */
  readonly filename: string;
}

export interface MailMessage {
  readonly uid: number;
  readonly subject: string;
  /** The From addresses, comma-separated (extra.email_from). */
  readonly from: string;
  readonly messageId: string;
  /** The Date header as written (extra.email_date). */
  readonly date: string;
  readonly plain: readonly MailPart[];
  readonly html: readonly MailPart[];
  readonly attachments: readonly MailPart[];
  /** A part's content with its transfer encoding removed, streaming. */
  content(part: MailPart): Promise<AsyncIterable<Buffer>>;
  /** A body part as imbox gives it: UTF-8 text when `decode`, else the bytes as sent. */
  body(part: MailPart): Promise<Buffer>;
}

/** Sets the extra.email_* fields IntelMQ's mail collectors add to every report. */
export function addMailFields(report: Report, mail: MailMessage, fileName?: string): void {
  report.add("extra.email_subject", mail.subject, { overwrite: true });
  report.add("extra.email_from", mail.from, { overwrite: true });
  report.add("extra.email_message_id", mail.messageId, { overwrite: true });
  if (fileName !== undefined) report.add("extra.file_name", fileName, { overwrite: true });
  report.add("extra.email_date", mail.date, { overwrite: true });
}

/** Python's re.search pattern as a JavaScript RegExp (the common syntax is the same). */
export function pythonRegex(pattern: string, name: string): RegExp {
  try {
    return new RegExp(pattern.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>"), "u");
  } catch (error) {
    throw new Error(`${name}: not a valid regular expression: ${(error as Error).message}`);
  }
}

/** A failure to store a report: it ends the run (the mail stays unseen), unlike a problem with one mail. */
class NotStored extends Error {
  constructor(cause: unknown) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = "NotStored";
  }
}

function connectError(error: unknown, endpoint: string, user: string): Error {
  const e = error as {
    code?: string;
    message?: string;
    authenticationFailed?: boolean;
    responseText?: string;
  };
  const untrusted = untrustedCertificateError(
    error,
    endpoint,
    "set ssl_ca_certificate to the CA that signed it, or http_verify_cert to false",
  );
  if (untrusted) return untrusted;
  if (e.authenticationFailed) {
    return new Error(`IMAP login to ${endpoint} as ${user} failed: ${e.responseText ?? e.message}`, {
      cause: error,
    });
  }
  return new Error(`cannot connect to IMAP server ${endpoint}: ${e.responseText ?? e.message}`, {
    cause: error,
  });
}

/** Decodes text as Python's bytes.decode(charset, "ignore") does; unknown charsets leave the bytes. */
function decodeText(bytes: Buffer, charset: string | undefined): Buffer {
  let decoder: TextDecoder;
  try {
    // Python keeps a byte order mark as U+FEFF; so does ignoreBOM.
    decoder = new TextDecoder(charset || "utf-8", { ignoreBOM: true });
  } catch {
    return bytes;
  }
  let text = decoder.decode(bytes);
  // "ignore": invalid bytes vanish (a replacement character that was really sent is kept).
  if (text.includes("\ufffd") && !(decoder.encoding === "utf-8" && bytes.includes(Buffer.from("\ufffd")))) {
    text = text.replaceAll("\ufffd", "");
  }
  return Buffer.from(text, "utf8");
}

async function readAll(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

/**
 * The bodies and attachments of a mail from its BODYSTRUCTURE, in imbox's order and by imbox's rules:
 * every part is visited depth first; text/plain and text/html parts without a disposition or with
 * "inline" are bodies; other parts with a disposition of attachment or inline are attachments;
 * a mail that is one text part is a plain body.
 */
export function classifyParts(
  root: MessageStructureObject,
): Pick<MailMessage, "plain" | "html" | "attachments"> {
  const plain: MailPart[] = [];
  const html: MailPart[] = [];
  const attachments: MailPart[] = [];
  const charset = (node: MessageStructureObject) => node.parameters?.charset;
  if (!root.childNodes && root.type.startsWith("text/")) {
    plain.push({ section: "1", type: root.type, charset: charset(root), decode: true, filename: "" });
    return { plain, html, attachments };
  }
  const visit = (node: MessageStructureObject, section: string) => {
    if (node.childNodes) {
      for (const child of node.childNodes) {
        // An encapsulated mail that is a single part is that mail's part 1 (RFC 3501 6.4.5).
        const own =
          node.type === "message/rfc822" && !child.childNodes ? `${section}.1` : (child.part ?? section);
        visit(child, own);
      }
      return;
    }
    const disposition = node.disposition;
    const inline = !disposition || disposition === "inline";
    const part = { section, type: node.type, charset: charset(node), decode: !disposition, filename: "" };
    if (inline && node.type === "text/plain") plain.push(part);
    else if (inline && node.type === "text/html") html.push(part);
    else if (disposition === "attachment" || disposition === "inline") {
      const filename = node.dispositionParameters?.filename ?? node.parameters?.name ?? "";
      attachments.push({ ...part, decode: false, filename });
    }
  };
  visit(root, root.part ?? "1");
  return { plain, html, attachments };
}

/** Subject, From, Message-ID and Date of a mail from its header block. */
async function headerFields(
  headers: Buffer,
): Promise<Pick<MailMessage, "subject" | "from" | "messageId" | "date">> {
  const parsed = await simpleParser(Buffer.concat([headers, Buffer.from("\r\n")]), {
    skipHtmlToText: true,
    skipTextToHtml: true,
    skipImageLinks: true,
  });
  const addresses = (parsed.from?.value ?? []).flatMap((a) => (a.group ? a.group : [a]));
  const dateLine = parsed.headerLines.find((h) => h.key === "date")?.line ?? "";
  return {
    subject: parsed.subject ?? "",
    from: addresses.map((a) => a.address ?? "").join(","),
    messageId: parsed.messageId ?? "",
    date: dateLine
      .replace(/^[^:]*:/, "")
      .replace(/\r?\n(?=[ \t])/g, "")
      .trim(),
  };
}

/**
 * A collector over the unseen mails of an IMAP folder: `handle` makes and emits the reports of one
 * mail and says whether the mail is done (then it is flagged \Seen).
 */
export function mailCollector(
  params: MailParameters,
  ctx: BotContext,
  handle: (mail: MailMessage, emit: (report: Report) => Promise<void>, log: Logger) => Promise<boolean>,
): Collector {
  const port = params.mail_port ?? (params.mail_ssl ? 993 : 143);
  const endpoint = `${params.mail_ssl ? "imaps" : "imap"}://${params.mail_host}:${port}`;
  const verify = params.http_verify_cert !== false;
  const caFile =
    typeof params.http_verify_cert === "string"
      ? params.http_verify_cert
      : (params.ssl_ca_certificate ?? undefined);
  const ca = caFile ? readFileSync(caFile) : undefined;
  const subjectRegex = params.subject_regex ? pythonRegex(params.subject_regex, "subject_regex") : undefined;

  const connect = async (): Promise<ImapFlow> => {
    const client = new ImapFlow({
      host: params.mail_host,
      port,
      secure: params.mail_ssl,
      ...(params.mail_ssl ? {} : { doSTARTTLS: params.mail_starttls }),
      auth: { user: params.mail_user, pass: params.mail_password },
      tls: { rejectUnauthorized: verify, ...(ca ? { ca } : {}) },
      logger: false,
      disableAutoIdle: true,
    });
    // Errors after connecting show up as failed commands; without a listener they would be thrown.
    client.on("error", (error: Error) => ctx.log.debug({ err: error }, "IMAP connection error."));
    try {
      await client.connect();
      await client.mailboxOpen(params.folder);
    } catch (error) {
      client.close();
      throw connectError(error, endpoint, params.mail_user);
    }
    return client;
  };

  return {
    async collect(emit) {
      let client = await connect();
      const storing = async (report: Report) => {
        try {
          await emit(report);
        } catch (error) {
          throw new NotStored(error);
        }
      };
      try {
        const uids =
          (await client.search(
            {
              seen: false,
              ...(params.sent_to ? { to: params.sent_to } : {}),
              ...(params.sent_from ? { from: params.sent_from } : {}),
            },
            { uid: true },
          )) || [];
        if (uids.length === 0) ctx.log.debug("No unread mails to check.");
        for (const uid of uids) {
          if (ctx.signal.aborted) break;
          const log = ctx.log.child({ uid });
          const fetched: FetchMessageObject | false = await client.fetchOne(
            String(uid),
            { uid: true, bodyStructure: true, headers: true },
            { uid: true },
          );
          if (fetched === false || !fetched.bodyStructure || !fetched.headers) continue;
          const fields = await headerFields(fetched.headers);
          if (subjectRegex && !subjectRegex.test(fields.subject)) {
            log.debug(
              { date: fields.date, subject: fields.subject },
              "Mail skipped: the subject does not match.",
            );
            continue;
          }
          const session = client;
          const content = async (part: MailPart): Promise<AsyncIterable<Buffer>> => {
            const download = await session.download(String(uid), part.section, {
              uid: true,
              decodeText: false,
            });
            if (!download.content) throw new Error(`part ${part.section} of mail ${uid} is missing`);
            return download.content as AsyncIterable<Buffer>;
          };
          const mail: MailMessage = {
            uid,
            ...fields,
            ...classifyParts(fetched.bodyStructure),
            content,
            body: async (part) => {
              const bytes = await readAll(await content(part));
              return part.decode ? decodeText(bytes, part.charset) : bytes;
            },
          };
          let done: boolean;
          try {
            done = await handle(mail, storing, log);
          } catch (error) {
            if (error instanceof NotStored) throw error.cause;
            log.error(
              { err: error, subject: fields.subject },
              "The mail could not be processed; it stays unseen.",
            );
            continue;
          }
          if (!done) continue;
          try {
            await client.messageFlagsAdd(String(uid), ["\\Seen"], { uid: true });
          } catch (error) {
            // The connection may have ended while the reports were stored: once more on a new one.
            log.warn({ err: error }, "Flagging the mail seen failed; reconnecting.");
            client.close();
            client = await connect();
            await client.messageFlagsAdd(String(uid), ["\\Seen"], { uid: true });
          }
          log.info("Email report read.");
        }
      } finally {
        await client.logout().catch(() => client.close());
      }
    },
  };
}
