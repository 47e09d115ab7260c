// The TCP collector against IntelMQ itself: IntelMQ's TCP output (library mode) sends events to it,
// and the same byte streams sent to IntelMQ's TCP collector give the same reports and the same
// answers. On a real nats-server, "Ok" is sent only once the report is stored.
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { type BotContext, DISCARD_METRICS } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { runCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { freePort } from "../../bot-runtime/test-support/nats-server.ts";
import { oraclePython, runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import tcp from "./tcp.ts";

// IntelMQ's TCP output in library mode, sending each event to the port and waiting for "Ok"; prints
// the JSON text it sent (what to_json produced) for each event.
const OUTPUT_ORACLE = `
import json, os, sys
from intelmq.lib.bot import BotLibSettings
from intelmq.lib.message import MessageFactory
from intelmq.bots.outputs.tcp.output import TCPOutputBot
bot = None
for line in sys.stdin:
    case = json.loads(line)
    if bot is None:
        bot = TCPOutputBot("tcp-output", settings=BotLibSettings | {
            "logging_level": "CRITICAL", "ip": "127.0.0.1", "port": case["port"],
            "counterpart_is_intelmq": True})
    bot.process_message(case["event"])
    event = MessageFactory.from_dict(case["event"], harmonization=bot.harmonization, default_type="Event")
    print(json.dumps(event.to_json(hierarchical=False)), flush=True)
sys.stdout.flush()
os._exit(0)
`;

// IntelMQ's TCP collector in library mode: serves one connection per line of stdin and prints the
// reports it made from it.
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

interface Running {
  port: number;
  reports: Report[];
  stop(): Promise<void>;
}

function context(signal: AbortSignal): BotContext {
  return {
    botId: "tcp",
    pipeline: "test",
    log: pino({ level: "silent" }),
    signal,
    metrics: DISCARD_METRICS,
    state: () => Promise.reject(new Error("no state")),
  };
}

const running: Running[] = [];
afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
});

/** Starts the collector on a free port with an emit that records reports (and may be replaced). */
async function startCollector(emit?: (report: Report) => Promise<void>): Promise<Running> {
  const port = await freePort();
  const abort = new AbortController();
  const params = parameterSchema(tcp).parse({ ip: "127.0.0.1", port });
  const collector = await tcp.create(params as never, context(abort.signal));
  const reports: Report[] = [];
  const done = collector.collect(
    emit ??
      (async (report) => {
        reports.push(report);
      }),
  );
  await waitListening(port);
  const r = {
    port,
    reports,
    stop: async () => {
      abort.abort();
      await done;
    },
  };
  running.push(r);
  return r;
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

/** A client speaking the framing: sends messages, reads the answers. */
class Sender {
  readonly socket: Socket;
  #received = Buffer.alloc(0);
  #waiters: Array<() => void> = [];
  closed = false;
  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (c: Buffer) => {
      this.#received = Buffer.concat([this.#received, c]);
      for (const w of this.#waiters.splice(0)) w();
    });
    // The server is done with the connection at its end (the socket is half-open: closed only after
    // the test ends its side too).
    for (const event of ["end", "close"]) {
      socket.on(event, () => {
        this.closed = true;
        for (const w of this.#waiters.splice(0)) w();
      });
    }
    socket.on("error", () => undefined);
  }
  static open(port: number): Promise<Sender> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host: "127.0.0.1", allowHalfOpen: true }, () => resolve(new Sender(s)));
      s.once("error", reject);
    });
  }
  frame(data: Buffer | string): Buffer {
    const body = Buffer.from(data);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(body.length);
    return Buffer.concat([head, body]);
  }
  send(data: Buffer | string): void {
    this.socket.write(this.frame(data));
  }
  /** Waits for `text` as the next answer (or the connection's end); false after timeoutMs. */
  async expect(text: string, timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.#received.length < text.length && !this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    if (this.#received.length < text.length) return false;
    const got = this.#received.subarray(0, text.length).toString();
    this.#received = this.#received.subarray(text.length);
    if (got !== text) throw new Error(`expected ${JSON.stringify(text)}, got ${JSON.stringify(got)}`);
    return true;
  }
  /** Everything answered until the server closed the connection. */
  async rest(): Promise<string> {
    while (!this.closed) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    return this.#received.toString();
  }
}

const decoded = (r: Report | Record<string, unknown>) =>
  Buffer.from(
    ((r as Report).get ? (r as Report).get("raw") : (r as Record<string, unknown>).raw) as string,
    "base64",
  );

describe("collectors.tcp", () => {
  it("receives what IntelMQ's TCP output sends, one report per event, raw = the event's JSON", async () => {
    const collector = await startCollector();
    const events = [
      { "source.ip": "192.0.2.1", "classification.type": "scanner", "feed.name": "a" },
      {
        "source.url": "http://example.com/ä?x=1",
        "extra.nested": { list: [1, 2.5, "ü"], flag: true },
        "time.source": "2024-01-02T03:04:05+00:00",
      },
      { "source.fqdn": "example.org", comment: "x".repeat(300_000) },
    ];
    const sent = await runOracle<unknown, string>(
      OUTPUT_ORACLE,
      events.map((event) => ({ port: collector.port, event })),
    );
    expect(collector.reports).toHaveLength(3);
    for (const [i, report] of collector.reports.entries()) {
      expect(decoded(report).toString("utf8")).toBe(sent[i]);
      expect(report.keys().sort()).toEqual(["raw", "time.observation"]);
    }
    expect(JSON.parse(decoded(collector.reports[1] as Report).toString())["extra.nested"]).toEqual({
      list: [1, 2.5, "ü"],
      flag: true,
    });
  });

  it("makes the same reports and answers as IntelMQ's TCP collector from the same byte streams", async () => {
    const frame = (data: Buffer | string) => {
      const body = Buffer.from(data);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(body.length);
      return Buffer.concat([head, body]);
    };
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const streams: Array<{ name: string; bytes: Buffer }> = [
      {
        name: "messages, then the end",
        bytes: Buffer.concat([
          frame('{"source.ip": "192.0.2.7"}'),
          frame("plain text ünïcode\n"),
          frame(binary),
        ]),
      },
      { name: "a large message", bytes: frame(Buffer.alloc(2_000_000, "a")) },
      { name: "ends inside a message", bytes: Buffer.concat([frame("one"), frame("two").subarray(0, 5)]) },
      { name: "ends inside a length", bytes: Buffer.concat([frame("one"), Buffer.from([0, 0])]) },
      { name: "an empty message", bytes: Buffer.concat([frame("one"), Buffer.alloc(4), frame("lost")]) },
    ];
    const port = await freePort();
    const python = spawn(oraclePython(), ["-W", "ignore", "-c", COLLECTOR_ORACLE, String(port)], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    const lines = createInterface({
      input: (python as ChildProcess & { stdout: NodeJS.ReadableStream }).stdout,
    });
    const next = lines[Symbol.asyncIterator]();
    try {
      expect((await next.next()).value).toBe("listening");
      const petrel = await startCollector();
      for (const stream of streams) {
        python.stdin?.write("\n");
        const answers: string[] = [];
        for (const target of [port, petrel.port]) {
          const sender = await Sender.open(target);
          // Sent in odd-sized pieces, so messages and lengths arrive split.
          for (let at = 0; at < stream.bytes.length; at += 65_521) {
            sender.socket.write(stream.bytes.subarray(at, at + 65_521));
          }
          sender.socket.end();
          answers.push(await sender.rest());
        }
        const intelmq = JSON.parse((await next.next()).value as string) as Record<string, unknown>[];
        const ours = petrel.reports.splice(0);
        expect(answers[1], stream.name).toBe(answers[0]);
        expect(
          ours.map((r) => r.get("raw")),
          stream.name,
        ).toEqual(intelmq.map((r) => r.raw));
        for (const [i, report] of ours.entries()) {
          // IntelMQ's collector adds feed.accuracy itself; Petrel's runtime adds the feed fields.
          const fields = Object.keys(intelmq[i] as object).filter(
            (k) => !k.startsWith("feed.") && k !== "__type",
          );
          expect(report.keys().sort(), stream.name).toEqual(fields.sort());
        }
      }
      expect(streams.map((s) => s.name)).toHaveLength(5);
    } finally {
      python.stdin?.end();
      python.kill();
    }
  });

  it("closes the connection without Ok when a report cannot be stored, so the sender sends it again", async () => {
    let fail = true;
    const stored: Report[] = [];
    const collector = await startCollector(async (report) => {
      if (fail) {
        fail = false;
        throw new Error("publisher cannot confirm");
      }
      stored.push(report);
    });
    const first = await Sender.open(collector.port);
    first.send("message");
    expect(await first.rest()).toBe("");
    expect(stored).toHaveLength(0);
    const again = await Sender.open(collector.port);
    again.send("message");
    expect(await again.expect("Ok")).toBe(true);
    expect(stored.map((r) => decoded(r).toString())).toEqual(["message"]);
    again.socket.end();
    expect(await again.rest()).toBe("End");
  });

  it("serves several connections at once (deviation concurrent-connections)", async () => {
    expect(tcp.deviations?.map((d) => d.id)).toContain("concurrent-connections");
    let release: (() => void) | undefined;
    const collector = await startCollector(async (report) => {
      if (decoded(report).toString() === "slow") await new Promise<void>((r) => (release = r));
      collector.reports.push(report);
    });
    const slow = await Sender.open(collector.port);
    const quick = await Sender.open(collector.port);
    slow.send("slow");
    await expect.poll(() => release !== undefined).toBe(true);
    quick.send("quick");
    expect(await quick.expect("Ok")).toBe(true);
    expect(await slow.expect("Ok", 200)).toBe(false);
    release?.();
    expect(await slow.expect("Ok")).toBe(true);
    expect(collector.reports.map((r) => decoded(r).toString())).toEqual(["quick", "slow"]);
    slow.socket.destroy();
    quick.socket.destroy();
  });

  it("on JetStream: answers Ok only once the report is stored, also across a nats-server restart", async () => {
    const port = await freePort();
    const run = await runCollector(tcp, { ip: "127.0.0.1", port, name: "TCP Feed" });
    try {
      await waitListening(port);
      const sender = await Sender.open(port);
      sender.send("before");
      expect(await sender.expect("Ok")).toBe(true);
      const [first] = await run.reports(1);
      expect(decoded(first as Report).toString()).toBe("before");
      expect(first?.get("feed.name")).toBe("TCP Feed");

      await run.nats.stop();
      sender.send("while down");
      // Not stored, so not acknowledged.
      expect(await sender.expect("Ok", 1500)).toBe(false);
      await run.nats.restart();
      expect(await sender.expect("Ok", 20_000)).toBe(true);
      const [second] = await run.reports(1);
      expect(decoded(second as Report).toString()).toBe("while down");
      sender.socket.destroy();
    } finally {
      await run.dispose();
    }
  });
});
