// The HTTP collector against local servers: the same reports as IntelMQ's own HTTP collector (library
// mode) for plain, zip, tar.gz and gzip feeds, URL time templates as IntelMQ formats them,
// authentication, TLS options with a test CA, a forward proxy, PGP signatures, streaming of large feeds,
// and conditional requests remembered in JetStream KV across restarts.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { gzipSync } from "node:zlib";
import { strToU8, zipSync } from "fflate";
import { pack } from "tar-stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { createTestCertificates, type TestCertificates } from "../../bot-runtime/test-support/test-ca.ts";
import httpCollector, { conditionalBucket, formatUrl } from "./http.ts";
import {
  CollectorPipeline,
  collectOnce,
  createCollector,
  decodedRaw,
  forwardProxy,
  httpServer,
  httpsServer,
  type TestServer,
  testContext,
} from "./test-support/harness.ts";

// IntelMQ's HTTP collector in library mode: one bot per line of parameters, its reports printed.
const COLLECTOR_ORACLE = `
import json, os, sys
from intelmq.lib.bot import BotLibSettings
from intelmq.bots.collectors.http.collector_http import HTTPCollectorBot
for line in sys.stdin:
    params = json.loads(line)
    bot = HTTPCollectorBot("oracle-http", settings=BotLibSettings | {"logging_level": "CRITICAL", **params})
    try:
        bot.process()
        out = bot._Bot__destination_pipeline.state.get("output", [])
        print(json.dumps({"reports": [json.loads(m) if isinstance(m, str) else dict(m) for m in out]}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
sys.stdout.flush()
os._exit(0)
`;

// IntelMQ's URL formatting (str.format with its Time object) at a fixed local time.
const FORMAT_ORACLE = `
import datetime, json, sys
import intelmq.bots.collectors.http.collector_http as collector
class Fixed(datetime.datetime):
    @classmethod
    def now(cls, tz=None):
        return cls(2024, 2, 29, 23, 59, 58, 123000)
collector.datetime = Fixed
for line in sys.stdin:
    case = json.loads(line)
    try:
        print(json.dumps({"url": case["url"].format(time=collector.Time(case["delta"]))}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
`;

async function tarGz(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, data] of Object.entries(files)) p.entry({ name }, data);
  p.finalize();
  const parts: Buffer[] = [];
  for await (const part of p) parts.push(part as Buffer);
  return gzipSync(Buffer.concat(parts));
}

const BIG_LINES = 1_000_000;
const bigLine = (i: number) => `198.51.100.${i % 250},${i}\n`;

let dir: string;
let server: TestServer;
let pki: TestCertificates;
const files: Record<string, Buffer> = {};
let etagVersion = 1;
let etagRequests: Array<string | undefined> = [];
let lastModifiedRequests: Array<string | undefined> = [];
let bigWritten = 0;
const bigHash = createHash("sha256");

function sendBig(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/csv" });
  let i = 0;
  const more = () => {
    while (i < BIG_LINES) {
      let block = "";
      for (const end = Math.min(i + 2000, BIG_LINES); i < end; i++) block += bigLine(i);
      bigWritten += block.length;
      if (!res.write(block)) {
        res.once("drain", more);
        return;
      }
    }
    res.end();
  };
  more();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "petrel-http-collector-"));
  pki = createTestCertificates(dir, ["localhost", "127.0.0.1"], { client: "/CN=petrel-test-client" });
  files["two_files.zip"] = Buffer.from(zipSync({ bar: strToU8("bar text\n"), foo: strToU8("foo text\n") }));
  files["subdir.zip"] = Buffer.from(
    zipSync({
      "subdir/": new Uint8Array(0),
      "subdir/bar": strToU8("bar text\n"),
      "subdir/foo": strToU8("foo text\n"),
    }),
  );
  files["two_files.tar.gz"] = await tarGz({ bar: "bar text\n", foo: "foo text\n" });
  files["foobar.gz"] = gzipSync(Buffer.from("bar text\n"));
  files["foobar.txt"] = Buffer.from("bar text\n");
  for (let i = 0; i < BIG_LINES; i++) bigHash.update(bigLine(i));
  server = await httpServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const name = url.pathname.slice(1);
    const file = files[name];
    if (file) {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(file);
    } else if (name === "utf8") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ünïcödé\n");
    } else if (name === "gzip-encoded") {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8", "content-encoding": "gzip" });
      res.end(gzipSync(Buffer.from("compressed in transit\n")));
    } else if (name.startsWith("dated/")) {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(`${name}\n`);
    } else if (name === "etag") {
      etagRequests.push(req.headers["if-none-match"]);
      const tag = `"v${etagVersion}"`;
      if (req.headers["if-none-match"] === tag) {
        res.writeHead(304, { etag: tag });
        res.end();
      } else {
        res.writeHead(200, { etag: tag, "content-type": "text/plain; charset=utf-8" });
        res.end(`version ${etagVersion}\n`);
      }
    } else if (name === "last-modified") {
      lastModifiedRequests.push(req.headers["if-modified-since"]);
      const stamp = "Wed, 21 Oct 2015 07:28:00 GMT";
      if (req.headers["if-modified-since"] === stamp) {
        res.writeHead(304);
        res.end();
      } else {
        res.writeHead(200, { "last-modified": stamp });
        res.end("dated content\n");
      }
    } else if (name === "basic") {
      const ok = req.headers.authorization === `Basic ${Buffer.from("user:secret").toString("base64")}`;
      res.writeHead(ok ? 200 : 401);
      res.end(ok ? "basic ok\n" : "");
    } else if (name === "bearer") {
      const ok = req.headers.authorization === "Bearer t0ken";
      res.writeHead(ok ? 200 : 401);
      res.end(ok ? "bearer ok\n" : "");
    } else if (name === "big") {
      sendBig(res);
    } else if (name.startsWith("status/")) {
      res.writeHead(Number(name.slice(7)));
      res.end("error page");
    } else {
      res.writeHead(404);
      res.end();
    }
  });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a collector itself puts into a report (the runtime adds feed.name and the other feed fields). */
function collectorFields(report: Record<string, unknown>) {
  return {
    "feed.url": report["feed.url"],
    raw: report.raw,
    ...(report["extra.file_name"] !== undefined ? { "extra.file_name": report["extra.file_name"] } : {}),
  };
}

async function petrel(params: Record<string, unknown>) {
  try {
    const reports = await collectOnce(
      await createCollector(httpCollector, { conditional_requests: false, ...params }),
    );
    return { reports: reports.map((r) => collectorFields(r.toDict())) };
  } catch {
    return { error: true };
  }
}

describe("collectors.http", () => {
  it("makes the same reports as IntelMQ's HTTP collector", async () => {
    const cases: Array<Record<string, unknown>> = [
      { http_url: `${server.url}/foobar.txt` },
      { http_url: `${server.url}/two_files.zip` },
      { http_url: `${server.url}/two_files.zip`, extract_files: ["bar", "foo"] },
      { http_url: `${server.url}/two_files.zip`, extract_files: "foo" },
      { http_url: `${server.url}/subdir.zip` },
      { http_url: `${server.url}/two_files.tar.gz`, extract_files: true },
      { http_url: `${server.url}/foobar.gz`, extract_files: true },
      { http_url: `${server.url}/foobar.txt`, extract_files: true },
      { http_url: `${server.url}/gzip-encoded` },
      { http_url: `${server.url}/dated/{time[%Y]}.txt`, http_url_formatting: true },
      { http_url: `${server.url}/dated/{time[%Y]}.txt`, http_url_formatting: { days: -400 } },
      { http_url: `${server.url}/status/500` },
      { http_url: `${server.url}/status/404` },
    ];
    const expected = await runOracle<unknown, { reports?: Record<string, unknown>[]; error?: string }>(
      COLLECTOR_ORACLE,
      cases,
    );
    for (const [i, params] of cases.entries()) {
      const want = expected[i];
      const got = await petrel(params);
      if (want?.error) expect(got, JSON.stringify(params)).toEqual({ error: true });
      else expect(got, JSON.stringify(params)).toEqual({ reports: want?.reports?.map(collectorFields) });
    }
  });

  it("deviation raw-bytes-unchanged: keeps the bytes of a UTF-8 body without charset and of binary data", async () => {
    const [text, binary] = await runOracle<unknown, { reports: Record<string, unknown>[] }>(
      COLLECTOR_ORACLE,
      [{ http_url: `${server.url}/utf8` }, { http_url: `${server.url}/two_files.tar.gz` }],
    );
    const fetch = async (path: string) =>
      (
        await collectOnce(await createCollector(httpCollector, { http_url: `${server.url}/${path}` }))
      )[0]?.get("raw");
    expect(Buffer.from((await fetch("utf8")) as string, "base64").toString("utf8")).toBe("ünïcödé\n");
    expect(Buffer.from((await fetch("two_files.tar.gz")) as string, "base64")).toEqual(
      files["two_files.tar.gz"],
    );
    // IntelMQ decoded the text as ISO-8859-1 (requests' guess for text/plain) and stored that as UTF-8,
    expect(Buffer.from(text?.reports[0]?.raw as string, "base64").toString("utf8")).toBe(
      Buffer.from("ünïcödé\n", "utf8").toString("latin1"),
    );
    // and replaced the archive's undecodable bytes with U+FFFD.
    expect(Buffer.from(binary?.reports[0]?.raw as string, "base64").toString("utf8")).toContain("\ufffd");
  });

  it("formats URL time templates as IntelMQ does", async () => {
    const templates = [
      "https://x/{time[%Y-%m-%d]}.csv",
      "https://x/{time[%Y%m%d-%H%M%S.%f]}",
      "https://x/{time[%j %a %b %A %B %p %I %U %W %w %y %H:%M]}",
      "https://x/{{literal}}/{time[%d]}/{time[%m]}",
    ];
    const deltas: Array<boolean | Record<string, number>> = [
      true,
      { days: -1 },
      { hours: 1, minutes: 30 },
      { weeks: -1, seconds: 5 },
      { microseconds: -123000, milliseconds: 2 },
    ];
    const cases = templates.flatMap((url) => deltas.map((delta) => ({ url, delta })));
    const expected = await runOracle<unknown, { url?: string }>(FORMAT_ORACLE, cases);
    const now = new Date(2024, 1, 29, 23, 59, 58, 123);
    for (const [i, c] of cases.entries()) {
      expect(formatUrl(c.url, c.delta as never, now), JSON.stringify(c)).toBe(expected[i]?.url);
    }
    expect(formatUrl("https://x/{time[%Y]}", false, now)).toBe("https://x/{time[%Y]}");
    expect(() => formatUrl("https://x/{other}", true, now)).toThrow(/only \{time\[FORMAT\]\}/);
    expect(() => formatUrl("https://x/}", true, now)).toThrow(/single '\}'/);
  });

  it("deviation unchanged-feed-not-resent: an unchanged feed is not sent again, across restarts (ETag in KV)", async () => {
    const pipeline = await CollectorPipeline.start();
    try {
      etagVersion = 1;
      etagRequests = [];
      const params = { http_url: `${server.url}/etag`, name: "ETag feed" };
      const first = pipeline.run(httpCollector, params);
      const [report] = await pipeline.reports(1);
      await first.waitForRuns(1);
      await first.stop();
      expect(decodedRaw(report as never)).toBe("version 1\n");
      expect(report?.get("feed.name")).toBe("ETag feed");

      // A new process: the ETag comes from JetStream KV, the server answers 304, nothing is sent.
      const second = pipeline.run(httpCollector, params);
      await second.waitForRuns(1);
      await second.stop();
      expect(etagRequests).toEqual([undefined, '"v1"']);
      expect(await pipeline.pending()).toBe(0);

      // The feed changes: it is sent again.
      etagVersion = 2;
      const third = pipeline.run(httpCollector, params);
      const [changed] = await pipeline.reports(1);
      await third.waitForRuns(1);
      await third.stop();
      expect(decodedRaw(changed as never)).toBe("version 2\n");
      expect(etagRequests).toEqual([undefined, '"v1"', '"v1"']);
    } finally {
      await pipeline.dispose();
    }
  });

  it("uses Last-Modified too; conditional_requests: false fetches and sends every time (IntelMQ's way)", async () => {
    lastModifiedRequests = [];
    const ctx = testContext();
    const conditional = await createCollector(
      httpCollector,
      { http_url: `${server.url}/last-modified` },
      ctx,
    );
    expect(await collectOnce(conditional)).toHaveLength(1);
    expect(await collectOnce(conditional)).toHaveLength(0);
    expect(lastModifiedRequests).toEqual([undefined, "Wed, 21 Oct 2015 07:28:00 GMT"]);
    expect(ctx.buckets.has(conditionalBucket("test-collector"))).toBe(true);

    // Other settings that shape the reports (extract_files) make the next fetch unconditional.
    const reshaped = await createCollector(
      httpCollector,
      { http_url: `${server.url}/last-modified`, extract_files: ["x"] },
      ctx,
    );
    await expect(collectOnce(reshaped)).rejects.toThrow(/uncompress/);
    expect(lastModifiedRequests[2]).toBeUndefined();

    const always = await createCollector(httpCollector, {
      http_url: `${server.url}/last-modified`,
      conditional_requests: false,
    });
    expect(await collectOnce(always)).toHaveLength(1);
    expect(await collectOnce(always)).toHaveLength(1);
    expect(lastModifiedRequests.slice(3)).toEqual([undefined, undefined]);
  });

  it("remembers nothing when a report could not be stored: the next run sends the feed again", async () => {
    etagVersion = 7;
    etagRequests = [];
    const ctx = testContext();
    const collector = await createCollector(httpCollector, { http_url: `${server.url}/etag` }, ctx);
    await expect(collector.collect(() => Promise.reject(new Error("stream unavailable")))).rejects.toThrow(
      /unavailable/,
    );
    expect(await collectOnce(collector)).toHaveLength(1);
    expect(etagRequests).toEqual([undefined, undefined]);
  });

  it("authenticates with basic credentials or a bearer token", async () => {
    const basic = await createCollector(httpCollector, {
      http_url: `${server.url}/basic`,
      http_username: "user",
      http_password: "secret",
    });
    expect((await collectOnce(basic)).map(decodedRaw)).toEqual(["basic ok\n"]);
    const bearer = await createCollector(httpCollector, {
      http_url: `${server.url}/bearer`,
      http_bearer_token: "t0ken",
    });
    expect((await collectOnce(bearer)).map(decodedRaw)).toEqual(["bearer ok\n"]);
    const none = await createCollector(httpCollector, { http_url: `${server.url}/bearer` });
    await expect(collectOnce(none)).rejects.toThrow(/401/);
  });

  it("applies the TLS options: CA bundle, no verification, client certificate", async () => {
    const clients: Array<string | undefined> = [];
    const tls = await httpsServer(
      {
        key: readFileSync(pki.keyFile),
        cert: readFileSync(pki.certFile),
        ca: pki.ca,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        clients.push(socket.authorized ? String(socket.getPeerCertificate().subject?.CN) : undefined);
        res.end("over tls\n");
      },
    );
    const caDir = join(dir, "ca-dir");
    mkdirSync(caDir, { recursive: true });
    writeFileSync(join(caDir, "test-ca.pem"), pki.ca);
    writeFileSync(join(caDir, "README"), "not a certificate");
    const fetch = async (params: Record<string, unknown>) =>
      (
        await collectOnce(await createCollector(httpCollector, { http_url: `${tls.url}/feed`, ...params }))
      ).map(decodedRaw);
    try {
      await expect(fetch({})).rejects.toThrow(/certificate/i);
      expect(await fetch({ ssl_ca_certificate: pki.caFile })).toEqual(["over tls\n"]);
      expect(await fetch({ http_verify_cert: pki.caFile })).toEqual(["over tls\n"]);
      expect(await fetch({ http_verify_cert: caDir })).toEqual(["over tls\n"]);
      expect(await fetch({ http_verify_cert: false })).toEqual(["over tls\n"]);
      expect(
        await fetch({ ssl_ca_certificate: pki.caFile, ssl_client_certificate: pki.clients.client?.pemFile }),
      ).toEqual(["over tls\n"]);
      expect(clients).toEqual([undefined, undefined, undefined, undefined, "petrel-test-client"]);
    } finally {
      await tls.close();
    }
  });

  it("goes through the proxies: http:// forwarded, https:// tunnelled with CONNECT", async () => {
    const proxy = await forwardProxy();
    const tls = await httpsServer(
      { key: readFileSync(pki.keyFile), cert: readFileSync(pki.certFile) },
      (_req, res) => {
        res.end("tunnelled\n");
      },
    );
    try {
      const proxies = { http_proxy: proxy.url, https_proxy: proxy.url, ssl_ca_certificate: pki.caFile };
      const plain = await createCollector(httpCollector, {
        http_url: `${server.url}/foobar.txt`,
        ...proxies,
      });
      expect((await collectOnce(plain)).map(decodedRaw)).toEqual(["bar text\n"]);
      const secure = await createCollector(httpCollector, { http_url: `${tls.url}/feed`, ...proxies });
      expect((await collectOnce(secure)).map(decodedRaw)).toEqual(["tunnelled\n"]);
      expect(proxy.seen).toEqual([`GET ${server.url}/foobar.txt`, `CONNECT 127.0.0.1:${tls.port}`]);
    } finally {
      await proxy.close();
      await tls.close();
    }
  });

  it("streams a 1M-line feed into chunk_size reports while it downloads", async () => {
    bigWritten = 0;
    const collector = await createCollector(httpCollector, {
      http_url: `${server.url}/big`,
      chunk_size: 1_000_000,
      chunk_replicate_header: false,
    });
    let writtenAtFirstReport = -1;
    let reports = 0;
    const hash = createHash("sha256");
    await collector.collect(async (report) => {
      if (reports++ === 0) writtenAtFirstReport = bigWritten;
      const raw = Buffer.from(report.get("raw") as string, "base64");
      expect(raw.length).toBeLessThanOrEqual(1_000_000);
      hash.update(raw);
    });
    expect(reports).toBeGreaterThan(15);
    expect(hash.digest("hex")).toBe(bigHash.copy().digest("hex"));
    // The first report left while most of the feed was still on the server.
    expect(writtenAtFirstReport).toBeLessThan(bigWritten / 2);
  });

  it("checks PGP signatures with gpg: a valid signature passes, altered data is rejected", async () => {
    const signHome = join(dir, "gnupg-sign");
    const verifyHome = join(dir, "gnupg-verify");
    mkdirSync(signHome, { mode: 0o700 });
    mkdirSync(verifyHome, { mode: 0o700 });
    const gpg = (home: string, args: string[]) =>
      execFileSync("gpg", ["--batch", "--no-tty", ...args], {
        env: { ...process.env, GNUPGHOME: home },
        stdio: "pipe",
      });
    gpg(signHome, [
      "--passphrase",
      "",
      "--quick-gen-key",
      "Petrel Test <test@example.org>",
      "ed25519",
      "sign",
      "1d",
    ]);
    files["signed.txt"] = Buffer.from("192.0.2.1\n");
    files["altered.txt"] = Buffer.from("192.0.2.66\n");
    writeFileSync(join(dir, "signed.txt"), files["signed.txt"]);
    gpg(signHome, [
      "--armor",
      "--detach-sign",
      "--output",
      join(dir, "signed.txt.asc"),
      join(dir, "signed.txt"),
    ]);
    files["signed.txt.asc"] = readFileSync(join(dir, "signed.txt.asc"));
    writeFileSync(join(dir, "keyring.gpg"), gpg(signHome, ["--export"]));
    const previousHome = process.env.GNUPGHOME;
    process.env.GNUPGHOME = verifyHome;
    try {
      const check = async (file: string) =>
        collectOnce(
          await createCollector(httpCollector, {
            http_url: `${server.url}/${file}`,
            verify_pgp_signatures: true,
            signature_url: `${server.url}/signed.txt.asc`,
            gpg_keyring: join(dir, "keyring.gpg"),
          }),
        );
      expect((await check("signed.txt")).map(decodedRaw)).toEqual(["192.0.2.1\n"]);
      expect(await check("altered.txt")).toEqual([]);
    } finally {
      if (previousHome === undefined) delete process.env.GNUPGHOME;
      else process.env.GNUPGHOME = previousHome;
      for (const home of [signHome, verifyHome]) {
        execFileSync("gpgconf", ["--kill", "gpg-agent"], { env: { ...process.env, GNUPGHOME: home } });
      }
    }
  });

  it("refuses half-configured options", async () => {
    await expect(
      createCollector(httpCollector, { http_url: "http://x/", verify_pgp_signatures: true }),
    ).rejects.toThrow(/signature_url/);
    await expect(
      createCollector(httpCollector, {
        http_url: "http://x/",
        http_username: "u",
        http_password: "p",
        http_bearer_token: "t",
      }),
    ).rejects.toThrow(/not both/);
    expect(() =>
      httpCollector.parameters.parse({ http_url: "x", http_url_formatting: { day: 1 } }),
    ).toThrow();
  });
});
