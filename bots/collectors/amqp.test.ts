// The AMQP collector against a real RabbitMQ (a private broker per test file): reports from message
// bodies, IntelMQ messages forwarded as they are, acknowledgement only once a report is stored (also
// on a real nats-server that is down for a while), requeueing of what could not be stored, and TLS.
import { type Channel, type ChannelModel, connect } from "amqplib";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event, type Message, type Report } from "../../bot-runtime/src/event/message.ts";
import { type BotContext, type Collector, DISCARD_METRICS } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { runCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { startRabbitMq, type TestRabbitMq } from "../../bot-runtime/test-support/rabbitmq.ts";
import amqp from "./amqp.ts";

// IntelMQ's own wire format of a message (as its AMQP pipeline and amqptopic output send them).
const SERIALIZE_ORACLE = `
import json, sys
from intelmq.lib.message import MessageFactory
for line in sys.stdin:
    case = json.loads(line)
    message = MessageFactory.from_dict(case, default_type="Event")
    print(json.dumps(MessageFactory.serialize(message)))
`;

let broker: TestRabbitMq;
let connection: ChannelModel;
let channel: Channel;
let queues = 0;

beforeAll(async () => {
  broker = await startRabbitMq();
  connection = await connect(broker.url);
  channel = await connection.createChannel();
});
afterAll(async () => {
  await connection?.close().catch(() => undefined);
  await broker?.dispose();
});

async function newQueue(): Promise<string> {
  const name = `feed-${++queues}`;
  await channel.assertQueue(name, { durable: true });
  return name;
}

function publish(queue: string, body: string | Buffer): void {
  channel.sendToQueue(queue, Buffer.from(body), { persistent: true });
}

interface Started {
  collector: Collector;
  stop(): Promise<void>;
  errors: string[];
}

async function start(
  params: Record<string, unknown>,
  emit: (report: Report) => Promise<void>,
): Promise<Started> {
  const abort = new AbortController();
  const errors: string[] = [];
  const log = pino(
    { level: "error" },
    {
      write(line: string) {
        errors.push(JSON.parse(line).msg);
      },
    },
  );
  const ctx: BotContext = {
    botId: "amqp",
    pipeline: "test",
    log,
    signal: abort.signal,
    metrics: DISCARD_METRICS,
    state: () => Promise.reject(new Error("no state")),
  };
  const parsed = parameterSchema(amqp).parse({
    connection_port: broker.port,
    username: broker.user,
    password: broker.password,
    ...params,
  });
  const collector = await amqp.create(parsed as never, ctx);
  const done = collector.collect(emit).catch((error: unknown) => {
    errors.push((error as Error).message);
  });
  return {
    collector,
    errors,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

const decoded = (m: Message) => Buffer.from(m.get("raw") as string, "base64");

describe("collectors.amqp", () => {
  it("makes a report of each message body and acknowledges it once emitted", async () => {
    const queue = await newQueue();
    const bodies = [
      Buffer.from("192.0.2.1,scanner\n"),
      Buffer.from("ünïcödé"),
      Buffer.from([0, 255, 10, 13]),
    ];
    for (const body of bodies) publish(queue, body);
    const got: Report[] = [];
    const run = await start({ queue_name: queue }, async (r) => {
      got.push(r);
    });
    await expect.poll(() => got.length).toBe(3);
    await run.stop();
    expect(got.map((r) => decoded(r))).toEqual(bodies);
    expect(got[0]?.keys().sort()).toEqual(["raw", "time.observation"]);
    expect(await broker.queue(queue)).toEqual({ ready: 0, unacked: 0 });
    expect(run.errors).toEqual([]);
  });

  it("puts a message whose report could not be stored back into the queue", async () => {
    const queue = await newQueue();
    publish(queue, "keep me");
    let attempts = 0;
    const run = await start({ queue_name: queue }, async () => {
      attempts++;
      throw new Error("publisher cannot confirm");
    });
    await expect.poll(() => attempts).toBeGreaterThanOrEqual(2);
    await run.stop();
    expect(run.errors).toContain("The report could not be stored; the message goes back to the queue.");
    expect(await broker.queue(queue)).toEqual({ ready: 1, unacked: 0 });
    const again = await channel.get(queue, { noAck: true });
    if (again === false) throw new Error("the message is not in the queue");
    expect(again.content.toString()).toBe("keep me");
    expect(again.fields.redelivered).toBe(true);
  });

  it("forwards IntelMQ messages as they are with expect_intelmq_message, rejecting what is none", async () => {
    const queue = await newQueue();
    const [event, report] = await runOracle<Record<string, unknown>, string>(SERIALIZE_ORACLE, [
      {
        "source.ip": "192.0.2.9",
        "classification.type": "c2-server",
        "extra.tags": ["a", "b"],
        "feed.name": "Upstream",
        "time.source": "2024-01-02T03:04:05+00:00",
        raw: "bGluZQ==",
      },
      {
        __type: "Report",
        "feed.url": "http://example.com/x.csv",
        raw: "eCx5",
        "time.observation": "2024-01-01T00:00:00+00:00",
      },
    ]);
    publish(queue, event as string);
    publish(queue, report as string);
    // Not normalised: IntelMQ sanitizes such values when it reads a message; so does Petrel.
    publish(
      queue,
      JSON.stringify({ __type: "Event", "source.ip": " 192.0.2.10 ", "feed.name": "x", raw: "eA==" }),
    );
    publish(queue, "not json");
    publish(queue, JSON.stringify({ "source.ip": "192.0.2.11" }));
    const got: Message[] = [];
    const run = await start(
      { queue_name: queue, expect_intelmq_message: true, prefetch_count: 1 },
      async (m) => {
        got.push(m);
      },
    );
    await expect.poll(() => got.length).toBe(3);
    await expect.poll(() => run.errors.length).toBe(2);
    await run.stop();
    expect(got[0]).toBeInstanceOf(Event);
    expect(got[0]?.toDict()).toEqual({
      "source.ip": "192.0.2.9",
      "classification.type": "c2-server",
      "extra.tags": ["a", "b"],
      "feed.name": "Upstream",
      "time.source": "2024-01-02T03:04:05+00:00",
      raw: "bGluZQ==",
    });
    expect(got[1]?.kind).toBe("Report");
    expect(got[1]?.get("feed.url")).toBe("http://example.com/x.csv");
    expect(got[2]?.get("source.ip")).toBe("192.0.2.10");
    // deviation invalid-intelmq-message-rejected: not requeued, the collector goes on.
    expect(amqp.deviations?.map((d) => d.id)).toContain("invalid-intelmq-message-rejected");
    expect(run.errors).toEqual([
      "The message is not an IntelMQ message; rejected.",
      "The message is not an IntelMQ message; rejected.",
    ]);
    expect(await broker.queue(queue)).toEqual({ ready: 0, unacked: 0 });
  });

  it("on JetStream: a message stays unacknowledged while nats-server is down, and is stored once", async () => {
    const queue = await newQueue();
    const run = await runCollector(amqp, {
      connection_port: broker.port,
      username: broker.user,
      password: broker.password,
      queue_name: queue,
      expect_intelmq_message: true,
      name: "AMQP Feed",
    });
    try {
      const event = JSON.stringify({ __type: "Event", "source.ip": "192.0.2.20", raw: "eA==" });
      publish(queue, event);
      const [first] = await run.reports(1);
      expect(first?.get("source.ip")).toBe("192.0.2.20");
      // deviation feed-fields-on-forwarded-messages
      expect(amqp.deviations?.map((d) => d.id)).toContain("feed-fields-on-forwarded-messages");
      expect(first?.get("feed.name")).toBe("AMQP Feed");
      await expect.poll(() => broker.queue(queue), { timeout: 10_000 }).toEqual({ ready: 0, unacked: 0 });

      await run.nats.stop();
      publish(queue, JSON.stringify({ __type: "Event", "source.ip": "192.0.2.21", raw: "eQ==" }));
      await expect.poll(() => broker.queue(queue), { timeout: 10_000 }).toEqual({ ready: 0, unacked: 1 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await broker.queue(queue)).toEqual({ ready: 0, unacked: 1 });
      await run.nats.restart();
      const [second] = await run.reports(1);
      expect(second?.get("source.ip")).toBe("192.0.2.21");
      await expect.poll(() => broker.queue(queue), { timeout: 10_000 }).toEqual({ ready: 0, unacked: 0 });
      expect(await run.pending()).toBe(0);
    } finally {
      await run.dispose();
    }
  });

  it("connects with TLS, verifying the broker against ssl_ca_certificate", async () => {
    const queue = await newQueue();
    publish(queue, "over tls");
    const got: Report[] = [];
    const run = await start(
      {
        connection_host: "localhost",
        connection_port: broker.tlsPort,
        use_ssl: true,
        ssl_ca_certificate: broker.caFile,
        queue_name: queue,
      },
      async (r) => {
        got.push(r);
      },
    );
    await expect.poll(() => got.length).toBe(1);
    await run.stop();
    expect(decoded(got[0] as Report).toString()).toBe("over tls");

    const untrusted = await start(
      {
        connection_host: "localhost",
        connection_port: broker.tlsPort,
        use_ssl: true,
        connection_attempts: 1,
        queue_name: queue,
      },
      async () => undefined,
    );
    await expect.poll(() => untrusted.errors.length, { timeout: 10_000 }).toBeGreaterThan(0);
    await untrusted.stop();
    expect(untrusted.errors[0]).toMatch(
      /^the TLS certificate of amqps:\/\/localhost:\d+ is not trusted \(SELF_SIGNED_CERT_IN_CHAIN: .*\); set ssl_ca_certificate/,
    );
  });

  it("says which broker it cannot reach after connection_attempts", async () => {
    const run = await start(
      { connection_port: 1, connection_attempts: 2, queue_name: "q" },
      async () => undefined,
    );
    await expect.poll(() => run.errors.length, { timeout: 15_000 }).toBeGreaterThan(0);
    await run.stop();
    expect(run.errors.at(-1)).toMatch(/^cannot connect to amqp:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
  });
});
