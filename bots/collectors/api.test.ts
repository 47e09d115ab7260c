// The API collector: pushes over TCP (with the bearer token) and over a Unix socket become reports as
// IntelMQ's API collector makes them; on a real nats-server a push is answered 200 only once its report
// is stored, and waits while NATS is down.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import type { Collector } from "../../bot-runtime/src/sdk/bot.ts";
import { freePort } from "../../bot-runtime/test-support/nats-server.ts";
import api from "./api.ts";
import { CollectorPipeline, createCollector, decodedRaw, testContext } from "./test-support/harness.ts";

const dir = mkdtempSync(join(tmpdir(), "petrel-api-collector-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

function push(
  target: { port: number } | { socketPath: string },
  body: string | Buffer,
  options: { token?: string; method?: string; path?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...target,
        host: "127.0.0.1",
        method: options.method ?? "POST",
        path: options.path ?? "/intelmq/push",
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Starts the collector (as the runtime would) and returns it with its stop switch and reports. */
async function listening(params: Record<string, unknown>, emit?: (r: Report) => Promise<void>) {
  const stop = new AbortController();
  const collector: Collector = await createCollector(api, params, testContext(undefined, stop.signal));
  const reports: Report[] = [];
  const running = collector.collect(
    emit ??
      (async (report) => {
        reports.push(report);
      }),
  );
  return {
    reports,
    async stop() {
      stop.abort();
      await running;
    },
  };
}

async function waitForListening(port: number) {
  for (let i = 0; i < 100; i++) {
    const ok = await push({ port }, "", { method: "GET", path: "/" }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("not listening");
}

describe("collectors.api", () => {
  it("makes each push a report as IntelMQ does (feed API / APICollector, raw = the body)", async () => {
    const port = await freePort();
    const bot = await listening({ port, api_token: "s3cret" });
    try {
      await waitForListening(port);
      expect((await push({ port }, "192.0.2.1,scanner\n", { token: "s3cret" })).status).toBe(200);
      expect((await push({ port }, Buffer.from([0xff, 0x00, 0x41]), { token: "s3cret" })).status).toBe(200);
      expect(bot.reports).toHaveLength(2);
      const [first, second] = bot.reports as [Report, Report];
      expect(first.get("feed.name")).toBe("API");
      expect(first.get("feed.provider")).toBe("APICollector");
      expect(first.has("feed.url")).toBe(false);
      expect(first.get("time.observation")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
      expect(decodedRaw(first)).toBe("192.0.2.1,scanner\n");
      expect(Buffer.from(second.get("raw") as string, "base64")).toEqual(Buffer.from([0xff, 0x00, 0x41]));
    } finally {
      await bot.stop();
    }
  });

  it("deviation api-token-required: refuses pushes without the token, and starting without one", async () => {
    const port = await freePort();
    const bot = await listening({ port, api_token: "s3cret", name: "Partner feed" });
    try {
      await waitForListening(port);
      const none = await push({ port }, "x");
      expect(none.status).toBe(401);
      expect(none.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect((await push({ port }, "x", { token: "wrong" })).status).toBe(401);
      expect((await push({ port }, "x", { token: "s3cret" })).status).toBe(200);
      expect(bot.reports.map((r) => r.get("feed.name"))).toEqual(["Partner feed"]);
    } finally {
      await bot.stop();
    }
    await expect(createCollector(api, { port })).rejects.toThrow(/api_token/);
    const open = await listening({ port, allow_unauthenticated: true });
    try {
      await waitForListening(port);
      expect((await push({ port }, "anyone")).status).toBe(200);
    } finally {
      await open.stop();
    }
  });

  it("deviation api-answers-after-storage: 503 when the report cannot be stored, 400 for nothing", async () => {
    const port = await freePort();
    const bot = await listening({ port, allow_unauthenticated: true }, async (report) => {
      const body = Buffer.from(report.get("raw") as string, "base64").toString();
      const error = new Error(
        body === "too large" ? "exceeds the NATS server's max_payload" : "stream unavailable",
      );
      if (body === "too large") error.name = "OutputTooLargeError";
      throw error;
    });
    try {
      await waitForListening(port);
      expect((await push({ port }, "data")).status).toBe(503);
      expect((await push({ port }, "too large")).status).toBe(413);
      expect((await push({ port }, "")).status).toBe(400);
      expect((await push({ port }, "data", { path: "/other" })).status).toBe(404);
      expect((await push({ port }, "", { method: "GET" })).status).toBe(405);
    } finally {
      await bot.stop();
    }
  });

  it("refuses bodies over max_body_size", async () => {
    const port = await freePort();
    const bot = await listening({ port, allow_unauthenticated: true, max_body_size: 10 });
    try {
      await waitForListening(port);
      expect((await push({ port }, "0123456789")).status).toBe(200);
      expect((await push({ port }, "0123456789+")).status).toBe(413);
      expect(bot.reports).toHaveLength(1);
    } finally {
      await bot.stop();
    }
  });

  it("listens on a Unix socket with the permissions asked for", async () => {
    const socketPath = join(dir, "api.sock");
    const bot = await listening({ use_socket: true, socket_path: socketPath, socket_perms: "660" });
    try {
      await expect.poll(() => statSync(socketPath, { throwIfNoEntry: false })?.isSocket()).toBe(true);
      expect(statSync(socketPath).mode & 0o777).toBe(0o660);
      expect((await push({ socketPath }, "over the socket")).status).toBe(200);
      expect(bot.reports.map(decodedRaw)).toEqual(["over the socket"]);
    } finally {
      await bot.stop();
    }
    expect(statSync(socketPath, { throwIfNoEntry: false })).toBeUndefined();
  });

  it("answers 200 only once the report is stored in JetStream, waiting while NATS is down", async () => {
    const pipeline = await CollectorPipeline.start();
    const port = await freePort();
    const bot = pipeline.run(api, { port, api_token: "s3cret" });
    try {
      await waitForListening(port);
      expect((await push({ port }, "first", { token: "s3cret" })).status).toBe(200);
      expect((await pipeline.reports(1)).map(decodedRaw)).toEqual(["first"]);

      await pipeline.nats.stop();
      let answered: Answer | undefined;
      const pending = push({ port }, "while down", { token: "s3cret" }).then((a) => (answered = a));
      await new Promise((r) => setTimeout(r, 1500));
      expect(answered).toBeUndefined(); // not stored, so not confirmed
      await pipeline.nats.restart();
      await pending;
      expect(answered?.status).toBe(200);
      expect((await pipeline.reports(1)).map(decodedRaw)).toEqual(["while down"]);
    } finally {
      await bot.stop();
      await pipeline.dispose();
    }
  });
});
