// Starts a private MariaDB server for a test (Debian package mariadb-server): mariadb-install-db into a
// temp directory, TCP on a free loopback port (TLS offered with a throw-away CA's certificate), its
// Unix socket in the same directory, a password user with its own database. mariadbd runs as nobody
// when the test runs as root (it refuses root). Stopped and deleted afterwards.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { freePort } from "./nats-server.ts";
import { startServerInDirectory, waitUntil } from "./server-process.ts";
import { createTestCertificates } from "./test-ca.ts";

const run = promisify(execFile);

const MARIADBD = "/usr/sbin/mariadbd";
const INSTALL_DB = "/usr/bin/mariadb-install-db";
/** The uid the server runs as when the test runs as root. */
const SERVER_UID = 65534;

export interface TestMariaDb {
  readonly host: string;
  readonly port: number;
  /** A user with all privileges on `database`, connecting over TCP with its password. */
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** The server's Unix socket (root connects there without a password). */
  readonly socket: string;
  /** The CA that signed the server's certificate (PEM file). */
  readonly caFile: string;
  /** Runs SQL as root in the test database and returns the rows. */
  query<R = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<R[]>;
  /** Stops the server: "fast" is a clean shutdown, "immediate" a crash (SIGKILL). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. */
  dispose(): Promise<void>;
}

export async function startMariaDb(): Promise<TestMariaDb> {
  if (!existsSync(MARIADBD))
    throw new Error(`${MARIADBD} not found: install the Debian package mariadb-server`);
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "petrel-mariadb-"));
  chmodSync(dir, 0o755);
  const file = (name: string) => join(dir, name);
  for (const sub of ["data", "run", "tmp"]) {
    mkdirSync(file(sub));
    if (root) chownSync(file(sub), SERVER_UID, SERVER_UID);
  }
  const certs = createTestCertificates(dir);
  if (root) chownSync(certs.keyFile, SERVER_UID, SERVER_UID);
  const port = await freePort();
  const socket = file("run/mariadb.sock");
  const userArgs = root ? ["--user=nobody"] : [];
  try {
    await run(
      INSTALL_DB,
      [
        "--no-defaults",
        `--datadir=${file("data")}`,
        ...userArgs,
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
      ],
      { cwd: dir },
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${(error as Error).message}`);
  }
  const args = [
    "--no-defaults",
    `--datadir=${file("data")}`,
    ...userArgs,
    "--bind-address=127.0.0.1",
    `--port=${port}`,
    `--socket=${socket}`,
    `--pid-file=${file("run/mariadb.pid")}`,
    `--tmpdir=${file("tmp")}`,
    `--log-error=${file("error.log")}`,
    `--ssl-ca=${certs.caFile}`,
    `--ssl-cert=${certs.certFile}`,
    `--ssl-key=${certs.keyFile}`,
    "--skip-log-bin",
    "--innodb-buffer-pool-size=64M",
    "--innodb-log-file-size=32M",
    // Commits reach the OS at once (survive a killed server); fsync only matters for a machine crash.
    "--innodb-flush-log-at-trx-commit=2",
    "--skip-name-resolve",
  ];
  const errorLog = () => {
    try {
      return readFileSync(file("error.log"), "utf8");
    } catch {
      return "";
    }
  };
  const user = "petrel";
  const password = randomBytes(12).toString("base64url");
  const database = "petrel_test";
  const server = await startServerInDirectory(
    {
      name: "mariadbd",
      command: MARIADBD,
      args,
      spawn: { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
      ready: (exited) =>
        waitUntil(
          async () => {
            try {
              const connection = await mysql.createConnection({ socketPath: socket, user: "root" });
              await connection.end();
              return true;
            } catch {
              return false;
            }
          },
          30_000,
          "accepted connection",
          exited,
        ),
      details: () => errorLog(),
    },
    dir,
    {
      async setup() {
        const connection = await mysql.createConnection({ socketPath: socket, user: "root" });
        await connection.query(`CREATE DATABASE ${database} CHARACTER SET utf8mb4`);
        await connection.query(`CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${password}'`);
        await connection.query(`GRANT ALL PRIVILEGES ON ${database}.* TO '${user}'@'127.0.0.1'`);
        await connection.end();
      },
    },
  );
  const stop = (mode: "fast" | "immediate" = "fast") => server.stop(mode === "fast" ? "SIGTERM" : "SIGKILL");
  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    database,
    socket,
    caFile: certs.caFile,
    async query<R>(sql: string, values?: unknown[]) {
      const connection = await mysql.createConnection({
        socketPath: socket,
        user: "root",
        database,
        charset: "utf8mb4",
        timezone: "Z",
        dateStrings: true,
      });
      try {
        const [rows] = await connection.query(sql, values);
        return rows as R[];
      } finally {
        await connection.end();
      }
    },
    stop,
    restart: server.restart,
    dispose: () => server.dispose("SIGTERM"),
  };
}
