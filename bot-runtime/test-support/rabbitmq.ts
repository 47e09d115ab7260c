// Starts a private RabbitMQ broker for a test (Debian package rabbitmq-server): a unique node name,
// its own epmd, AMQP (and AMQPS with a throw-away CA's certificate) on free loopback ports, mnesia,
// logs, config and Erlang cookie in a temp directory. Stopped and deleted afterwards.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, waitForPort } from "./nats-server.ts";
import { createTestCertificates } from "./test-ca.ts";

const RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl";

const run = promisify(execFile);

export interface TestRabbitMq {
  /** amqp://user:password@127.0.0.1:port */
  readonly url: string;
  readonly port: number;
  /** AMQP over TLS. */
  readonly tlsPort: number;
  readonly user: string;
  readonly password: string;
  /** The CA that signed the broker's certificate (PEM file). */
  readonly caFile: string;
  /** Messages of a queue ready for delivery and delivered but not acknowledged (rabbitmqctl). */
  queue(name: string): Promise<{ ready: number; unacked: number }>;
  /** Stops the broker (its data survives for restart()). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data. */
  restart(): Promise<void>;
  /** Stops the broker and its epmd, deletes the directory. */
  dispose(): Promise<void>;
}

function kill(child: ChildProcess | undefined, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  return exited;
}

export async function startRabbitMq(): Promise<TestRabbitMq> {
  if (!existsSync(RABBITMQ_SERVER)) {
    throw new Error(`${RABBITMQ_SERVER} not found: install the Debian package rabbitmq-server`);
  }
  const dir = mkdtempSync(join(tmpdir(), "petrel-rabbitmq-"));
  const file = (name: string) => join(dir, name);
  for (const sub of ["home", "mnesia", "log"]) mkdirSync(file(sub));
  const certs = createTestCertificates(dir);
  const [port, tlsPort, distPort, epmdPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const user = "petrel";
  const password = randomBytes(9).toString("base64url");
  writeFileSync(
    file("rabbitmq.conf"),
    `listeners.tcp.default = 127.0.0.1:${port}
listeners.ssl.default = 127.0.0.1:${tlsPort}
ssl_options.cacertfile = ${certs.caFile}
ssl_options.certfile = ${certs.certFile}
ssl_options.keyfile = ${certs.keyFile}
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
loopback_users = none
default_user = ${user}
default_pass = ${password}
log.console = false
log.file.level = info
`,
  );
  writeFileSync(file("rabbitmq-env.conf"), "");
  writeFileSync(file("enabled_plugins"), "[].\n");
  // The Erlang cookie lives in $HOME; a fixed one keeps restarts of the node consistent.
  writeFileSync(join(file("home"), ".erlang.cookie"), randomBytes(16).toString("hex"), { mode: 0o400 });
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: file("home"),
    RABBITMQ_CONF_ENV_FILE: file("rabbitmq-env.conf"),
    RABBITMQ_CONFIG_FILE: file("rabbitmq.conf"),
    RABBITMQ_ENABLED_PLUGINS_FILE: file("enabled_plugins"),
    RABBITMQ_NODENAME: `petrel-test-${process.pid}-${randomBytes(4).toString("hex")}@localhost`,
    RABBITMQ_MNESIA_BASE: file("mnesia"),
    RABBITMQ_LOG_BASE: file("log"),
    RABBITMQ_PID_FILE: file("rabbitmq.pid"),
    RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
    ERL_EPMD_ADDRESS: "127.0.0.1",
    ERL_EPMD_PORT: String(epmdPort),
  };
  // Our own epmd in the foreground: the node registers there instead of starting a shared daemon.
  const epmd = spawn("epmd", ["-port", String(epmdPort), "-address", "127.0.0.1"], {
    env,
    stdio: "ignore",
  });
  epmd.once("error", () => undefined);
  let broker: ChildProcess | undefined;
  let output = "";
  const start = async () => {
    output = "";
    broker = spawn(RABBITMQ_SERVER, [], { env, cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    broker.stdout?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    broker.stderr?.on("data", (c: Buffer) => {
      output += c.toString();
    });
    broker.once("error", () => undefined);
    const child = broker;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      await Promise.race([
        Promise.all([waitForPort(port, 60_000), waitForPort(tlsPort, 60_000)]),
        exited.then(() => {
          throw new Error("rabbitmq-server exited");
        }),
      ]);
    } catch (error) {
      await kill(child, "SIGKILL");
      const logs = (() => {
        try {
          return readFileSync(file(`log/${env.RABBITMQ_NODENAME}.log`), "utf8").slice(-4000);
        } catch {
          return "";
        }
      })();
      throw new Error(`rabbitmq-server did not start: ${(error as Error).message}\n${output}\n${logs}`);
    }
  };
  try {
    await waitForPort(epmdPort, 10_000);
    await start();
  } catch (error) {
    await kill(epmd, "SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const stop = () => kill(broker);
  return {
    url: `amqp://${user}:${password}@127.0.0.1:${port}`,
    port,
    tlsPort,
    user,
    password,
    caFile: certs.caFile,
    async queue(name) {
      const { stdout } = await run(
        RABBITMQCTL,
        ["list_queues", "-q", "--formatter", "json", "name", "messages_ready", "messages_unacknowledged"],
        { env, cwd: dir },
      );
      const rows = JSON.parse(stdout) as Array<Record<string, number | string>>;
      const row = rows.find((r) => r.name === name);
      if (!row) throw new Error(`no queue ${name}`);
      return { ready: Number(row.messages_ready), unacked: Number(row.messages_unacknowledged) };
    },
    stop,
    restart: start,
    async dispose() {
      await stop();
      await kill(epmd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
