// Fetches one URL into reports, as IntelMQ's HTTP collector: the URL optionally time-templated
// ({time[%Y-%m-%d]}), a zip archive unpacked into one report per file (with extract_files also tar,
// tar.gz and gzip), feed.url and extra.file_name set, optionally a detached PGP signature checked first
// (with the gpg program, as IntelMQ's python-gnupg does). The body streams from the server into the
// reports (with chunk_size it is never held whole). Petrel remembers each URL's ETag and Last-Modified
// in JetStream KV and asks conditionally, so an unchanged feed is not sent again, across restarts too.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { strftime } from "../../bot-runtime/src/event/compat/strftime.ts";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { extractFiles } from "../../bot-runtime/src/sdk/archives.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import {
  contentLength,
  discardBody,
  HttpClient,
  type HttpStreamResponse,
  httpParameters,
  readBody,
} from "../../bot-runtime/src/sdk/http.ts";
import { emitReports } from "../../bot-runtime/src/sdk/report-payloads.ts";

/** Python's timedelta keyword arguments, added to the current local time before formatting. */
const timeDelta = z
  .object({
    weeks: z.number().optional(),
    days: z.number().optional(),
    hours: z.number().optional(),
    minutes: z.number().optional(),
    seconds: z.number().optional(),
    milliseconds: z.number().optional(),
    microseconds: z.number().optional(),
  })
  .strict();
type TimeDelta = z.output<typeof timeDelta>;

const formatting = z
  .union([z.boolean(), timeDelta])
  .default(false)
  .describe(
    'Format {time[FORMAT]} fields (strftime) in the URL with the current local time: true, or a time delta to add such as {"days": -1}.',
  );

const parameters = httpParameters.extend({
  http_url: z.string().min(1).describe("The URL to fetch."),
  http_url_formatting: formatting,
  extract_files: z
    .union([z.boolean(), z.string(), z.array(z.string())])
    .nullable()
    .default(false)
    .describe(
      "Unpack zip, tar, tar.gz and gzip data: true for every file, or the names of the files to take (a list or comma-separated). Unset or false: only zip archives are unpacked, other data is one report.",
    ),
  verify_pgp_signatures: z
    .boolean()
    .default(false)
    .describe("Check the data against the detached PGP signature at signature_url (needs the gpg program)."),
  signature_url: z.string().optional().describe("URL of the detached PGP signature."),
  signature_url_formatting: formatting,
  gpg_keyring: z
    .string()
    .optional()
    .describe("Keyring file with the signing key; unset: the user's default keyring."),
  conditional_requests: z
    .boolean()
    .default(true)
    .describe(
      "Petrel: send If-None-Match/If-Modified-Since with the ETag/Last-Modified of the last fetch (kept in JetStream KV), and send nothing when the feed did not change.",
    ),
  chunk_size: z
    .number()
    .int()
    .positive()
    .nullable()
    .optional()
    .describe(
      "Petrel: split each file into reports of about this many bytes at line ends (keeps reports under NATS' max_payload); unset: one report per file.",
    ),
  chunk_replicate_header: z
    .boolean()
    .default(true)
    .describe("With chunk_size: repeat the file's first line at the start of every report."),
});

const DELTA_MS: Record<keyof TimeDelta, number> = {
  weeks: 604_800_000,
  days: 86_400_000,
  hours: 3_600_000,
  minutes: 60_000,
  seconds: 1000,
  milliseconds: 1,
  microseconds: 0.001,
};

/**
 * The URL with its {time[FORMAT]} fields formatted as Python's str.format with IntelMQ's Time object:
 * strftime of the current local time plus the delta; {{ and }} are literal braces.
 */
export function formatUrl(url: string, setting: boolean | TimeDelta, now = new Date()): string {
  if (setting === false) return url;
  let deltaMs = 0;
  if (setting !== true) {
    for (const [unit, n] of Object.entries(setting)) deltaMs += (n ?? 0) * DELTA_MS[unit as keyof TimeDelta];
  }
  // Naive local wall-clock arithmetic, as Python's datetime.now() + timedelta.
  const wallMs =
    Date.UTC(
      now.getFullYear(),
      now.getMonth(),
      now.getDate(),
      now.getHours(),
      now.getMinutes(),
      now.getSeconds(),
      now.getMilliseconds(),
    ) + Math.round(deltaMs);
  const t = new Date(wallMs);
  const wall = {
    year: t.getUTCFullYear(),
    month: t.getUTCMonth() + 1,
    day: t.getUTCDate(),
    hour: t.getUTCHours(),
    minute: t.getUTCMinutes(),
    second: t.getUTCSeconds(),
    microsecond: t.getUTCMilliseconds() * 1000,
  };
  let out = "";
  for (let i = 0; i < url.length; i++) {
    const c = url[i] as string;
    if (c === "{" && url[i + 1] === "{") {
      out += "{";
      i++;
    } else if (c === "}" && url[i + 1] === "}") {
      out += "}";
      i++;
    } else if (c === "{") {
      const close = url.indexOf("]", i);
      if (!url.startsWith("{time[", i) || close < 0 || url[close + 1] !== "}") {
        throw new Error(
          `cannot format ${url}: only {time[FORMAT]} fields are supported (at ${url.slice(i)})`,
        );
      }
      out += strftime(wall, url.slice(i + 6, close));
      i = close + 1;
    } else if (c === "}") {
      throw new Error(`cannot format ${url}: single '}' encountered in format string`);
    } else {
      out += c;
    }
  }
  return out;
}

/** The names extract_files selects: true (all), a list, or false/null (only zip archives, all files). */
function extractSelection(value: boolean | string | readonly string[] | null): true | string[] | false {
  if (value === null || value === false || value === "" || (Array.isArray(value) && value.length === 0)) {
    return false;
  }
  if (value === true) return true;
  return typeof value === "string" ? value.split(",") : [...value];
}

interface SignatureCheck {
  valid: boolean;
  status: string;
  keyId?: string;
}

/** Checks `data` against a detached signature with gpg (as python-gnupg's verify_data does). */
async function verifySignature(data: Buffer, signature: Buffer, keyring?: string): Promise<SignatureCheck> {
  const dir = await mkdtemp(join(tmpdir(), "petrel-signature-"));
  try {
    const sigFile = join(dir, "signature");
    await writeFile(sigFile, signature);
    const args = ["--batch", "--no-tty", "--status-fd", "1"];
    if (keyring) args.push("--no-default-keyring", "--keyring", keyring);
    args.push("--verify", sigFile, "-");
    const child = spawn("gpg", args, { stdio: ["pipe", "pipe", "ignore"] });
    const out: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => out.push(chunk));
    const exited = new Promise<void>((resolve, reject) => {
      child.once("error", (error) =>
        reject(new Error(`verify_pgp_signatures needs the gpg program: ${error.message}`)),
      );
      child.once("close", () => resolve());
    });
    child.stdin.on("error", () => undefined); // gpg may stop reading early
    child.stdin.end(data);
    await exited;
    const status = Buffer.concat(out).toString("utf8");
    const good = /^\[GNUPG:\] GOODSIG (\S+)/m.exec(status);
    const valid = good !== null && /^\[GNUPG:\] VALIDSIG /m.test(status);
    const problem = /^\[GNUPG:\] (BADSIG|ERRSIG|NO_PUBKEY|EXPSIG|EXPKEYSIG|REVKEYSIG)\b.*/m.exec(status);
    return {
      valid,
      status: valid ? "signature valid" : (problem?.[0].slice(9) ?? "no valid signature"),
      ...(good ? { keyId: good[1] } : {}),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** KV bucket names: letters, digits, - and _. */
export function conditionalBucket(botId: string): string {
  return `http-conditional-${botId.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

interface Remembered {
  etag?: string;
  lastModified?: string;
  /** The parameters that shape the reports: a change means the feed must be sent again. */
  settings: string;
}

export default defineCollector({
  id: "collectors.http",
  intelmqModules: ["intelmq.bots.collectors.http.collector_http"],
  kind: "collector",
  mode: "interval",
  description:
    "Fetches a URL (time-templated, with authentication, proxies and TLS options) into reports, unpacking zip (and with extract_files tar/gzip) archives into one report per file; asks conditionally so unchanged feeds are not sent again.",
  parameters,
  deviations: [
    {
      id: "unchanged-feed-not-resent",
      summary:
        "The feed is requested with If-None-Match/If-Modified-Since from the previous fetch; when the server answers 304 Not Modified no report is sent (conditional_requests: false restores IntelMQ's behaviour of sending every fetch).",
      reason:
        "Re-sending an unchanged feed every interval only repeats identical events through the whole pipeline; the validators are kept in JetStream KV so this holds across restarts and replicas.",
    },
    {
      id: "raw-bytes-unchanged",
      summary:
        "A report's raw holds the bytes the server sent; IntelMQ decodes a non-archive body with the charset requests guesses (ISO-8859-1 for text/* without charset) and re-encodes it as UTF-8.",
      reason:
        "The guess corrupts every non-ASCII character of UTF-8 feeds served without a charset; parsers decode raw themselves.",
    },
  ],
  async create(params, ctx) {
    const client = new HttpClient(params);
    const selection = extractSelection(params.extract_files);
    if (params.verify_pgp_signatures && !params.signature_url) {
      throw new Error("verify_pgp_signatures needs signature_url");
    }
    // Each check refreshes its entry; entries of URLs no longer fetched (dated URLs) expire.
    const store = params.conditional_requests
      ? await ctx.state(conditionalBucket(ctx.botId), { ttlMs: 30 * 86_400_000 })
      : undefined;
    const settings = JSON.stringify([
      selection,
      params.chunk_size ?? null,
      params.chunk_replicate_header,
      params.verify_pgp_signatures,
    ]);

    /** The data once its signature is checked, or undefined (logged) when it is not valid. */
    async function verified(response: HttpStreamResponse): Promise<Buffer | undefined> {
      const data = await readBody(response.body, contentLength(response.headers));
      const url = formatUrl(params.signature_url as string, params.signature_url_formatting);
      ctx.log.info({ url }, "Downloading PGP signature.");
      const signature = await client.get(url, { signal: ctx.signal });
      const check = await verifySignature(data, signature.body, params.gpg_keyring);
      if (!check.valid) {
        ctx.log.error(
          { keyId: check.keyId, status: check.status },
          "Signature is not valid. Report rejected.",
        );
        return undefined;
      }
      ctx.log.info({ keyId: check.keyId }, "PGP signature checked.");
      return data;
    }

    return {
      async collect(emit) {
        const url = formatUrl(params.http_url, params.http_url_formatting);
        const key = createHash("sha256").update(url).digest("hex");
        const before = store ? parseRemembered(await store.get(key)) : undefined;
        const conditional = before?.settings === settings ? before : undefined;
        const headers: Record<string, string> = {};
        if (conditional?.etag) headers["if-none-match"] = conditional.etag;
        if (conditional?.lastModified) headers["if-modified-since"] = conditional.lastModified;
        ctx.log.info({ url }, "Downloading report.");
        const response = await client.stream(url, { headers, signal: ctx.signal, raiseForStatus: false });
        if (response.status === 304 && conditional && store) {
          discardBody(response.body);
          await store.put(key, JSON.stringify(conditional)); // keeps the entry fresh
          ctx.log.info({ url }, "Feed not modified since the last fetch; nothing sent.");
          return;
        }
        if (Math.floor(response.status / 100) !== 2) {
          discardBody(response.body);
          throw new Error(`HTTP response status code was ${response.status}.`);
        }
        let source: AsyncIterable<Uint8Array> = response.body;
        if (params.verify_pgp_signatures) {
          const data = await verified(response);
          if (!data) return;
          source = (async function* () {
            yield data;
          })();
        }
        const files = extractFiles(
          source,
          selection === false
            ? { zip: true, tar: false, gzip: false, passThrough: true }
            : { files: selection },
        );
        let reports = 0;
        for await (const file of files) {
          const template = Report.create();
          template.add("feed.url", url);
          if (file.name !== undefined) template.add("extra.file_name", file.name);
          // The whole body, not an archive member: its length is announced.
          const whole = selection === false && file.name === undefined;
          const made = await emitReports(
            template,
            file.content,
            params,
            emit,
            whole ? contentLength(response.headers) : undefined,
          );
          reports += made;
          if (made === 0 && !params.chunk_size) {
            ctx.log.warn({ url, file: file.name }, "Empty file: no report.");
          }
        }
        ctx.log.info({ url, reports }, "Report downloaded.");
        const etag = response.headers.etag;
        const lastModified = response.headers["last-modified"];
        if (store && (typeof etag === "string" || typeof lastModified === "string")) {
          const remembered: Remembered = { settings };
          if (typeof etag === "string") remembered.etag = etag;
          if (typeof lastModified === "string") remembered.lastModified = lastModified;
          await store.put(key, JSON.stringify(remembered));
        } else if (store && before) {
          await store.delete(key);
        }
      },
      close: () => client.close(),
    };
  },
});

function parseRemembered(text: string | undefined): Remembered | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Remembered;
  } catch {
    return undefined;
  }
}
