// The confirmed publisher against a real nats-server: deduplication by message id, confirmation only
// after storage, retries while the stream is missing, and the in-flight bound.
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { natsForTests } from "../../test-support/jetstream-fixture.ts";
import { startNatsServer } from "../../test-support/nats-server.ts";
import { CompletedInputs } from "./completed-inputs.ts";
import { connectNats } from "./jetstream.ts";
import { ConfirmedPublisher } from "./publisher.ts";

const log = pino({ level: "silent" });
const encoder = new TextEncoder();

describe("confirmed publisher", () => {
  const nats = natsForTests();

  async function stream(name: string) {
    const jsm = await jetstreamManager(nats.nc);
    await jsm.streams.add({
      name,
      subjects: [`${name}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.Memory,
      duplicate_window: 60_000_000_000,
    });
    return async () => (await jsm.streams.info(name)).state.messages;
  }

  it("stores a message once per id and confirms every publish", async () => {
    const count = await stream("DEDUP");
    const publisher = new ConfirmedPublisher(nats.nc, { maxInFlight: 100, log });
    const confirmed: string[] = [];
    for (const id of ["a:1:0", "a:2:0", "a:1:0", "a:3:0", "a:2:0"]) {
      void publisher.publish("DEDUP.x", encoder.encode(id), id, () => confirmed.push(id));
    }
    await publisher.close();
    expect(confirmed.sort()).toEqual(["a:1:0", "a:1:0", "a:2:0", "a:2:0", "a:3:0"]);
    expect(await count()).toBe(3);
    const jsm = await jetstreamManager(nats.nc);
    const first = await jsm.streams.getMessage("DEDUP", { seq: 1 });
    expect(first?.header?.get("Nats-Msg-Id")).toBe("a:1:0");
  });

  it("asks callers to wait at the in-flight bound", async () => {
    await stream("BOUND");
    const publisher = new ConfirmedPublisher(nats.nc, { maxInFlight: 3, log });
    const waits = [0, 1, 2, 3].map((i) =>
      publisher.publish("BOUND.x", encoder.encode("x"), `b:${i}`, () => {}),
    );
    expect(waits.slice(0, 2)).toEqual([undefined, undefined]);
    expect(waits[2]).toBeInstanceOf(Promise);
    await waits[2];
    await publisher.close();
  });

  it("retries until a missing stream exists, then confirms", async () => {
    const publisher = new ConfirmedPublisher(nats.nc, { maxInFlight: 10, log });
    let stored = false;
    void publisher.publish("LATE.x", encoder.encode("late"), "late:1", () => {
      stored = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    expect(stored).toBe(false);
    const count = await stream("LATE");
    await publisher.close();
    expect(stored).toBe(true);
    expect(await count()).toBe(1);
  });

  it("gives consumers the id back, as CompletedInputs reads it from the raw header", async () => {
    await stream("KEYS");
    const publisher = new ConfirmedPublisher(nats.nc, { maxInFlight: 10, log });
    void publisher.publish("KEYS.x", encoder.encode("a"), "bot:12:0:1", () => {});
    await publisher.close();
    await jetstream(nats.nc).publish("KEYS.x", encoder.encode("no id"));
    const jsm = await jetstreamManager(nats.nc);
    await jsm.consumers.add("KEYS", { durable_name: "k", ack_policy: AckPolicy.Explicit });
    const consumer = await jetstream(nats.nc).consumers.get("KEYS", "k");
    const keys: string[] = [];
    for await (const m of await consumer.fetch({ max_messages: 2, expires: 2000 })) {
      keys.push(CompletedInputs.key(m));
      if (m.headers) expect(CompletedInputs.key(m)).toBe(m.headers.get("Nats-Msg-Id"));
      m.ack();
    }
    expect(keys).toEqual(["bot:12:0:1", "#2"]);
  });

  it("resends unconfirmed messages as soon as the connection is back, not after the ack timeout", async () => {
    const own = await startNatsServer();
    const conn = await connectNats({ servers: [own.url] });
    try {
      const jsm = await jetstreamManager(conn);
      await jsm.streams.add({
        name: "RECONNECT",
        subjects: ["RECONNECT.>"],
        storage: StorageType.File,
        duplicate_window: 120_000_000_000,
      });
      const reasons: string[] = [];
      const publisher = new ConfirmedPublisher(conn, {
        maxInFlight: 100_000,
        ackTimeoutMs: 120_000,
        log,
        onRetry: (reason) => reasons.push(reason),
      });
      const N = 20_000;
      let stored = 0;
      const body = encoder.encode("x".repeat(1000));
      for (let i = 0; i < N; i++)
        void publisher.publish(`RECONNECT.${i % 10}`, body, `m${i}`, () => stored++);
      await own.stop(true); // confirmations of whatever was in flight are lost with the server
      await own.restart();
      const started = Date.now();
      await publisher.flush();
      expect(Date.now() - started).toBeLessThan(30_000); // far less than the 120 s ack timeout
      expect(stored).toBe(N);
      expect(reasons).toContain("reconnect");
      expect((await jsm.streams.info("RECONNECT")).state.messages).toBe(N);
      await publisher.close();
    } finally {
      await conn.close();
      await own.dispose();
    }
  }, 60_000);

  it("refuses a message id with a line break", () => {
    const publisher = new ConfirmedPublisher(nats.nc, { maxInFlight: 10, log });
    expect(() => publisher.publish("X.x", encoder.encode("x"), "bad\r\nid", () => {})).toThrow(/line break/);
    void publisher.close();
  });
});
