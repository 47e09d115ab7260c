// Starts a private MongoDB-compatible server for a test: FerretDB v1 (the MongoDB wire protocol, OP_MSG
// and SCRAM authentication, in front of SQLite), built from Go modules by scripts/ensure-ferretdb.sh
// on first use and cached. A free loopback port, its SQLite files in a temp directory, one user (in the
// admin database) that must authenticate. Stopped and deleted afterwards.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, waitForPort } from "./nats-server.ts";
import { startServerInDirectory } from "./server-process.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The FerretDB binary: $PETREL_FERRETDB, else built (once, then cached) by scripts/ensure-ferretdb.sh. */
export function ferretDbBinary(): string {
  process.env.PETREL_FERRETDB ??= execFileSync("bash", [`${root}scripts/ensure-ferretdb.sh`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  return process.env.PETREL_FERRETDB;
}

export interface TestMongoDb {
  readonly host: string;
  readonly port: number;
  /** A user of the admin database (authSource admin, the driver's default). */
  readonly user: string;
  readonly password: string;
  /** mongodb://user:password@127.0.0.1:port/ */
  readonly url: string;
  /** Stops the server; its data survives for restart(). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  restart(): Promise<void>;
  /** Stops the server and deletes its directory. */
  dispose(): Promise<void>;
}

export async function startMongoDb(): Promise<TestMongoDb> {
  const binary = ferretDbBinary();
  const dir = mkdtempSync(join(tmpdir(), "petrel-ferretdb-"));
  mkdirSync(join(dir, "data"));
  const port = await freePort();
  const user = "petrel";
  const password = randomBytes(9).toString("base64url");
  const args = [
    "--handler=sqlite",
    `--sqlite-url=file:${join(dir, "data")}/`,
    `--listen-addr=127.0.0.1:${port}`,
    "--debug-addr=-",
    `--state-dir=${dir}`,
    "--telemetry=disable",
    "--log-level=error",
    // Authentication as MongoDB does it (SCRAM), with one user created when the data is new.
    "--test-enable-new-auth",
    "--setup-database=admin",
    `--setup-username=${user}`,
    `--setup-password=${password}`,
  ];
  const server = await startServerInDirectory(
    { name: "FerretDB", command: binary, args, spawn: { cwd: dir }, ready: () => waitForPort(port, 20_000) },
    dir,
  );
  return {
    host: "127.0.0.1",
    port,
    user,
    password,
    url: `mongodb://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}/`,
    stop: () => server.stop("SIGTERM"),
    restart: server.restart,
    dispose: () => server.dispose("SIGKILL"),
  };
}
