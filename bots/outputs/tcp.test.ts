// The TCP output against IntelMQ: the same byte stream as IntelMQ's TCP output (framed and with a
// separator), delivery to IntelMQ's TCP collector (library mode) and to Petrel's collectors.tcp, and
// what happens when the receiver goes away, answers nothing, or restarts in the middle of a batch.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server, Socket } from "node:net";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import type { Event, Report } from "../../bot-runtime/src/event/message.ts";
import type { Output } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { freePort } from "../../bot-runtime/test-support/nats-server.ts";
import { declaredDeviation, testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { oraclePython, runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import tcpCollector from "../collectors/tcp.ts";
import tcp from "./tcp.ts";
import { sampleEvent } from "./test-support/sample-events.ts";

// IntelMQ's TCP output in library mode: one bot per case, sending the case's events.
const OUTPUT_ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.bots.outputs.tcp.output import TCPOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = TCPOutputBot("oracle-tcp", settings=library_settings(case["params"]))
    messages = [read_message(e) for e in case["events"]]
    bot.process_message(*messages)
    bot.con.close()
    print(json.dumps({"sent": len(messages)}), flush=True)
os._exit(0)
`;

// IntelMQ's TCP collector in library mode: serves one connection per line of stdin, prints its reports.
const COLLECTOR_ORACLE = `
import json, os, sys
from intelmq.lib.bot import BotLibSettings
from intelmq.bots.collectors.tcp.collector import TCPCollectorBot
bot = TCPCollectorBot("tcp-collector", settings=BotLibSettings | {
    "logging_level": "CRITICAL", "ip": "127.0.0.1", "port": int(sys.argv[1])})
print("listening", flush=True)
for line in sys.stdin:
    bot.process()
    state = bot._Bot__destination_pipeline.state
    reports = [json.loads(m) if isinstance(m, str) else dict(m) for m in state.get("output", [])]
    state["output"] = []
    print(json.dumps(reports), flush=True)
os._exit(0)
`;

const EVENTS = [
  sampleEvent({
    "source.ip": "192.0.2.1",
    "source.port": 22,
    "classification.type": "brute-force",
    "extra.tags": ["ssh", "ünïcödé"],
    "extra.nested": { b: 1, a: [true, null] },
    "event_description.text": "line\nbreak and €",
    raw: "MTkyLjAuMi4xCg==",
  }),
  sampleEvent({
    "source.url": "http://malware.example.com/x.exe",
    "classification.type": "malware-distribution",
  }),
  sampleEvent({ "source.fqdn": "c2.example.net", comment: "x".repeat(100_000) }),
];

/** A receiver that records what it gets; framed: answers "Ok" per message (unless told not to). */
class Capture {
  readonly server: Server;
  readonly streams: Buffer[][] = [];
  answer = true;
  /** Close each connection after this many messages (no "Ok" for the last). */
  closeAfter = Number.POSITIVE_INFINITY;
  port = 0;
  constructor(framed: boolean) {
    this.server = createServer((socket: Socket) => {
      const chunks: Buffer[] = [];
      this.streams.push(chunks);
      let pending = Buffer.alloc(0);
      let messages = 0;
      socket.on("error", () => undefined);
      socket.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        if (!framed) return;
        pending = Buffer.concat([pending, chunk]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readUInt32BE(0)) {
          pending = pending.subarray(4 + pending.readUInt32BE(0));
          if (++messages >= this.closeAfter) {
            socket.destroy();
            return;
          }
          if (this.answer) socket.write("Ok");
        }
      });
    });
  }
  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.streams.flat());
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function petrel(params: Record<string, unknown>): Promise<Output> {
  const output = await tcp.create(parameterSchema(tcp).parse(params) as never, testContext());
  cleanups.push(() => output.close?.());
  return output;
}

async function capture(framed: boolean): Promise<Capture> {
  const c = await new Capture(framed).listen();
  cleanups.push(() => c.close());
  return c;
}

/** Petrel's TCP collector on a free port, recording its reports. */
async function petrelCollector(
  port?: number,
): Promise<{ port: number; reports: Report[]; stop(): Promise<void> }> {
  const listenOn = port ?? (await freePort());
  const abort = new AbortController();
  const params = parameterSchema(tcpCollector).parse({ ip: "127.0.0.1", port: listenOn });
  const collector = await tcpCollector.create(params as never, { ...testContext(), signal: abort.signal });
  const reports: Report[] = [];
  const done = collector.collect(async (report) => {
    reports.push(report);
  });
  // Listening once a connection is accepted.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once("error", () => resolve(false));
      s.connect(listenOn, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const stop = async () => {
    abort.abort();
    await done;
  };
  cleanups.push(stop);
  return { port: listenOn, reports, stop };
}

const decoded = (raw: unknown) => Buffer.from(raw as string, "base64").toString("utf8");

describe("outputs.tcp", () => {
  it("sends the same bytes as IntelMQ's TCP output", async () => {
    const cases: Array<{ name: string; params: Record<string, unknown>; framed: boolean }> = [
      { name: "framed, confirmed", params: {}, framed: true },
      { name: "framed, hierarchical", params: { hierarchical_output: true }, framed: true },
      { name: "framed, not confirmed", params: { counterpart_is_intelmq: false }, framed: true },
      {
        name: "newline separator",
        params: { counterpart_is_intelmq: false, separator: "\n" },
        framed: false,
      },
      {
        name: "multi-character separator",
        params: { counterpart_is_intelmq: false, separator: "¦¦" },
        framed: false,
      },
    ];
    for (const c of cases) {
      const theirs = await capture(c.framed);
      const ours = await capture(c.framed);
      // A receiver that does not confirm (answers sent to IntelMQ unread would reset its connection).
      theirs.answer = ours.answer = c.params.counterpart_is_intelmq !== false;
      const [result] = await runOracle<unknown, { sent: number }>(OUTPUT_ORACLE, [
        {
          params: { ip: "127.0.0.1", port: theirs.port, ...c.params },
          events: oracleEvents(EVENTS),
        },
      ]);
      expect(result?.sent).toBe(EVENTS.length);
      const output = await petrel({ ip: "127.0.0.1", port: ours.port, ...c.params });
      await output.write(EVENTS.slice(0, 1));
      await output.write(EVENTS.slice(1));
      await output.close?.();
      const expected = EVENTS.reduce((n, e) => n + Buffer.byteLength(JSON.stringify(e.toDict())), 0);
      await expect
        .poll(() => theirs.bytes().length, { message: c.name, timeout: 10_000 })
        .toBeGreaterThan(expected);
      await expect
        .poll(() => ours.bytes().length, { message: c.name, timeout: 10_000 })
        .toBe(theirs.bytes().length);
      expect(ours.bytes().equals(theirs.bytes()), c.name).toBe(true);
      expect(ours.streams, c.name).toHaveLength(1);
    }
  });

  it("delivers to IntelMQ's TCP collector: one report per event, raw = the event's JSON", async () => {
    const port = await freePort();
    const python: ChildProcess = spawn(
      oraclePython(),
      ["-W", "ignore", "-c", COLLECTOR_ORACLE, String(port)],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    cleanups.push(() => {
      python.kill();
    });
    const lines = createInterface({ input: python.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
    expect((await lines.next()).value).toBe("listening");
    python.stdin?.write("\n");
    const output = await petrel({ ip: "127.0.0.1", port });
    await output.write(EVENTS);
    await output.write(EVENTS.slice(0, 1));
    await output.close?.();
    const reports = JSON.parse((await lines.next()).value as string) as Array<Record<string, unknown>>;
    expect(reports.map((r) => JSON.parse(decoded(r.raw)))).toEqual(
      [...EVENTS, EVENTS[0] as Event].map((e) => e.toDict()),
    );
  });

  it("delivers to Petrel's TCP collector, and reconnects after the collector restarted", async () => {
    const collector = await petrelCollector();
    const output = await petrel({ ip: "127.0.0.1", port: collector.port, timeout: 2 });
    await output.write(EVENTS);
    expect(collector.reports.map((r) => JSON.parse(decoded(r.get("raw"))))).toEqual(
      EVENTS.map((e) => e.toDict()),
    );
    await collector.stop();
    // The receiver is away: the batch fails (to be retried by the runtime), naming the receiver.
    await expect(output.write(EVENTS.slice(1, 2))).rejects.toThrow(`127.0.0.1:${collector.port}`);
    await expect(output.write(EVENTS.slice(1, 2))).rejects.toThrow(/cannot connect to 127\.0\.0\.1/);
    const again = await petrelCollector(collector.port);
    await output.write(EVENTS.slice(1, 2));
    expect(again.reports.map((r) => JSON.parse(decoded(r.get("raw")))["source.url"])).toEqual([
      "http://malware.example.com/x.exe",
    ]);
  });

  it("fails a batch whose confirmations do not come, and does not resend what was confirmed", async () => {
    const receiver = await capture(true);
    receiver.closeAfter = 3;
    const output = await petrel({ ip: "127.0.0.1", port: receiver.port, timeout: 1 });
    const batch = Array.from({ length: 5 }, (_, i) =>
      sampleEvent({ "source.ip": "192.0.2.1", "source.port": i + 1 }),
    );
    // Two confirmed, the third message closes the connection.
    await expect(output.write(batch)).rejects.toThrow(/closed the connection/);
    receiver.closeAfter = Number.POSITIVE_INFINITY;
    // The runtime writes the batch again one by one: the two confirmed ones are not sent again.
    for (const e of batch) await output.write([e]);
    const ports = (stream: Buffer[]) => {
      const out: number[] = [];
      let rest = Buffer.concat(stream);
      while (rest.length >= 4) {
        const n = rest.readUInt32BE(0);
        if (rest.length < 4 + n) break;
        out.push(JSON.parse(rest.subarray(4, 4 + n).toString())["source.port"]);
        rest = rest.subarray(4 + n);
      }
      return out;
    };
    expect(receiver.streams.map(ports)).toEqual([
      [1, 2, 3, 4, 5],
      [3, 4, 5],
    ]);

    receiver.answer = false;
    const silent = await petrel({ ip: "127.0.0.1", port: receiver.port, timeout: 0.5 });
    await expect(silent.write(batch.slice(0, 1))).rejects.toThrow(/no "Ok" .* within 0.5 s/);
  });

  it(declaredDeviation(tcp, "separator-needs-no-counterpart"), () => {
    expect(() =>
      tcp.create(
        parameterSchema(tcp).parse({ ip: "127.0.0.1", port: 1, separator: "\n" }) as never,
        testContext(),
      ),
    ).toThrow(/counterpart_is_intelmq to false/);
  });

  it(declaredDeviation(tcp, "connects-when-needed"), async () => {
    const port = await freePort();
    // Nothing listens: IntelMQ's output fails in init; Petrel's starts and fails the batch.
    const output = await petrel({ ip: "127.0.0.1", port });
    await expect(output.write(EVENTS.slice(0, 1))).rejects.toThrow(/cannot connect/);
    const collector = await petrelCollector(port);
    await output.write(EVENTS.slice(0, 1));
    expect(collector.reports).toHaveLength(1);
  });

  it(declaredDeviation(tcp, "pipelined-batches"), async () => {
    const receiver = await capture(true);
    const output = await petrel({ ip: "127.0.0.1", port: receiver.port });
    const batch = Array.from({ length: 2000 }, (_, i) =>
      sampleEvent({ "source.ip": "192.0.2.1", "source.port": (i % 65535) + 1 }),
    );
    const started = performance.now();
    await output.write(batch);
    const seconds = (performance.now() - started) / 1000;
    // All messages were sent before the first "Ok" was needed: one connection, every message there.
    expect(receiver.streams).toHaveLength(1);
    expect(seconds).toBeLessThan(5);
    console.info(
      `outputs.tcp: ${Math.round(batch.length / seconds)} events/s (one batch of 2000, each confirmed)`,
    );
  });
});
