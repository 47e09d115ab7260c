// Remembers events a sink already took in a batch that failed later on. The runtime writes such a
// batch again (event by event, or after a redelivery), and an output whose sink cannot drop a copy
// itself (a TCP receiver, a mail recipient) skips these instead of delivering them twice.
import type { Event } from "../../bot-runtime/src/event/message.ts";

const FORGET_AFTER_MS = 10 * 60_000;

export class DeliveredBefore {
  readonly #entries = new Map<string, { count: number; at: number }>();

  /** Notes events the sink took although their batch failed. */
  remember(events: readonly Event[]): void {
    const at = Date.now();
    for (const event of events) {
      const key = event.serialize();
      this.#entries.set(key, { count: (this.#entries.get(key)?.count ?? 0) + 1, at });
    }
  }

  /** The events still to deliver: those remembered are left out, once each. */
  pending(events: readonly Event[]): readonly Event[] {
    if (this.#entries.size === 0) return events;
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (now - entry.at > FORGET_AFTER_MS) this.#entries.delete(key);
    return events.filter((event) => {
      const key = event.serialize();
      const entry = this.#entries.get(key);
      if (entry === undefined) return true;
      if (--entry.count === 0) this.#entries.delete(key);
      return false;
    });
  }
}
