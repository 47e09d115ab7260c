// The mail URL collector against a real dovecot (a private instance for this file) and a local HTTP
// server: the report IntelMQ's own test expects (intelmq/tests/bots/collectors/mail/
// test_collector_url.py: feed.url, extra.file_name, extra.email_*), chunked streaming downloads, and a
// failed download that leaves the mail unseen.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { createCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { startDovecot, type TestDovecot } from "../../bot-runtime/test-support/dovecot.ts";
import mailUrl from "./mail-url.ts";

let dovecot: TestDovecot;
let http: Server;
let base: string;
let folders = 0;
const LINES = 200_000;

beforeAll(async () => {
  dovecot = await startDovecot();
  http = createServer((req, res) => {
    if (req.url === "/foobar.txt") {
      res.end("bar text\n");
    } else if (req.url === "/download?id=7") {
      res.setHeader("Content-Disposition", 'attachment; filename="report-7.csv"');
      res.end("ip\n192.0.2.7\n");
    } else if (req.url === "/big.csv") {
      // Written in pieces, as a large feed arrives.
      res.write("ip,n\n");
      let i = 0;
      const more = () => {
        while (i < LINES) {
          const block = Array.from({ length: 10_000 }, () => `198.51.100.${i % 250},${i++}`).join("\n");
          if (!res.write(`${block}\n`)) return void res.once("drain", more);
        }
        res.end();
      };
      more();
    } else if (req.url === "/empty.txt") {
      res.end();
    } else {
      res.statusCode = 404;
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await dovecot?.dispose();
  await new Promise((resolve) => http?.close(resolve));
});

function mail(subject: string, body: string): string {
  return [
    "From: wagner@cert.example",
    `Subject: ${subject}`,
    "Date: Tue, 3 Sep 2019 16:57:40 +0200",
    `Message-ID: <${subject.replace(/\W/g, "")}@cert.example>`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    body,
  ].join("\r\n");
}

function folderWith(...mails: string[]): Record<string, unknown> {
  const folder = `url${++folders}`;
  for (const m of mails) dovecot.deliver(m, folder);
  return {
    mail_host: "localhost",
    mail_port: dovecot.imapsPort,
    mail_user: dovecot.user,
    mail_password: dovecot.password,
    ssl_ca_certificate: dovecot.caFile,
    folder,
    name: "IMAP Feed",
  };
}

const text = (r: Report) => Buffer.from(r.get("raw") as string, "base64").toString("utf8");
const seen = async (params: Record<string, unknown>) =>
  (await dovecot.messages(params.folder as string)).map((m) => [m.subject, m.seen]);

describe("collectors.mail_url", () => {
  it("downloads the first URL of the plain body into a report with IntelMQ's fields", async () => {
    const params = folderWith(
      mail("foobar txt", `Your report is at ${base}/foobar.txt and also ${base}/other.txt\r\n`),
      mail("named", `Get ${base}/download?id=7 now\r\n`),
    );
    const c = await createCollector(mailUrl, { ...params, url_regex: "http://\\S+" });
    const reports = await c.collect();
    const { "time.observation": _, ...first } = (reports[0] as Report).toDict();
    expect(first).toEqual({
      "feed.url": `${base}/foobar.txt`,
      "extra.email_subject": "foobar txt",
      "extra.email_from": "wagner@cert.example",
      "extra.email_message_id": "<foobartxt@cert.example>",
      "extra.file_name": "foobar.txt",
      "extra.email_date": "Tue, 3 Sep 2019 16:57:40 +0200",
      raw: "YmFyIHRleHQK",
    });
    expect(reports[1]?.get("extra.file_name")).toBe("report-7.csv");
    expect(text(reports[1] as Report)).toBe("ip\n192.0.2.7\n");
    expect(await seen(params)).toEqual([
      ["foobar txt", true],
      ["named", true],
    ]);
  });

  it("gives the subject unfolded (deviation unfolded-subject)", async () => {
    expect(mailUrl.deviations?.map((d) => d.id)).toContain("unfolded-subject");
    const params = folderWith(mail("a subject folded\r\n over two lines", `${base}/foobar.txt\r\n`));
    const c = await createCollector(mailUrl, { ...params, url_regex: "http://\\S+" });
    expect((await c.collect()).map((r) => r.get("extra.email_subject"))).toEqual([
      "a subject folded over two lines",
    ]);
  });

  it("streams a large download into chunks with the header line repeated", async () => {
    const params = folderWith(mail("big", `${base}/big.csv\r\n`));
    const c = await createCollector(mailUrl, { ...params, url_regex: "http://\\S+", chunk_size: 500_000 });
    let body = "";
    let reports = 0;
    await c.collect(async (report) => {
      reports++;
      const t = text(report);
      expect(t.startsWith("ip,n\n")).toBe(true);
      expect(t.length).toBeLessThanOrEqual(500_000 + 5);
      body += t.slice(5);
    });
    expect(reports).toBeGreaterThan(5);
    expect(body.split("\n")).toHaveLength(LINES + 1);
    expect(await seen(params)).toEqual([["big", true]]);
  });

  it("leaves the mail unseen when the download fails (deviation failed-download-stays-unseen), and marks an empty download seen", async () => {
    expect(mailUrl.deviations?.map((d) => d.id)).toContain("failed-download-stays-unseen");
    const params = folderWith(
      mail("missing", `${base}/gone.csv\r\n`),
      mail("empty", `${base}/empty.txt\r\n`),
    );
    const c = await createCollector(mailUrl, { ...params, url_regex: "http://\\S+" });
    expect(await c.collect()).toEqual([]);
    expect(c.errors()).toEqual(["The mail could not be processed; it stays unseen."]);
    expect(JSON.stringify(c.logs)).toContain("HTTP response status code was 404");
    expect(c.logs.map((l) => l.msg)).toContain("Got empty response from server.");
    expect(await seen(params)).toEqual([
      ["missing", false],
      ["empty", true],
    ]);
  });
});
