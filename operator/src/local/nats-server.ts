// The private nats-server of local mode: JetStream on 127.0.0.1, a free port, its store in the data
// directory. It runs in its own process group so a terminal's Ctrl-C reaches petrelctl only, which
// stops the bots first (they drain through NATS) and the server last.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const MIN_VERSION = [2, 14] as const;
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export const NO_NATS_SERVER_HINT =
  "petrelctl: no nats-server found: run scripts/ensure-nats-server.sh (builds nats-server 2.15 with Go), install nats-server >= 2.14 on PATH, or set NATS_URL to a JetStream server";

function versionOf(binary: string): number[] | undefined {
  try {
    const text = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 10_000 });
    const m = /(\d+)\.(\d+)\.(\d+)/.exec(text);
    return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
  } catch {
    return undefined;
  }
}

function recentEnough(version: number[] | undefined): boolean {
  if (!version) return false;
  const [major = 0, minor = 0] = version;
  return major > MIN_VERSION[0] || (major === MIN_VERSION[0] && minor >= MIN_VERSION[1]);
}

/**
 * A nats-server binary: $PETREL_NATS_SERVER, the one scripts/ensure-nats-server.sh cached under .cache/
 * (newest first), or nats-server on PATH if recent enough.
 */
export function findNatsServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.PETREL_NATS_SERVER && existsSync(env.PETREL_NATS_SERVER)) return env.PETREL_NATS_SERVER;
  const cache = env.PETREL_CACHE_DIR ?? join(REPO_ROOT, ".cache");
  if (existsSync(cache)) {
    const cached = readdirSync(cache)
      .filter((d) => /^nats-server-v\d+\.\d+\.\d+$/.test(d))
      .map((d) => ({ d, v: (d.match(/\d+/g) ?? []).map(Number) }))
      .sort((a, b) => b.v[0]! - a.v[0]! || b.v[1]! - a.v[1]! || b.v[2]! - a.v[2]!)
      .map(({ d }) => join(cache, d, "nats-server"))
      .filter((f) => existsSync(f));
    if (cached[0]) return cached[0];
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "nats-server");
    if (dir && existsSync(candidate) && recentEnough(versionOf(candidate))) return candidate;
  }
  return undefined;
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** A server left behind by a petrelctl that was killed outright: stop it so the store is free. */
async function stopStale(pidFile: string, storeDir: string): Promise<boolean> {
  if (!existsSync(pidFile)) return false;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  rmSync(pidFile, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return false;
  const cmd = commandLine(pid);
  if (!cmd.includes("nats-server") || !cmd.includes(storeDir)) return false;
  process.kill(pid, "SIGTERM");
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, "SIGKILL");
  return true;
}

export interface LocalNatsServer {
  url: string;
  pid: number;
  storeDir: string;
  logFile: string;
  /** Resolves when the server exits by itself (not after stop()). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(graceMs?: number): Promise<void>;
}

export interface StartNatsOptions {
  binary: string;
  dataDir: string;
  onStaleStopped?: () => void;
}

/** Largest message the private nats-server accepts (32 MiB). */
export const LOCAL_MAX_PAYLOAD = 32 * 1024 * 1024;

export async function startLocalNatsServer(options: StartNatsOptions): Promise<LocalNatsServer> {
  const storeDir = join(options.dataDir, "nats");
  const logDir = join(options.dataDir, "logs");
  const pidFile = join(options.dataDir, "nats-server.pid");
  mkdirSync(storeDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });
  if (await stopStale(pidFile, storeDir)) options.onStaleStopped?.();
  const port = await freePort();
  const logFile = join(logDir, "nats-server.log");
  const log = openSync(logFile, "a");
  // Reports of whole feeds are often several MiB: allow messages up to 32 MiB (the default is 1 MiB;
  // JetStream's file store takes up to 32 MiB).
  const configFile = join(options.dataDir, "nats-server.conf");
  writeFileSync(configFile, `max_payload: ${LOCAL_MAX_PAYLOAD}\n`);
  const child: ChildProcess = spawn(
    options.binary,
    ["-c", configFile, "-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir, "-P", pidFile],
    { stdio: ["ignore", log, log], detached: true },
  );
  let stopping = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", () => resolve({ code: -1, signal: null }));
  });
  // Last resort when petrelctl itself dies unexpectedly; the pid file covers SIGKILL.
  const onExit = () => {
    if (child.exitCode === null) child.kill("SIGKILL");
  };
  process.once("exit", onExit);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.pid === undefined) {
      process.removeListener("exit", onExit);
      const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").trim().split("\n").slice(-5) : [];
      throw new Error(`nats-server exited at start (log ${logFile}):\n  ${tail.join("\n  ")}`);
    }
    if (await listening(port)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nats-server did not listen on port ${port} within 30 s (log ${logFile})`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid,
    storeDir,
    logFile,
    exited: exited.then((r) => (stopping ? new Promise<never>(() => {}) : r)),
    async stop(graceMs = 10_000) {
      stopping = true;
      process.removeListener("exit", onExit);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(pidFile, { force: true });
    },
  };
}
