// Starts a private dovecot IMAP server for a test (Debian package dovecot-imapd): free loopback ports
// for IMAP (plain and STARTTLS) and IMAPS, a config, a passwd-file user and its maildir in a temp
// directory, a certificate from a throw-away CA. Stopped and deleted afterwards.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImapFlow } from "imapflow";
import { freePort, waitForPort } from "./nats-server.ts";
import { createTestCertificates } from "./test-ca.ts";

/** The uid and gid the mail is stored as (nobody): dovecot refuses to serve mail as root. */
const MAIL_UID = 65534;

export interface TestDovecot {
  readonly host: string;
  /** Plain IMAP with STARTTLS offered. */
  readonly imapPort: number;
  /** IMAP over TLS. */
  readonly imapsPort: number;
  readonly user: string;
  readonly password: string;
  /** The CA that signed the server's certificate (PEM file). */
  readonly caFile: string;
  /** Puts a message (RFC 5322 text) into a folder of the user's mailbox, unseen. */
  deliver(message: string | Buffer, folder?: string): void;
  /** The messages of a folder with their flags, read over IMAP. */
  messages(folder?: string): Promise<Array<{ uid: number; subject: string; seen: boolean }>>;
  /** Stops dovecot and deletes its directory. */
  dispose(): Promise<void>;
}

export async function startDovecot(): Promise<TestDovecot> {
  if (process.getuid?.() !== 0) {
    throw new Error("the dovecot test server runs as root (it serves mail as nobody and chroots logins)");
  }
  const dir = mkdtempSync(join(tmpdir(), "petrel-dovecot-"));
  // The login processes (user dovenull) reach their sockets below the base directory.
  chmodSync(dir, 0o755);
  const file = (name: string) => join(dir, name);
  const certs = createTestCertificates(dir);
  const [imapPort, imapsPort] = [await freePort(), await freePort()];
  const user = "petrel";
  const password = randomBytes(9).toString("base64url");
  const home = file("home");
  const maildir = join(home, "Maildir");
  for (const sub of ["", "/new", "/cur", "/tmp"]) mkdirSync(`${maildir}${sub}`, { recursive: true });
  chownSync(home, MAIL_UID, MAIL_UID);
  for (const sub of ["", "/new", "/cur", "/tmp"]) chownSync(`${maildir}${sub}`, MAIL_UID, MAIL_UID);
  mkdirSync(file("run"));
  mkdirSync(file("state"));
  writeFileSync(file("passwd"), `${user}:{PLAIN}${password}:${MAIL_UID}:${MAIL_UID}::${home}::\n`);
  writeFileSync(
    file("dovecot.conf"),
    `base_dir = ${file("run")}
state_dir = ${file("state")}
log_path = ${file("dovecot.log")}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <${certs.certFile}
ssl_key = <${certs.keyFile}
# Plain LOGIN on the IMAP port, so tests can run without TLS too.
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN ${file("passwd")}
}
userdb {
  driver = passwd-file
  args = ${file("passwd")}
}
mail_location = maildir:~/Maildir
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${imapPort}
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = ${imapsPort}
    ssl = yes
  }
}
`,
  );
  const child: ChildProcess = spawn("dovecot", ["-F", "-c", file("dovecot.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.once("error", () => undefined);
  try {
    await Promise.race([
      Promise.all([waitForPort(imapPort, 15_000), waitForPort(imapsPort, 15_000)]),
      exited.then(() => {
        throw new Error("dovecot exited");
      }),
    ]);
  } catch (error) {
    child.kill("SIGKILL");
    const log = (() => {
      try {
        return readFileSync(file("dovecot.log"), "utf8");
      } catch {
        return "";
      }
    })();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `dovecot did not start (is dovecot-imapd installed?): ${(error as Error).message}\n${stderr}${log}`,
    );
  }

  let delivered = 0;
  return {
    host: "127.0.0.1",
    imapPort,
    imapsPort,
    user,
    password,
    caFile: certs.caFile,
    deliver(message, folder = "INBOX") {
      const box = folder === "INBOX" ? maildir : join(maildir, `.${folder}`);
      for (const sub of ["", "/new", "/cur", "/tmp"]) {
        mkdirSync(`${box}${sub}`, { recursive: true });
        chownSync(`${box}${sub}`, MAIL_UID, MAIL_UID);
      }
      const name = `${Date.now()}.P${process.pid}Q${++delivered}.petrel-test`;
      const text = Buffer.isBuffer(message) ? message : Buffer.from(message.replace(/\r?\n/g, "\r\n"));
      writeFileSync(join(box, "tmp", name), text);
      chownSync(join(box, "tmp", name), MAIL_UID, MAIL_UID);
      // Maildir delivery: written in tmp/, then moved into new/.
      renameSync(join(box, "tmp", name), join(box, "new", name));
    },
    async messages(folder = "INBOX") {
      const client = new ImapFlow({
        host: "127.0.0.1",
        port: imapPort,
        secure: false,
        doSTARTTLS: false,
        auth: { user, pass: password },
        logger: false,
      });
      await client.connect();
      try {
        const lock = await client.getMailboxLock(folder, { readOnly: true });
        try {
          const out: Array<{ uid: number; subject: string; seen: boolean }> = [];
          if (client.mailbox === false || client.mailbox.exists === 0) return out;
          for await (const m of client.fetch("1:*", { uid: true, flags: true, envelope: true })) {
            out.push({
              uid: m.uid,
              subject: m.envelope?.subject ?? "",
              seen: m.flags?.has("\\Seen") ?? false,
            });
          }
          return out;
        } finally {
          lock.release();
        }
      } finally {
        await client.logout();
      }
    },
    async dispose() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
