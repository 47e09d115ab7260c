// Collects the AlienVault OTX pulses the account subscribes to, as IntelMQ's OTX collector does through
// the OTXv2 library: GET /api/v1/pulses/subscribed page by page (following `next`), all pulses or only
// those modified in the last `interval` hours, sent as one report whose raw is the list of pulses as
// Python's json.dumps writes it.
import { z } from "zod";
import { pyJsonDumps } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";

const parameters = httpParameters.extend({
  api_key: z.string().min(1).describe("OTX API key (take it from a Secret with parametersFrom)."),
  modified_pulses_only: z
    .boolean()
    .default(false)
    .describe("Only pulses modified in the last `interval` hours (else all subscribed pulses)."),
  interval: z.number().positive().default(24).describe("Hours to look back with modified_pulses_only."),
  api_url: z.string().default("https://otx.alienvault.com").describe("Petrel: the OTX server."),
});

/** Local time as Python's naive datetime.isoformat() writes it (microseconds only when not zero). */
function localIso(t: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  return t.getMilliseconds() ? `${base}.${pad(t.getMilliseconds() * 1000, 6)}` : base;
}

export default defineCollector({
  id: "collectors.alienvault_otx",
  intelmqModules: ["intelmq.bots.collectors.alienvault_otx.collector"],
  kind: "collector",
  mode: "interval",
  description:
    "Downloads the AlienVault OTX pulses the account subscribes to (all, or those modified recently) into one JSON report.",
  parameters,
  create(params, ctx) {
    const client = new HttpClient(params);
    const headers = {
      "x-otx-api-key": params.api_key,
      "user-agent": "OTX Python SDK/1.5.12",
      "content-type": "application/json",
    };
    return {
      async collect(emit) {
        const query = new URLSearchParams();
        if (params.modified_pulses_only) {
          query.set("limit", "9999");
          query.set("modified_since", localIso(new Date(Date.now() - params.interval * 3_600_000)));
          ctx.log.info("Fetching only modified pulses.");
        } else {
          query.set("limit", "50");
          ctx.log.info("Fetching all pulses.");
        }
        // The pulses as Python writes a list of them: "[" pulse ", " pulse … "]", each page dropped once written.
        const parts: Buffer[] = [];
        let pulses = 0;
        let next: string | null = `${params.api_url.replace(/\/+$/, "")}/api/v1/pulses/subscribed?${query}`;
        while (next) {
          const response = await client.get(next, { headers, signal: ctx.signal, raiseForStatus: false });
          if (response.status === 403) throw new Error("OTX refused the API key (403)");
          if (response.status < 200 || response.status >= 300) {
            throw new Error(
              `OTX answered ${response.status}: ${response.body.toString("utf8").slice(0, 200)}`,
            );
          }
          const page = JSON.parse(response.body.toString("utf8")) as {
            results?: unknown[];
            next?: string | null;
          };
          for (const pulse of page.results ?? []) {
            parts.push(Buffer.from(`${pulses++ === 0 ? "[" : ", "}${pyJsonDumps(pulse)}`));
          }
          next = page.next ?? null;
        }
        parts.push(Buffer.from(pulses === 0 ? "[]" : "]"));
        ctx.log.info({ pulses }, "Report downloaded.");
        const report = Report.create();
        report.add("raw", Buffer.concat(parts).toString("base64"), { sanitize: false });
        await emit(report);
      },
      close: () => client.close(),
    };
  },
});
