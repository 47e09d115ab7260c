// Waiting that a stopping bot cuts short: resolves (never rejects) after `ms` or as soon as `signal`
// aborts, so retry loops end promptly on shutdown and check the signal themselves.

/** Resolves after `ms` (Infinity: only on abort) or when `signal` aborts, whichever comes first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = Number.isFinite(ms) ? setTimeout(done, ms) : undefined;
    function done() {
      if (timer) clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}
