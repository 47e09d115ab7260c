// A message over the server's max_payload can never be published: the publisher must say so in an
// error log (it keeps the message, so nothing is lost, but a silent stall would hide the cause).
import { Writable } from "node:stream";
import { jetstreamManager } from "@nats-io/jetstream";
import { pino } from "pino";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startNatsServer, type TestNatsServer } from "../../test-support/nats-server.ts";
import { connectNats } from "./jetstream.ts";
import { ConfirmedPublisher } from "./publisher.ts";

let server: TestNatsServer;
beforeAll(async () => {
  server = await startNatsServer();
});
afterAll(async () => {
  await server?.dispose();
});

it("logs an error naming max_payload for a message that is too large to publish", async () => {
  const nc = await connectNats({ servers: [server.url] });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "BIG", subjects: ["big.>"] });
  const lines: string[] = [];
  const log = pino(
    { level: "debug" },
    new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  const publisher = new ConfirmedPublisher(nc, { maxInFlight: 8, log, ackTimeoutMs: 1_000 });
  const maxPayload = nc.info?.max_payload ?? 0;
  expect(maxPayload).toBeGreaterThan(0);
  let stored = false;
  void publisher.publish("big.x", new Uint8Array(maxPayload + 1), "big-1", () => {
    stored = true;
  });
  let small = false;
  void publisher.publish("big.y", new Uint8Array(10), "small-1", () => {
    small = true;
  });
  await new Promise((r) => setTimeout(r, 1_500));
  expect(small).toBe(true);
  expect(stored).toBe(false);
  expect(publisher.inFlight).toBe(1);
  const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 50);
  expect(errors[0]).toMatchObject({ bytes: maxPayload + 1, maxPayload });
  expect(errors[0].msg).toMatch(/max_payload/);
  await nc.close();
});
