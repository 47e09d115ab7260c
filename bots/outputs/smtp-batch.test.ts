// The batch SMTP output against IntelMQ's and a real Postfix: the mails IntelMQ's smtp_batch bot makes
// from the same events (its own code in library mode; Redis and the envelope library replaced by
// recorders, as the oracle has neither) are the mails Petrel sends — recipients, subjects, texts,
// zipped CSVs. State lives in a real JetStream KV shared by two replicas; a mail's events are
// forgotten only once the server accepted it.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { unzipSync } from "fflate";
import { simpleParser } from "mailparser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { openStateStore } from "../../bot-runtime/src/runtime/state-store.ts";
import type { BotContext, Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { startNatsServer, type TestNatsServer } from "../../bot-runtime/test-support/nats-server.ts";
import { declaredDeviation, testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import {
  type ReceivedMail,
  startSmtpServer,
  type TestSmtpServer,
} from "../../bot-runtime/test-support/smtp-server.ts";
import { memoryState } from "../../operator/src/cli/run.ts";
import smtpBatch from "./smtp-batch.ts";
import { sampleEvent } from "./test-support/sample-events.ts";

// IntelMQ's smtp_batch bot in library mode: process() collects the events, then what `--cli --send`
// does — prepare_mails() and build_mail(send=True) — with the envelope library and Redis recorded.
const ORACLE = `${INTELMQ_PREAMBLE}
import contextlib, types, zipfile
envelope = types.ModuleType("envelope")
sent = []
class Envelope:
    def __init__(self, text):
        self.mail = {"text": text}
    def attach(self, path, name):
        with zipfile.ZipFile(path) as zf:
            self.mail["zip"] = {n: zf.read(n).decode() for n in zf.namelist()}
        self.mail["attachment"] = name
        return self
    def from_(self, value):
        self.mail["from"] = value; return self
    def to(self, value):
        self.mail["to"] = value; return self
    def bcc(self, value):
        self.mail["bcc"] = value; return self
    def subject(self, value):
        self.mail["subject"] = value; return self
    def smtp(self, value):
        return self
    def signature(self, key, passphrase):
        return self
    def send(self):
        sent.append(self.mail); return True
envelope.Envelope = Envelope
sys.modules["envelope"] = envelope
class FakeRedis:
    def __init__(self):
        self.lists = {}
    def rpush(self, key, value):
        self.lists.setdefault(key, []).append(value.encode() if isinstance(value, str) else value)
    def keys(self, pattern):
        return [k for k in self.lists if k.startswith(pattern.rstrip("*"))]
    def lrange(self, key, start, end):
        return list(self.lists.get(key, []))
    def delete(self, key):
        self.lists.pop(key, None)
import intelmq.bots.outputs.smtp_batch.output as batch
batch.SMTPBatchOutputBot.set_cache = lambda self: setattr(self, "cache", types.SimpleNamespace(redis=FakeRedis()))
# A plain Bot subclass in IntelMQ; library mode needs to know its kind.
from intelmq.lib.datatypes import BotType
batch.SMTPBatchOutputBot.bottype = BotType.OUTPUT
for line in sys.stdin:
    case = json.loads(line)
    sent.clear()
    bot = batch.SMTPBatchOutputBot("oracle-batch", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    bot.process_message(*messages)
    with contextlib.redirect_stdout(sys.stderr):
        with open(bot.mail_template) as f:
            bot.mail_contents = f.read()
        if bot.alternative_mails:
            import csv
            with open(bot.alternative_mails) as f:
                bot.alternative_mail = {row[0]: row[1] for row in csv.reader(f, delimiter=",")}
        bot.timeout = []
        for mail in [m for m in bot.prepare_mails() if m]:
            if bot.build_mail(mail, send=True):
                bot.cache.redis.delete(mail.key)
    print(json.dumps({"sent": sent, "left": sum(len(v) for v in bot.cache.redis.lists.values())}), flush=True)
os._exit(0)
`;

interface OracleMail {
  text: string;
  zip: Record<string, string>;
  attachment: string;
  from: string;
  to: string;
  bcc: string[] | null;
  subject: string;
}

function event(fields: Record<string, unknown>, raw?: Buffer): Event {
  const e = sampleEvent(fields);
  if (raw) e.add("raw", raw.toString("base64"), { sanitize: false });
  return e;
}

const EVENTS = [
  event(
    {
      "source.ip": "192.0.2.1",
      "source.asn": 64496,
      "source.abuse_contact": "abuse@example.net",
      "classification.type": "brute-force",
      "time.source": "2024-04-30T22:15:00+00:00",
      "event_description.text": 'Zürich, "quoted"',
    },
    Buffer.from(" 192.0.2.1,ssh\r\nsecond line\n"),
  ),
  event(
    {
      "source.ip": "192.0.2.2",
      "source.asn": 64496,
      "source.abuse_contact": "abuse@example.net",
      "classification.type": "scanner",
      "malware.name": "mirai",
    },
    Buffer.from([0xff, 0xfe, 0x41]),
  ),
  event({
    "source.ip": "198.51.100.7",
    "source.asn": 64511,
    "source.abuse_contact": "noc@example.com",
    "classification.type": "c2-server",
    "feed.url": "http://feed.example.org/list.txt",
  }),
  event({ "source.ip": "203.0.113.9", "classification.type": "scanner" }),
];

let server: TestSmtpServer;
let nats: TestNatsServer;
let nc: NatsConnection;
let dir: string;
let buckets = 0;

beforeAll(async () => {
  [server, nats] = await Promise.all([startSmtpServer(), startNatsServer()]);
  nc = await connect({ servers: nats.url });
  dir = await mkdtemp(join(tmpdir(), "petrel-smtp-batch-"));
  await writeFile(
    join(dir, "template.txt"),
    "Dear colleagues,\n\nplease find attached the events we saw.\n\nCERT Example\n",
  );
  await writeFile(join(dir, "alternative.csv"), "noc@example.com,security@example.com\n");
}, 60_000);
afterAll(async () => {
  await nc?.drain();
  await nats?.dispose();
  await server?.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** The runtime's state store, on the test's nats-server. */
async function kvState(): Promise<BotContext["state"]> {
  const store = await openStateStore(nc, `test_smtp_batch_${++buckets}`);
  return async () => store;
}

const BASE = () => ({
  email_from: "cert@example.org",
  mail_template: join(dir, "template.txt"),
  smtp_server: { host: "127.0.0.1", port: server.port, security: "starttls" },
  ssl_ca_certificate: server.caFile,
  // Every second, so the test need not wait long for a round.
  send_schedule: "* * * * * *",
});

async function petrel(
  params: Record<string, unknown>,
  state: BotContext["state"] = memoryState(),
): Promise<Output> {
  const parsed = parameterSchema(smtpBatch).parse({ ...BASE(), ...params });
  return smtpBatch.create(parsed as never, { ...testContext(), state });
}

interface Seen {
  to: string[];
  subject: string | undefined;
  from: string | undefined;
  text: string | undefined;
  attachment: string | undefined;
  zip: Record<string, string>;
}

async function seen(mail: ReceivedMail): Promise<Seen> {
  const parsed = await simpleParser(mail.message);
  const attachment = parsed.attachments[0];
  const zip = attachment ? unzipSync(new Uint8Array(attachment.content)) : {};
  return {
    to: mail.to,
    subject: parsed.subject,
    from: parsed.from?.text,
    text: parsed.text,
    attachment: attachment?.filename,
    zip: Object.fromEntries(
      Object.entries(zip).map(([name, data]) => [name, Buffer.from(data).toString("utf8")]),
    ),
  };
}

function fromOracle(mail: OracleMail): Seen {
  return {
    to: [mail.to, ...(mail.bcc ?? [])],
    subject: mail.subject,
    from: mail.from,
    text: mail.text,
    attachment: mail.attachment,
    zip: mail.zip,
  };
}

const byRecipient = (mails: Seen[]) =>
  [...mails].sort((a, b) => (a.to[0] ?? "").localeCompare(b.to[0] ?? ""));

describe("outputs.smtp_batch", () => {
  it("sends the mails IntelMQ's smtp_batch makes: one per contact, with a zipped CSV of its events", async () => {
    const cases: Array<{ name: string; params: Record<string, unknown> }> = [
      { name: "defaults", params: {} },
      {
        name: "grouping, alternative address, bcc, own columns and names",
        params: {
          additional_grouping_keys: ["classification.type"],
          alternative_mails: join(dir, "alternative.csv"),
          bcc: ["archive@example.org"],
          subject: "Events for you %d.%m.%Y",
          attachment_name: "events-%Y%m%d",
          allowed_fieldnames: [
            "source.ip",
            "classification.type",
            "feed.accuracy",
            "event_description.text",
            "raw",
          ],
          fieldnames_translation: {
            "source.ip": "IP",
            "classification.type": "Type",
            "feed.accuracy": "Accuracy",
            "event_description.text": "Text",
            raw: "Raw",
          },
        },
      },
    ];
    for (const c of cases) {
      const [result] = await runOracle<unknown, { sent: OracleMail[]; left: number }>(ORACLE, [
        { params: { ...BASE(), ...c.params }, events: oracleEvents(EVENTS) },
      ]);
      expect(result?.left, c.name).toBe(0);
      const intelmq = (result?.sent ?? []).map(fromOracle);
      server.clear();
      const output = await petrel(c.params);
      await output.write(EVENTS);
      const ours = await Promise.all((await server.mails(intelmq.length)).map(seen));
      await output.close?.();
      expect(ours.length, c.name).toBe(intelmq.length);
      expect(intelmq.length, c.name).toBe(c.name === "defaults" ? 2 : 3);
      if (process.env.PETREL_SHOW_MAILS) console.log(JSON.stringify(byRecipient(ours), null, 1));
      expect(byRecipient(ours), c.name).toEqual(byRecipient(intelmq));
    }
  }, 60_000);

  it("keeps the events of replicas in one shared state and mails each once, after the server accepted it", async () => {
    const state = await kvState();
    const params = { send_schedule: "0 0 1 1 *" };
    // Two replicas write at the same time; only the third sends (its schedule is the test's).
    const [a, b] = await Promise.all([petrel(params, state), petrel(params, state)]);
    await Promise.all([
      a.write(EVENTS.slice(0, 2)),
      b.write(EVENTS.slice(2)),
      a.write(EVENTS.slice(0, 1)),
      b.write(EVENTS.slice(1, 2)),
    ]);
    await server.refuse(true);
    server.clear();
    const sender = await petrel({}, state);
    try {
      // Refused: nothing is forgotten.
      await expect.poll(() => server.log(), { timeout: 15_000 }).toMatch(/554 5\.7\.1 refused by the test/);
      expect(await server.mails(0)).toEqual([]);
    } finally {
      await server.refuse(false);
    }
    const mails = await Promise.all((await server.mails(2)).map(seen));
    const rows = (mail: Seen | undefined) =>
      Object.values(mail?.zip ?? {})[0]
        ?.trim()
        .split("\r\n")
        .slice(1) ?? [];
    const abuse = mails.find((m) => m.to[0] === "abuse@example.net");
    expect(rows(abuse).map((r) => r.split(",")[1])).toEqual([
      "192.0.2.1",
      "192.0.2.2",
      "192.0.2.1",
      "192.0.2.2",
    ]);
    expect(rows(mails.find((m) => m.to[0] === "noc@example.com"))).toHaveLength(1);
    // Everything was forgotten once sent: later rounds send nothing more.
    await new Promise((r) => setTimeout(r, 2200));
    expect(await server.mails(0)).toHaveLength(2);
    await Promise.all([a.close?.(), b.close?.(), sender.close?.()]);
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(`KV_test_smtp_batch_${buckets}`)).state.messages).toBeLessThan(10);
  }, 30_000);

  it(declaredDeviation(smtpBatch, "sends-on-schedule"), async () => {
    server.clear();
    const output = await petrel({ send_schedule: "0 0 1 1 *" });
    await output.write(EVENTS);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await server.mails(0)).toEqual([]);
    await output.close?.();
  });

  it(declaredDeviation(smtpBatch, "state-instead-of-redis"), async () => {
    const state = memoryState();
    const output = await petrel(
      { redis_cache_host: "redis.example.org", redis_cache_port: 6379, send_schedule: "0 0 1 1 *" },
      state,
    );
    await output.write(EVENTS);
    const store = await state("smtp_batch");
    expect(JSON.parse((await store.get("chunk.0")) as string).entries).toHaveLength(3);
    await output.close?.();
  });

  it(declaredDeviation(smtpBatch, "jinja-subset"), async () => {
    await writeFile(
      join(dir, "jinja.txt"),
      "Hello {{ source_abuse_contact }} ({{ classification_type }}), {{ current_time.strftime('%Y') }}{{ missing }}.",
    );
    server.clear();
    const output = await petrel({
      mail_template: join(dir, "jinja.txt"),
      additional_grouping_keys: ["classification.type"],
      templating: { subject: true, body: true, attachment: true },
      subject: "For {{ source_abuse_contact }}",
      attachment_name: 'events-{{ current_time.strftime("%Y") }}',
    });
    await output.write(EVENTS.slice(2, 3));
    const [mail] = await Promise.all((await server.mails(1)).map(seen));
    await output.close?.();
    const year = new Date().getFullYear();
    expect(mail?.text?.trim()).toBe(`Hello noc@example.com (c2-server), ${year}.`);
    expect(mail?.subject).toBe("For noc@example.com (noc@example.com)");
    expect(mail?.attachment).toBe(`events-${year}.zip`);
    await expect(petrel({ templating: { subject: true }, subject: "{{ x | upper }}" })).rejects.toThrow(
      /not supported/,
    );
    await expect(petrel({ templating: { subject: true }, subject: "{% if x %}" })).rejects.toThrow(
      /no \{% … %\}/,
    );
  });

  it(declaredDeviation(smtpBatch, "no-gpg"), async () => {
    await expect(petrel({ gpg_key: "0123456789ABCDEF" })).rejects.toThrow(/gpg_key/);
  });

  it(declaredDeviation(smtpBatch, "old-events-dropped"), async () => {
    const state = memoryState();
    server.clear();
    const output = await petrel({ ignore_older_than_days: 1 }, state);
    await output.write(EVENTS.slice(2, 3));
    const store = await state("smtp_batch");
    await expect.poll(() => store.get("cursor"), { timeout: 15_000 }).toBe("1");
    await output.close?.();
    expect(await server.mails(0)).toEqual([]);
  });

  it(declaredDeviation(smtpBatch, "testing-to-consumes"), async () => {
    const state = memoryState();
    server.clear();
    const output = await petrel({ testing_to: "tester@example.org", bcc: ["archive@example.org"] }, state);
    await output.write(EVENTS.slice(2, 3));
    const [mail] = await Promise.all((await server.mails(1)).map(seen));
    await new Promise((r) => setTimeout(r, 1500));
    await output.close?.();
    expect(mail?.to).toEqual(["tester@example.org"]);
    expect(mail?.subject).toMatch(/\(intended for noc@example\.com\)$/);
    expect(await server.mails(0)).toHaveLength(1);
  });

  it(declaredDeviation(smtpBatch, "untranslated-fields"), async () => {
    server.clear();
    const output = await petrel({
      allowed_fieldnames: ["source.ip", "source.port"],
      fieldnames_translation: { "source.ip": "ip" },
    });
    await output.write(EVENTS.slice(2, 3));
    const [mail] = await Promise.all((await server.mails(1)).map(seen));
    await output.close?.();
    expect(Object.values(mail?.zip ?? {})[0]).toBe("ip,source.port\r\n198.51.100.7,\r\n");
  });

  it("takes batches into its state at a useful rate", async () => {
    const output = await petrel({ send_schedule: "0 0 1 1 *" }, await kvState());
    const batch = Array.from({ length: 500 }, (_, i) =>
      event({
        "source.ip": "192.0.2.1",
        "source.port": i + 1,
        "source.abuse_contact": `abuse${i % 20}@example.net`,
      }),
    );
    const started = performance.now();
    for (let i = 0; i < 10; i++) await output.write(batch);
    const perSecond = 5000 / ((performance.now() - started) / 1000);
    await output.close?.();
    expect(perSecond).toBeGreaterThan(1000);
    console.info(`outputs.smtp_batch: ${Math.round(perSecond)} events/s into JetStream KV (batches of 500)`);
  });
});
