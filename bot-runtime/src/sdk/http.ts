// HTTP for bots, with IntelMQ's HTTP parameters (same names and defaults): authentication, headers,
// user agent, proxies, TLS verification and client certificates, timeouts and retries. Built on undici.
// Bodies can be read whole (get, request) or streamed (stream), so a large feed is never buffered twice.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { pipeline, type Readable } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Agent, type Dispatcher, ProxyAgent, request } from "undici";
import { z } from "zod";

const MAX_REDIRECTS = 30;

/** IntelMQ's default user agent string, kept for feeds that answer differently to other agents. */
const INTELMQ_USER_AGENT =
  "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36";

export const httpParameters = z.object({
  http_username: z.string().optional().describe("User for HTTP basic authentication (with http_password)."),
  http_password: z.string().optional().describe("Password for HTTP basic authentication."),
  http_bearer_token: z
    .string()
    .optional()
    .describe(
      "Petrel: a token sent as `Authorization: Bearer <token>` (take it from a Secret with parametersFrom).",
    ),
  http_header: z
    .record(z.string(), z.string())
    .default({})
    .describe("Extra request headers; when given, IntelMQ sends these instead of the user agent."),
  http_user_agent: z.string().default(INTELMQ_USER_AGENT).describe("User-Agent header."),
  http_verify_cert: z
    .union([z.boolean(), z.string().min(1)])
    .default(true)
    .describe(
      "Verify the server's TLS certificate: true, false, or the path of a CA bundle (a PEM file, or a directory of them) to verify against instead of the system's CAs.",
    ),
  http_proxy: z
    .string()
    .optional()
    .describe("Proxy for http:// URLs (IntelMQ requires both proxies or none)."),
  https_proxy: z.string().optional().describe("Proxy for https:// URLs."),
  http_timeout_sec: z
    .union([z.number().positive(), z.tuple([z.number().positive(), z.number().positive()])])
    .default(30)
    .describe("Seconds to wait for the server: one number, or [connect, read] as in IntelMQ."),
  http_timeout_max_tries: z
    .number()
    .int()
    .min(1)
    .default(3)
    .describe("Attempts per request when connecting fails or times out."),
  ssl_client_certificate: z.string().optional().describe("Client certificate file (PEM, with its key)."),
  ssl_ca_certificate: z.string().optional().describe("CA certificate file (PEM) to verify the server with."),
});
export type HttpParameters = z.output<typeof httpParameters>;

export class HttpStatusError extends Error {
  readonly status: number;
  constructor(url: string, status: number) {
    super(`HTTP ${status} from ${url}`);
    this.name = "HttpStatusError";
    this.status = status;
  }
}

export type HttpHeaders = Record<string, string | string[] | undefined>;

export interface HttpResponse {
  status: number;
  headers: HttpHeaders;
  /** The URL that answered, after redirects. */
  url: string;
  body: Buffer;
}

export interface HttpStreamResponse {
  status: number;
  headers: HttpHeaders;
  /** The URL that answered, after redirects. */
  url: string;
  /** The body, not read yet: consume it (or destroy it) before the next request on this client. */
  body: Readable;
}

export interface HttpRequestOptions {
  /** GET unless given. */
  method?: "GET" | "POST" | "PUT" | "DELETE" | "HEAD" | "PATCH";
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  signal?: AbortSignal;
  /** Throw HttpStatusError for statuses outside 200–399 (default true, as IntelMQ's collectors do). */
  raiseForStatus?: boolean;
}

/** Connection-level failures worth another attempt (IntelMQ retries these, never HTTP statuses). */
function retriable(error: unknown): boolean {
  const code = (error as { code?: string }).code ?? "";
  return /^(UND_ERR_(CONNECT_TIMEOUT|HEADERS_TIMEOUT|BODY_TIMEOUT|SOCKET)|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE)$/.test(
    code,
  );
}

/** A CA bundle as requests' `verify=<path>` takes it: a PEM file, or every PEM file of a directory. */
function readCaBundle(path: string): Buffer {
  if (!statSync(path).isDirectory()) return readFileSync(path);
  const parts: Buffer[] = [];
  for (const name of readdirSync(path).sort()) {
    const file = join(path, name);
    if (!statSync(file).isFile()) continue;
    const pem = readFileSync(file);
    if (pem.includes("-----BEGIN CERTIFICATE-----")) parts.push(pem, Buffer.from("\n"));
  }
  if (parts.length === 0) throw new Error(`http_verify_cert: no PEM certificates in directory ${path}`);
  return Buffer.concat(parts);
}

/**
 * Whether a redirect from `from` to `to` keeps the Authorization header. As Python requests does: only
 * on the same host, and there only for the same scheme and port or an upgrade from http to https on
 * the default ports.
 */
function keepsAuthorization(from: URL, to: URL): boolean {
  if (from.hostname !== to.hostname) return false;
  if (from.protocol === "http:" && to.protocol === "https:" && !from.port && !to.port) return true;
  return from.protocol === to.protocol && from.port === to.port;
}

/**
 * Reads a whole body into one buffer: with a known length into a buffer of that size, else the chunks
 * joined once at the end.
 */
export async function readBody(body: AsyncIterable<Uint8Array>, expectedLength?: number): Promise<Buffer> {
  // (A length beyond 1 GiB is not trusted enough to reserve that much memory before any byte came.)
  if (
    expectedLength !== undefined &&
    Number.isSafeInteger(expectedLength) &&
    expectedLength > 0 &&
    expectedLength <= 2 ** 30
  ) {
    let out = Buffer.allocUnsafe(expectedLength);
    let filled = 0;
    for await (const chunk of body) {
      if (filled + chunk.length > out.length) {
        // More than announced (a lying Content-Length): grow.
        const bigger = Buffer.allocUnsafe(Math.max(out.length * 2, filled + chunk.length));
        out.copy(bigger, 0, 0, filled);
        out = bigger;
      }
      out.set(chunk, filled);
      filled += chunk.length;
    }
    return filled === out.length ? out : out.subarray(0, filled);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    total += chunk.length;
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
}

/** Drops a streamed body that is not wanted (closing the connection instead of reading it). */
export function discardBody(body: Readable): void {
  body.on("error", () => undefined);
  body.destroy();
}

/** The Content-Length of a response, if it states one. */
export function contentLength(headers: HttpHeaders): number | undefined {
  const value = headers["content-length"];
  const n = typeof value === "string" ? Number(value) : Number.NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/**
 * The file name a response names in Content-Disposition (`filename=` or RFC 6266 `filename*=`,
 * without quotes), else the last path segment of its URL (IntelMQ's file_name_from_response).
 */
export function fileNameFromResponse(response: { headers: HttpHeaders; url: string }): string {
  const disposition = response.headers["content-disposition"];
  if (typeof disposition === "string") {
    const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(disposition);
    if (extended) {
      try {
        return decodeURIComponent((extended[2] as string).trim());
      } catch {
        // not percent-encoded properly: fall back to the plain parameter
      }
    }
    const plain = /filename\s*=\s*("((?:[^"\\]|\\.)*)"|[^;]+)/i.exec(disposition);
    if (plain) return plain[2] !== undefined ? plain[2].replace(/\\(.)/g, "$1") : (plain[1] as string).trim();
  }
  const path = new URL(response.url).pathname;
  return path.slice(path.lastIndexOf("/") + 1);
}

/**
 * The body as sent, without its Content-Encoding (gzip, deflate, br), as Python requests delivers it;
 * a decoded body's headers lose their Content-Length (the decoded length is not known in advance).
 */
function decoded(response: Dispatcher.ResponseData): { headers: HttpHeaders; body: Readable } {
  const encoding = String(response.headers["content-encoding"] ?? "")
    .toLowerCase()
    .trim();
  const decoder =
    encoding === "gzip" || encoding === "x-gzip"
      ? createGunzip()
      : encoding === "deflate"
        ? createInflate()
        : encoding === "br"
          ? createBrotliDecompress()
          : undefined;
  if (!decoder) return { headers: response.headers, body: response.body };
  const { "content-length": _, ...headers } = response.headers;
  pipeline(response.body, decoder, () => undefined);
  return { headers, body: decoder };
}

export class HttpClient {
  readonly #params: HttpParameters;
  readonly #direct: Dispatcher;
  readonly #proxies: { http?: Dispatcher; https?: Dispatcher };

  constructor(params: HttpParameters) {
    this.#params = params;
    if (Boolean(params.http_proxy) !== Boolean(params.https_proxy)) {
      throw new Error("http_proxy and https_proxy must be set together (as in IntelMQ)");
    }
    if (Boolean(params.http_username) !== Boolean(params.http_password)) {
      throw new Error("http_username and http_password must be set together for basic authentication");
    }
    if (params.http_username && params.http_bearer_token) {
      throw new Error("set http_username/http_password or http_bearer_token, not both");
    }
    const verify = params.http_verify_cert;
    const caFile = typeof verify === "string" ? verify : params.ssl_ca_certificate;
    const tls = {
      rejectUnauthorized: verify !== false,
      ...(caFile ? { ca: typeof verify === "string" ? readCaBundle(caFile) : readFileSync(caFile) } : {}),
      ...(params.ssl_client_certificate
        ? {
            cert: readFileSync(params.ssl_client_certificate),
            key: readFileSync(params.ssl_client_certificate),
          }
        : {}),
    };
    const [connectSec, readSec] =
      typeof params.http_timeout_sec === "number"
        ? [params.http_timeout_sec, params.http_timeout_sec]
        : params.http_timeout_sec;
    const connectMs = connectSec * 1000;
    const readMs = readSec * 1000;
    const timeouts = { connectTimeout: connectMs, headersTimeout: readMs, bodyTimeout: readMs };
    this.#direct = new Agent({ connect: { ...tls, timeout: connectMs }, ...timeouts });
    this.#proxies = {};
    if (params.http_proxy)
      this.#proxies.http = new ProxyAgent({ uri: params.http_proxy, requestTls: tls, ...timeouts });
    if (params.https_proxy) {
      this.#proxies.https = new ProxyAgent({ uri: params.https_proxy, requestTls: tls, ...timeouts });
    }
  }

  #headers(extra: Record<string, string> | undefined, withAuthorization: boolean): Record<string, string> {
    const p = this.#params;
    const headers: Record<string, string> =
      Object.keys(p.http_header).length > 0 ? { ...p.http_header } : { "user-agent": p.http_user_agent };
    if (p.http_username && p.http_password) {
      headers.authorization = `Basic ${Buffer.from(`${p.http_username}:${p.http_password}`).toString("base64")}`;
    } else if (p.http_bearer_token) {
      headers.authorization = `Bearer ${p.http_bearer_token}`;
    }
    // As Python requests: compressed transfer is welcome, and decoded (see decoded()).
    const all = { "accept-encoding": "gzip, deflate", ...headers, ...extra };
    if (withAuthorization) return all;
    return Object.fromEntries(Object.entries(all).filter(([name]) => name.toLowerCase() !== "authorization"));
  }

  /**
   * GET a URL, following redirects (as Python requests does); retries connection failures and timeouts
   * up to http_timeout_max_tries attempts. The body is read whole.
   */
  get(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
    return this.request(url, { ...options, method: "GET" });
  }

  /** Any method, the body read whole; otherwise as get(). */
  async request(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
    const response = await this.stream(url, options);
    const body = await readBody(response.body, contentLength(response.headers));
    return { status: response.status, headers: response.headers, url: response.url, body };
  }

  /**
   * As request(), but returns once the headers are in: the body streams (back-pressure reaches the
   * server). Redirects are followed: 301/302 turn a POST into a GET, 303 anything into a GET, 307/308
   * keep the method and body. Authorization is not sent on to another host.
   */
  async stream(url: string, options: HttpRequestOptions = {}): Promise<HttpStreamResponse> {
    let target = new URL(url);
    let method = options.method ?? "GET";
    let body = options.body;
    let withAuthorization = true;
    for (let hops = 0; hops <= MAX_REDIRECTS; hops++) {
      const response = await this.#send(target.toString(), {
        ...options,
        method,
        body,
        headers: this.#headers(options.headers, withAuthorization),
      });
      const location = response.headers.location;
      if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === "string") {
        await response.body.dump();
        const next = new URL(location, target);
        withAuthorization &&= keepsAuthorization(target, next);
        const status = response.statusCode;
        if (status === 303 ? method !== "HEAD" : (status === 301 || status === 302) && method === "POST") {
          method = "GET";
          body = undefined;
        }
        target = next;
        continue;
      }
      if ((options.raiseForStatus ?? true) && (response.statusCode < 200 || response.statusCode >= 400)) {
        await response.body.dump();
        throw new HttpStatusError(target.toString(), response.statusCode);
      }
      return { status: response.statusCode, url: target.toString(), ...decoded(response) };
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
  }

  /** One request (no redirects), retrying connection failures and timeouts. */
  async #send(
    url: string,
    options: HttpRequestOptions & { headers: Record<string, string> },
  ): Promise<Dispatcher.ResponseData> {
    const dispatcher = (url.startsWith("https:") ? this.#proxies.https : this.#proxies.http) ?? this.#direct;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#params.http_timeout_max_tries; attempt++) {
      try {
        return await request(url, {
          method: options.method ?? "GET",
          headers: options.headers,
          dispatcher,
          ...(options.body !== undefined ? { body: options.body } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        lastError = error;
        if (!retriable(error) || options.signal?.aborted) throw error;
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    await Promise.all([this.#direct, this.#proxies.http, this.#proxies.https].map((d) => d?.close()));
  }
}
