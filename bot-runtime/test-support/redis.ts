// Starts a private redis-server for a test (Debian package redis-server): a free loopback port, a
// temp directory for its files, a password, no RDB snapshots. With `aof`, every write is appended and
// fsynced before the reply (appendfsync always), so what the server acknowledged survives a restart.
// Stopped and deleted afterwards.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./nats-server.ts";
import { startServerInDirectory } from "./server-process.ts";

const REDIS_SERVER = process.env.PETREL_REDIS_SERVER ?? "/usr/bin/redis-server";

export interface TestRedis {
  readonly host: string;
  readonly port: number;
  readonly password: string;
  /** Stops the server (SIGTERM, or SIGKILL with hard=true); with aof its data survives for restart(). */
  stop(hard?: boolean): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. */
  dispose(): Promise<void>;
}

export async function startRedis(options: { aof?: boolean } = {}): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`${REDIS_SERVER} not found: install the Debian package redis-server`);
  }
  const dir = mkdtempSync(join(tmpdir(), "petrel-redis-"));
  const port = await freePort();
  const password = randomBytes(9).toString("base64url");
  const config = join(dir, "redis.conf");
  writeFileSync(
    config,
    `bind 127.0.0.1
port ${port}
dir ${dir}
requirepass ${password}
save ""
appendonly ${options.aof ? "yes" : "no"}
appendfsync always
daemonize no
logfile ${join(dir, "redis.log")}
`,
  );
  const server = await startServerInDirectory(
    {
      name: "redis-server",
      command: REDIS_SERVER,
      args: [config],
      spawn: { cwd: dir, stdio: "ignore" },
      ready: () => waitForPort(port, 15_000),
    },
    dir,
  );
  return {
    host: "127.0.0.1",
    port,
    password,
    stop: (hard = false) => server.stop(hard ? "SIGKILL" : "SIGTERM"),
    restart: server.restart,
    dispose: () => server.dispose("SIGKILL"),
  };
}
