// Collects MISP events carrying a tag, as IntelMQ's MISP collector does through PyMISP: a restSearch for
// the events tagged misp_tag_to_process, one report per event (raw = the event as Python's
// json.dumps(sort_keys=True) writes it, feed.url = misp_url), then the event re-tagged:
// misp_tag_processed added (if set) and misp_tag_to_process removed. An event is re-tagged only once
// its report is stored (IntelMQ re-tags after sending them all).
import { z } from "zod";
import { pyJsonDumps } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";

const parameters = httpParameters.extend({
  misp_url: z.string().min(1).describe("URL of the MISP server (with a trailing /)."),
  misp_key: z.string().min(1).describe("MISP API key (take it from a Secret with parametersFrom)."),
  misp_tag_to_process: z.string().min(1).describe("Events with this tag are collected."),
  misp_tag_processed: z.string().nullable().optional().describe("Tag added to each collected event."),
  misp_verify: z
    .boolean()
    .optional()
    .describe("Deprecated name of http_verify_cert (IntelMQ still reads it)."),
});

/** What PyMISP's search(tags=…) posts to /events/restSearch (its None values left out). */
function searchQuery(tag: string): Record<string, unknown> {
  const query: Record<string, unknown> = { returnFormat: "json", tags: tag };
  for (const flag of [
    "withAttachments",
    "metadata",
    "enforceWarninglist",
    "includeEventUuid",
    "includeEventTags",
    "sgReferenceOnly",
    "includeContext",
    "headerless",
    "includeSightings",
    "includeDecayScore",
    "includeCorrelations",
    "excludeDecayed",
  ]) {
    query[flag] = 0;
  }
  return query;
}

export default defineCollector({
  id: "collectors.misp",
  intelmqModules: ["intelmq.bots.collectors.misp.collector"],
  kind: "collector",
  mode: "interval",
  description:
    "Collects the MISP events tagged misp_tag_to_process, one report per event (JSON), and re-tags each once its report is stored.",
  parameters,
  create(params, ctx) {
    const client = new HttpClient(
      params.misp_verify === undefined ? params : { ...params, http_verify_cert: params.misp_verify },
    );
    const root = params.misp_url.endsWith("/") ? params.misp_url : `${params.misp_url}/`;
    const headers = {
      authorization: params.misp_key,
      accept: "application/json",
      "content-type": "application/json",
    };

    async function post(path: string, body: unknown): Promise<unknown> {
      const response = await client.request(new URL(path, root).toString(), {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: ctx.signal,
        raiseForStatus: false,
      });
      const text = response.body.toString("utf8");
      let data: unknown;
      try {
        data = JSON.parse(text);
      } catch {
        throw new Error(`MISP ${path} answered ${response.status}: ${text.slice(0, 200)}`);
      }
      const errors = (data as { errors?: unknown } | null)?.errors;
      if (response.status >= 400 || errors !== undefined) {
        throw new Error(`MISP ${path} answered ${response.status}: ${JSON.stringify(errors ?? data)}`);
      }
      return data;
    }

    return {
      async collect(emit) {
        let result = await post("events/restSearch", searchQuery(params.misp_tag_to_process));
        if (result && typeof result === "object" && "response" in result) {
          result = (result as { response: unknown }).response;
        }
        if (!Array.isArray(result)) throw new Error("MISP restSearch did not answer with a list of events");
        ctx.log.info({ events: result.length }, "MISP events found.");
        for (const item of result as Array<{ Event: Record<string, unknown> & { uuid: string } }>) {
          if (ctx.signal.aborted) return;
          const event = item.Event;
          const report = Report.create();
          report.add("raw", Buffer.from(pyJsonDumps(event, { sortKeys: true })).toString("base64"), {
            sanitize: false,
          });
          report.add("feed.url", params.misp_url);
          await emit(report);
          if (params.misp_tag_processed) {
            await post("tags/attachTagToObject", {
              uuid: event.uuid,
              tag: params.misp_tag_processed,
              local: false,
            });
          }
          await post("tags/removeTagFromObject", { uuid: event.uuid, tag: params.misp_tag_to_process });
        }
      },
      close: () => client.close(),
    };
  },
});
