// Every process a benchmark starts (nats-server, redis-server, bots) is killed when the benchmark
// process exits, also after an error or Ctrl-C, so a failed run leaves no servers behind.
import type { ChildProcess } from "node:child_process";

const children = new Set<ChildProcess>();
const cleanups = new Set<() => void>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  for (const cleanup of cleanups) cleanup();
}

process.once("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

/** Tracks `child` until it exits; returns it. */
export function track<C extends ChildProcess>(child: C): C {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Runs `cleanup` (synchronous, e.g. deleting a temporary directory) at exit unless `done` was called. */
export function atExit(cleanup: () => void): { done(): void } {
  cleanups.add(cleanup);
  return { done: () => cleanups.delete(cleanup) };
}
