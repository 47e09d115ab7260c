// Collects events per abuse contact and mails each contact one message with a zipped CSV of its
// events, as IntelMQ's smtp_batch output. IntelMQ keeps the events in Redis and sends from a CLI run
// by cron; Petrel keeps them in the bot's state (JetStream KV, see state-log.ts) and sends on
// send_schedule. An event is acknowledged once it is stored there; the events of a mail are
// forgotten only after the SMTP server accepted the mail, so a failure or crash in between sends the
// mail again in the next round rather than losing it.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Cron } from "croner";
import { parse } from "csv-parse/sync";
import { strToU8, zipSync } from "fflate";
import { z } from "zod";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import { type DateParts, datetimeStr, strftime } from "../../bot-runtime/src/event/compat/strftime.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { exportEventText, isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import { csvRow, EXCEL, recipients, smtpTransport } from "./mail.ts";
import { type LogEntry, StateLog } from "./state-log.ts";

const ALLOWED_FIELDNAMES = [
  "time.source",
  "source.ip",
  "classification.taxonomy",
  "classification.type",
  "time.observation",
  "source.geolocation.cc",
  "source.asn",
  "event_description.text",
  "malware.name",
  "feed.name",
  "feed.url",
  "raw",
];
const FIELDNAMES_TRANSLATION: Record<string, string> = {
  "time.source": "time_detected",
  "source.ip": "ip",
  "classification.taxonomy": "class",
  "classification.type": "type",
  "time.observation": "time_delivered",
  "source.geolocation.cc": "country_code",
  "source.asn": "asn",
  "event_description.text": "description",
  "malware.name": "malware",
  "feed.name": "feed_name",
  "feed.url": "feed_url",
  raw: "raw",
};

const smtpServer = z.union([
  z.string().min(1),
  z.object({
    host: z.string().min(1).default("localhost"),
    port: z.number().int().min(1).max(65535).default(25),
    user: z.string().nullable().optional(),
    password: z.string().nullable().optional(),
    security: z.enum(["starttls", "tls"]).nullable().optional(),
  }),
  z
    .array(z.union([z.string(), z.number(), z.null()]))
    .min(1)
    .max(5),
]);

const parameters = z.object({
  email_from: z.string().min(1).describe("Sender of the mails."),
  mail_template: z.string().min(1).describe("File holding the text of the mails."),
  subject: z
    .string()
    .default("IntelMQ warning (%Y-%m-%d)")
    .describe('Subject (strftime, local time); " (recipient)" is added.'),
  attachment_name: z
    .string()
    .default("intelmq_%Y-%m-%d")
    .describe('Name of the ZIP attachment without ".zip" (strftime, local time).'),
  smtp_server: smtpServer
    .default("localhost")
    .describe(
      'The SMTP server: a host name (port 25), or {host, port, user, password, security: "starttls"|"tls"} (security unset: STARTTLS on 587, TLS on 465), or [host, port, user, password, security].',
    ),
  ssl_ca_certificate: z
    .string()
    .nullable()
    .default(null)
    .describe("Petrel: CA certificate file (PEM) to verify the SMTP server with; unset: the system's CAs."),
  additional_grouping_keys: z
    .array(z.string())
    .default([])
    .describe("Fields that split a contact's events into several mails besides source.abuse_contact."),
  alternative_mails: z
    .string()
    .nullable()
    .default(null)
    .describe("CSV file of original,alternative address pairs: mails to the first go to the second."),
  bcc: z.array(z.string()).nullable().default(null).describe("Blind copies of every mail."),
  templating: z
    .object({
      subject: z.boolean().optional(),
      body: z.boolean().optional(),
      attachment: z.boolean().optional(),
    })
    .nullable()
    .default({ subject: false, body: false, attachment: false })
    .describe(
      "Render subject, body and attachment name as templates: {{ source_abuse_contact }}, the grouping keys with _ for . and {{ current_time.strftime('%Y') }}.",
    ),
  allowed_fieldnames: z
    .array(z.string())
    .default(ALLOWED_FIELDNAMES)
    .describe("The CSV's columns, in order."),
  fieldnames_translation: z
    .record(z.string(), z.string())
    .default(FIELDNAMES_TRANSLATION)
    .describe("Column headers for the fields (a field without one is headed by its name)."),
  ignore_older_than_days: z
    .number()
    .int()
    .min(0)
    .nullable()
    .default(null)
    .describe("Leave out events whose time.observation is older than this many days (0 or unset: none)."),
  limit_results: z
    .number()
    .int()
    .min(1)
    .nullable()
    .default(null)
    .describe("Send at most this many mails per round."),
  testing_to: z
    .string()
    .nullable()
    .default(null)
    .describe('Send every mail to this address instead (subject "(intended for …)", no bcc).'),
  gpg_key: z.string().nullable().default(null).describe("Not supported by Petrel: must stay unset."),
  gpg_pass: z.string().nullable().default(null).describe("Not supported by Petrel."),
  send_schedule: z
    .string()
    .default("0 6 * * *")
    .describe(
      "Petrel: when to send the collected mails, a cron expression in UTC (IntelMQ runs its CLI by cron).",
    ),
  redis_cache_host: z
    .string()
    .default("")
    .describe("Accepted for compatibility: Petrel keeps the events in its state."),
  redis_cache_port: z.number().int().default(0).describe("Accepted for compatibility."),
  redis_cache_db: z.number().int().default(15).describe("Accepted for compatibility."),
  redis_cache_ttl: z
    .number()
    .int()
    .default(1728000)
    .describe("Accepted for compatibility (IntelMQ does not apply it either)."),
});

type Params = z.output<typeof parameters>;

/** How long a sending round may hold the lock before another replica may take over. */
const LOCK_MS = 10 * 60_000;

function localNow(now = new Date()): DateParts {
  return {
    year: now.getFullYear(),
    month: now.getMonth() + 1,
    day: now.getDate(),
    hour: now.getHours(),
    minute: now.getMinutes(),
    second: now.getSeconds(),
    microsecond: now.getMilliseconds() * 1000,
  };
}

/** Python's time.strftime, which IntelMQ falls back from to the text itself when it fails. */
function strftimeOr(text: string, now: DateParts): string {
  try {
    return strftime(now, text);
  } catch {
    return text;
  }
}

// ---- the part of Jinja that the batch templates use ----

type TemplatePart = string | { variable: string } | { strftime: string };
const JINJA_EXPRESSION = /\{\{\s*(.*?)\s*\}\}/gs;
const STRFTIME_CALL = /^current_time\.strftime\(\s*(?:'([^']*)'|"([^"]*)")\s*\)$/s;

function compileJinja(
  template: string,
  parameter: string,
): (data: Record<string, unknown>, now: DateParts) => string {
  if (/\{%|\{#/.test(template)) {
    throw new Error(
      `${parameter}: only {{ … }} expressions are supported in templates, no {% … %} or {# … #}`,
    );
  }
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const match of template.matchAll(JINJA_EXPRESSION)) {
    parts.push(template.slice(last, match.index));
    const expression = match[1] as string;
    const call = STRFTIME_CALL.exec(expression);
    if (call) parts.push({ strftime: call[1] ?? call[2] ?? "" });
    else if (/^[A-Za-z_]\w*$/.test(expression)) parts.push({ variable: expression });
    else {
      throw new Error(
        `${parameter}: {{ ${expression} }} is not supported; use {{ name }} or {{ current_time.strftime('…') }}`,
      );
    }
    last = match.index + match[0].length;
  }
  parts.push(template.slice(last));
  return (data, now) =>
    parts
      .map((part) => {
        if (typeof part === "string") return part;
        if ("strftime" in part) return strftime(now, part.strftime);
        if (part.variable === "current_time") return datetimeStr(now);
        const value = data[part.variable];
        // Jinja renders what is not defined as nothing.
        return value === undefined ? "" : pyStr(value);
      })
      .join("");
}

// ---- grouping ----

/** The bucket of an event: its contact and the values of the additional grouping keys. */
function groupKey(contact: string, event: Record<string, unknown>, keys: readonly string[]): string {
  const hash = createHash("sha256").update(createHash("sha256").update(contact).digest());
  for (const key of keys) {
    if (!(key in event)) continue;
    hash.update(
      createHash("sha256")
        .update(JSON.stringify([key, event[key]]))
        .digest(),
    );
  }
  return hash.digest("hex");
}

/** Python's b64decode(raw).decode("utf-8").strip() with line breaks escaped; the raw as it is when that fails. */
function rawText(raw: string): string {
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(raw, "base64"));
    return text
      .replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/g, "")
      .replaceAll("\n", "\\n")
      .replaceAll("\r", "\\r");
  } catch {
    return raw;
  }
}

function smtpSettings(params: Params) {
  const server = params.smtp_server;
  let host = "localhost";
  let port = 25;
  let user: string | null | undefined;
  let password: string | null | undefined;
  let security: string | null | undefined;
  if (typeof server === "string") host = server;
  else if (Array.isArray(server)) {
    [host = "localhost", port = 25, user, password, security] = server as [
      string,
      number,
      string,
      string,
      string,
    ];
    port = Number(port);
  } else ({ host, port, user, password, security } = server);
  if (typeof server === "string" && server.endsWith(".ini")) {
    throw new Error(
      "smtp_server: INI files are not supported; give the server as {host, port, user, password, security}",
    );
  }
  security ??= port === 587 ? "starttls" : port === 465 ? "tls" : null;
  if (security !== null && security !== "starttls" && security !== "tls") {
    throw new Error(
      `smtp_server: security must be "starttls", "tls" or unset, not ${JSON.stringify(security)}`,
    );
  }
  return {
    host,
    port,
    tls: security === "tls",
    starttls: security === "starttls",
    username: user,
    password,
    verifyCertificate: true,
    caFile: params.ssl_ca_certificate,
    pool: true,
  };
}

function isHtml(text: string): boolean {
  return ["<br", "<b>", "<i>", "<p", "<img"].some((tag) => text.includes(tag));
}

export default defineOutput({
  id: "outputs.smtp_batch",
  intelmqModules: ["intelmq.bots.outputs.smtp_batch.output"],
  kind: "output",
  description:
    "Collects events per abuse contact and sends each contact one mail with a zipped CSV of its events, on a schedule.",
  parameters,
  deviations: [
    {
      id: "sends-on-schedule",
      summary:
        "The bot sends the collected mails itself on send_schedule (a cron expression), with everything IntelMQ's --cli --send does; IntelMQ only collects and leaves sending to its interactive CLI run by the operator or cron. The CLI's dialog, --tester and --limit-results flags are the parameters testing_to and limit_results.",
      reason:
        "A bot in a cluster has no terminal; the state it keeps is shared by its replicas, one of which sends.",
    },
    {
      id: "state-instead-of-redis",
      summary:
        "Events are kept in the bot's JetStream KV state; the redis_cache_* parameters are accepted and ignored.",
      reason: "Petrel's bots keep state in NATS, acknowledged only once stored; there is no Redis.",
    },
    {
      id: "jinja-subset",
      summary:
        "Templates (templating) understand {{ name }} and {{ current_time.strftime('…') }} only; other Jinja is refused when the bot starts.",
      reason:
        "These are what the bot's template data supports; a full Jinja engine is not worth its weight here.",
    },
    {
      id: "no-gpg",
      summary: "gpg_key is refused: Petrel does not sign mails.",
      reason:
        "No GnuPG in the runtime; a refused setting is better than unsigned mail that should have been signed.",
    },
    {
      id: "old-events-dropped",
      summary:
        "A contact whose events are all older than ignore_older_than_days is forgotten with its events (logged); IntelMQ keeps such events in Redis for ever and skips the mail every time.",
      reason: "Events that will never be sent should not pile up in the state.",
    },
    {
      id: "testing-to-consumes",
      summary:
        'With testing_to, mails go to that address (subject "(intended for …)") and the events count as sent; IntelMQ\'s CLI keeps them queued after a test send.',
      reason: "An unattended bot would otherwise send the same test mails every round.",
    },
    {
      id: "untranslated-fields",
      summary: "An allowed field without a translation is headed by its own name; IntelMQ fails (KeyError).",
      reason: "A column header is not worth losing the mail over.",
    },
  ],
  async create(params, ctx) {
    if (params.gpg_key) throw new Error("gpg_key: signing mails is not supported by Petrel; unset it");
    const text = readFileSync(params.mail_template, "utf8");
    const alternative = new Map<string, string>();
    if (params.alternative_mails) {
      const rows = parse(readFileSync(params.alternative_mails, "utf8"), {
        relax_column_count: true,
      }) as string[][];
      for (const [original, replacement] of rows) {
        if (original && replacement) alternative.set(original, replacement);
      }
    }
    const templating = params.templating ?? {};
    const render = {
      subject: templating.subject ? compileJinja(params.subject, "subject") : undefined,
      body: templating.body ? compileJinja(text, "mail_template") : undefined,
      attachment: templating.attachment ? compileJinja(params.attachment_name, "attachment_name") : undefined,
    };
    const anyTemplating = Object.values(templating).some(Boolean);
    const smtp = smtpSettings(params);
    const state = new StateLog(await ctx.state("smtp_batch"));
    const keys = params.additional_grouping_keys;
    const header = csvRow(
      params.allowed_fieldnames.map((f) => params.fieldnames_translation[f] ?? f),
      EXCEL,
    );

    /** One mail per bucket: its events as IntelMQ's CSV rows, zipped, to the bucket's contact. */
    const buildMail = (events: Array<Record<string, unknown>>, now: DateParts) => {
      const threshold =
        params.ignore_older_than_days &&
        strftime(
          localNow(new Date(Date.now() - params.ignore_older_than_days * 86_400_000)),
          "%Y-%m-%dT%H:%M:%S",
        );
      let rows = "";
      let count = 0;
      for (const event of events) {
        const observed = event["time.observation"];
        if (threshold && typeof observed === "string" && observed.slice(0, 19) < threshold) continue;
        const values = params.allowed_fieldnames.map((field) => {
          const value = event[field];
          if (value === undefined || value === null) return "";
          if (field === "raw" && typeof value === "string") return rawText(value);
          return pyStr(value, isFloatField(field));
        });
        rows += csvRow(values, EXCEL);
        count++;
      }
      const first = events[0] as Record<string, unknown>;
      const data: Record<string, unknown> = { source_abuse_contact: first["source.abuse_contact"] };
      if (anyTemplating) {
        for (const key of keys) if (key in first) data[key.replaceAll(".", "_")] = first[key];
      }
      const contact = String(first["source.abuse_contact"]);
      const to = alternative.get(contact) ?? contact;
      const intended = params.testing_to ? to : undefined;
      const subject =
        (render.subject ? render.subject(data, now) : strftimeOr(params.subject, now)) +
        (intended ? ` (intended for ${intended})` : ` (${to})`);
      const attachmentName = render.attachment
        ? render.attachment(data, now)
        : strftimeOr(params.attachment_name, now);
      const body = render.body ? render.body(data, now) : text;
      const csvName = `${strftime(now, "%y%m%d")}_${count}_events.csv`;
      const zip = Buffer.from(
        zipSync({ [csvName]: [strToU8(header + rows), { level: 6, mtime: new Date() }] }),
      );
      const html = isHtml(body);
      return {
        count,
        to,
        mail: {
          from: params.email_from,
          to: params.testing_to ?? to,
          ...(!intended && params.bcc?.length ? { bcc: params.bcc } : {}),
          subject,
          ...(html
            ? { html: /<br|<p/.test(body) ? body : body.split(/\r?\n/).join("<br>\r\n") }
            : { text: body }),
          attachments: [{ filename: `${attachmentName}.zip`, content: zip, contentType: "application/zip" }],
          envelope: {
            from: params.email_from,
            to: [
              ...recipients(
                params.testing_to ?? to,
                params.testing_to ? "testing_to" : "source.abuse_contact",
              ),
              ...(!intended ? (params.bcc ?? []) : []),
            ],
          },
        },
      };
    };

    /** Sends a mail per bucket; forgets each bucket's events once its mail was accepted. */
    const sendRound = async (): Promise<void> => {
      await state.whileLocked(LOCK_MS, async (renew) => {
        const round = await state.read();
        const buckets = new Map<string, Array<{ entry: LogEntry; event: Record<string, unknown> }>>();
        for (const entry of round.entries) {
          const { group, event } = JSON.parse(entry.value) as { group: string; event: string };
          const list = buckets.get(group) ?? [];
          buckets.set(group, list);
          list.push({ entry, event: JSON.parse(event) as Record<string, unknown> });
        }
        if (buckets.size === 0) return round.finish();
        const transport = smtpTransport(smtp);
        let sent = 0;
        try {
          for (const bucket of buckets.values()) {
            if (params.limit_results && sent >= params.limit_results) break;
            const now = localNow();
            const { count, to, mail } = buildMail(
              bucket.map((b) => b.event),
              now,
            );
            if (count === 0) {
              ctx.log.warn(
                { to, events: bucket.length },
                "All events of this contact are too old; they are dropped.",
              );
              await round.remove(bucket.map((b) => b.entry));
              continue;
            }
            try {
              await transport.sendMail(mail);
            } catch (error) {
              ctx.log.error(
                { err: error, to, events: count },
                "Sending a mail failed; it is sent again next round.",
              );
              continue;
            }
            sent++;
            ctx.log.info({ to, events: count }, "Mail sent.");
            await round.remove(bucket.map((b) => b.entry));
            await renew();
          }
        } finally {
          transport.close();
          await round.finish();
        }
      });
    };

    let running: Promise<void> | undefined;
    const cron = new Cron(params.send_schedule, { timezone: "UTC", protect: true }, () => {
      running = sendRound().catch((error: unknown) =>
        ctx.log.error({ err: error }, "A sending round failed."),
      );
      return running;
    });

    return {
      async write(events) {
        const entries: string[] = [];
        let without = 0;
        for (const event of events) {
          const contact = event.get("source.abuse_contact");
          if (typeof contact !== "string") {
            without++;
            continue;
          }
          const json = exportEventText(event, { keepRawField: true });
          const fields = event.toDict();
          entries.push(JSON.stringify({ group: groupKey(contact, fields, keys), event: json }));
        }
        if (without > 0)
          ctx.log.debug({ events: without }, "Events without source.abuse_contact are not mailed.");
        if (entries.length > 0) await state.append(entries);
      },
      async close() {
        cron.stop();
        await running;
      },
    };
  },
});
