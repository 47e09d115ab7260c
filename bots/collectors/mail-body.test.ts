// The mail body collector against a real dovecot (a private instance for this file): which parts are
// bodies and how their text is given follows imbox (IntelMQ's mail library), checked against what
// imbox 0.10 returns for the same mails: a part without Content-Disposition is decoded from its
// charset, an "inline" one kept as sent, a mail that is one text part is a plain body (even HTML),
// bodies of an attached mail count too.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { createCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { startDovecot, type TestDovecot } from "../../bot-runtime/test-support/dovecot.ts";
import mailBody from "./mail-body.ts";

let dovecot: TestDovecot;
let folders = 0;
beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.dispose();
});

const HEAD = [
  "From: Reports <reports@example.org>",
  "Subject: bodies",
  "Date: Mon, 1 Jan 2024 10:00:00 +0000",
  "Message-ID: <bodies@example.org>",
  "MIME-Version: 1.0",
].join("\r\n");

function multipart(type: string, boundary: string, parts: string[]): string {
  return `Content-Type: multipart/${type}; boundary="${boundary}"\r\n\r\n${parts
    .map((p) => `--${boundary}\r\n${p}\r\n`)
    .join("")}--${boundary}--\r\n`;
}

async function bodies(message: string | Buffer, params: Record<string, unknown> = {}) {
  const folder = `body${++folders}`;
  dovecot.deliver(Buffer.concat([Buffer.from(`${HEAD}\r\n`), Buffer.from(message)]), folder);
  const c = await createCollector(mailBody, {
    mail_host: "localhost",
    mail_port: dovecot.imapsPort,
    mail_user: dovecot.user,
    mail_password: dovecot.password,
    ssl_ca_certificate: dovecot.caFile,
    folder,
    ...params,
  });
  const reports = await c.collect();
  const seen = (await dovecot.messages(folder))[0]?.seen;
  return { raws: reports.map((r: Report) => Buffer.from(r.get("raw") as string, "base64")), reports, seen };
}

// Sent as ISO-8859-1 bytes.
const MIXED_TEXT = multipart("mixed", "outer", [
  multipart("alternative", "alt", [
    "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSee http://localhost/x.csv caf=E9",
    "Content-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p>caf=E9</p>",
  ]).trimEnd(),
  "Content-Type: text/html; charset=iso-8859-1\r\nContent-Disposition: inline\r\n\r\n<b>\xe9</b>",
  'Content-Type: text/csv\r\nContent-Disposition: attachment; filename="x.csv"\r\n\r\na,b',
]);
const MIXED = Buffer.from(MIXED_TEXT, "latin1");

describe("collectors.mail_body", () => {
  it("makes a report of each plain body, then each HTML body, with the text as imbox gives it", async () => {
    const { reports, raws, seen } = await bodies(MIXED);
    expect(raws.map((r) => r.toString("latin1"))).toEqual([
      // No Content-Disposition: decoded from ISO-8859-1, sent on as UTF-8.
      "See http://localhost/x.csv cafÃ©",
      "<p>cafÃ©</p>",
      // "inline": the bytes as sent (imbox returns them undecoded).
      "<b>\xe9</b>",
    ]);
    const { "time.observation": _, raw: __, ...fields } = (reports[0] as Report).toDict();
    expect(fields).toEqual({
      "extra.email_subject": "bodies",
      "extra.email_from": "reports@example.org",
      "extra.email_message_id": "<bodies@example.org>",
      "extra.email_date": "Mon, 1 Jan 2024 10:00:00 +0000",
    });
    expect(seen).toBe(true);
  });

  it("reads only the content_types asked for, in their order", async () => {
    expect((await bodies(MIXED, { content_types: "html" })).raws.map(String)).toEqual([
      "<p>café</p>",
      "<b>\ufffd</b>",
    ]);
    expect((await bodies(MIXED, { content_types: ["html", "plain"] })).raws.length).toBe(3);
    expect((await bodies(MIXED, { content_types: "html, plain" })).raws[2]?.toString()).toBe(
      "See http://localhost/x.csv café",
    );
    await expect(
      createCollector(mailBody, {
        mail_host: "x",
        mail_user: "u",
        mail_password: "p",
        content_types: "text",
      }),
    ).rejects.toThrow('content_types: "text" is not a body type (plain or html)');
  });

  it("takes a mail that is one text part as a plain body, even when it is HTML (as imbox does)", async () => {
    const html = "Content-Type: text/html; charset=utf-8\r\n\r\n<html>ü</html>\r\n";
    expect((await bodies(html)).raws.map(String)).toEqual(["<html>ü</html>\r\n"]);
    // Asked for HTML only: nothing, and the mail stays unseen.
    const onlyHtml = await bodies(html, { content_types: "html" });
    expect(onlyHtml.raws).toEqual([]);
    expect(onlyHtml.seen).toBe(false);
  });

  it("reads the bodies of an attached mail too, and leaves a mail without bodies unseen", async () => {
    const forwarded = multipart("mixed", "fw", [
      "Content-Type: text/plain\r\n\r\nForwarded:",
      `Content-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\nFrom: a@example.org\r\nSubject: inner\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ninner body ü`,
    ]);
    expect((await bodies(forwarded)).raws.map(String)).toEqual(["Forwarded:", "inner body ü"]);
    const attachmentOnly = multipart("mixed", "att", [
      'Content-Type: text/csv\r\nContent-Disposition: attachment; filename="a.csv"\r\n\r\na',
    ]);
    const none = await bodies(attachmentOnly);
    expect(none.raws).toEqual([]);
    expect(none.seen).toBe(false);
  });
});
