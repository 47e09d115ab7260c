// Collects files from a GitHub repository through the contents API, as IntelMQ's GitHub contents
// collector: the repository is walked depth-first, every file whose name the regex matches (Python's
// re.search) is downloaded from its download_url into a report (feed.url = download_url, optionally
// extra.file_metadata with the API's fields named in extra_fields). Each file is sent as soon as it is
// downloaded (IntelMQ downloads them all first).
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";

const parameters = httpParameters.extend({
  repository: z
    .string()
    .regex(/^[^/\s]+\/[^/\s]+$/, "owner/repository")
    .describe("The repository, as owner/name."),
  regex: z
    .string()
    .min(1)
    .describe("Files whose names this regular expression finds (Python re.search) are collected."),
  extra_fields: z
    .string()
    .optional()
    .describe(
      "Comma-separated fields of the API's file entry (e.g. sha,size) to put into extra.file_metadata.",
    ),
  personal_access_token: z
    .string()
    .optional()
    .describe("A GitHub token; without one the API allows 60 requests an hour."),
  api_url: z
    .string()
    .default("https://api.github.com")
    .describe("Petrel: the GitHub API root (for GitHub Enterprise Server: https://HOST/api/v3)."),
});

interface ContentEntry {
  name: string;
  type: string;
  url: string;
  download_url: string | null;
  [field: string]: unknown;
}

/** A Python regular expression as JavaScript reads it (named groups written the Python way). */
export function pythonRegex(pattern: string): RegExp {
  return new RegExp(pattern.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>"));
}

export default defineCollector({
  id: "collectors.github_api",
  intelmqModules: ["intelmq.bots.collectors.github_api.collector_github_contents_api"],
  kind: "collector",
  mode: "interval",
  description:
    "Walks a GitHub repository through the contents API and sends every file whose name matches regex as a report (feed.url = its download URL, extra.file_metadata on request).",
  parameters,
  deviations: [
    {
      id: "github-token-scheme",
      summary:
        'A personal_access_token without a scheme is sent as "token <value>"; IntelMQ sends the bare value, which GitHub rejects.',
      reason:
        "GitHub only accepts tokens with a scheme; a value that already has one (token, Bearer) is sent as it is.",
    },
  ],
  create(params, ctx) {
    const client = new HttpClient(params);
    const regex = pythonRegex(params.regex);
    const extraFields = params.extra_fields ? params.extra_fields.split(",").map((f) => f.trim()) : [];
    const headers: Record<string, string> = { accept: "application/vnd.github.v3.text-match+json" };
    const token = params.personal_access_token;
    if (token) headers.authorization = /^(token|bearer)\s/i.test(token) ? token : `token ${token}`;
    else ctx.log.warn("Using unauthenticated API access: GitHub allows 60 requests an hour.");
    const root = `${params.api_url.replace(/\/+$/, "")}/repos/${params.repository}/contents`;

    async function listing(url: string): Promise<ContentEntry[]> {
      const response = await client.get(url, { headers, signal: ctx.signal, raiseForStatus: false });
      let data: unknown;
      try {
        data = JSON.parse(response.body.toString("utf8"));
      } catch {
        throw new Error(`GitHub API ${url} answered ${response.status} without JSON`);
      }
      if (!Array.isArray(data)) {
        const message = (data as { message?: string } | null)?.message ?? `HTTP ${response.status}`;
        throw new Error(`GitHub API ${url}: ${message}`);
      }
      return data as ContentEntry[];
    }

    return {
      async collect(emit) {
        let sent = 0;
        const walk = async (url: string): Promise<void> => {
          for (const entry of await listing(url)) {
            if (ctx.signal.aborted) return;
            if (entry.type === "dir") await walk(entry.url);
            else if (entry.type === "file" && regex.test(entry.name) && entry.download_url) {
              const file = await client.get(entry.download_url, { signal: ctx.signal });
              const report = Report.create();
              report.add("raw", file.body.toString("base64"), { sanitize: false });
              report.add("feed.url", entry.download_url);
              const metadata: Record<string, unknown> = {};
              for (const field of extraFields) {
                if (field in entry) metadata[field] = entry[field];
                else ctx.log.warn({ field }, "Field does not exist in the GitHub file data.");
              }
              if (Object.keys(metadata).length > 0) report.add("extra.file_metadata", metadata);
              await emit(report);
              sent++;
            }
          }
        };
        await walk(root);
        ctx.log.info({ repository: params.repository, files: sent }, "Repository collected.");
      },
      close: () => client.close(),
    };
  },
});
