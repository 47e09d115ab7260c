// What the three mail collectors share, against a real dovecot (a private instance for this file):
// IMAPS, STARTTLS and plain IMAP, certificate and login failures said plainly, the mails chosen
// (unseen, subject_regex, sent_from, sent_to), the header fields as imbox reads them, and the \Seen
// flag set only once reports are stored — also on a real nats-server that is down for a while.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { createCollector, runCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
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

function mail(subject: string, body: string, headers: Record<string, string> = {}): string {
  const all = {
    From: "reports@example.org",
    To: "cert@example.net",
    Subject: subject,
    Date: "Mon, 1 Jan 2024 10:00:00 +0000",
    "Message-ID": `<${subject.replace(/\W/g, "").slice(0, 20)}@example.org>`,
    "Content-Type": "text/plain; charset=utf-8",
    ...headers,
  };
  return `${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n")}\r\n\r\n${body}`;
}

function folderWith(...mails: string[]): string {
  const folder = `imap${++folders}`;
  for (const m of mails) dovecot.deliver(m, folder);
  return folder;
}

const tls = () => ({
  mail_host: "localhost",
  mail_port: dovecot.imapsPort,
  mail_user: dovecot.user,
  mail_password: dovecot.password,
  ssl_ca_certificate: dovecot.caFile,
});
const text = (r: Report) => Buffer.from(r.get("raw") as string, "base64").toString("utf8");
const seen = async (folder: string) => (await dovecot.messages(folder)).map((m) => [m.subject, m.seen]);

describe("mail collectors: IMAP", () => {
  it("reads over IMAPS, STARTTLS and plain IMAP", async () => {
    const variants: Array<[string, Record<string, unknown>]> = [
      ["imaps", tls()],
      [
        "starttls",
        {
          ...tls(),
          mail_ssl: false,
          mail_starttls: true,
          mail_port: dovecot.imapPort,
          mail_host: "127.0.0.1",
        },
      ],
      ["plain", { ...tls(), mail_ssl: false, mail_port: dovecot.imapPort }],
    ];
    for (const [name, params] of variants) {
      const folder = folderWith(mail(`over ${name}`, `body ${name}\r\n`));
      const c = await createCollector(mailBody, { ...params, folder });
      expect((await c.collect()).map(text), name).toEqual([`body ${name}\r\n`]);
      expect(await seen(folder), name).toEqual([[`over ${name}`, true]]);
    }
  });

  it("says plainly when the server's certificate is not trusted or the login fails", async () => {
    const folder = folderWith(mail("untrusted", "x"));
    const { ssl_ca_certificate: _, ...withoutCa } = tls();
    const untrusted = await createCollector(mailBody, { ...withoutCa, folder });
    await expect(untrusted.collect()).rejects.toThrow(
      /^the TLS certificate of imaps:\/\/localhost:\d+ is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate.*\); set ssl_ca_certificate to the CA that signed it, or http_verify_cert to false$/,
    );
    const starttls = await createCollector(mailBody, {
      ...withoutCa,
      mail_ssl: false,
      mail_starttls: true,
      mail_port: dovecot.imapPort,
      folder,
    });
    await expect(starttls.collect()).rejects.toThrow(
      /^the TLS certificate of imap:\/\/localhost:\d+ is not trusted/,
    );
    const unverified = await createCollector(mailBody, { ...withoutCa, http_verify_cert: false, folder });
    expect((await unverified.collect()).map(text)).toEqual(["x"]);
    const badLogin = await createCollector(mailBody, { ...tls(), mail_password: "wrong", folder });
    await expect(badLogin.collect()).rejects.toThrow(
      /^IMAP login to imaps:\/\/localhost:\d+ as petrel failed: .*(Authentication failed|AUTHENTICATIONFAILED)/,
    );
  });

  it("chooses mails as IntelMQ does: unseen, subject_regex, sent_from, sent_to", async () => {
    const folder = folderWith(
      mail("[Report] scan 2024-01-01", "one"),
      mail("Re: hello", "two"),
      mail("[Report] other sender", "three", { From: "Other <other@example.com>" }),
      mail("[Report] other recipient", "four", { To: "someone@example.com" }),
    );
    const c = await createCollector(mailBody, {
      ...tls(),
      folder,
      subject_regex: "^\\[Report\\]",
      sent_from: "reports@example.org",
      sent_to: "cert@example.net",
    });
    expect((await c.collect()).map(text)).toEqual(["one"]);
    expect(await seen(folder)).toEqual([
      ["[Report] scan 2024-01-01", true],
      ["Re: hello", false],
      ["[Report] other sender", false],
      ["[Report] other recipient", false],
    ]);
    // Already seen: not read again.
    expect(await c.collect()).toEqual([]);
  });

  it("reads Subject, From, Message-ID and Date as imbox does (deviation unfolded-subject)", async () => {
    expect(mailBody.deviations?.map((d) => d.id)).toContain("unfolded-subject");
    const folder = folderWith(
      mail("x", "body", {
        Subject: "=?utf-8?q?Rapport_=C3=BCber?= a long subject\r\n that is folded",
        From: '"Shadow, Server" <autoreports@example.org>, second@example.org',
        Date: "Tue, 3 Sep 2019\r\n 16:57:40 +0200",
        "Message-ID": "<07ce0153@cert.example>",
      }),
    );
    const c = await createCollector(mailBody, {
      ...tls(),
      folder,
      subject_regex: "über a long subject that",
    });
    const [report] = await c.collect();
    expect(report?.toDict()).toMatchObject({
      "extra.email_subject": "Rapport über a long subject that is folded",
      "extra.email_from": "autoreports@example.org,second@example.org",
      "extra.email_message_id": "<07ce0153@cert.example>",
      "extra.email_date": "Tue, 3 Sep 2019 16:57:40 +0200",
    });
  });

  it("leaves a mail unseen when its report cannot be stored", async () => {
    const folder = folderWith(mail("keep", "data"));
    const c = await createCollector(mailBody, { ...tls(), folder });
    await expect(c.collect(() => Promise.reject(new Error("publisher cannot confirm")))).rejects.toThrow(
      "publisher cannot confirm",
    );
    expect(await seen(folder)).toEqual([["keep", false]]);
    expect((await c.collect()).map(text)).toEqual(["data"]);
    expect(await seen(folder)).toEqual([["keep", true]]);
  });

  it("on JetStream: a mail stays unseen while nats-server is down and is flagged seen once stored", async () => {
    const folder = folderWith(mail("first", "one"));
    const run = await runCollector(mailBody, { ...tls(), folder, name: "Mail Feed" }, { intervalMs: 300 });
    try {
      const [first] = await run.reports(1);
      expect(text(first as Report)).toBe("one");
      expect(first?.get("feed.name")).toBe("Mail Feed");
      await expect.poll(() => seen(folder)).toEqual([["first", true]]);

      await run.nats.stop();
      dovecot.deliver(mail("second", "two"), folder);
      await new Promise((r) => setTimeout(r, 2000));
      expect(await seen(folder)).toEqual([
        ["first", true],
        ["second", false],
      ]);
      await run.nats.restart();
      const [second] = await run.reports(1);
      expect(text(second as Report)).toBe("two");
      await expect
        .poll(() => seen(folder), { timeout: 10_000 })
        .toEqual([
          ["first", true],
          ["second", true],
        ]);
      expect(await run.pending()).toBe(0);
    } finally {
      await run.dispose();
    }
  });
});
