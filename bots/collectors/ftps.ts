// collectors.ftp under the names of IntelMQ's FTPS collector (removed in IntelMQ 1.0): ftps_*
// parameters, implicit TLS by default (as IntelMQ's), data connections protected.
import { z } from "zod";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { ftpCollector, ftpDeviations, sharedParameters } from "./ftp.ts";

export default defineCollector({
  id: "collectors.ftps",
  intelmqModules: ["intelmq.bots.collectors.ftp.collector_ftps"],
  kind: "collector",
  mode: "interval",
  description:
    "collectors.ftp with IntelMQ's FTPS parameter names (ftps_*): fetches files from an FTPS server (implicit TLS by default, or explicit AUTH TLS) into reports.",
  parameters: z
    .object({
      ftps_host: z.string().min(1).describe("FTPS server host name."),
      ftps_port: z.number().int().min(1).max(65535).default(990).describe("FTPS server port."),
      ftps_username: z.string().nullable().optional().describe("User name; unset: anonymous."),
      ftps_password: z.string().nullable().optional().describe("Password."),
      ftps_directory: z.string().default("/").describe("The directory to fetch from."),
      ftps_file: z.string().default("*").describe("Shell pattern of the file names to fetch (fnmatch)."),
      ftps_tls: z
        .enum(["explicit", "implicit"])
        .default("implicit")
        .describe("Petrel: implicit (TLS from the start, as IntelMQ's) or explicit (AUTH TLS)."),
    })
    .extend(sharedParameters.shape),
  deviations: ftpDeviations,
  create(params, ctx) {
    return ftpCollector(
      {
        host: params.ftps_host,
        port: params.ftps_port,
        username: params.ftps_username,
        password: params.ftps_password,
        directory: params.ftps_directory,
        file: params.ftps_file,
        tls: params.ftps_tls,
      },
      params,
      ctx,
    );
  },
});
