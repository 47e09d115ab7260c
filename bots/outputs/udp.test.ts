// The UDP output against IntelMQ's own: both send to a local UDP socket, and the datagrams must be
// byte for byte the same, for both formats and the parameters that shape them.
import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import type { Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation, testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { sampleEvent } from "./test-support/sample-events.ts";
import udp from "./udp.ts";

// IntelMQ's UDP output in library mode, one bot per case; floats read as floats, as from its queues.
const ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.udp.output import UDPOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = UDPOutputBot("oracle-udp", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    try:
        bot.process_message(*messages)
        print(json.dumps({"error": None}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__}))
sys.stdout.flush()
os._exit(0)
`;

const EVENTS = [
  sampleEvent({
    "source.ip": "192.0.2.1",
    "source.port": 22,
    "classification.type": "brute-force",
    "extra.tags": ["ssh", "ünïcödé"],
    "extra.nested": { b: 1, a: [true, null], f: 2.5 },
    "event_description.text": "tab\there, zero\u200bwidth, bell\u0007, €",
    raw: "MTkyLjAuMi4xCg==",
  }),
  sampleEvent({
    "source.url": "http://malware.example.com/x.exe",
    "classification.type": "malware-distribution",
    "extra.flag": false,
    raw: Buffer.from("line one\nline two").toString("base64"),
  }),
];

const CASES: Array<{ name: string; params: Record<string, unknown> }> = [
  { name: "json, defaults", params: { format: "json" } },
  {
    name: "JSON in capitals, raw kept, own header",
    params: { format: "JSON", keep_raw_field: true, header: "petrel: " },
  },
  { name: "delimited", params: { format: "delimited" } },
  {
    name: "delimited, raw kept, other delimiter",
    params: { format: "delimited", keep_raw_field: true, field_delimiter: " ;; ", header: "" },
  },
];

describe("outputs.udp", () => {
  let receiver: Socket;
  let port: number;
  const received: Buffer[] = [];
  beforeAll(async () => {
    receiver = createSocket("udp4");
    receiver.on("message", (m) => received.push(m));
    await new Promise<void>((resolve) => receiver.bind(0, "127.0.0.1", resolve));
    port = receiver.address().port;
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  async function petrel(params: Record<string, unknown>): Promise<Output> {
    return udp.create(parameterSchema(udp).parse(params) as never, testContext());
  }

  async function take(n: number): Promise<Buffer[]> {
    await expect.poll(() => received.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(n);
    return received.splice(0);
  }

  it("sends the same datagrams as IntelMQ's UDP output", async () => {
    for (const c of CASES) {
      const [result] = await runOracle<unknown, { error: string | null }>(ORACLE, [
        {
          params: { ...c.params, udp_host: "localhost", udp_port: port },
          events: oracleEvents(EVENTS),
        },
      ]);
      expect(result?.error, c.name).toBeNull();
      const intelmq = await take(EVENTS.length);
      const output = await petrel({ ...c.params, udp_host: "localhost", udp_port: port });
      await output.write(EVENTS);
      await output.close?.();
      const ours = await take(EVENTS.length);
      expect(
        ours.map((d) => d.toString("utf8")),
        c.name,
      ).toEqual(intelmq.map((d) => d.toString("utf8")));
      expect(Buffer.concat(ours).equals(Buffer.concat(intelmq)), c.name).toBe(true);
    }
    // Control characters are gone, the newline at the end is added after.
    const [first] = received.splice(0);
    expect(first).toBeUndefined();
  });

  it(declaredDeviation(udp, "event-without-raw"), async () => {
    const bare = new Event();
    bare.add("source.ip", "192.0.2.5");
    const [result] = await runOracle<unknown, { error: string | null }>(ORACLE, [
      {
        params: { format: "json", udp_host: "127.0.0.1", udp_port: port },
        events: oracleEvents([bare]),
      },
    ]);
    expect(result?.error).toBe("KeyError");
    const output = await petrel({ format: "delimited", udp_host: "127.0.0.1", udp_port: port });
    await output.write([bare]);
    await output.close?.();
    expect((await take(1)).map(String)).toEqual(["<header text>|source.ip:192.0.2.5\n"]);
  });

  it(declaredDeviation(udp, "ipv6-destination"), async () => {
    const v6 = createSocket("udp6");
    const got: string[] = [];
    v6.on("message", (m) => got.push(m.toString()));
    await new Promise<void>((resolve) => v6.bind(0, "::1", resolve));
    try {
      const output = await petrel({
        format: "json",
        header: "",
        udp_host: "::1",
        udp_port: v6.address().port,
      });
      await output.write([sampleEvent({ "source.ip": "2001:db8::1" })]);
      await output.close?.();
      await expect.poll(() => got.length, { timeout: 10_000 }).toBe(1);
      expect(JSON.parse(got[0] as string)["source.ip"]).toBe("2001:db8::1");
    } finally {
      v6.close();
    }
  });

  it("rejects what IntelMQ cannot run with: no format, an unknown format, no port", () => {
    const schema = parameterSchema(udp);
    expect(() => schema.parse({ udp_port: 514 })).toThrow(/format/);
    expect(() => schema.parse({ format: "xml", udp_port: 514 })).toThrow(/json|delimited/);
    expect(() => schema.parse({ format: "json" })).toThrow(/udp_port/);
  });

  it("sends datagrams at a useful rate", async () => {
    const sink = createSocket("udp4");
    await new Promise<void>((resolve) => sink.bind(0, "127.0.0.1", resolve));
    try {
      const output = await petrel({ format: "json", udp_host: "127.0.0.1", udp_port: sink.address().port });
      const batch = Array.from({ length: 500 }, () => EVENTS[0] as Event);
      const started = performance.now();
      for (let i = 0; i < 20; i++) await output.write(batch);
      const perSecond = 10_000 / ((performance.now() - started) / 1000);
      await output.close?.();
      expect(perSecond).toBeGreaterThan(2000);
      console.info(`outputs.udp: ${Math.round(perSecond)} events/s (json, batches of 500)`);
    } finally {
      sink.close();
    }
  });

  it("fails the batch when a datagram cannot be sent (too large), so it is retried or dead-lettered", async () => {
    const output = await petrel({ format: "json", udp_host: "127.0.0.1", udp_port: port });
    await expect(output.write([sampleEvent({ comment: "x".repeat(70_000) })])).rejects.toThrow(
      /EMSGSIZE|sending/,
    );
    await output.close?.();
  });
});
