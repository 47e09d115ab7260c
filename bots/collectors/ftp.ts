// Fetches files from an FTP server (plain, or FTPS with explicit AUTH TLS or implicit TLS, the
// certificate verified), in place of IntelMQ's FTP collector (removed in IntelMQ 1.0): in
// ftp_directory, the last file whose name matches ftp_file (or every one), downloaded to a temp
// file, unpacked when it is an archive, into reports (or chunks); deleted afterwards if asked, once
// its reports are stored. collectors.ftps (ftps.ts) is the same with IntelMQ's FTPS names.
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { Client } from "basic-ftp";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { extractFiles } from "../../bot-runtime/src/sdk/archives.ts";
import {
  type BotContext,
  type BotDeviation,
  type Collector,
  defineCollector,
} from "../../bot-runtime/src/sdk/bot.ts";
import { emitReports } from "../../bot-runtime/src/sdk/report-payloads.ts";
import { untrustedCertificateError } from "../../bot-runtime/src/sdk/tls.ts";
import { fnmatchRegex } from "./file.ts";

/** Parameters both FTP modules have, whatever their prefix. */
export const sharedParameters = z.object({
  ssl_ca_certificate: z
    .string()
    .nullable()
    .optional()
    .describe("Petrel: CA certificate file (PEM) to verify the server with; unset: the system's CAs."),
  ssl_verify_cert: z.boolean().default(true).describe("Petrel: verify the server's TLS certificate."),
  all_files: z
    .boolean()
    .default(false)
    .describe(
      "Petrel: fetch every matching file; false fetches only the last one by name, as IntelMQ's did.",
    ),
  extract_files: z
    .union([z.boolean(), z.array(z.string())])
    .default(true)
    .describe(
      "Unpack zip, tar, tar.gz and gzip files (true: every member, or the names of the members to take); other files are taken as they are.",
    ),
  delete_file: z
    .boolean()
    .default(false)
    .describe("Petrel: delete each file on the server once all its reports are stored."),
  chunk_size: z
    .number()
    .int()
    .positive()
    .nullable()
    .optional()
    .describe("Split files into reports of about this many bytes, at line ends; unset: one report per file."),
  chunk_replicate_header: z
    .boolean()
    .default(true)
    .describe("With chunk_size: repeat the file's first line at the start of every chunk."),
});
type Shared = z.output<typeof sharedParameters>;

/** The connection settings, from either module's names. */
export interface FtpSettings {
  host: string;
  port: number;
  username: string | null | undefined;
  password: string | null | undefined;
  directory: string;
  file: string;
  tls: "none" | "explicit" | "implicit";
}

export const ftpDeviations: readonly BotDeviation[] = [
  {
    id: "feed-url-names-file",
    summary:
      "feed.url is the URL of the file fetched (ftp://host:port/directory/name) and extra.file_name its name (or the archive member's); IntelMQ's FTP collectors set feed.url to ftp://host:port only.",
    reason:
      "Parsers and analysts can tell the files of a server apart; IntelMQ's own file and HTTP collectors name the file too.",
  },
  {
    id: "archives-unpacked",
    summary:
      "tar, tar.gz and gzip files are unpacked like zip files (extract_files); IntelMQ's FTP collectors only unpacked zip.",
    reason: "The same archive handling as IntelMQ's current collectors (utils.unzip).",
  },
  {
    id: "verified-tls",
    summary:
      "FTPS verifies the server's certificate and host name (ssl_ca_certificate, ssl_verify_cert) and negotiates a current TLS version; IntelMQ's FTPS collector forced TLS 1.0 without verifying anything.",
    reason: "An unverified connection gives no protection against a man in the middle.",
  },
];

/** The collector both modules make, once their parameters are read into `ftp`. */
export function ftpCollector(ftp: FtpSettings, params: Shared, ctx: BotContext): Collector {
  const scheme = ftp.tls === "none" ? "ftp" : "ftps";
  const endpoint = `${scheme}://${ftp.host}:${ftp.port}`;
  const matches = fnmatchRegex(ftp.file);
  let ca: Buffer | undefined;

  const connect = async (): Promise<Client> => {
    if (params.ssl_ca_certificate && !ca) ca = await readFile(params.ssl_ca_certificate);
    const client = new Client(60_000);
    try {
      await client.access({
        host: ftp.host,
        port: ftp.port,
        user: ftp.username || "anonymous",
        password: ftp.password || "anonymous@",
        secure: ftp.tls === "none" ? false : ftp.tls === "implicit" ? "implicit" : true,
        secureOptions: {
          servername: ftp.host,
          rejectUnauthorized: params.ssl_verify_cert,
          ...(ca ? { ca } : {}),
        },
      });
      await client.cd(ftp.directory);
    } catch (error) {
      client.close();
      throw (
        untrustedCertificateError(error, endpoint) ??
        new Error(`FTP ${endpoint}: ${(error as Error).message}`, { cause: error })
      );
    }
    return client;
  };

  return {
    async collect(emit) {
      let client = await connect();
      const work = await mkdtemp(join(tmpdir(), "petrel-ftp-"));
      try {
        const directory = await client.pwd();
        const names = (await client.list())
          .filter((f) => f.isFile && matches.test(f.name))
          .map((f) => f.name)
          .sort();
        if (names.length === 0) {
          ctx.log.info({ directory, pattern: ftp.file }, "No file found.");
          return;
        }
        for (const name of params.all_files ? names : names.slice(-1)) {
          if (ctx.signal.aborted) return;
          if (client.closed) client = await connect();
          const local = join(work, "download");
          ctx.log.info({ file: name }, "Retrieving file.");
          await client.downloadTo(local, name);
          const path = posix.join(directory, name);
          const url = `${endpoint}${encodeURI(path)}`;
          let reports = 0;
          const files = extractFiles(createReadStream(local), {
            files: params.extract_files === false ? true : params.extract_files,
            zip: params.extract_files !== false,
            tar: params.extract_files !== false,
            gzip: params.extract_files !== false,
            passThrough: true,
          });
          for await (const member of files) {
            const template = Report.create();
            template.add("feed.url", url);
            template.add("extra.file_name", member.name ?? name);
            reports += await emitReports(template, member.content, params, emit);
          }
          await rm(local, { force: true });
          ctx.log.debug({ file: name, reports }, "File sent.");
          if (params.delete_file) {
            // The control connection may have timed out while the reports were stored.
            if (client.closed) client = await connect();
            await client.remove(name);
            ctx.log.debug({ file: name }, "Deleted file.");
          }
        }
      } finally {
        client.close();
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}

export default defineCollector({
  id: "collectors.ftp",
  intelmqModules: ["intelmq.bots.collectors.ftp.collector_ftp"],
  kind: "collector",
  mode: "interval",
  description:
    "Fetches the latest (or every) file matching ftp_file from an FTP or FTPS server into reports (feed.url, extra.file_name), unpacking archives; optionally deletes it once stored.",
  parameters: z
    .object({
      ftp_host: z.string().min(1).describe("FTP server host name."),
      ftp_port: z.number().int().min(1).max(65535).default(21).describe("FTP server port."),
      ftp_username: z.string().nullable().optional().describe("User name; unset: anonymous."),
      ftp_password: z.string().nullable().optional().describe("Password."),
      ftp_directory: z.string().default("/").describe("The directory to fetch from."),
      ftp_file: z.string().default("*").describe("Shell pattern of the file names to fetch (fnmatch)."),
      ftp_tls: z
        .enum(["none", "explicit", "implicit"])
        .default("none")
        .describe(
          "Petrel: none (plain FTP), explicit (AUTH TLS on the FTP port) or implicit (TLS from the start).",
        ),
    })
    .extend(sharedParameters.shape),
  deviations: ftpDeviations,
  create(params, ctx) {
    return ftpCollector(
      {
        host: params.ftp_host,
        port: params.ftp_port,
        username: params.ftp_username,
        password: params.ftp_password,
        directory: params.ftp_directory,
        file: params.ftp_file,
        tls: params.ftp_tls,
      },
      params,
      ctx,
    );
  },
});
