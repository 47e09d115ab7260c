// The mail attachment collector against a real dovecot (a private instance for this file): reports
// with IntelMQ's fields (compare IntelMQ's own test, intelmq/tests/bots/collectors/mail/
// test_collector_attach.py: zip → file "foobar", text attachment, empty attachment, GnuPG), archives
// unpacked, and mails flagged seen only when their reports were emitted.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { createCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { startDovecot, type TestDovecot } from "../../bot-runtime/test-support/dovecot.ts";
import mailAttach from "./mail-attach.ts";

let dovecot: TestDovecot;
let folders = 0;
beforeAll(async () => {
  dovecot = await startDovecot();
});
afterAll(async () => {
  await dovecot?.dispose();
});

const DATE = "Tue, 3 Sep 2019 16:57:40 +0200";

/** A mail with attachments (name → content) and a text body. */
function mailWith(
  subject: string,
  attachments: Array<{ headers: string; content: Buffer }>,
  extraHeaders = "",
): string {
  const boundary = "petrel-boundary";
  const parts = [
    `Content-Type: text/plain; charset=utf-8\r\n\r\nSee the attached report.\r\n`,
    ...attachments.map(
      (a) =>
        `${a.headers}\r\nContent-Transfer-Encoding: base64\r\n\r\n${a.content
          .toString("base64")
          .replace(/.{76}/g, "$&\r\n")}\r\n`,
    ),
  ];
  return [
    `From: "Report Sender" <reports@example.org>`,
    `To: cert@example.net`,
    `Subject: ${subject}`,
    `Date: ${DATE}`,
    `Message-ID: <${subject.replace(/\W/g, "")}@example.org>`,
    "MIME-Version: 1.0",
    ...(extraHeaders ? [extraHeaders] : []),
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    ...parts.map((p) => `--${boundary}\r\n${p}`),
    `--${boundary}--`,
    "",
  ].join("\r\n");
}

const attachment = (name: string, content: Buffer | string, type = "application/octet-stream") => ({
  headers: `Content-Type: ${type}\r\nContent-Disposition: attachment; filename="${name}"`,
  content: Buffer.from(content),
});

/** Delivers mails into a new folder and returns the collector parameters for it. */
function folderWith(...mails: string[]): Record<string, unknown> {
  const folder = `attach${++folders}`;
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

const fields = (r: Report) => {
  const { "time.observation": _, ...rest } = r.toDict();
  return rest;
};
const text = (r: Report) => Buffer.from(r.get("raw") as string, "base64").toString("utf8");
const seen = async (params: Record<string, unknown>) =>
  (await dovecot.messages(params.folder as string)).map((m) => [m.subject, m.seen]);

describe("collectors.mail_attach", () => {
  it("unpacks a zip attachment into a report with IntelMQ's fields, then flags the mail seen", async () => {
    const zip = Buffer.from(zipSync({ foobar: Buffer.from("bar text\n") }));
    const params = folderWith(mailWith("foobar zip", [attachment("foobar.zip", zip, "application/zip")]));
    const c = await createCollector(mailAttach, { ...params, attach_regex: ".*zip", extract_files: true });
    const reports = await c.collect();
    expect(reports.map(fields)).toEqual([
      {
        raw: Buffer.from("bar text\n").toString("base64"),
        "extra.file_name": "foobar",
        "extra.email_subject": "foobar zip",
        "extra.email_from": "reports@example.org",
        "extra.email_message_id": "<foobarzip@example.org>",
        "extra.email_date": DATE,
      },
    ]);
    expect(await seen(params)).toEqual([["foobar zip", true]]);
    // Seen mails are not read again.
    expect(await c.collect()).toEqual([]);
  });

  it("takes a text attachment as it is without extract_files, and several archive members with it", async () => {
    const zip = Buffer.from(zipSync({ "a.csv": Buffer.from("a\n"), "dir/b.csv": Buffer.from("b\n") }));
    const params = folderWith(
      mailWith("text", [attachment("foobar.txt", "bar text\n", "text/plain")]),
      mailWith("two members", [attachment("two.zip", zip)]),
      mailWith("gzip", [attachment("feed.csv.gz", Buffer.from(gzipSync(Buffer.from("gz\n"))))]),
    );
    const plain = await createCollector(mailAttach, {
      ...params,
      attach_regex: ".*.txt$",
      extract_files: false,
    });
    expect((await plain.collect()).map((r) => [r.get("extra.file_name"), text(r)])).toEqual([
      ["foobar.txt", "bar text\n"],
    ]);
    const archives = await createCollector(mailAttach, { ...params, attach_regex: "\\.(zip|gz)$" });
    const reports = await archives.collect();
    // gzip data has no member name: no extra.file_name (as IntelMQ's unzip gives None).
    expect(reports.map((r) => [r.get("extra.file_name") ?? null, text(r)])).toEqual([
      ["a.csv", "a\n"],
      ["dir/b.csv", "b\n"],
      [null, "gz\n"],
    ]);
    expect(await seen(params)).toEqual([
      ["text", true],
      ["two members", true],
      ["gzip", true],
    ]);
  });

  it("gives the subject unfolded (deviation unfolded-subject)", async () => {
    expect(mailAttach.deviations?.map((d) => d.id)).toContain("unfolded-subject");
    const params = folderWith(mailWith("a subject folded\r\n over two lines", [attachment("f.csv", "x\n")]));
    const c = await createCollector(mailAttach, { ...params, attach_regex: "csv", extract_files: false });
    expect((await c.collect()).map((r) => r.get("extra.email_subject"))).toEqual([
      "a subject folded over two lines",
    ]);
  });

  it("takes only the listed members when extract_files is a list", async () => {
    const zip = Buffer.from(zipSync({ "a.csv": Buffer.from("a\n"), "b.csv": Buffer.from("b\n") }));
    const params = folderWith(mailWith("list", [attachment("x.zip", zip)]));
    const c = await createCollector(mailAttach, { ...params, attach_regex: "zip", extract_files: ["b.csv"] });
    expect((await c.collect()).map((r) => r.get("extra.file_name"))).toEqual(["b.csv"]);
  });

  it("leaves mails without a matching attachment unseen, and skips attachments without a name", async () => {
    const params = folderWith(
      mailWith("no match", [attachment("report.pdf", "%PDF")]),
      mailWith("no name", [
        { headers: "Content-Type: text/csv\r\nContent-Disposition: attachment", content: Buffer.from("x\n") },
      ]),
      mailWith("match", [attachment("feed.csv", "y\n")]),
    );
    const c = await createCollector(mailAttach, { ...params, attach_regex: "csv", extract_files: false });
    expect((await c.collect()).map((r) => r.get("extra.file_name"))).toEqual(["feed.csv"]);
    expect(await seen(params)).toEqual([
      ["no match", false],
      ["no name", false],
      ["match", true],
    ]);
  });

  it("handles an empty attachment as IntelMQ's allow_empty says", async () => {
    const params = folderWith(mailWith("empty", [attachment("empty.txt", "")]));
    const strict = await createCollector(mailAttach, {
      ...params,
      attach_regex: "txt",
      extract_files: false,
    });
    expect(await strict.collect()).toEqual([]);
    expect(strict.errors()).toEqual(["The mail could not be processed; it stays unseen."]);
    expect(await seen(params)).toEqual([["empty", false]]);
    const lenient = await createCollector(mailAttach, {
      ...params,
      attach_regex: "txt",
      extract_files: false,
      allow_empty: true,
    });
    expect(await lenient.collect()).toEqual([]);
    expect(await seen(params)).toEqual([["empty", true]]);
  });

  it("leaves a mail with a broken archive unseen and goes on with the next (deviation failed-mail-stays-unseen)", async () => {
    expect(mailAttach.deviations?.map((d) => d.id)).toContain("failed-mail-stays-unseen");
    const zip = Buffer.from(zipSync({ "ok.csv": Buffer.from("ok\n") }));
    const params = folderWith(
      mailWith("broken", [attachment("broken.zip", "this is not a zip file")]),
      mailWith("fine", [attachment("fine.zip", zip)]),
    );
    const c = await createCollector(mailAttach, { ...params, attach_regex: "zip" });
    expect((await c.collect()).map((r) => r.get("extra.file_name"))).toEqual(["ok.csv"]);
    expect(c.errors()).toEqual(["The mail could not be processed; it stays unseen."]);
    expect(await seen(params)).toEqual([
      ["broken", false],
      ["fine", true],
    ]);
  });

  it("decodes MIME file names (deviation mime-file-names) and reads a mail that is one attachment (deviation single-part-attachment)", async () => {
    expect(mailAttach.deviations?.map((d) => d.id)).toEqual(
      expect.arrayContaining(["mime-file-names", "single-part-attachment"]),
    );
    const bare = [
      "From: reports@example.org",
      "Subject: bare",
      `Date: ${DATE}`,
      "MIME-Version: 1.0",
      "Content-Type: application/octet-stream",
      'Content-Disposition: attachment; filename="bare.csv"',
      "Content-Transfer-Encoding: base64",
      "",
      Buffer.from("bare\n").toString("base64"),
      "",
    ].join("\r\n");
    const params = folderWith(
      mailWith("rfc2231", [
        {
          headers:
            "Content-Type: text/csv\r\nContent-Disposition: attachment;\r\n filename*0*=utf-8''%C3%BC;\r\n filename*1*=ber.csv",
          content: Buffer.from("u\n"),
        },
        {
          headers: 'Content-Type: text/csv; name="by-type.csv"\r\nContent-Disposition: attachment',
          content: Buffer.from("t\n"),
        },
      ]),
      bare,
    );
    const c = await createCollector(mailAttach, { ...params, attach_regex: "csv", extract_files: false });
    expect((await c.collect()).map((r) => [r.get("extra.file_name"), text(r)])).toEqual([
      ["über.csv", "u\n"],
      ["by-type.csv", "t\n"],
      ["bare.csv", "bare\n"],
    ]);
  });

  it("decrypts attachments with GnuPG, and leaves the mail unseen when decryption fails", async () => {
    const home = mkdtempSync(join(tmpdir(), "petrel-gnupg-"));
    const gpg = (args: string[], input?: Buffer) =>
      execFileSync("gpg", ["--batch", "--homedir", home, ...args], {
        input,
        stdio: ["pipe", "pipe", "ignore"],
      });
    try {
      gpg([
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "test",
        "--quick-gen-key",
        "Petrel Test <test@example.org>",
        "future-default",
        "default",
        "never",
      ]);
      const encrypted = gpg(
        ["--trust-model", "always", "--recipient", "test@example.org", "--encrypt"],
        Buffer.from("bar text\n"),
      );
      const params = folderWith(mailWith("gpg", [attachment("foobar.txt.gpg", encrypted)]));
      const wrong = await createCollector(mailAttach, {
        ...params,
        attach_regex: ".*.gpg$",
        extract_files: false,
        decrypt_openpgp: true,
        gpg_home: home,
        openpgp_passphrase: "WRONG",
      });
      expect(await wrong.collect()).toEqual([]);
      expect(wrong.errors()).toEqual(["The mail could not be processed; it stays unseen."]);
      expect(JSON.stringify(wrong.logs)).toMatch(/Could not decrypt attachment foobar\.txt\.gpg/);
      expect(await seen(params)).toEqual([["gpg", false]]);
      const right = await createCollector(mailAttach, {
        ...params,
        attach_regex: ".*.gpg$",
        extract_files: false,
        decrypt_openpgp: true,
        gpg_home: home,
        openpgp_passphrase: "test",
      });
      const reports = await right.collect();
      expect(reports.map((r) => [r.get("extra.file_name"), text(r)])).toEqual([
        ["foobar.txt.gpg", "bar text\n"],
      ]);
      expect(await seen(params)).toEqual([["gpg", true]]);
    } finally {
      execFileSync("gpgconf", ["--homedir", home, "--kill", "all"], { stdio: "ignore" });
      rmSync(home, { recursive: true, force: true });
    }
  });
});
