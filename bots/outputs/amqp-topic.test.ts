// The AMQP topic output against IntelMQ and a real RabbitMQ (a private broker for this file): the
// messages (exchange, routing key, body, properties) IntelMQ's amqptopic output would publish — its
// own code in library mode, with pika replaced by a recorder since the oracle has no pika — are the
// ones Petrel publishes to the broker; publisher confirms, unroutable messages, a broker restart, TLS.
import { type Channel, type ChannelModel, connect, type GetMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import type { Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation, testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { startRabbitMq, type TestRabbitMq } from "../../bot-runtime/test-support/rabbitmq.ts";
import amqpTopic from "./amqp-topic.ts";
import { eventDocumentId } from "./event-id.ts";
import { sampleEvent } from "./test-support/sample-events.ts";

// IntelMQ's amqptopic output in library mode; pika is a recorder of what would be published.
const ORACLE = `
import base64, sys, types
pika = types.ModuleType("pika")
pika.__version__ = "1.3.2"
published = []
class _Error(Exception):
    pass
pika.exceptions = types.SimpleNamespace(**{name: type(name, (_Error,), {}) for name in (
    "ProbableAuthenticationError", "ProbableAccessDeniedError", "AMQPConnectionError", "ChannelClosed",
    "ChannelError", "AMQPChannelError", "NackError", "UnroutableError", "ConnectionWrongStateError")})
class BasicProperties:
    def __init__(self, content_type=None, delivery_mode=None):
        self.content_type, self.delivery_mode = content_type, delivery_mode
class Channel:
    is_closed = False
    def exchange_declare(self, exchange, exchange_type, durable):
        published.append({"declare": [exchange, exchange_type, durable]})
    def confirm_delivery(self):
        pass
    def basic_publish(self, exchange, routing_key, body, properties, mandatory):
        published.append({"exchange": exchange, "routing_key": routing_key, "body": base64.b64encode(body).decode(),
                          "content_type": properties.content_type, "delivery_mode": properties.delivery_mode,
                          "mandatory": mandatory})
        return True
class BlockingConnection:
    is_closed = False
    def __init__(self, parameters):
        pass
    def channel(self):
        return Channel()
    def close(self):
        pass
pika.BlockingConnection = BlockingConnection
pika.BasicProperties = BasicProperties
pika.ConnectionParameters = lambda **kwargs: kwargs
pika.PlainCredentials = lambda user, password: (user, password)
pika.SSLOptions = lambda context: context
sys.modules["pika"] = pika
${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.amqptopic.output import AMQPTopicOutputBot
for line in sys.stdin:
    case = json.loads(line)
    published.clear()
    bot = AMQPTopicOutputBot("oracle-amqp", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    try:
        bot.process_message(*messages)
        print(json.dumps({"error": None, "published": published}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__, "published": published}))
sys.stdout.flush()
os._exit(0)
`;

interface Published {
  declare?: [string, string, boolean];
  exchange?: string;
  routing_key?: string;
  body?: string;
  content_type?: string;
  delivery_mode?: number;
}

const EVENTS = [
  sampleEvent({
    "source.ip": "192.0.2.1",
    "source.asn": 64496,
    "classification.type": "brute-force",
    "extra.tags": ["ssh", "ünïcödé"],
    "extra.nested": { b: 1, a: [true, null] },
    "extra.lone": "lone \ud800 surrogate",
    raw: "MTkyLjAuMi4xCg==",
  }),
  sampleEvent({
    "source.url": "http://malware.example.com/x.exe",
    "source.asn": 64497,
    "classification.type": "malware-distribution",
    output: JSON.stringify({ z: 1, a: "ä" }),
  }),
];

let broker: TestRabbitMq;
let connection: ChannelModel;
let channel: Channel;
let queues = 0;

beforeAll(async () => {
  broker = await startRabbitMq();
  connection = await connect(broker.url);
  channel = await connection.createChannel();
}, 90_000);
afterAll(async () => {
  await connection?.close().catch(() => undefined);
  await broker?.dispose();
});

/** A durable queue bound to the exchange (every routing key), or named after the routing key. */
async function queueFor(exchange: string | null, type = "topic", bindingKey = "#"): Promise<string> {
  const name = `q-${++queues}`;
  await channel.assertQueue(name, { durable: true });
  if (exchange) {
    await channel.assertExchange(exchange, type, { durable: true });
    await channel.bindQueue(name, exchange, bindingKey);
  }
  return name;
}

async function drain(queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await channel.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

async function petrel(params: Record<string, unknown>): Promise<Output> {
  const parsed = parameterSchema(amqpTopic).parse({
    connection_port: broker.port,
    username: broker.user,
    password: broker.password,
    ...params,
  });
  return amqpTopic.create(parsed as never, testContext());
}

describe("outputs.amqp_topic", () => {
  it("publishes what IntelMQ's amqptopic output publishes, confirmed by the broker", async () => {
    const cases: Array<{ name: string; params: Record<string, unknown> }> = [
      {
        name: "topic exchange, defaults",
        params: { exchange_name: "events", routing_key: "intelmq.events" },
      },
      {
        name: "routing key from the event",
        params: {
          exchange_name: "by-type",
          routing_key: "{ev[classification.type]}.{ev[source.asn]:d}",
          format_routing_key: true,
        },
      },
      {
        name: "hierarchical, with type, raw kept, transient, other content type",
        params: {
          exchange_name: "events2",
          routing_key: "x",
          message_hierarchical_output: true,
          message_with_type: true,
          keep_raw_field: true,
          delivery_mode: 1,
          content_type: "text/plain",
        },
      },
      {
        name: "single_key source.ip",
        params: { exchange_name: "ips", routing_key: "ip", single_key: "source.ip" },
      },
      { name: "single_key raw", params: { exchange_name: "raws", routing_key: "raw", single_key: "raw" } },
      { name: "default exchange", params: { exchange_name: null, routing_key: "direct-queue" } },
      {
        name: "fanout, not durable",
        params: { exchange_name: "fan", exchange_type: "fanout", exchange_durable: false, routing_key: "" },
      },
    ];
    const results = await runOracle<unknown, { error: string | null; published: Published[] }>(
      ORACLE,
      cases.map((c) => ({ params: c.params, events: oracleEvents(EVENTS) })),
    );
    for (const [i, c] of cases.entries()) {
      const result = results[i];
      expect(result?.error, c.name).toBeNull();
      const exchange = c.params.exchange_name as string | null;
      const declared = result?.published.filter((p) => p.declare) ?? [];
      const intelmq = result?.published.filter((p) => !p.declare) ?? [];
      expect(intelmq, c.name).toHaveLength(EVENTS.length);
      // The exchange as IntelMQ declares it (or none: the default exchange).
      expect(
        declared.map((d) => d.declare),
        c.name,
      ).toEqual(
        exchange ? [[exchange, c.params.exchange_type ?? "topic", c.params.exchange_durable ?? true]] : [],
      );
      const queue =
        exchange === null
          ? c.params.routing_key === "direct-queue" &&
            (await channel.assertQueue("direct-queue", { durable: true })).queue
          : await queueFor(exchange, (c.params.exchange_type as string) ?? "topic");
      if (exchange && c.params.exchange_durable === false) {
        // Declared not durable by the bot: the test's own declaration has to match.
        await channel.deleteExchange(exchange);
        const ch = await connection.createChannel();
        await ch.assertExchange(exchange, "fanout", { durable: false });
        await ch.bindQueue(queue as string, exchange, "");
        await ch.close();
      }
      const output = await petrel(c.params);
      await output.write(EVENTS);
      await output.close?.();
      const got = await drain(queue as string);
      expect(
        got.map((m) => ({
          exchange: m.fields.exchange,
          routing_key: m.fields.routingKey,
          body: m.content.toString("base64"),
          content_type: m.properties.contentType,
          delivery_mode: m.properties.deliveryMode,
        })),
        c.name,
      ).toEqual(
        // IntelMQ hands pika None for no exchange_name; the broker's default exchange is "".
        intelmq.map(({ mandatory: _, ...p }: Published & { mandatory?: boolean }) => ({
          ...p,
          exchange: p.exchange ?? "",
        })),
      );
      expect(got.map((m) => m.properties.messageId)).toEqual(
        EVENTS.map((e) => eventDocumentId(e, "event_hash_and_observation")),
      );
    }
    // IntelMQ publishes mandatory messages; so does Petrel (see the unroutable test).
    expect(results[0]?.published.at(-1)).toMatchObject({ mandatory: true });
  });

  it(declaredDeviation(amqpTopic, "message-id"), async () => {
    const queue = await queueFor("ids");
    const output = await petrel({ exchange_name: "ids", routing_key: "k", document_id: "event_hash" });
    // The same event twice (as after a failed batch): the same id, for the consumer to drop.
    await output.write([EVENTS[0] as Event]);
    await output.write([EVENTS[0] as Event]);
    await output.close?.();
    const ids = (await drain(queue)).map((m) => m.properties.messageId);
    expect(ids).toEqual([(EVENTS[0] as Event).hash(), (EVENTS[0] as Event).hash()]);
  });

  it(declaredDeviation(amqpTopic, "unroutable-fails-batch"), async () => {
    const queue = await queueFor("picky", "direct", "malware-distribution");
    const output = await petrel({
      exchange_name: "picky",
      exchange_type: "direct",
      routing_key: "{ev[classification.type]}",
      format_routing_key: true,
    });
    await expect(output.write(EVENTS)).rejects.toThrow(
      /^1 message\(s\) with routing key "brute-force" could not be routed from exchange "picky" to any queue/,
    );
    // Once a queue takes it, the retried event goes through (the other one was delivered already).
    await channel.bindQueue(queue, "picky", "brute-force");
    await output.write(EVENTS.slice(0, 1));
    await output.close?.();
    expect((await drain(queue)).map((m) => m.fields.routingKey)).toEqual([
      "malware-distribution",
      "brute-force",
    ]);
  });

  it("fails a batch whose routing key cannot be filled, naming the field", async () => {
    const output = await petrel({
      exchange_name: "events",
      routing_key: "{ev[source.fqdn]}",
      format_routing_key: true,
    });
    await expect(output.write(EVENTS)).rejects.toThrow(/routing_key: the event has no source.fqdn/);
    await output.close?.();
    await expect(
      petrel({ exchange_name: "events", routing_key: "{fqdn}", format_routing_key: true }),
    ).rejects.toThrow(/placeholders look like \{ev\[field\]\}/);
  });

  it("survives a broker restart: the batch during the outage fails, the next reconnects; persistent messages stay", async () => {
    const queue = await queueFor("durable-events");
    const output = await petrel({
      exchange_name: "durable-events",
      routing_key: "k",
      connection_attempts: 1,
    });
    await output.write(EVENTS.slice(0, 1));
    await connection.close().catch(() => undefined);
    // A large batch in flight when the broker goes away settles (confirmed, or failed to be retried).
    const large = Array.from({ length: 20_000 }, (_, i) =>
      sampleEvent({ "source.ip": "192.0.2.1", "source.port": (i % 65535) + 1 }),
    );
    const inFlight = output.write(large).then(
      () => "confirmed",
      (error: Error) => error.message,
    );
    await broker.stop();
    const outcome = await inFlight;
    expect(outcome === "confirmed" || /was not confirmed|closed|ECONNRESET/.test(outcome), outcome).toBe(
      true,
    );
    await expect(output.write(EVENTS.slice(1))).rejects.toThrow(/127\.0\.0\.1|closed|ECONNREFUSED/);
    await broker.restart();
    connection = await connect(broker.url);
    channel = await connection.createChannel();
    await output.write(EVENTS.slice(1));
    await output.close?.();
    const got = (await drain(queue)).map((m) => JSON.parse(m.content.toString()));
    // Persistent messages in a durable queue survived the restart.
    expect(got[0]?.["source.asn"]).toBe(64496);
    expect(got.at(-1)?.["source.asn"]).toBe(64497);
    if (outcome === "confirmed") expect(got).toHaveLength(20_002);
  }, 120_000);

  it("publishes over TLS, verifying the broker with the given CA", async () => {
    const queue = await queueFor("tls-events");
    const output = await petrel({
      connection_host: "localhost",
      connection_port: broker.tlsPort,
      use_ssl: true,
      ssl_ca_certificate: broker.caFile,
      exchange_name: "tls-events",
      routing_key: "k",
    });
    await output.write(EVENTS);
    await output.close?.();
    expect(await broker.queue(queue)).toEqual({ ready: 2, unacked: 0 });
    expect((await drain(queue)).map((m) => m.properties.deliveryMode)).toEqual([2, 2]);
    const untrusted = await petrel({
      connection_host: "localhost",
      connection_port: broker.tlsPort,
      use_ssl: true,
      connection_attempts: 1,
      exchange_name: "tls-events",
      routing_key: "k",
    });
    await expect(untrusted.write(EVENTS)).rejects.toThrow(
      /the TLS certificate of amqps:\/\/localhost:\d+ is not trusted .*; set ssl_ca_certificate/,
    );
  });

  it("publishes batches at a useful rate", async () => {
    const queue = await queueFor("bulk");
    const output = await petrel({ exchange_name: "bulk", routing_key: "k" });
    const batch = Array.from({ length: 500 }, (_, i) =>
      sampleEvent({ "source.ip": "192.0.2.1", "source.port": i + 1 }),
    );
    const started = performance.now();
    for (let i = 0; i < 10; i++) await output.write(batch);
    const perSecond = 5000 / ((performance.now() - started) / 1000);
    await output.close?.();
    expect(perSecond).toBeGreaterThan(1000);
    await expect.poll(async () => (await broker.queue(queue)).ready, { timeout: 10_000 }).toBe(5000);
    console.info(
      `outputs.amqp_topic: ${Math.round(perSecond)} events/s (batches of 500, persistent, confirmed)`,
    );
  });
});
