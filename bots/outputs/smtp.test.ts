// The one-mail-per-event SMTP output against IntelMQ's, both sending to a real Postfix (STARTTLS,
// SMTPS) in front of Postfix's smtp-sink: the same envelopes, subjects, addresses, texts and CSV
// attachments for the same events and parameters; and Python's str.format for the templates.
import { type ParsedMail, simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import type { Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { compileEventTemplate } from "../../bot-runtime/src/sdk/export.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation, testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import {
  type ReceivedMail,
  startSmtpServer,
  type TestSmtpServer,
} from "../../bot-runtime/test-support/smtp-server.ts";
import smtp from "./smtp.ts";
import { sampleEvent } from "./test-support/sample-events.ts";

// IntelMQ's SMTP output in library mode, one bot per case.
const ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.smtp.output import SMTPOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = SMTPOutputBot("oracle-smtp", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    try:
        bot.process_message(*messages)
        print(json.dumps({"error": None}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
sys.stdout.flush()
os._exit(0)
`;

// Python's str.format over an IntelMQ event with set_default_value(), as the SMTP output fills templates.
const FORMAT_ORACLE = `${INTELMQ_PREAMBLE}
for line in sys.stdin:
    case = json.loads(line)
    event = read_message(case["event"])
    event.set_default_value()
    try:
        print(json.dumps({"text": case["template"].format(ev=event)}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__}))
`;

const EVENTS = [
  sampleEvent({
    "source.ip": "192.0.2.1",
    "source.asn": 64496,
    "source.port": 22,
    "source.abuse_contact": "abuse@example.net",
    "classification.type": "brute-force",
    "classification.identifier": 'ssh; "brute"',
    "extra.tags": ["ssh", "ünïcödé"],
    "event_description.text": "Zürich; line one\nline two",
  }),
  sampleEvent({
    "source.url": "http://malware.example.com/x.exe",
    "source.asn": 64497,
    "source.abuse_contact": "noc@example.com",
    "classification.type": "malware-distribution",
  }),
];

interface Seen {
  from: string;
  to: string[];
  tls: boolean;
  headers: { subject: string | undefined; from: string | undefined; to: string | undefined };
  text: string | undefined;
  attachments: Array<{ filename: string | undefined; contentType: string; content: string }>;
}

async function seen(mail: ReceivedMail): Promise<Seen> {
  const parsed: ParsedMail = await simpleParser(mail.message);
  const to =
    parsed.to === undefined
      ? undefined
      : Array.isArray(parsed.to)
        ? parsed.to.map((a) => a.text).join(", ")
        : parsed.to.text;
  return {
    from: mail.from,
    to: mail.to,
    tls: mail.tls,
    headers: { subject: parsed.subject, from: parsed.from?.text, to },
    // A single-part mail (no attachment) ends its body with the line break SMTP needs.
    text: parsed.attachments.length === 0 ? parsed.text?.replace(/\n+$/, "") : parsed.text,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content.toString("utf8"),
    })),
  };
}

let server: TestSmtpServer;
beforeAll(async () => {
  server = await startSmtpServer();
  // IntelMQ verifies the server with Python's default CAs: the test CA joins them.
  process.env.SSL_CERT_FILE = server.caFile;
}, 60_000);
afterAll(async () => {
  await server?.dispose();
});

async function petrel(params: Record<string, unknown>): Promise<Output> {
  const parsed = parameterSchema(smtp).parse({
    smtp_host: "127.0.0.1",
    ssl_ca_certificate: server.caFile,
    ...params,
  });
  return smtp.create(parsed as never, testContext());
}

async function intelmqMails(
  params: Record<string, unknown>,
  events: readonly Event[],
): Promise<{ error: string | null; mails: Seen[] }> {
  server.clear();
  const [result] = await runOracle<unknown, { error: string | null }>(ORACLE, [
    {
      params: { smtp_host: "127.0.0.1", ...params },
      events: oracleEvents(events),
    },
  ]);
  const mails = result?.error ? await server.mails(0) : await server.mails(events.length);
  return { error: result?.error ?? null, mails: await Promise.all(mails.map(seen)) };
}

async function petrelMails(params: Record<string, unknown>, events: readonly Event[]): Promise<Seen[]> {
  server.clear();
  const output = await petrel(params);
  try {
    await output.write(events);
  } finally {
    await output.close?.();
  }
  return Promise.all((await server.mails(events.length)).map(seen));
}

describe("outputs.smtp", () => {
  it("sends the same mails as IntelMQ's SMTP output", async () => {
    const cases: Array<{ name: string; params: Record<string, unknown> }> = [
      {
        name: "defaults but the text, STARTTLS",
        params: { smtp_port: server.port, text: "Hello {ev[source.abuse_contact]}" },
      },
      {
        name: "templates everywhere, two recipients, field list",
        params: {
          smtp_port: server.port,
          mail_from: "CERT Example <cert@example.org>",
          mail_to: "{ev[source.abuse_contact]}, team@example.org",
          subject: "[{ev[classification.type]:>20}] AS{ev[source.asn]:,d} – {ev[source.fqdn]}",
          text: "Dear {ev[source.abuse_contact]!r},\n\nport {ev[source.port]}, accuracy {ev[feed.accuracy]:.1f}, tags {ev[extra.tags]}\n{ev[event_description.text]}\n",
          fieldnames: [
            "source.ip",
            "classification.identifier",
            "event_description.text",
            "extra.tags",
            "feed.accuracy",
            "extra",
          ],
        },
      },
      { name: "no text, no STARTTLS", params: { smtp_port: server.port, starttls: false, text: null } },
      {
        name: "no attachment, SMTPS",
        params: { smtp_port: server.smtpsPort, ssl: true, starttls: false, fieldnames: "", text: "x" },
      },
    ];
    for (const c of cases) {
      const intelmq = await intelmqMails(c.params, EVENTS);
      expect(intelmq.error, c.name).toBeNull();
      const ours = await petrelMails(c.params, EVENTS);
      const byRecipient = (mails: Seen[]) =>
        [...mails].sort((a, b) => (a.to[0] ?? "").localeCompare(b.to[0] ?? ""));
      expect(byRecipient(ours), c.name).toEqual(byRecipient(intelmq.mails));
      expect(
        ours.every((m) => m.tls === (c.params.starttls !== false || c.params.ssl === true)),
        c.name,
      ).toBe(true);
    }
  }, 60_000);

  it("fills templates as Python's str.format does", async () => {
    const e = sampleEvent({
      "source.asn": 64496,
      "source.ip": "192.0.2.1",
      "extra.x": [1, "ü"],
      comment: "héllo 'q'",
      "source.abuse_contact": "abuse@example.net",
    });
    const templates = [
      "AS{ev[source.asn]}",
      "{ev[source.asn]:>10}|{ev[source.asn]:<10}|{ev[source.asn]:^11}|{ev[source.asn]:*^11}",
      "{ev[source.asn]:010,d} {ev[source.asn]:_} {ev[source.asn]:+d} {ev[source.asn]: d} {ev[source.asn]:x} {ev[source.asn]:#X} {ev[source.asn]:#o} {ev[source.asn]:b}",
      "{ev[feed.accuracy]} {ev[feed.accuracy]:.2f} {ev[feed.accuracy]:e} {ev[feed.accuracy]:10.3f} {ev[feed.accuracy]:%} {ev[feed.accuracy]:08.2f}",
      "{ev[source.ip]:^20}|{ev[source.ip]:.5}|{ev[source.ip]:>12.4}|{ev[comment]:05}",
      "{ev[comment]!r} {ev[comment]!a:>30} {ev[comment]!s:-<12}",
      "{ev[extra]} {ev[extra.x]} {ev[extra.x]!r}",
      "{ev[source.port]} {ev[source.port]!r} {{literal}} }}{{",
    ];
    const expected = await runOracle<unknown, { text?: string; error?: string }>(
      FORMAT_ORACLE,
      templates.map((template) => ({ template, event: e.toDict({ withType: true }) })),
    );
    for (const [i, template] of templates.entries()) {
      const fill = compileEventTemplate(template, { variable: "ev", missing: "none", parameter: "subject" });
      expect(fill(e), template).toBe(expected[i]?.text);
    }
    for (const bad of [
      "{}",
      "{0}",
      "{ev}",
      "{ev.x}",
      "{event[source.ip]}",
      "{ev[source.ip]",
      "x } y",
      "{ev[nosuch.field]}",
    ]) {
      expect(
        () => compileEventTemplate(bad, { variable: "ev", missing: "none", parameter: "subject" }),
        bad,
      ).toThrow(/^subject: /);
    }
    // A specifier that does not fit the value fails the event, as it fails in IntelMQ.
    const fill = compileEventTemplate("{ev[source.ip]:d}", {
      variable: "ev",
      missing: "none",
      parameter: "subject",
    });
    expect(() => fill(e)).toThrow(/not valid for text/);
  });

  it("STARTTLS verifies the server's certificate", async () => {
    const untrusted = await smtp.create(
      parameterSchema(smtp).parse({ smtp_host: "127.0.0.1", smtp_port: server.port, text: "x" }) as never,
      testContext(),
    );
    await expect(untrusted.write(EVENTS.slice(0, 1))).rejects.toThrow(/certificate/i);
    await untrusted.close?.();
    const unverified = await petrel({
      smtp_port: server.port,
      http_verify_cert: false,
      ssl_ca_certificate: null,
    });
    server.clear();
    await unverified.write(EVENTS.slice(0, 1));
    await unverified.close?.();
    expect((await server.mails(1))[0]?.tls).toBe(true);
  });

  it("fails a batch the server refuses, and does not send again what it had accepted", async () => {
    const output = await petrel({ smtp_port: server.port, mail_to: "{ev[source.abuse_contact]}", text: "x" });
    const refused = sampleEvent({
      "source.abuse_contact": "bad@[999.999.999.999]",
      "source.ip": "192.0.2.3",
    });
    const batch = [EVENTS[0] as Event, refused, EVENTS[1] as Event];
    server.clear();
    await expect(output.write(batch)).rejects.toThrow(/sending mail via 127.0.0.1:\d+ failed/);
    expect((await server.mails(1)).map((m) => m.to)).toEqual([["abuse@example.net"]]);
    // The runtime writes the batch again one by one.
    await output.write([EVENTS[0] as Event]);
    await expect(output.write([refused])).rejects.toThrow(/failed/);
    await output.write([EVENTS[1] as Event]);
    expect((await server.mails(2)).map((m) => m.to)).toEqual([["abuse@example.net"], ["noc@example.com"]]);

    await server.refuse(true);
    try {
      await expect(output.write([EVENTS[0] as Event])).rejects.toThrow(/554 5\.7\.1 refused by the test/);
    } finally {
      await server.refuse(false);
    }
    await output.close?.();
  });

  it(declaredDeviation(smtp, "default-text-newlines"), async () => {
    const intelmq = await intelmqMails({ smtp_port: server.port }, EVENTS.slice(0, 1));
    expect(intelmq.mails[0]?.text).toContain("Dear network owner,\\n\\nWe have");
    const [ours] = await petrelMails({ smtp_port: server.port }, EVENTS.slice(0, 1));
    expect(ours?.text).toContain("Dear network owner,\n\nWe have");
  });

  it(declaredDeviation(smtp, "ssl-without-starttls"), async () => {
    const intelmq = await intelmqMails({ smtp_port: server.smtpsPort, ssl: true }, EVENTS.slice(0, 1));
    expect(intelmq.error).toMatch(/STARTTLS/);
    const [ours] = await petrelMails({ smtp_port: server.smtpsPort, ssl: true }, EVENTS.slice(0, 1));
    expect(ours?.tls).toBe(true);
  });

  it(declaredDeviation(smtp, "recipient-must-be-an-address"), async () => {
    const noContact = sampleEvent({ "source.ip": "192.0.2.7" });
    const intelmq = await intelmqMails({ smtp_port: server.port, text: "x" }, [noContact]);
    expect(intelmq.mails.map((m) => m.to)).toEqual([["None"]]);
    const output = await petrel({ smtp_port: server.port, text: "x" });
    await expect(output.write([noContact])).rejects.toThrow(/mail_to gave "None", which is no mail address/);
    await output.close?.();
  });

  it(declaredDeviation(smtp, "envelope-sender-formatted"), async () => {
    const params = { smtp_port: server.port, text: "x", mail_from: "cert+{ev[source.asn]}@example.org" };
    const intelmq = await intelmqMails(params, EVENTS.slice(0, 1));
    const [ours] = await petrelMails(params, EVENTS.slice(0, 1));
    expect(ours?.headers.from).toBe("cert+64496@example.org");
    expect(ours?.from).toBe("cert+64496@example.org");
    expect(intelmq.error === null ? intelmq.mails[0]?.from : intelmq.error).not.toBe(
      "cert+64496@example.org",
    );
  });

  it(declaredDeviation(smtp, "mime-layout"), async () => {
    server.clear();
    const output = await petrel({ smtp_port: server.port, text: "x" });
    await output.write(EVENTS.slice(0, 1));
    await output.close?.();
    const [mail] = await server.mails(1);
    const parsed = await simpleParser(mail?.message as Buffer);
    expect(parsed.headers.has("date")).toBe(true);
    expect(parsed.messageId).toMatch(/@/);
    expect(parsed.attachments[0]?.contentDisposition).toBe("attachment");
  });

  it("sends mails at a useful rate over one connection", async () => {
    const output = await petrel({ smtp_port: server.port, text: "x" });
    const batch = Array.from({ length: 100 }, (_, i) =>
      sampleEvent({
        "source.ip": "192.0.2.1",
        "source.port": i + 1,
        "source.abuse_contact": "abuse@example.net",
      }),
    );
    server.clear();
    const started = performance.now();
    await output.write(batch);
    const perSecond = batch.length / ((performance.now() - started) / 1000);
    await output.close?.();
    expect(await server.mails(100)).toHaveLength(100);
    console.info(`outputs.smtp: ${Math.round(perSecond)} mails/s (STARTTLS, one connection)`);
  });
});
