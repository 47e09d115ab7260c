// A keyed work queue as client-go's: a key is queued at most once (adds while it waits are merged), a
// key being processed is never handed out twice (an add meanwhile queues it again when it is done),
// retries wait per key with exponential backoff, and retries together are held to a rate.

export interface RateLimits {
  /** First retry delay of a key; doubles per failure (default 5 ms). */
  baseDelayMs: number;
  /** Longest retry delay of a key (default 5 min). */
  maxDelayMs: number;
  /** Retries per second over all keys, and the burst above it (defaults 10 and 100). */
  qps: number;
  burst: number;
}

export const DEFAULT_RATE_LIMITS: RateLimits = { baseDelayMs: 5, maxDelayMs: 300_000, qps: 10, burst: 100 };

/** Per-key exponential backoff combined with a token bucket over all keys: the longer delay wins. */
export class RateLimiter {
  readonly #limits: RateLimits;
  readonly #failures = new Map<string, number>();
  #tokens: number;
  #last: number;
  readonly #now: () => number;

  constructor(limits: Partial<RateLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...limits };
    this.#tokens = this.#limits.burst;
    this.#now = now;
    this.#last = now();
  }

  /** The delay before the next retry of `key`, counting this failure. */
  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const backoff = Math.min(this.#limits.maxDelayMs, this.#limits.baseDelayMs * 2 ** failures);
    return Math.max(backoff, this.#bucketDelay());
  }

  #bucketDelay(): number {
    const now = this.#now();
    const { qps, burst } = this.#limits;
    this.#tokens = Math.min(burst, this.#tokens + ((now - this.#last) / 1000) * qps);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / qps) * 1000);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.#failures.delete(key);
  }
}

export class WorkQueue {
  readonly #queue: string[] = [];
  /** Keys waiting to be processed (queued, or to queue again when their processing ends). */
  readonly #dirty = new Set<string>();
  readonly #processing = new Set<string>();
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  readonly #waiters: Array<(key: string | undefined) => void> = [];
  readonly limiter: RateLimiter;
  #shutDown = false;

  constructor(limits: Partial<RateLimits> = {}) {
    this.limiter = new RateLimiter(limits);
  }

  /** Keys waiting to be processed. */
  get depth(): number {
    return this.#queue.length;
  }

  add(key: string): void {
    if (this.#shutDown || this.#dirty.has(key)) return;
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      waiter(key);
    } else this.#queue.push(key);
  }

  /** Adds the key after a delay; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (this.#shutDown) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
  }

  /** Adds the key again after its backoff (a failed reconcile). */
  addRateLimited(key: string): void {
    this.addAfter(key, this.limiter.when(key));
  }

  /** Resets the key's backoff (a successful reconcile). */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  /** The next key to process, waiting for one; undefined once the queue is shut down. */
  get(): Promise<string | undefined> {
    if (this.#shutDown) return Promise.resolve(undefined);
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#dirty.delete(key);
      this.#processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Marks the key's processing finished; it is queued again if it was added meanwhile. */
  done(key: string): void {
    this.#processing.delete(key);
    if (!this.#dirty.has(key)) return;
    this.#dirty.delete(key);
    this.add(key);
  }

  shutDown(): void {
    this.#shutDown = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(undefined);
  }
}
