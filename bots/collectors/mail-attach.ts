// IntelMQ's mail attachment fetcher: the attachments of unseen mails whose names match attach_regex
// become reports (unpacked from zip, tar or gzip with extract_files, optionally decrypted with GnuPG),
// with the mail's subject, sender, message id and date; the mail is flagged seen once they are stored.
import { spawn, spawnSync } from "node:child_process";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { extractFiles } from "../../bot-runtime/src/sdk/archives.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { addMailFields, MAIL_DEVIATIONS, mailCollector, mailParameters, pythonRegex } from "./mail-imap.ts";

const parameters = mailParameters.extend({
  attach_regex: z
    .string()
    .default("csv.zip")
    .describe("Attachments whose file name matches this regular expression (searched) are read."),
  extract_files: z
    .union([z.boolean(), z.array(z.string())])
    .default(true)
    .describe(
      "Unpack attachments (zip, tar, tar.gz or gzip): true for every file, or the names of the files to take.",
    ),
  attach_unzip: z
    .boolean()
    .nullable()
    .optional()
    .describe("Deprecated IntelMQ name: when set (to anything), extract_files is true."),
  allow_empty: z
    .boolean()
    .default(false)
    .describe("An empty attachment marks the mail seen without a report; otherwise it is an error."),
  decrypt_openpgp: z
    .boolean()
    .default(false)
    .describe("Decrypt attachments with GnuPG (gpg must be installed)."),
  openpgp_passphrase: z.string().default("").describe("Passphrase of the OpenPGP private key."),
  gpg_home: z.string().default("").describe("GnuPG home directory; empty: gpg's default."),
});

/** Decrypts OpenPGP data with gpg(1); the passphrase goes through its own pipe, never the command line. */
function gpgDecrypt(data: Buffer, passphrase: string, home: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const args = ["--batch", "--yes", "--quiet", "--no-tty", "--pinentry-mode", "loopback"];
    args.push("--passphrase-fd", "3", ...(home ? ["--homedir", home] : []), "--decrypt");
    const gpg = spawn("gpg", args, { stdio: ["pipe", "pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    gpg.stdout?.on("data", (c: Buffer) => out.push(c));
    gpg.stderr?.on("data", (c: Buffer) => err.push(c));
    gpg.once("error", (error) => reject(new Error(`gpg cannot be run: ${error.message}`)));
    gpg.once("close", (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(Buffer.concat(err).toString().trim() || `gpg exited with ${code}`));
    });
    for (const stream of [gpg.stdin, gpg.stdio[3]]) stream?.on("error", () => undefined);
    (gpg.stdio[3] as NodeJS.WritableStream).end(`${passphrase}\n`);
    gpg.stdin?.end(data);
  });
}

async function readAll(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of source) parts.push(part);
  return Buffer.concat(parts);
}

export default defineCollector({
  id: "collectors.mail_attach",
  intelmqModules: ["intelmq.bots.collectors.mail.collector_mail_attach"],
  kind: "collector",
  mode: "interval",
  description:
    "Reads the matching attachments of unseen IMAP mails into reports (extra.file_name, extra.email_*), unpacking archives; flags each mail seen once its reports are stored.",
  parameters,
  deviations: [
    MAIL_DEVIATIONS.unfoldedSubject,
    MAIL_DEVIATIONS.mimeFileNames,
    MAIL_DEVIATIONS.singlePartAttachment,
    MAIL_DEVIATIONS.failedMailStaysUnseen,
  ],
  create(params, ctx) {
    const attachRegex = pythonRegex(params.attach_regex, "attach_regex");
    let extract = params.extract_files;
    if (params.attach_unzip !== undefined && params.attach_unzip !== null) {
      extract = true;
      ctx.log.warn("The parameter attach_unzip is deprecated: use extract_files instead.");
    }
    if (params.decrypt_openpgp && spawnSync("gpg", ["--version"], { stdio: "ignore" }).status !== 0) {
      throw new Error("decrypt_openpgp needs GnuPG: gpg cannot be run (install the gnupg package)");
    }
    return mailCollector(params, ctx, async (mail, emit, log) => {
      let seen = false;
      for (const attachment of mail.attachments) {
        if (!attachment.filename) {
          log.debug("Skipping an attachment without a file name.");
          continue;
        }
        if (!attachRegex.test(attachment.filename)) continue;
        log.debug({ file: attachment.filename }, "Found a suitable attachment.");
        const files = extract
          ? extractFiles(await mail.content(attachment), { files: extract === true ? true : extract })
          : [{ name: attachment.filename, content: await mail.content(attachment) }];
        for await (const file of files) {
          let data = await readAll(file.content);
          if (params.decrypt_openpgp) {
            try {
              data = await gpgDecrypt(data, params.openpgp_passphrase, params.gpg_home);
            } catch (error) {
              throw new Error(`Could not decrypt attachment ${file.name}: ${(error as Error).message}`);
            }
          }
          if (data.length === 0) {
            if (params.allow_empty) {
              log.info("Empty email report ignored.");
              return true;
            }
            throw new Error(`attachment ${file.name ?? attachment.filename} is empty (allow_empty is false)`);
          }
          const report = Report.create();
          report.add("raw", data.toString("base64"), { sanitize: false });
          if (file.name) report.add("extra.file_name", file.name);
          addMailFields(report, mail);
          await emit(report);
        }
        // Only a mail with a matching attachment is flagged seen: other collectors reading the same
        // mailbox still see the rest.
        seen = true;
      }
      return seen;
    });
  },
});
