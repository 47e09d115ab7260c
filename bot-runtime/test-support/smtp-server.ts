// Starts a private mail server for a test (Debian package postfix): Postfix's SMTP server (master and
// smtpd from /usr/lib/postfix/sbin, its own config and queue directories in a temp directory) on free
// loopback ports — one offering STARTTLS, one with TLS from the start (SMTPS), a certificate from the
// test CA — handing every mail before it is queued to Postfix's smtp-sink, which stores each
// transaction (envelope and message) as a file. A mail counts as accepted exactly when the sink
// accepted it. Stopped and deleted afterwards.
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./nats-server.ts";
import { stopProcess } from "./server-process.ts";
import { createTestCertificates } from "./test-ca.ts";

const MASTER = "/usr/lib/postfix/sbin/master";
const SMTP_SINK = "/usr/sbin/smtp-sink";
/** smtp-sink drops to this user and writes its files as it. */
const SINK_USER = "nobody";
const SINK_UID = 65534;

export interface ReceivedMail {
  /** MAIL FROM address. */
  readonly from: string;
  /** RCPT TO addresses. */
  readonly to: string[];
  /** The message as the sink stored it (with the Received headers Postfix and the sink added). */
  readonly message: Buffer;
  /** Whether Postfix received the mail over TLS (ESMTPS/ESMTPSA in its Received header). */
  readonly tls: boolean;
}

export interface TestSmtpServer {
  readonly host: string;
  /** SMTP with STARTTLS offered (clients may also go on without it). */
  readonly port: number;
  /** SMTP over TLS from the start. */
  readonly smtpsPort: number;
  /** The CA that signed the server's certificate (PEM file). */
  readonly caFile: string;
  /** Every mail accepted so far, oldest first; `wait` waits until there are at least that many. */
  mails(wait?: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  /** Forgets the mails accepted so far. */
  clear(): void;
  /** Makes the sink refuse mail (a 4xx/5xx answer to DATA) or accept it again. */
  refuse(refusing: boolean): Promise<void>;
  /** What Postfix and the sink logged. */
  log(): string;
  /** Stops the server and deletes its directory. */
  dispose(): Promise<void>;
}

function envelope(text: string, header: string): string[] {
  const out: string[] = [];
  for (const match of text.matchAll(new RegExp(`^${header}: <([^>]*)>`, "gm"))) out.push(match[1] as string);
  return out;
}

export async function startSmtpServer(): Promise<TestSmtpServer> {
  if (process.getuid?.() !== 0) throw new Error("the test mail server runs as root (Postfix's master)");
  if (!existsSync(MASTER) || !existsSync(SMTP_SINK)) {
    throw new Error(`${MASTER} or ${SMTP_SINK} not found: install the Debian package postfix`);
  }
  const dir = mkdtempSync(join(tmpdir(), "petrel-smtp-"));
  // Postfix's daemons (user postfix) and the sink (nobody) reach their directories below it.
  chmodSync(dir, 0o755);
  const file = (name: string) => join(dir, name);
  for (const sub of ["conf", "queue", "queue/pid", "queue/private", "queue/public", "data", "mail"]) {
    mkdirSync(file(sub));
  }
  for (const sub of ["queue/private", "queue/public", "data"]) chownSync(file(sub), uidOf("postfix"), 0);
  chownSync(file("mail"), SINK_UID, 0);
  const certs = createTestCertificates(file("conf"));
  const [port, smtpsPort, sinkPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    file("conf/main.cf"),
    `compatibility_level = 3.6
queue_directory = ${file("queue")}
data_directory = ${file("data")}
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = petrel-test.localhost
mydestination =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
# Every mail goes to the sink as it arrives; Postfix accepts it only when the sink does.
smtpd_proxy_filter = 127.0.0.1:${sinkPort}
smtpd_tls_security_level = may
smtpd_tls_cert_file = ${certs.certFile}
smtpd_tls_key_file = ${certs.keyFile}
maillog_file_prefixes = ${dir}
maillog_file = ${file("maillog")}
`,
  );
  writeFileSync(
    file("conf/master.cf"),
    `127.0.0.1:${port} inet n - n - - smtpd
127.0.0.1:${smtpsPort} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
proxymap unix - - n - - proxymap
anvil unix - - n - 1 anvil
postlog unix-dgram n - n - 1 postlogd
`,
  );
  let log = "";
  let sink: ChildProcess | undefined;
  let refusing = false;
  const startSink = async () => {
    // -d: one file per mail transaction; -R/-u: as nobody. Refusing: a 5xx answer to DATA.
    const args = [
      "-u",
      SINK_USER,
      "-d",
      `${file("mail")}/%Y%m%d%H%M%S.`,
      ...(refusing ? ["-B", "554 5.7.1 refused by the test", "-f", "data"] : []),
      `127.0.0.1:${sinkPort}`,
      "64",
    ];
    sink = spawn(SMTP_SINK, args, { stdio: ["ignore", "ignore", "pipe"] });
    sink.stderr?.on("data", (c: Buffer) => {
      log += c.toString();
    });
    sink.once("error", () => undefined);
    await waitForPort(sinkPort, 10_000);
  };
  const master = spawn(MASTER, ["-c", file("conf"), "-d"], { stdio: ["ignore", "pipe", "pipe"] });
  master.stdout?.on("data", (c: Buffer) => {
    log += c.toString();
  });
  master.stderr?.on("data", (c: Buffer) => {
    log += c.toString();
  });
  master.once("error", () => undefined);
  master.once("exit", (code, signal) => {
    log += `master exited: ${code ?? signal}\n`;
  });
  const exited = new Promise<void>((resolve) => master.once("exit", () => resolve()));
  try {
    await startSink();
    await Promise.race([
      Promise.all([waitForPort(port, 15_000), waitForPort(smtpsPort, 15_000)]),
      exited.then(() => {
        throw new Error("postfix master exited");
      }),
    ]);
  } catch (error) {
    await stopProcess(master, "SIGTERM");
    await stopProcess(sink, "SIGTERM");
    const maillog = existsSync(file("maillog")) ? readFileSync(file("maillog"), "utf8") : "";
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the test mail server did not start: ${(error as Error).message}\n${log}${maillog}`);
  }

  const readLog = () => {
    try {
      return readFileSync(file("maillog"), "utf8");
    } catch {
      return "";
    }
  };
  const accepted = () => readLog().match(/proxy-accept: END-OF-MESSAGE: 250/g)?.length ?? 0;
  let acceptedBefore = 0;
  const seen = new Set<string>();
  const read = (): ReceivedMail[] => {
    const names = readdirSync(file("mail"))
      .filter((name) => !seen.has(name))
      .map((name) => ({ name, at: statSync(join(file("mail"), name)).mtimeMs }))
      .sort((a, b) => a.at - b.at || a.name.localeCompare(b.name));
    return names.map(({ name }) => {
      const raw = readFileSync(join(file("mail"), name));
      const text = raw.toString("latin1");
      const headerEnd = text.indexOf("\nReceived:");
      const head = text.slice(0, headerEnd);
      return {
        name,
        from: envelope(head, "X-Mail-Args")[0] ?? "",
        to: envelope(head, "X-Rcpt-Args"),
        message: raw.subarray(headerEnd + 1),
        tls: /by petrel-test\.localhost \(Postfix\) with ESMTPS/.test(text),
      };
    }) as Array<ReceivedMail & { name: string }>;
  };
  return {
    host: "127.0.0.1",
    port,
    smtpsPort,
    caFile: certs.caFile,
    async mails(wait = 0, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = read();
        // The sink creates a transaction's file when it starts; the files since clear() are complete
        // once Postfix logged as many accepted mails since then.
        const complete = found.length <= accepted() - acceptedBefore;
        if (found.length >= wait && complete)
          return found.map(({ from, to, message, tls }) => ({ from, to, message, tls }));
        if (Date.now() > deadline) {
          throw new Error(`expected ${wait} mails, the server got ${found.length}\n${log}${readLog()}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    clear() {
      for (const name of readdirSync(file("mail"))) seen.add(name);
      acceptedBefore = accepted();
    },
    async refuse(refuse) {
      refusing = refuse;
      await stopProcess(sink, "SIGTERM");
      await startSink();
    },
    log: () => log + readLog(),
    async dispose() {
      await stopProcess(master, "SIGTERM");
      await stopProcess(sink, "SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function uidOf(user: string): number {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}: install the Debian package postfix`);
  return Number(line.split(":")[2]);
}
