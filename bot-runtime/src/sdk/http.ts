// HTTP for bots, with IntelMQ's HTTP parameters (same names and defaults): authentication, headers,
// user agent, proxies, TLS verification and client certificates, timeouts and retries. Built on undici.
import { readFileSync } from "node:fs";
import { Agent, type Dispatcher, ProxyAgent, request } from "undici";
import { z } from "zod";

/** IntelMQ's default user agent string, kept for feeds that answer differently to other agents. */
const MAX_REDIRECTS = 30;

const INTELMQ_USER_AGENT =
  "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36";

export const httpParameters = z.object({
  http_username: z.string().optional().describe("User for HTTP basic authentication (with http_password)."),
  http_password: z.string().optional().describe("Password for HTTP basic authentication."),
  http_header: z
    .record(z.string(), z.string())
    .default({})
    .describe("Extra request headers; when given, IntelMQ sends these instead of the user agent."),
  http_user_agent: z.string().default(INTELMQ_USER_AGENT).describe("User-Agent header."),
  http_verify_cert: z.boolean().default(true).describe("Verify the server's TLS certificate."),
  http_proxy: z
    .string()
    .optional()
    .describe("Proxy for http:// URLs (IntelMQ requires both proxies or none)."),
  https_proxy: z.string().optional().describe("Proxy for https:// URLs."),
  http_timeout_sec: z.number().positive().default(30).describe("Seconds to wait for the server to respond."),
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

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface HttpRequestOptions {
  headers?: Record<string, string>;
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
    const tls = {
      rejectUnauthorized: params.http_verify_cert,
      ...(params.ssl_ca_certificate ? { ca: readFileSync(params.ssl_ca_certificate) } : {}),
      ...(params.ssl_client_certificate
        ? {
            cert: readFileSync(params.ssl_client_certificate),
            key: readFileSync(params.ssl_client_certificate),
          }
        : {}),
    };
    const timeoutMs = params.http_timeout_sec * 1000;
    const timeouts = { connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
    this.#direct = new Agent({ connect: { ...tls, timeout: timeoutMs }, ...timeouts });
    this.#proxies = {};
    if (params.http_proxy)
      this.#proxies.http = new ProxyAgent({ uri: params.http_proxy, requestTls: tls, ...timeouts });
    if (params.https_proxy) {
      this.#proxies.https = new ProxyAgent({ uri: params.https_proxy, requestTls: tls, ...timeouts });
    }
  }

  #headers(extra: Record<string, string> | undefined): Record<string, string> {
    const p = this.#params;
    const headers: Record<string, string> =
      Object.keys(p.http_header).length > 0 ? { ...p.http_header } : { "user-agent": p.http_user_agent };
    if (p.http_username && p.http_password) {
      headers.authorization = `Basic ${Buffer.from(`${p.http_username}:${p.http_password}`).toString("base64")}`;
    }
    return { ...headers, ...extra };
  }

  /**
   * GET a URL, following redirects (as Python requests does); retries connection failures and timeouts
   * up to http_timeout_max_tries attempts.
   */
  async get(url: string, options: HttpRequestOptions = {}): Promise<HttpResponse> {
    let target = url;
    for (let hops = 0; hops <= MAX_REDIRECTS; hops++) {
      const response = await this.#getOnce(target, { ...options, raiseForStatus: false });
      const location = response.headers.location;
      if (response.status >= 300 && response.status < 400 && typeof location === "string") {
        target = new URL(location, target).toString();
        continue;
      }
      if ((options.raiseForStatus ?? true) && (response.status < 200 || response.status >= 400)) {
        throw new HttpStatusError(target, response.status);
      }
      return response;
    }
    throw new Error(`more than ${MAX_REDIRECTS} redirects from ${url}`);
  }

  async #getOnce(url: string, options: HttpRequestOptions): Promise<HttpResponse> {
    const dispatcher = (url.startsWith("https:") ? this.#proxies.https : this.#proxies.http) ?? this.#direct;
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.#params.http_timeout_max_tries; attempt++) {
      try {
        const response = await request(url, {
          method: "GET",
          headers: this.#headers(options.headers),
          dispatcher,
          ...(options.signal ? { signal: options.signal } : {}),
        });
        const body = Buffer.from(await response.body.arrayBuffer());
        if ((options.raiseForStatus ?? true) && (response.statusCode < 200 || response.statusCode >= 400)) {
          throw new HttpStatusError(url, response.statusCode);
        }
        return { status: response.statusCode, headers: response.headers, body };
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
