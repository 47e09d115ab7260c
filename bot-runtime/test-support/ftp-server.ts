// Starts a private vsftpd for a test (Debian package vsftpd): standalone (listen=YES) on a free
// loopback port with passive ports of its own, anonymous logins into a temp root whose feeds/
// directory they may read, write and delete in, and FTPS (explicit AUTH TLS, or implicit TLS) with a
// certificate from a throw-away CA. Stopped and deleted afterwards.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { freePort, waitForPort } from "./nats-server.ts";
import { createTestCertificates } from "./test-ca.ts";

export interface TestFtpServer {
  readonly host: string;
  readonly port: number;
  /** The directory on disk behind the server's /feeds (files put here can be listed, read, deleted). */
  readonly dir: string;
  /** The same directory as the FTP client sees it. */
  readonly remoteDir: string;
  /** The CA that signed the server's certificate (PEM file). */
  readonly caFile: string;
  /** Writes a file into /feeds, readable by the anonymous user. */
  put(name: string, content: string | Buffer): void;
  dispose(): Promise<void>;
}

/** A run of `count` free consecutive ports (for passive data connections). */
async function freePortRange(count: number): Promise<number> {
  const free = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = first; p < first + count && ok; p++) ok = await free(p);
    if (ok) return first;
  }
  throw new Error("no free range of passive ports found");
}

/** Starts vsftpd; `tls`: "explicit" offers AUTH TLS (plain FTP still works), "implicit" speaks TLS only. */
export async function startFtpServer(
  options: { tls?: "explicit" | "implicit" } = {},
): Promise<TestFtpServer> {
  if (userInfo().uid !== 0) {
    throw new Error("the vsftpd test server runs as root (it drops to its own users for sessions)");
  }
  const tls = options.tls ?? "explicit";
  const dir = mkdtempSync(join(tmpdir(), "petrel-vsftpd-"));
  chmodSync(dir, 0o755);
  const file = (name: string) => join(dir, name);
  const certs = createTestCertificates(dir);
  // vsftpd refuses an anonymous root the anonymous user can write to: root/ is root's, root/feeds/
  // belongs to the ftp user.
  const root = file("root");
  const feeds = join(root, "feeds");
  mkdirSync(feeds, { recursive: true });
  chmodSync(root, 0o755);
  const ftpUser = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .map((l) => l.split(":"))
    .find((f) => f[0] === "ftp");
  if (!ftpUser) throw new Error("no user ftp (the vsftpd package creates it)");
  const [uid, gid] = [Number(ftpUser[2]), Number(ftpUser[3])];
  chownSync(feeds, uid, gid);
  mkdirSync(file("empty"));
  const port = await freePort();
  const passive = await freePortRange(20);
  writeFileSync(
    file("vsftpd.conf"),
    `listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=${port}
background=NO
anonymous_enable=YES
no_anon_password=YES
anon_root=${root}
write_enable=YES
anon_upload_enable=YES
anon_mkdir_write_enable=YES
anon_other_write_enable=YES
anon_umask=022
local_enable=NO
pasv_enable=YES
pasv_address=127.0.0.1
pasv_min_port=${passive}
pasv_max_port=${passive + 19}
secure_chroot_dir=${file("empty")}
vsftpd_log_file=${file("vsftpd.log")}
xferlog_enable=YES
seccomp_sandbox=NO
ssl_enable=YES
allow_anon_ssl=YES
implicit_ssl=${tls === "implicit" ? "YES" : "NO"}
ssl_ciphers=HIGH
rsa_cert_file=${certs.certFile}
rsa_private_key_file=${certs.keyFile}
`,
  );
  const child: ChildProcess = spawn("vsftpd", [file("vsftpd.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  child.once("error", () => undefined);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await Promise.race([
      waitForPort(port, 10_000),
      exited.then(() => {
        throw new Error("vsftpd exited");
      }),
    ]);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `vsftpd did not start (is the vsftpd package installed?): ${(error as Error).message}\n${stderr}`,
    );
  }
  return {
    host: "127.0.0.1",
    port,
    dir: feeds,
    remoteDir: "/feeds",
    caFile: certs.caFile,
    put(name, content) {
      writeFileSync(join(feeds, name), content, { mode: 0o644 });
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
