// Starts a real nats-server (JetStream) for a test: random port, private store directory, stopped
// and deleted afterwards. The binary comes from scripts/ensure-nats-server.sh (built from Go modules).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export function natsServerBinary(): string {
  process.env.PETREL_NATS_SERVER ??= execFileSync("bash", [`${root}scripts/ensure-nats-server.sh`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  return process.env.PETREL_NATS_SERVER;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestNatsServer {
  url: string;
  port: number;
  storeDir: string;
  /** Stops the server (SIGTERM, or SIGKILL with hard=true); the store survives for restart(). */
  stop(hard?: boolean): Promise<void>;
  /** Starts the server again on the same port and store. */
  restart(): Promise<void>;
  /** Stops and deletes the store. */
  dispose(): Promise<void>;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`nats-server did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startNatsServer(options: { maxStoreBytes?: number } = {}): Promise<TestNatsServer> {
  const binary = natsServerBinary();
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), "petrel-nats-"));
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", storeDir];
    if (options.maxStoreBytes) args.push("--max_file_store", String(options.maxStoreBytes));
    child = spawn(binary, args, { stdio: "ignore" });
    await waitForPort(port, 10_000);
  };
  const stop = async (hard = false) => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill(hard ? "SIGKILL" : "SIGTERM");
    await exited;
  };
  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    stop,
    restart: start,
    dispose: async () => {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
