import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpClient, HttpStatusError, httpParameters } from "./http.ts";

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
});
