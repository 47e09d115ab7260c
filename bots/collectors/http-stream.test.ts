// The HTTP stream collector against a local streaming server: the same reports as IntelMQ's stream
// collector (library mode) for line ends split across chunks, keep-alive blank lines and whitespace;
// reconnection when the stream ends; reading paced by the storage of reports; a clean stop.
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import httpStream from "./http-stream.ts";
import { createCollector, httpServer, type TestServer, testContext } from "./test-support/harness.ts";

const ORACLE = `
import json, os, sys
from intelmq.lib.bot import BotLibSettings
from intelmq.bots.collectors.http.collector_http_stream import HTTPStreamCollectorBot
for line in sys.stdin:
    params = json.loads(line)
    bot = HTTPStreamCollectorBot("oracle-stream", settings=BotLibSettings | {"logging_level": "CRITICAL", **params})
    try:
        bot.process()
        out = bot._Bot__destination_pipeline.state.get("output", [])
        print(json.dumps({"reports": [json.loads(m) if isinstance(m, str) else dict(m) for m in out]}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
sys.stdout.flush()
os._exit(0)
`;

// Pieces written one by one with pauses, so line ends fall across chunk boundaries.
const PIECES = [
  "first line\r",
  "\nsecond line\n",
  "\n\n   \n",
  "  padded line \t\n",
  "third\rfourth\r\n",
  "ünïcödé line\n",
  "last line without end",
];

let server: TestServer;
let connections = 0;
let refused = 0;
const open = new Set<ServerResponse>();

async function writeSlowly(res: ServerResponse, pieces: readonly (string | Buffer)[]) {
  for (const piece of pieces) {
    res.write(piece);
    await new Promise((r) => setTimeout(r, 15));
  }
}

beforeAll(async () => {
  server = await httpServer(async (req, res) => {
    if (req.url === "/finite") {
      res.writeHead(200, { "content-type": "text/plain" });
      await writeSlowly(res, PIECES);
      res.end();
    } else if (req.url === "/binary") {
      res.writeHead(200);
      res.end(
        Buffer.concat([Buffer.from("ok\n"), Buffer.from([0xff, 0xfe, 0x41, 0x0a]), Buffer.from("after\n")]),
      );
    } else if (req.url === "/live") {
      connections++;
      res.writeHead(200, { "content-type": "text/plain" });
      open.add(res);
      res.on("close", () => open.delete(res));
      await writeSlowly(res, [`connection ${connections} line 1\n`, `connection ${connections} line 2\n`]);
      if (connections === 1) res.end(); // the first stream ends; the collector comes back
    } else if (req.url === "/flood") {
      res.writeHead(200);
      const more = () => {
        while (res.write(`${"x".repeat(100)}\n`)) {
          // until the socket is full
        }
        res.once("drain", more);
      };
      open.add(res);
      res.on("close", () => open.delete(res));
      more();
    } else {
      refused++;
      res.writeHead(503);
      res.end();
    }
  });
});

afterAll(async () => {
  for (const res of open) res.destroy();
  await server?.close();
});

const text = (r: Report) => Buffer.from(r.get("raw") as string, "base64").toString("utf8");

/** Runs the collector until `until` says so, then stops it (as the runtime does) and waits for it. */
async function run(params: Record<string, unknown>, until: (reports: Report[]) => boolean) {
  const stop = new AbortController();
  const collector = await createCollector(httpStream, params, testContext(undefined, stop.signal));
  const reports: Report[] = [];
  const running = collector.collect(async (report) => {
    reports.push(report);
    if (until(reports)) stop.abort();
  });
  await running;
  await collector.close?.();
  return reports;
}

describe("collectors.http_stream", () => {
  it("makes the same reports as IntelMQ's stream collector", async () => {
    for (const strip of [true, false]) {
      const params = { http_url: `${server.url}/finite`, strip_lines: strip };
      const [intelmq] = await runOracle<unknown, { reports: Record<string, unknown>[] }>(ORACLE, [params]);
      const expected = (intelmq?.reports ?? []).map((r) => ({ "feed.url": r["feed.url"], raw: r.raw }));
      expect(expected.length).toBeGreaterThan(5);
      const reports = await run({ ...params, reconnect_delay: 60 }, (r) => r.length === expected.length);
      expect(
        reports.map((r) => ({ "feed.url": r.get("feed.url"), raw: r.get("raw") })),
        String(strip),
      ).toEqual(expected);
    }
  });

  it("reconnects when the stream ends and stops cleanly while connected", async () => {
    connections = 0;
    const reports = await run(
      { http_url: `${server.url}/live`, reconnect_delay: 0.05 },
      (r) => r.length === 4,
    );
    expect(reports.map(text)).toEqual([
      "connection 1 line 1",
      "connection 1 line 2",
      "connection 2 line 1",
      "connection 2 line 2",
    ]);
    expect(connections).toBe(2);
  });

  it("reads the next line only once the report of the previous one is stored", async () => {
    const stop = new AbortController();
    const collector = await createCollector(
      httpStream,
      { http_url: `${server.url}/flood` },
      testContext(undefined, stop.signal),
    );
    let emitted = 0;
    let release: () => void = () => undefined;
    const running = collector.collect(async () => {
      emitted++;
      if (emitted === 3) await new Promise<void>((resolve) => (release = resolve));
    });
    await expect.poll(() => emitted).toBe(3);
    await new Promise((r) => setTimeout(r, 200));
    expect(emitted).toBe(3); // the server keeps sending, but nothing more is taken meanwhile
    stop.abort();
    release();
    await running;
    await collector.close?.();
  });

  it("deviation stream-lines-as-bytes: a line that is not UTF-8 is sent as its bytes", async () => {
    const [intelmq] = await runOracle<unknown, { error?: string }>(ORACLE, [
      { http_url: `${server.url}/binary` },
    ]);
    expect(intelmq?.error).toBeDefined();
    const reports = await run(
      { http_url: `${server.url}/binary`, reconnect_delay: 60 },
      (r) => r.length === 3,
    );
    expect(Buffer.from(reports[1]?.get("raw") as string, "base64")).toEqual(Buffer.from([0xff, 0xfe, 0x41]));
    expect(text(reports[2] as Report)).toBe("after");
  });

  it("keeps trying when the server refuses, without spinning", async () => {
    const stop = new AbortController();
    const collector = await createCollector(
      httpStream,
      { http_url: `${server.url}/unavailable`, reconnect_delay: 0.05 },
      testContext(undefined, stop.signal),
    );
    const running = collector.collect(async () => undefined);
    await new Promise((r) => setTimeout(r, 400));
    stop.abort();
    await running; // no error escapes
    // The attempts back off: at 0, 0.05, 0.15 and 0.35 s.
    expect(refused).toBeGreaterThanOrEqual(3);
    expect(refused).toBeLessThanOrEqual(5);
    await collector.close?.();
  });
});
