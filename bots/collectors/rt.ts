// Collects reports from Request Tracker tickets through RT's REST 2 API, as IntelMQ's RT collector
// does through REST 1: tickets found by queue, status, owner, requestor, subject and age, oldest first;
// from each, the first attachment whose name matches attachment_regex, else the first URL matching
// url_regex in the ticket's first message (downloaded); unpacked if asked; one report per file with
// rtir_id, the ticket's subject, requestors, queue, status and owner in extra.*, time.observation the
// attachment's (or message's) time. Only after every report of a ticket is stored is the ticket taken
// and its status set.
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { ArchiveError, extractFiles } from "../../bot-runtime/src/sdk/archives.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import {
  fileNameFromResponse,
  HttpClient,
  httpParameters,
  readBody,
} from "../../bot-runtime/src/sdk/http.ts";
import { parseRelativeSeconds, RELATIVE_TIME_UNITS } from "../../bot-runtime/src/sdk/relative-time.ts";

const stringOrList = z.union([z.string(), z.array(z.string())]);
const extraction = z
  .union([z.boolean(), z.string(), z.array(z.string())])
  .nullable()
  .default(true);

const parameters = httpParameters.extend({
  uri: z
    .string()
    .default("http://localhost/rt/REST/1.0")
    .describe(
      "RT's REST URL; Petrel speaks REST 2, so …/REST/1.0 is read as …/REST/2.0 and a bare RT URL gets /REST/2.0.",
    ),
  user: z
    .string()
    .default("intelmq")
    .describe("RT user (basic authentication, and the owner when taking tickets)."),
  password: z.string().default("password").describe("RT password."),
  token: z
    .string()
    .optional()
    .describe("Petrel: an RT authentication token, sent instead of user and password."),
  search_queue: stringOrList.nullable().default("Incident Reports").describe("Queue(s) to search."),
  search_status: stringOrList.nullable().default("new").describe("Ticket status to search for."),
  search_owner: stringOrList.nullable().default("nobody").describe("Ticket owner to search for."),
  search_requestor: stringOrList.nullable().optional().describe("Requestor to search for."),
  search_subject_like: stringOrList.nullable().default("Report").describe("Subject LIKE this."),
  search_subject_not_like: stringOrList.nullable().optional().describe("Subject NOT LIKE this."),
  search_not_older_than: z
    .string()
    .nullable()
    .optional()
    .describe('Only tickets created after this: a date, or a relative time such as "3 days".'),
  attachment_regex: z
    .string()
    .nullable()
    .default("\\.csv\\.zip$")
    .describe("Take the first attachment whose file name this matches (empty: look for URLs only)."),
  url_regex: z
    .string()
    .nullable()
    .default("https://dl.shadowserver.org/[a-zA-Z0-9?_-]*")
    .describe("Else download the first URL in the ticket's first message that this matches."),
  extract_attachment: extraction.describe(
    "Unpack attachments (zip, tar, gzip): true, false, or the file names to take.",
  ),
  extract_download: extraction.describe(
    "Unpack downloads (zip, tar, gzip): true, false, or the file names to take.",
  ),
  set_status: z
    .union([z.string(), z.literal(false)])
    .nullable()
    .default("open")
    .describe("Status to give a ticket once its reports are sent (false/null: leave it)."),
  take_ticket: z
    .boolean()
    .default(true)
    .describe("Take the ticket (owner = user) once its reports are sent."),
});

/** A local date and time as Python's naive isoformat() writes it. */
function localIso(t: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const base = `${t.getFullYear()}-${pad(t.getMonth() + 1)}-${pad(t.getDate())}T${pad(t.getHours())}:${pad(t.getMinutes())}:${pad(t.getSeconds())}`;
  return t.getMilliseconds() ? `${base}.${pad(t.getMilliseconds() * 1000, 6)}` : base;
}

const sqlString = (value: string) => `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
const values = (v: string | readonly string[] | null | undefined) =>
  v === null || v === undefined || v === "" ? [] : typeof v === "string" ? [v] : v;

/** The REST 2 base URL for the `uri` parameter. */
export function rest2Base(uri: string): string {
  const trimmed = uri.replace(/\/+$/, "");
  if (/\/REST\/2\.0$/.test(trimmed)) return trimmed;
  if (/\/REST\/1\.0$/.test(trimmed)) return trimmed.replace(/1\.0$/, "2.0");
  return `${trimmed}/REST/2.0`;
}

function extractSelection(value: boolean | string | readonly string[] | null): true | string[] | false {
  if (value === null || value === false || value === "" || (Array.isArray(value) && value.length === 0)) {
    return false;
  }
  if (value === true) return true;
  return typeof value === "string" ? value.split(",") : [...value];
}

interface RtRef {
  id?: string | number;
  Name?: string;
}
interface RtTicket {
  id: string | number;
  Subject?: string;
  Status?: string;
  Created?: string;
  Queue?: RtRef;
  Owner?: RtRef;
  Requestor?: RtRef[] | RtRef;
}
interface RtAttachment {
  id: string | number;
  Filename?: string;
  ContentType?: string;
  Created?: string;
  Content?: string;
}
interface RtCollection<T> {
  items: T[];
  next_page?: string;
}

export default defineCollector({
  id: "collectors.rt",
  intelmqModules: ["intelmq.bots.collectors.rt.collector_rt"],
  kind: "collector",
  mode: "interval",
  description:
    "Takes reports from Request Tracker tickets (REST 2): the matching attachment or the URL in the first message, unpacked into one report per file; the ticket is taken and its status set only after its reports are stored.",
  parameters,
  deviations: [
    {
      id: "rt-rest2",
      summary:
        "Speaks RT's REST 2 API (RT 5, or RT 4.4 with the REST2 extension) instead of REST 1.0; a uri ending in /REST/1.0 is read as /REST/2.0, and an RT token can replace user and password.",
      reason: "REST 2 is RT's supported API with JSON answers; REST 1.0's text format is deprecated.",
    },
    {
      id: "rt-download-error-no-report",
      summary:
        "When a ticket's URL answers 4xx, the ticket is taken and its status set (as IntelMQ does) but no report is sent; IntelMQ sends the error page as a report.",
      reason: "An error page is not feed data; parsers would fail on it or, worse, read it.",
    },
    {
      id: "rt-download-file-name",
      summary:
        'A downloaded file\'s extra.file_name is the Content-Disposition file name without quotes (IntelMQ keeps the quotes), and a gzip download is named after it without ".gz" (IntelMQ drops the name).',
      reason: "Parsers such as the Shadowserver parser pick their format by extra.file_name.",
    },
  ],
  create(params, ctx) {
    const client = new HttpClient(params);
    const base = rest2Base(params.uri);
    const auth = params.token
      ? `token ${params.token}`
      : `Basic ${Buffer.from(`${params.user}:${params.password}`).toString("base64")}`;
    const rtHeaders = { authorization: auth, accept: "application/json" };
    const attachmentRegex = params.attachment_regex ? new RegExp(params.attachment_regex) : undefined;
    const urlRegex = params.url_regex ? new RegExp(params.url_regex) : undefined;
    const extractAttachment = extractSelection(params.extract_attachment);
    const extractDownload = extractSelection(params.extract_download);
    // A span ("3 days") is counted back from each run; anything else is a date RT reads itself.
    const notOlderThan = params.search_not_older_than;
    const relativeSeconds = notOlderThan ? parseRelativeSeconds(notOlderThan) : undefined;
    if (notOlderThan && relativeSeconds === undefined && /^\s*\d+\s+[A-Za-z]+\s*$/.test(notOlderThan)) {
      const units = Object.keys(RELATIVE_TIME_UNITS).join(", ");
      throw new Error(`search_not_older_than: cannot read ${notOlderThan} (units: ${units})`);
    }

    async function rt<T>(path: string, init: { method?: "GET" | "PUT"; body?: unknown } = {}): Promise<T> {
      const url = path.startsWith("http") ? path : `${base}${path}`;
      const response = await client.request(url, {
        method: init.method ?? "GET",
        headers: init.body === undefined ? rtHeaders : { ...rtHeaders, "content-type": "application/json" },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
        signal: ctx.signal,
        raiseForStatus: false,
      });
      const text = response.body.toString("utf8");
      if (response.status < 200 || response.status >= 300) {
        let message = text.slice(0, 200);
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not JSON
        }
        throw new Error(`RT ${init.method ?? "GET"} ${path}: ${response.status} ${message}`);
      }
      return JSON.parse(text) as T;
    }

    async function* all<T>(path: string): AsyncGenerator<T> {
      let next: string | undefined = path;
      while (next) {
        const page: RtCollection<T> = await rt<RtCollection<T>>(next);
        yield* page.items ?? [];
        next = page.items?.length ? page.next_page : undefined;
      }
    }

    function ticketSql(): string {
      const parts: string[] = [];
      const queues = values(params.search_queue).map((q) => `Queue = ${sqlString(q)}`);
      if (queues.length) parts.push(queues.length === 1 ? (queues[0] as string) : `(${queues.join(" OR ")})`);
      if (params.search_not_older_than) {
        let since = params.search_not_older_than;
        if (relativeSeconds !== undefined) since = localIso(new Date(Date.now() - relativeSeconds * 1000));
        parts.push(`Created > ${sqlString(since)}`);
      }
      // As IntelMQ's query: every value of every criterion must hold (lists are joined with AND).
      for (const [field, op, value] of [
        ["Owner", "=", params.search_owner],
        ["Requestor", "=", params.search_requestor],
        ["Status", "=", params.search_status],
        ["Subject", "LIKE", params.search_subject_like],
        ["Subject", "NOT LIKE", params.search_subject_not_like],
      ] as const) {
        for (const v of values(value)) parts.push(`${field} ${op} ${sqlString(v)}`);
      }
      return parts.join(" AND ");
    }

    /** The file's reports: unpacked (or not), each a copy of `template` with raw and extra.file_name. */
    async function* reportsOf(
      template: Report,
      data: Buffer,
      extract: true | string[] | false,
      sourceName: string | undefined,
    ): AsyncGenerator<Report> {
      if (!extract) {
        const report = template.copy();
        report.add("raw", data.toString("base64"), { sanitize: false });
        yield report;
        return;
      }
      const source = (async function* () {
        yield data;
      })();
      for await (const file of extractFiles(source, { files: extract })) {
        const content = await readBody(file.content);
        const report = template.copy();
        report.add("raw", content.toString("base64"), { sanitize: false });
        const name = file.name ?? (sourceName?.endsWith(".gz") ? sourceName.slice(0, -3) : undefined);
        report.add("extra.file_name", name, { overwrite: true });
        yield report;
      }
    }

    return {
      async collect(emit) {
        const query = ticketSql();
        ctx.log.debug({ query }, "Searching tickets.");
        const ids: string[] = [];
        const search = `/tickets?query=${encodeURIComponent(query)}&orderby=Created&order=ASC&per_page=100`;
        for await (const item of all<{ id: string | number }>(search)) ids.push(String(item.id));
        ctx.log.info({ tickets: ids.length }, "Tickets found.");

        for (const id of ids) {
          if (ctx.signal.aborted) return;
          const ticket = await rt<RtTicket>(`/ticket/${id}?fields[Queue]=Name`);
          let content: { kind: "attachment"; data: Buffer; name: string; created?: string } | undefined;
          let download: { url: string; created?: string } | undefined;
          if (attachmentRegex) {
            const list = `/ticket/${id}/attachments?fields=Filename&orderby=id&order=ASC&per_page=100`;
            for await (const item of all<RtAttachment>(list)) {
              if (!attachmentRegex.test(item.Filename ?? "")) continue;
              const attachment = await rt<RtAttachment>(`/attachment/${item.id}`);
              content = {
                kind: "attachment",
                data: Buffer.from(attachment.Content ?? "", "base64"),
                name: attachment.Filename ?? item.Filename ?? "",
                ...(attachment.Created ? { created: attachment.Created } : {}),
              };
              break;
            }
          }
          if (!content && urlRegex) {
            const history = `/ticket/${id}/history?fields=Created&orderby=id&order=ASC&per_page=1`;
            const first = (await rt<RtCollection<{ id: string | number; Created?: string }>>(history))
              .items[0];
            if (first) {
              const parts = `/transaction/${first.id}/attachments?fields=Content,ContentType&per_page=100`;
              for await (const part of all<RtAttachment>(parts)) {
                if (!part.Content || !/^text\//i.test(part.ContentType ?? "text/plain")) continue;
                const match = urlRegex.exec(Buffer.from(part.Content, "base64").toString("utf8"));
                if (match) {
                  download = { url: match[0], ...(first.Created ? { created: first.Created } : {}) };
                  break;
                }
              }
            }
          }
          if (!content && !download) {
            ctx.log.info({ ticket: id }, "No matching attachment or URL found.");
            continue;
          }

          const template = Report.create();
          let data: Buffer;
          let extract: true | string[] | false;
          let sourceName: string | undefined;
          let created: string | undefined;
          if (content) {
            ({ data, created } = content);
            extract = extractAttachment;
            sourceName = content.name;
          } else {
            const { url } = download as { url: string; created?: string };
            created = download?.created;
            const response = await client.get(url, { signal: ctx.signal, raiseForStatus: false });
            const status = Math.floor(response.status / 100);
            if (status !== 2) {
              ctx.log.error({ url, status: response.status, ticket: id }, "Download failed.");
              if (status === 4) await markDone(id);
              continue;
            }
            data = response.body;
            extract = extractDownload;
            sourceName = fileNameFromResponse(response);
            template.add("extra.file_name", sourceName);
          }
          template.add("rtir_id", Number(id));
          if (created) template.add("time.observation", created, { overwrite: true });
          const requestors = (
            Array.isArray(ticket.Requestor) ? ticket.Requestor : ticket.Requestor ? [ticket.Requestor] : []
          )
            .map((r) => String(r.id ?? ""))
            .join(",");
          template.add("extra.email_subject", ticket.Subject);
          template.add("extra.ticket_subject", ticket.Subject);
          template.add("extra.email_from", requestors);
          template.add("extra.ticket_requestors", requestors);
          template.add(
            "extra.ticket_queue",
            ticket.Queue?.Name ?? (ticket.Queue?.id !== undefined ? String(ticket.Queue.id) : undefined),
          );
          template.add("extra.ticket_status", ticket.Status);
          template.add(
            "extra.ticket_owner",
            ticket.Owner?.id !== undefined ? String(ticket.Owner.id) : undefined,
          );

          let reports = 0;
          try {
            for await (const report of reportsOf(template, data, extract, sourceName)) {
              await emit(report);
              reports++;
            }
          } catch (error) {
            // Data that is no archive fails before any report: the ticket waits (IntelMQ skips it too).
            if (!(error instanceof ArchiveError) || reports > 0) throw error;
            ctx.log.error({ err: error, ticket: id }, "Could not uncompress the file. Skipping for now.");
            continue;
          }
          ctx.log.info({ ticket: id, reports }, "Ticket's reports sent.");
          await markDone(id);
        }
      },
      close: () => client.close(),
    };

    /** Takes the ticket and sets its status, as configured; failures are logged (as IntelMQ does). */
    async function markDone(id: string): Promise<void> {
      if (params.take_ticket) {
        try {
          await rt(`/ticket/${id}`, { method: "PUT", body: { Owner: params.user } });
        } catch (error) {
          ctx.log.error({ err: error, ticket: id }, "Could not take ticket.");
        }
      }
      if (params.set_status) {
        try {
          await rt(`/ticket/${id}`, { method: "PUT", body: { Status: params.set_status } });
        } catch (error) {
          ctx.log.error({ err: error, ticket: id }, "Could not set the ticket's status.");
        }
      }
    }
  },
});
