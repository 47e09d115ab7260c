// Remembers the inputs a bot process finished, so that a copy arriving again after a NATS restart is
// acknowledged instead of processed twice.
//
// Why: a publish is deduplicated by its Nats-Msg-Id only while the server remembers the id. After a
// restart nats-server rebuilds that memory from the messages still stored, so the id of a message
// already consumed (deleted from the work queue) is forgotten. Around a restart two things happen:
// a publisher never gets the confirmation of a message that was stored and consumed, and resends it;
// a bot's acknowledgement is lost, so its input comes back and its outputs are re-published. Both
// copies carry the id of a message this process finished just before the connection dropped.
import type { JsMsg } from "@nats-io/jetstream";

/** How many finished inputs are remembered (the copies come from the last moments before a drop). */
const REMEMBERED = 32_768;
/** How long after a disconnect copies are looked for (the default duplicate window of a pipeline). */
const WATCH_MS = 10 * 60_000;
/**
 * After a reconnect, how long inputs finished are still suspects: their acknowledgements may have left
 * while the connection was down, or reach the restarted server after it redelivered the inputs.
 */
const SETTLE_MS = 30_000;

export class CompletedInputs {
  readonly #ring: Array<string | undefined>;
  #next = 0;
  #suspects?: Set<string>;
  #until = 0;
  /** While disconnected (Infinity) or settling after a reconnect: finished inputs are suspects too. */
  #unsettledUntil = 0;

  constructor(size = REMEMBERED) {
    this.#ring = new Array(size);
  }

  /** The identity of an input: its Nats-Msg-Id (a resend's copy has the same), else its sequence. */
  static key(m: JsMsg): string {
    return msgIdOf(m) || `#${m.info.streamSequence}`;
  }

  /** Records an input whose outputs are all stored (and whose acknowledgement is being sent). */
  completed(key: string, now?: number): void {
    if (this.#unsettledUntil !== 0) {
      if ((now ?? Date.now()) < this.#unsettledUntil) this.#suspects?.add(key);
      else this.#unsettledUntil = 0;
    }
    this.#ring[this.#next] = key;
    this.#next = (this.#next + 1) % this.#ring.length;
  }

  /** The connection dropped: inputs finished so far may come back; watch for them for a while. */
  disconnected(): void {
    const suspects = this.#suspects ?? new Set<string>();
    for (const key of this.#ring) if (key !== undefined) suspects.add(key);
    this.#suspects = suspects;
    this.#until = Number.POSITIVE_INFINITY;
    this.#unsettledUntil = Number.POSITIVE_INFINITY;
  }

  /** The connection is back: acknowledgements sent from now on arrive. */
  reconnected(now = Date.now()): void {
    this.#until = now + WATCH_MS;
    this.#unsettledUntil = now + SETTLE_MS;
  }

  /** Whether `key` is a copy of an input finished before the last disconnect (or while it settled). */
  isCopy(key: string, now = Date.now()): boolean {
    if (this.#suspects === undefined) return false;
    if (now > this.#until) {
      this.#suspects = undefined;
      return false;
    }
    return this.#suspects.has(key);
  }
}

const MSG_ID_LINE = Buffer.from("\r\nNats-Msg-Id:");

/**
 * The Nats-Msg-Id header, read from the message's header bytes where nats.js keeps them: decoding all
 * headers (text, a Map, key handling) for every input costs more than a tenth of handling a small
 * event. Same result as `m.headers?.get("Nats-Msg-Id")`, which is the fallback.
 */
function msgIdOf(m: JsMsg): string | undefined {
  const msg = (m as unknown as { msg?: { _rdata?: unknown; _msg?: { hdr?: unknown } } }).msg;
  const bytes = msg?._rdata;
  const length = msg?._msg?.hdr;
  if (!(bytes instanceof Uint8Array) || typeof length !== "number") return m.headers?.get("Nats-Msg-Id");
  if (length <= 0) return undefined;
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(length, bytes.length));
  const at = head.indexOf(MSG_ID_LINE);
  if (at < 0) return undefined;
  const start = at + MSG_ID_LINE.length;
  const end = head.indexOf(13, start); // \r ends the line
  return head.toString("utf8", start, end < 0 ? head.length : end).trim();
}
