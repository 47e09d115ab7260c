import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { deflateSync, gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileNameFromResponse, HttpClient, HttpStatusError, httpParameters, readBody } from "./http.ts";

async function readRequest(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

describe("HttpClient (IntelMQ HTTP parameters) against a local HTTP server", () => {
  let server: Server;
  let base: string;
  let slowCalls = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/auth") {
        const ok = req.headers.authorization === `Basic ${Buffer.from("user:secret").toString("base64")}`;
        res.writeHead(ok ? 200 : 401);
        res.end(ok ? "welcome" : "no");
        return;
      }
      if (req.url === "/headers") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ ua: req.headers["user-agent"] ?? null, x: req.headers["x-feed"] ?? null }));
        return;
      }
      if (req.url === "/moved") {
        res.writeHead(302, { location: "/headers" });
        res.end();
        return;
      }
      if (req.url?.startsWith("/echo")) {
        void readRequest(req).then((body) => {
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              body: body.toString(),
              authorization: req.headers.authorization ?? null,
            }),
          );
        });
        return;
      }
      const redirect = /^\/redirect\/(\d+)\?to=(.*)$/.exec(req.url ?? "");
      if (redirect) {
        res.writeHead(Number(redirect[1]), { location: decodeURIComponent(redirect[2] as string) });
        res.end();
        return;
      }
      if (req.url === "/gzip" || req.url === "/deflate") {
        const data = Buffer.from("decoded as requests does\n");
        res.writeHead(200, { "content-encoding": req.url.slice(1) });
        res.end(req.url === "/gzip" ? gzipSync(data) : deflateSync(data));
        return;
      }
      if (req.url === "/slow-once") {
        // The first request hangs past the client's timeout; the retry gets an answer.
        if (slowCalls++ === 0) return;
        res.end("late but fine");
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => {
    server.closeAllConnections();
    server.close();
  });

  it("sends basic authentication and IntelMQ's user agent, or the configured headers instead", async () => {
    const client = new HttpClient(httpParameters.parse({ http_username: "user", http_password: "secret" }));
    expect((await client.get(`${base}/auth`)).body.toString()).toBe("welcome");
    const headers = JSON.parse((await client.get(`${base}/headers`)).body.toString());
    expect(headers.ua).toMatch(/^Mozilla\/5\.0 .*Chrome\/41/);
    await client.close();
    const withHeader = new HttpClient(httpParameters.parse({ http_header: { "X-Feed": "1" } }));
    expect(JSON.parse((await withHeader.get(`${base}/headers`)).body.toString())).toEqual({
      ua: null,
      x: "1",
    });
    await withHeader.close();
  });

  it("raises for error statuses unless told not to", async () => {
    const client = new HttpClient(httpParameters.parse({}));
    await expect(client.get(`${base}/missing`)).rejects.toBeInstanceOf(HttpStatusError);
    expect(JSON.parse((await client.get(`${base}/moved`)).body.toString()).ua).toMatch(/Mozilla/);
    expect((await client.get(`${base}/missing`, { raiseForStatus: false })).status).toBe(404);
    await client.close();
  });

  it("retries a timed-out request up to http_timeout_max_tries", async () => {
    const client = new HttpClient(httpParameters.parse({ http_timeout_sec: 0.3, http_timeout_max_tries: 2 }));
    expect((await client.get(`${base}/slow-once`)).body.toString()).toBe("late but fine");
    expect(slowCalls).toBe(2);
    await client.close();
  });

  it("rejects half-configured proxies and credentials like IntelMQ", () => {
    expect(() => new HttpClient(httpParameters.parse({ http_proxy: "http://p:3128" }))).toThrow(/together/);
    expect(() => new HttpClient(httpParameters.parse({ http_username: "u" }))).toThrow(/together/);
  });

  it("follows redirects as requests does: POST becomes GET on 301/302/303, 307/308 keep it", async () => {
    const client = new HttpClient(httpParameters.parse({}));
    const via = (status: number) => `${base}/redirect/${status}?to=${encodeURIComponent("/echo")}`;
    for (const [status, method, body] of [
      [301, "GET", ""],
      [302, "GET", ""],
      [303, "GET", ""],
      [307, "POST", "payload"],
      [308, "POST", "payload"],
    ] as const) {
      const response = await client.request(via(status), { method: "POST", body: "payload" });
      expect(JSON.parse(response.body.toString()), String(status)).toMatchObject({ method, body });
      expect(response.url).toBe(`${base}/echo`);
    }
    await client.close();
  });

  it("sends credentials only to the host they were meant for", async () => {
    const port = (server.address() as AddressInfo).port;
    const sameHost = `${base}/redirect/302?to=${encodeURIComponent("/echo")}`;
    const otherHost = `${base}/redirect/302?to=${encodeURIComponent(`http://localhost:${port}/echo`)}`;
    for (const params of [
      { http_username: "user", http_password: "secret" },
      { http_bearer_token: "t0ken" },
      { http_header: { Authorization: "token abc" } },
    ]) {
      const client = new HttpClient(httpParameters.parse(params));
      const kept = JSON.parse((await client.get(sameHost)).body.toString());
      const dropped = JSON.parse((await client.get(otherHost)).body.toString());
      expect(kept.authorization, JSON.stringify(params)).toMatch(/^(Basic|Bearer|token) /);
      expect(dropped.authorization, JSON.stringify(params)).toBeNull();
      await client.close();
    }
  });

  it("decodes gzip and deflate content encodings, streaming or not", async () => {
    const client = new HttpClient(httpParameters.parse({}));
    for (const path of ["/gzip", "/deflate"]) {
      expect((await client.get(`${base}${path}`)).body.toString()).toBe("decoded as requests does\n");
      const streamed = await client.stream(`${base}${path}`);
      expect(streamed.headers["content-length"]).toBeUndefined();
      expect((await readBody(streamed.body)).toString()).toBe("decoded as requests does\n");
    }
    await client.close();
  });

  it("names a response's file from Content-Disposition or the URL", () => {
    const named = (disposition: string | undefined, url = "https://x/path/report.csv?x=1") =>
      fileNameFromResponse({ headers: disposition ? { "content-disposition": disposition } : {}, url });
    expect(named(undefined)).toBe("report.csv");
    expect(named("attachment; filename=plain.csv")).toBe("plain.csv");
    expect(named('attachment; filename="quoted name.csv"; size=3')).toBe("quoted name.csv");
    expect(named("attachment; filename*=UTF-8''%C3%BCml.csv; filename=fallback.csv")).toBe("üml.csv");
  });

  it("takes IntelMQ's [connect, read] timeout pair", () => {
    expect(httpParameters.parse({ http_timeout_sec: [5, 60] }).http_timeout_sec).toEqual([5, 60]);
    expect(() => new HttpClient(httpParameters.parse({ http_timeout_sec: [5, 60] }))).not.toThrow();
  });
});
