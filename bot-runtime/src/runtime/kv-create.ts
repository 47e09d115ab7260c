// Creating KV keys that must not exist yet (a deduplicator marks each new event this way), pipelined:
// one publish with Nats-Expected-Last-Subject-Sequence: 0 per key and one reply subscription for all
// answers. nats.js's create makes a request per key instead (a mux entry, a timer and two error objects
// each), which costs a deduplicator more than its hashing. Only the common answer is decided here,
// "stored"; a refusal for an existing subject goes back to the library's create, which also knows how
// to re-create a key over a delete marker.
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";

const EXPECT_NEW = Buffer.from("NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 0\r\n\r\n");
/** JetStream's error code for a failed expected-last-sequence check. */
const WRONG_LAST_SEQUENCE = 10071;
const decoder = new TextDecoder();

/** The header object publish() needs: it only calls encode(). */
const expectNewHeader = { encode: () => EXPECT_NEW } as unknown as MsgHdrs;

interface Waiting {
  resolve(outcome: "stored" | "exists"): void;
  reject(error: Error): void;
  sentAt: number;
}

export class KvCreateFastPath {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  readonly #waiting = new Map<number, Waiting>();
  readonly #timeoutMs: number;
  readonly #sweeper: NodeJS.Timeout;
  #next = 0;

  constructor(nc: NatsConnection, timeoutMs = 5_000) {
    this.#nc = nc;
    this.#timeoutMs = timeoutMs;
    this.#prefix = `${createInbox()}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (!error) this.#onReply(Number(msg.subject.slice(this.#prefix.length)), msg.data, msg.headers);
      },
    });
    // One timer for all creates rather than one each.
    this.#sweeper = setInterval(() => this.#expire(), Math.max(100, timeoutMs / 5));
    this.#sweeper.unref();
  }

  /**
   * Stores `data` on the KV subject `subject` (`$KV.<bucket>.<key>`) if the subject holds nothing yet.
   * "exists": the subject has a message (a value, or a delete marker the caller must look at).
   * Rejects on any other refusal or when no answer comes in time, as a request would.
   */
  create(subject: string, data: Uint8Array): Promise<"stored" | "exists"> {
    return new Promise((resolve, reject) => {
      const key = this.#next++;
      this.#waiting.set(key, { resolve, reject, sentAt: Date.now() });
      try {
        this.#nc.publish(subject, data, { headers: expectNewHeader, reply: this.#prefix + key });
      } catch (error) {
        this.#waiting.delete(key);
        reject(error as Error);
      }
    });
  }

  close(): void {
    clearInterval(this.#sweeper);
    this.#sub.unsubscribe();
    for (const w of this.#waiting.values()) w.reject(new Error("KV create: connection closed"));
    this.#waiting.clear();
  }

  #onReply(key: number, data: Uint8Array, hdrs: MsgHdrs | undefined): void {
    const w = this.#waiting.get(key);
    if (!w) return;
    this.#waiting.delete(key);
    if (hdrs && hdrs.code >= 300) {
      w.reject(new Error(`KV create refused: ${hdrs.code} ${hdrs.description}`));
      return;
    }
    const reply = JSON.parse(decoder.decode(data)) as { error?: { err_code?: number; description?: string } };
    if (!reply.error) w.resolve("stored");
    else if (reply.error.err_code === WRONG_LAST_SEQUENCE) w.resolve("exists");
    else w.reject(new Error(`KV create refused: ${reply.error.description ?? "unknown error"}`));
  }

  #expire(): void {
    const deadline = Date.now() - this.#timeoutMs;
    for (const [key, w] of this.#waiting) {
      if (w.sentAt >= deadline) continue;
      this.#waiting.delete(key);
      w.reject(new Error("KV create: no answer in time"));
    }
  }
}
