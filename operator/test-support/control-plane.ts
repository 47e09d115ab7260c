// A real Kubernetes control plane for tests: etcd and kube-apiserver as child processes, on random
// loopback ports with private temporary directories, like controller-runtime's envtest. There are
// no controllers (no garbage collection, no Pods from Deployments, namespaces never finish deleting):
// it is the API server alone, with admission, validation, RBAC, CRDs and server-side apply.
// The binaries come from scripts/ensure-kube-control-plane.sh (built from Go modules, cached).
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KubeConfig } from "@kubernetes/client-node";
import { freePort, waitForPort } from "../../bot-runtime/test-support/nats-server.ts";
import { createTestCertificates } from "../../bot-runtime/test-support/test-ca.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

export interface ControlPlaneOptions {
  /** Folder with etcd, kube-apiserver and kubectl; default $PETREL_KUBE_BIN_DIR, else the ensure script. */
  binDir?: string;
  /** How long etcd and kube-apiserver each get to become ready (default 60 s). */
  startTimeoutMs?: number;
  /** How long each process gets to exit after SIGTERM before SIGKILL (default 10 s). */
  stopTimeoutMs?: number;
  /** Extra kube-apiserver flags, e.g. ["--feature-gates=…"]; they come after the defaults. */
  apiServerArgs?: string[];
  /** Copy both processes' output to this process's stderr (for debugging a test). */
  showOutput?: boolean;
}

export interface ControlPlane {
  /** A kubeconfig file for kubectl and other tools (context "petrel-test", user "admin"). */
  kubeconfigPath: string;
  /** The same configuration, loaded, for @kubernetes/client-node's makeApiClient. */
  kubeConfig: KubeConfig;
  /** The API server's https URL. */
  server: string;
  /** Bearer token of the admin user (group system:masters). */
  token: string;
  /** Folder of the binaries used. */
  binDir: string;
  /** Runs the bundled kubectl against this control plane; resolves to its stdout. */
  kubectl(args: string[], options?: { input?: string }): Promise<string>;
  /** Stops kube-apiserver then etcd and deletes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** The folder of the control-plane binaries: $PETREL_KUBE_BIN_DIR, or built by the ensure script. */
export function kubeBinDir(): string {
  process.env.PETREL_KUBE_BIN_DIR ??= execFileSync("bash", [`${root}scripts/ensure-kube-control-plane.sh`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  return process.env.PETREL_KUBE_BIN_DIR;
}

const ADMIN_USER = "petrel-admin";

interface Managed {
  name: string;
  child: ChildProcess;
  /** Last lines of stderr and stdout, for error messages. */
  tail: string[];
  exited: boolean;
  exitDescription: string;
}

function launch(name: string, binary: string, args: string[], showOutput: boolean): Managed {
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  const proc: Managed = { name, child, tail: [], exited: false, exitDescription: "" };
  let partial = "";
  const collect = (chunk: Buffer) => {
    if (showOutput) process.stderr.write(`[${name}] ${chunk.toString()}`);
    const lines = (partial + chunk.toString()).split("\n");
    partial = lines.pop() ?? "";
    proc.tail.push(...lines.filter((line) => line.trim() !== ""));
    if (proc.tail.length > 30) proc.tail.splice(0, proc.tail.length - 30);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  child.once("error", (error) => {
    proc.exited = true;
    proc.exitDescription = `could not be started (${error.message})`;
  });
  child.once("exit", (code, signal) => {
    proc.exited = true;
    proc.exitDescription = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  });
  return proc;
}

function failure(proc: Managed, what: string): Error {
  const binary = proc.child.spawnfile;
  const tail = proc.tail.length > 0 ? `\nlast output:\n  ${proc.tail.join("\n  ")}` : " (no output)";
  return new Error(`${proc.name} (${binary}) ${what}${tail}`);
}

/** Polls check() until it returns true; fails early, naming the binary, if the process exits. */
async function waitFor(proc: Managed, what: string, timeoutMs: number, check: () => Promise<boolean>) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exited) throw failure(proc, `${proc.exitDescription} before ${what}`);
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw failure(proc, `did not get ${what} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The port accepts connections (short tries of the shared helper, so process exits are noticed). */
const listening = (port: number) => () =>
  waitForPort(port, 200).then(
    () => true,
    () => false,
  );

function httpsStatus(url: string, ca: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: { authorization: `Bearer ${token}` }, timeout: 5_000 }, (res) => {
      res.resume();
      res.once("end", () => resolve(res.statusCode ?? 0));
    });
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", reject);
    req.end();
  });
}

async function terminate(proc: Managed, timeoutMs: number): Promise<void> {
  const { child } = proc;
  if (proc.exited || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill("SIGKILL");
    await exited;
  }
}

export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = options.binDir ?? kubeBinDir();
  for (const name of ["etcd", "kube-apiserver", "kubectl"]) {
    if (!existsSync(join(binDir, name)))
      throw new Error(`${name} not found in ${binDir} (run scripts/ensure-kube-control-plane.sh)`);
  }
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const showOutput = options.showOutput ?? false;
  const dir = mkdtempSync(join(tmpdir(), "petrel-kube-"));
  const processes: Managed[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // The API server first, so it does not spend its shutdown retrying a vanished etcd.
    for (const proc of [...processes].reverse()) await terminate(proc, stopTimeoutMs);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    // etcd: one member, no fsync (test data), client and peer URLs on free loopback ports.
    const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = launch(
      "etcd",
      join(binDir, "etcd"),
      [
        `--name=petrel-test`,
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
        `--initial-cluster=petrel-test=http://127.0.0.1:${peerPort}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
      showOutput,
    );
    processes.push(etcd);
    await waitFor(etcd, "healthy", startTimeoutMs, async () => {
      const res = await fetch(`${etcdUrl}/health`);
      return res.ok && ((await res.json()) as { health?: string }).health === "true";
    });

    // kube-apiserver as envtest starts it: generated certificates (a CA, the serving certificate, an
    // admin client certificate in system:masters, which passes every RBAC check), a fresh
    // service-account signing key; also a static bearer token for the same admin (tests of token
    // authentication and tools that cannot present a client certificate).
    const token = `petrel-${randomUUID()}`;
    const certDir = join(dir, "certs");
    mkdirSync(certDir);
    const certs = createTestCertificates(certDir, ["127.0.0.1", "localhost"], {
      [ADMIN_USER]: `/O=system:masters/CN=${ADMIN_USER}`,
    });
    const admin = certs.clients[ADMIN_USER] as { certFile: string; keyFile: string };
    const tokenFile = join(dir, "tokens.csv");
    writeFileSync(tokenFile, `${token},${ADMIN_USER},${ADMIN_USER},"system:masters"\n`, { mode: 0o600 });
    const { publicKey, privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const saPub = join(dir, "sa.pub");
    const saKey = join(dir, "sa.key");
    writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(saKey, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = launch(
      "kube-apiserver",
      join(binDir, "kube-apiserver"),
      [
        `--etcd-servers=${etcdUrl}`,
        `--cert-dir=${certDir}`,
        `--tls-cert-file=${certs.certFile}`,
        `--tls-private-key-file=${certs.keyFile}`,
        `--client-ca-file=${certs.caFile}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${apiPort}`,
        // Without a controller manager nobody maintains the "kubernetes" Service's endpoints.
        "--endpoint-reconciler-type=none",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--allow-privileged=true",
        // No token controller runs, so Pods must not wait for a ServiceAccount to be provisioned.
        "--disable-admission-plugins=ServiceAccount",
        "--authorization-mode=RBAC",
        `--token-auth-file=${tokenFile}`,
        `--service-account-issuer=${server}`,
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        ...(options.apiServerArgs ?? []),
      ],
      showOutput,
    );
    processes.push(apiserver);
    await waitFor(apiserver, `listening on ${apiPort}`, startTimeoutMs, listening(apiPort));
    const ca = certs.ca.toString("utf8");
    await waitFor(
      apiserver,
      "ready (/readyz)",
      startTimeoutMs,
      async () => (await httpsStatus(`${server}/readyz`, ca, token)) === 200,
    );

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: "petrel-test", server, caData: Buffer.from(ca).toString("base64") }],
      users: [
        {
          name: "admin",
          certData: readFileSync(admin.certFile).toString("base64"),
          keyData: readFileSync(admin.keyFile).toString("base64"),
        },
      ],
      contexts: [{ name: "petrel-test", cluster: "petrel-test", user: "admin" }],
      currentContext: "petrel-test",
    });
    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });

    const kubectl = (args: string[], opts: { input?: string } = {}) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(
          join(binDir, "kubectl"),
          [`--kubeconfig=${kubeconfigPath}`, ...args],
          { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
          (error, stdout, stderr) => {
            if (error)
              reject(new Error(`kubectl ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
            else resolve(stdout);
          },
        );
        child.stdin?.end(opts.input ?? "");
      });

    return { kubeconfigPath, kubeConfig, server, token, binDir, kubectl, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
