// The child-process side of the private servers tests start (redis-server, FerretDB, PostgreSQL,
// MariaDB, ...): spawn the server, wait until it is ready or fail with what it printed, stop it.
import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { rmSync } from "node:fs";

/** Sends `signal` to a running process and resolves once it has exited (at once if it is not running). */
export function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  return exited;
}

export interface ServerProcessOptions {
  /** For error messages, e.g. "redis-server". */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** cwd, env, stdio... stdout and stderr, when piped, are kept for the error message. */
  readonly spawn?: SpawnOptions;
  /** Resolves once the server serves; `exited` is aborted when the process ends. */
  ready(exited: AbortSignal): Promise<void>;
  /** More for the error message when the server did not start (e.g. its log file). */
  details?(): string;
}

/**
 * Spawns a server and resolves with it once `ready` resolves. When the process exits first or `ready`
 * fails, the process is killed and the error names the server and carries what it printed.
 */
export async function startServerProcess(options: ServerProcessOptions): Promise<ChildProcess> {
  const child = spawn(options.command, options.args, { stdio: ["ignore", "pipe", "pipe"], ...options.spawn });
  let output = "";
  child.stdout?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr?.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.once("error", () => undefined);
  const exit = new AbortController();
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code, signal) => {
      exit.abort();
      reject(new Error(`${options.name} exited (${code ?? signal})`));
    }),
  );
  exited.catch(() => undefined);
  try {
    await Promise.race([options.ready(exit.signal), exited]);
  } catch (error) {
    await stopProcess(child, "SIGKILL");
    const details = options.details?.() ?? "";
    throw new Error(`${options.name} did not start: ${(error as Error).message}\n${output}${details}`);
  }
  return child;
}

/**
 * Resolves once `attempt` resolves true; tries every 100 ms for `timeoutMs`, and stops early when
 * `stop` is aborted (the server exited).
 */
export async function waitUntil(
  attempt: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  stop?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stop?.aborted) throw new Error(`stopped waiting for ${what}`);
    if (await attempt()) return;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A server whose files live in one directory of its own. */
export interface ServerInDirectory {
  /** Stops the server with `signal`; its files survive for restart(). */
  stop(signal: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same files. */
  restart(): Promise<void>;
  /** Stops it with `signal`, deletes its directory and runs `cleanup`. */
  dispose(signal: NodeJS.Signals): Promise<void>;
}

/**
 * Starts a server as startServerProcess does, its files in `dir`, then runs `setup` against it (users,
 * databases). When either fails, the server is killed, `dir` deleted, `cleanup` run (what the caller
 * started besides), and the error thrown.
 */
export async function startServerInDirectory(
  options: ServerProcessOptions,
  dir: string,
  more: { setup?: () => Promise<void>; cleanup?: () => void } = {},
): Promise<ServerInDirectory> {
  let child: ChildProcess | undefined;
  const start = async () => {
    child = await startServerProcess(options);
  };
  const dispose = async (signal: NodeJS.Signals) => {
    await stopProcess(child, signal);
    rmSync(dir, { recursive: true, force: true });
    more.cleanup?.();
  };
  try {
    await start();
    await more.setup?.();
  } catch (error) {
    await dispose("SIGKILL");
    throw error;
  }
  return { stop: (signal) => stopProcess(child, signal), restart: start, dispose };
}
