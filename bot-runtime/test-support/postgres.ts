// Starts a private PostgreSQL server for a test (Debian package postgresql): initdb into a temp
// directory, TCP on a free port of 127.0.0.1 and 127.0.0.2 (a second address for tests of certificate
// names; TLS offered with a throw-away CA's certificate, password
// auth), its Unix socket in the same directory. PostgreSQL refuses to run as root: when the test runs
// as root, the cluster belongs to nobody and the server runs as nobody (setpriv). Stopped and deleted
// afterwards.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./nats-server.ts";
import { startServerInDirectory, waitUntil } from "./server-process.ts";
import { createTestCertificates } from "./test-ca.ts";

const run = promisify(execFile);

/** The uid and gid the server runs as when the test runs as root. */
const SERVER_UID = 65534;

export interface TestPostgres {
  readonly host: string;
  readonly port: number;
  /** A superuser with a password (TCP needs it; the Unix socket trusts local users). */
  readonly user: string;
  readonly password: string;
  /** The database made for the test. */
  readonly database: string;
  /** The directory of the server's Unix socket. */
  readonly socketDir: string;
  /** The CA that signed the server's certificate (PEM file). */
  readonly caFile: string;
  /** Connection settings for node-postgres, without TLS. */
  readonly clientConfig: pg.ClientConfig;
  /** Runs SQL as the superuser in the test database and returns the rows. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    values?: unknown[],
  ): Promise<R[]>;
  /** Stops the server: "fast" rolls back open transactions and closes connections cleanly, "immediate" is a crash. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. */
  dispose(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (/usr/lib/postgresql/<version>/bin). */
function postgresBin(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(`no PostgreSQL under ${base}: install the Debian package postgresql`);
  return join(base, versions[0] as string, "bin");
}

function asServerUser(command: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [command, args];
  return ["setpriv", [`--reuid=${SERVER_UID}`, `--regid=${SERVER_UID}`, "--clear-groups", command, ...args]];
}

function ownByServer(path: string, mode?: number): void {
  if (process.getuid?.() === 0) chownSync(path, SERVER_UID, SERVER_UID);
  if (mode !== undefined) chmodSync(path, mode);
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  const dir = mkdtempSync(join(tmpdir(), "petrel-postgres-"));
  // The server user reaches its data, socket and certificate below the directory.
  chmodSync(dir, 0o755);
  const file = (name: string) => join(dir, name);
  const data = file("data");
  const socketDir = file("run");
  for (const sub of [data, socketDir]) {
    mkdirSync(sub);
    ownByServer(sub, 0o700);
  }
  const certs = createTestCertificates(dir);
  // PostgreSQL insists on owning its key, with no access for others.
  ownByServer(certs.keyFile, 0o600);
  const user = "petrel";
  const password = randomBytes(12).toString("base64url");
  writeFileSync(file("pwfile"), `${password}\n`);
  ownByServer(file("pwfile"), 0o600);
  const port = await freePort();
  try {
    const [initdb, initArgs] = asServerUser(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      user,
      `--pwfile=${file("pwfile")}`,
      "--auth-host=scram-sha-256",
      "--auth-local=trust",
      "-E",
      "UTF8",
      "--no-locale",
      "--no-sync",
    ]);
    await run(initdb, initArgs, { cwd: dir });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(error as Error).message}`);
  }
  // fsync off only matters for a machine crash; a killed server keeps what it committed.
  writeFileSync(
    join(data, "postgresql.auto.conf"),
    `listen_addresses = '127.0.0.1,127.0.0.2'
port = ${port}
unix_socket_directories = '${socketDir}'
ssl = on
ssl_cert_file = '${certs.certFile}'
ssl_key_file = '${certs.keyFile}'
fsync = off
full_page_writes = off
max_connections = 50
shared_buffers = 32MB
log_min_messages = warning
`,
  );
  const database = "petrel_test";
  const clientConfig: pg.ClientConfig = { host: "127.0.0.1", port, user, password, database: "postgres" };

  const [command, args] = asServerUser(join(bin, "postgres"), ["-D", data]);
  const server = await startServerInDirectory(
    {
      name: "postgres",
      command,
      args,
      spawn: { cwd: dir },
      // Ready once a connection succeeds (the port opens while recovery still runs).
      ready: (exited) =>
        waitUntil(
          async () => {
            const client = new pg.Client({ ...clientConfig, connectionTimeoutMillis: 2_000 });
            client.on("error", () => undefined);
            try {
              await client.connect();
              await client.end();
              return true;
            } catch {
              await client.end().catch(() => undefined);
              return false;
            }
          },
          30_000,
          "accepted connection",
          exited,
        ),
    },
    dir,
    {
      async setup() {
        const admin = new pg.Client(clientConfig);
        await admin.connect();
        await admin.query(`CREATE DATABASE ${database}`);
        await admin.end();
      },
    },
  );
  const stop = (mode: "fast" | "immediate" = "fast") => server.stop(mode === "fast" ? "SIGINT" : "SIGQUIT");
  const testConfig = { ...clientConfig, database };
  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    database,
    socketDir,
    caFile: certs.caFile,
    clientConfig: testConfig,
    async query<R extends Record<string, unknown>>(sql: string, values?: unknown[]) {
      const client = new pg.Client(testConfig);
      await client.connect();
      try {
        return (await client.query<R>(sql, values)).rows;
      } finally {
        await client.end();
      }
    },
    stop,
    restart: server.restart,
    dispose: () => server.dispose("SIGINT"),
  };
}
