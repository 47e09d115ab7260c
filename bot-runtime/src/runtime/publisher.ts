// Publishing to JetStream with storage confirmation, pipelined: many messages in flight, each with a
// deterministic Nats-Msg-Id, one reply subscription for all acknowledgements (cheaper than a request
// per message). A message is only reported stored once the server confirmed it; refusals (stream full,
// no stream, NATS restarting) and lost acknowledgements are retried with the same id, so the server
// drops any copy it already has. Nothing is ever given up on: a full pipeline slows producers down.
import { createInbox, type MsgHdrs, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import type { Logger } from "pino";

/**
 * The Nats-Msg-Id header, encoded once: publishing only calls encode() on headers, and a full MsgHdrs
 * (a Map, key canonicalisation, validation, text building) per message costs more than the rest of
 * the publish. Resends reuse the same bytes.
 */
class MsgIdHeader {
  readonly #bytes: Uint8Array;
  constructor(msgId: string) {
    if (/[\r\n]/.test(msgId)) throw new Error(`message id ${JSON.stringify(msgId)} contains a line break`);
    // Buffer.from takes small buffers from a shared pool instead of one allocation each.
    this.#bytes = Buffer.from(`NATS/1.0\r\nNats-Msg-Id: ${msgId}\r\n\r\n`);
  }
  encode(): Uint8Array {
    return this.#bytes;
  }
}

interface Pending {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly hdrs: MsgHdrs;
  readonly onStored: () => void;
  attempts: number;
  sentAt: number;
  retryTimer?: NodeJS.Timeout;
}

export interface PublisherOptions {
  /** Messages awaiting confirmation, at most; publish() makes callers wait beyond it. */
  maxInFlight: number;
  /** Resend a message whose acknowledgement has not arrived after this long. */
  ackTimeoutMs?: number;
  log: Logger;
  /** Called on each refusal or timeout, for metrics. */
  onRetry?: (reason: string) => void;
}

const MAX_RETRY_DELAY_MS = 5_000;
const decoder = new TextDecoder();

export class ConfirmedPublisher {
  readonly #nc: NatsConnection;
  readonly #prefix: string;
  readonly #sub: Subscription;
  // Numeric keys: string keys would be internalised by the Map on every set and get.
  readonly #pending = new Map<number, Pending>();
  readonly #waiters: Array<() => void> = [];
  readonly #idle: Array<() => void> = [];
  readonly #options: Required<Omit<PublisherOptions, "onRetry">> & Pick<PublisherOptions, "onRetry">;
  readonly #sweeper: NodeJS.Timeout;
  #next = 0;
  #closed = false;

  constructor(nc: NatsConnection, options: PublisherOptions) {
    this.#nc = nc;
    this.#options = { ackTimeoutMs: 10_000, ...options };
    this.#prefix = `${createInbox()}.`;
    this.#sub = nc.subscribe(`${this.#prefix}*`, {
      callback: (error, msg) => {
        if (error) return;
        this.#onReply(Number(msg.subject.slice(this.#prefix.length)), msg.data, msg.headers);
      },
    });
    this.#sweeper = setInterval(() => this.#resendOverdue(), Math.max(250, this.#options.ackTimeoutMs / 4));
    this.#sweeper.unref();
    void this.#resendOnReconnect();
  }

  /**
   * After a reconnect, confirmations of messages sent before it will not come: resend them at once
   * (same ids, so the server drops what it already stored) instead of waiting out the ack timeout.
   */
  async #resendOnReconnect(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (this.#closed) return;
      if (status.type !== "reconnect") continue;
      for (const [key, p] of this.#pending) {
        if (p.retryTimer) continue; // waiting to retry a refusal anyway
        this.#options.onRetry?.("reconnect");
        this.#send(key, p);
      }
    }
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Publishes `data` to `subject`; `onStored` runs once the server has stored it (or already had it).
   * Returns a promise only when the in-flight bound is reached: await it before publishing more.
   */
  publish(subject: string, data: Uint8Array, msgId: string, onStored: () => void): undefined | Promise<void> {
    if (this.#closed) throw new Error("publisher is closed");
    const hdrs = new MsgIdHeader(msgId) as unknown as MsgHdrs;
    const key = this.#next++;
    const pending: Pending = { subject, data, hdrs, onStored, attempts: 0, sentAt: 0 };
    this.#pending.set(key, pending);
    this.#send(key, pending);
    if (this.#pending.size < this.#options.maxInFlight) return undefined;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves once every message published so far is stored. */
  flush(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sub.unsubscribe();
  }

  #send(key: number, p: Pending): void {
    p.attempts++;
    p.sentAt = Date.now();
    try {
      this.#nc.publish(p.subject, p.data, { headers: p.hdrs, reply: this.#prefix + key });
    } catch (error) {
      // Closed or overflowing connection buffer: the sweeper resends after the timeout. A message larger
      // than the server's max_payload fails here every time, so say so loudly (once per attempt cycle).
      const tooLarge = p.data.length > (this.#nc.info?.max_payload ?? Number.POSITIVE_INFINITY);
      if (tooLarge) {
        this.#options.log.error(
          {
            subject: p.subject,
            bytes: p.data.length,
            maxPayload: this.#nc.info?.max_payload,
            attempts: p.attempts,
          },
          "Message exceeds the NATS server's max_payload and cannot be published; split the input (e.g. the collector's chunk_size) or raise max_payload.",
        );
      } else {
        this.#options.log.debug({ err: error }, "Publish deferred.");
      }
    }
  }

  #onReply(key: number, data: Uint8Array, hdrs: MsgHdrs | undefined): void {
    const p = this.#pending.get(key);
    if (!p) return; // a late reply to a message already confirmed through a resend
    let refusal: string | undefined;
    if (hdrs && hdrs.code >= 300) {
      refusal = `${hdrs.code} ${hdrs.description}`; // e.g. 503: no stream listens yet
    } else {
      const text = decoder.decode(data); // a short JSON PubAck
      if (text.includes('"error"')) {
        const reply = JSON.parse(text) as { error?: { description?: string; code?: number } };
        refusal = `${reply.error?.code ?? ""} ${reply.error?.description ?? "refused"}`;
      }
    }
    if (refusal !== undefined) {
      this.#retryLater(key, p, refusal);
      return;
    }
    this.#confirm(key, p);
  }

  #confirm(key: number, p: Pending): void {
    if (p.retryTimer) clearTimeout(p.retryTimer);
    this.#pending.delete(key);
    p.onStored();
    if (this.#pending.size < this.#options.maxInFlight) {
      for (const wake of this.#waiters.splice(0)) wake();
    }
    if (this.#pending.size === 0) for (const wake of this.#idle.splice(0)) wake();
  }

  #retryLater(key: number, p: Pending, reason: string): void {
    this.#options.onRetry?.(reason);
    if (p.attempts === 1 || p.attempts % 20 === 0) {
      this.#options.log.warn(
        { subject: p.subject, reason, attempts: p.attempts },
        "JetStream refused a message; retrying.",
      );
    }
    const delay = Math.min(MAX_RETRY_DELAY_MS, 50 * 2 ** Math.min(p.attempts, 10));
    p.sentAt = Number.POSITIVE_INFINITY; // not overdue while waiting to retry
    p.retryTimer = setTimeout(() => {
      p.retryTimer = undefined;
      if (this.#pending.has(key)) this.#send(key, p);
    }, delay);
  }

  #resendOverdue(): void {
    const deadline = Date.now() - this.#options.ackTimeoutMs;
    for (const [key, p] of this.#pending) {
      if (p.sentAt < deadline) {
        this.#options.onRetry?.("timeout");
        this.#send(key, p);
      }
    }
  }
}
