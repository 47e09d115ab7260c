// Collects reports from the Shadowserver Reports API, as IntelMQ's collector does: the list of the
// last three days' reports (POST reports/list, signed with HMAC-SHA256 of the request body under the
// secret), filtered by report type, each report not collected before downloaded from dl.shadowserver.org
// into a report with extra.file_name. The names of collected reports are kept in JetStream KV for
// redis_cache_ttl seconds (IntelMQ keeps them in Redis); a name is recorded only once its report is stored.
import { createHash, createHmac } from "node:crypto";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { contentLength, discardBody, HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";
import { emitReports } from "../../bot-runtime/src/sdk/report-payloads.ts";

const list = z.union([z.string(), z.array(z.string())]);

const parameters = httpParameters.extend({
  api_key: z.string().min(1).describe("Shadowserver API key."),
  secret: z.string().min(1).describe("Shadowserver API secret (signs the requests)."),
  reports: list
    .nullable()
    .optional()
    .describe("The mailing lists (report names) to collect, a list or comma-separated; unset: all."),
  types: list
    .nullable()
    .optional()
    .describe("Report types to collect (e.g. scan, drones), a list or comma-separated; unset: all."),
  country: z.string().nullable().optional().describe("Deprecated: a report name, added to reports."),
  redis_cache_ttl: z
    .number()
    .int()
    .positive()
    .default(864_000)
    .describe("Seconds a collected report's name is remembered (kept in JetStream KV)."),
  redis_cache_db: z
    .number()
    .int()
    .optional()
    .describe("IntelMQ's Redis cache database (not used: Petrel uses KV)."),
  redis_cache_host: z.string().optional().describe("IntelMQ's Redis cache host (not used: Petrel uses KV)."),
  redis_cache_port: z
    .number()
    .int()
    .optional()
    .describe("IntelMQ's Redis cache port (not used: Petrel uses KV)."),
  redis_cache_password: z.string().nullable().optional().describe("IntelMQ's Redis password (not used)."),
  api_url: z
    .string()
    .default("https://transform.shadowserver.org/api2/")
    .describe("Petrel: the Reports API root."),
  download_url: z.string().default("https://dl.shadowserver.org/").describe("Petrel: the download root."),
  chunk_size: z
    .number()
    .int()
    .positive()
    .nullable()
    .optional()
    .describe(
      "Petrel: split each report file into reports of about this many bytes at line ends (its header line repeated); unset: one report per file.",
    ),
  chunk_replicate_header: z
    .boolean()
    .default(true)
    .describe("With chunk_size: repeat the file's first line at the start of every report."),
});

interface ListedReport {
  id: string;
  type?: string;
  file: string;
  report?: string;
  timestamp?: string;
}

function names(value: string | readonly string[] | null | undefined): string[] {
  if (value === null || value === undefined) return [];
  if (typeof value === "string") return value.trim() ? value.trim().split(",") : [];
  return [...value];
}

/** KV bucket of the collected report names. */
export function collectedBucket(botId: string): string {
  return `shadowserver-reports-${botId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

export default defineCollector({
  id: "collectors.shadowserver_reports_api",
  intelmqModules: ["intelmq.bots.collectors.shadowserver.collector_reports_api"],
  kind: "collector",
  mode: "interval",
  description:
    "Downloads new reports from the Shadowserver Reports API (of the last three days, by report name and type), one report per file with extra.file_name; remembers collected files in JetStream KV.",
  parameters,
  deviations: [
    {
      id: "raw-bytes-unchanged",
      summary:
        "A report's raw holds the bytes Shadowserver sent; IntelMQ decodes the file with the charset requests guesses (ISO-8859-1 for text/csv without charset) and re-encodes it as UTF-8.",
      reason: "The guess corrupts non-ASCII characters (e.g. in hostnames or organisation names).",
    },
  ],
  async create(params, ctx) {
    const client = new HttpClient(params);
    const reportNames = names(params.reports);
    if (params.country && !reportNames.includes(params.country)) {
      ctx.log.warn("Deprecated parameter 'country' found. Please use 'reports' instead.");
      reportNames.push(params.country);
    }
    const types = names(params.types);
    const collected = await ctx.state(collectedBucket(ctx.botId), { ttlMs: params.redis_cache_ttl * 1000 });
    const apiRoot = params.api_url.endsWith("/") ? params.api_url : `${params.api_url}/`;
    const downloadRoot = params.download_url.endsWith("/") ? params.download_url : `${params.download_url}/`;
    const keyOf = (file: string) => createHash("sha256").update(file).digest("hex");

    async function listReports(): Promise<ListedReport[]> {
      const today = new Date();
      const day = (t: Date) => t.toISOString().slice(0, 10);
      const query: Record<string, unknown> = {
        apikey: params.api_key,
        date: `${day(new Date(today.getTime() - 2 * 86_400_000))}:${day(today)}`,
      };
      if (reportNames.length > 0) query.reports = reportNames;
      const body = JSON.stringify(query);
      const response = await client.request(new URL("reports/list", apiRoot).toString(), {
        method: "POST",
        body,
        headers: { HMAC2: createHmac("sha256", params.secret).update(body).digest("hex") },
        signal: ctx.signal,
      });
      const reports = JSON.parse(response.body.toString("utf8")) as ListedReport[] | { error?: string };
      if (!Array.isArray(reports)) {
        throw new Error(
          `Shadowserver could not list the reports: ${reports.error ?? JSON.stringify(reports)}`,
        );
      }
      return types.length > 0 ? reports.filter((r) => types.includes(r.type ?? "")) : reports;
    }

    return {
      async collect(emit) {
        const reports = await listReports();
        let downloaded = 0;
        for (const item of reports) {
          if (ctx.signal.aborted) return;
          if (await collected.get(keyOf(item.file))) {
            ctx.log.debug({ file: item.file }, "Report collected already.");
            continue;
          }
          try {
            const response = await client.stream(new URL(item.id, downloadRoot).toString(), {
              signal: ctx.signal,
              raiseForStatus: false,
            });
            if (response.status < 200 || response.status >= 300) {
              discardBody(response.body);
              throw new Error(`HTTP ${response.status} downloading ${item.file}`);
            }
            const template = Report.create();
            template.add("extra.file_name", item.file);
            await emitReports(template, response.body, params, emit, contentLength(response.headers));
          } catch (error) {
            // As IntelMQ: a download that times out is logged and tried again next time.
            if (!/^UND_ERR_(HEADERS|BODY)_TIMEOUT$/.test((error as { code?: string }).code ?? ""))
              throw error;
            ctx.log.error({ file: item.file, id: item.id }, "Timeout on data download.");
            continue;
          }
          await collected.put(keyOf(item.file), item.id);
          downloaded++;
        }
        ctx.log.info({ downloaded, available: reports.length }, "Reports downloaded.");
      },
      close: () => client.close(),
    };
  },
});
