// A stand-in for the kubelet in the e2e tests. No container runtime runs on the test machines, so this
// agent watches the Deployments of a namespace and runs each pod template's container as a local process:
// the command and arguments, the environment (values and Secret/ConfigMap references), ConfigMap, Secret
// and emptyDir volumes materialised in a temporary directory, the image's /app mapped to the repository.
// It reports readiness from the readiness probe into the Deployment's status, restarts a process that
// exits (restartPolicy Always), replaces the processes when the pod template changes, and stops them when
// the Deployment is scaled to zero or deleted. Level-based: every sync compares what runs with what the
// Deployments ask for.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  AppsV1Api,
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1Deployment,
  type V1PodSpec,
} from "@kubernetes/client-node";
import { freePort } from "../../bot-runtime/test-support/nats-server.ts";

/** Where the shared image keeps the project (its WORKDIR). */
const IMAGE_ROOT = "/app";
const SYNC_MS = 250;
const RESTART_DELAY_MS = 1_000;
const statusPatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export interface AgentOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The repository root: what the image has at /app. */
  root: string;
  /** Each pod's output goes to <logDir>/<deployment>-<replica>.log. */
  logDir: string;
  /** Extra environment for every process (e.g. test-only module hooks). */
  env?: Record<string, string>;
  /** Extra node options when the command is node. */
  nodeArgs?: string[];
}

/** One replica of a Deployment: a local process standing in for its pod. */
export class PodProcess {
  readonly name: string;
  ready = false;
  restarts = 0;
  child?: ChildProcess;
  #stopped = false;
  #dir: string;
  #port = 0;
  #probe?: { path: string };
  #timer?: NodeJS.Timeout;
  #exited: Promise<void> = Promise.resolve();

  readonly root: string;

  constructor(name: string, root: string) {
    this.name = name;
    this.root = root;
    this.#dir = mkdtempSync(join(tmpdir(), `petrel-pod-${name}-`));
  }

  async start(spec: V1PodSpec, core: CoreV1Api, options: AgentOptions): Promise<void> {
    const container = spec.containers[0] as V1Container;
    const mounts = await this.#volumes(spec, container, core, options.namespace);
    const map = (text: string) => {
      for (const [from, to] of mounts) if (text.startsWith(from)) return to + text.slice(from.length);
      return text;
    };
    this.#port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "",
      HOME: this.#dir,
      ...options.env,
      PETREL_METRICS_PORT: String(this.#port),
    };
    for (const e of container.env ?? []) {
      if (e.value !== undefined) env[e.name] = map(e.value);
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const secret = await core.readNamespacedSecret({
          name: ref.name as string,
          namespace: options.namespace,
        });
        const value = secret.data?.[ref.key];
        if (value !== undefined) env[e.name] = Buffer.from(value, "base64").toString("utf8");
      } else if (e.valueFrom?.configMapKeyRef) {
        const ref = e.valueFrom.configMapKeyRef;
        const cm = await core.readNamespacedConfigMap({
          name: ref.name as string,
          namespace: options.namespace,
        });
        const value = cm.data?.[ref.key];
        if (value !== undefined) env[e.name] = value;
      } else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.name") env[e.name] = this.name;
    }
    const argv = [...(container.command ?? []), ...(container.args ?? [])].map(map);
    if (argv.length === 0)
      throw new Error(
        `pod ${this.name}: the container has no command (the image's entrypoint is not known here)`,
      );
    const [program, ...args] = argv as [string, ...string[]];
    const isNode = program === "node";
    const probe = container.readinessProbe?.httpGet;
    this.#probe = probe ? { path: probe.path ?? "/" } : undefined;
    const log = createWriteStream(join(options.logDir, `${this.name}.log`), { flags: "a" });
    const cwd = map(container.workingDir ?? IMAGE_ROOT);
    const run = () => {
      if (this.#stopped) return;
      const child = spawn(
        isNode ? process.execPath : program,
        isNode ? [...(options.nodeArgs ?? []), ...args] : args,
        {
          cwd,
          env,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      this.child = child;
      child.stdout?.pipe(log, { end: false });
      child.stderr?.pipe(log, { end: false });
      this.#exited = new Promise((resolve) =>
        child.once("exit", () => {
          this.ready = false;
          resolve();
          if (!this.#stopped) {
            this.restarts++;
            setTimeout(run, RESTART_DELAY_MS).unref();
          }
        }),
      );
    };
    run();
    this.#timer = setInterval(() => void this.#checkReady(), SYNC_MS);
  }

  /** Mount path → local directory, the image root included. */
  async #volumes(spec: V1PodSpec, container: V1Container, core: CoreV1Api, namespace: string) {
    const mounts: Array<[string, string]> = [];
    for (const mount of container.volumeMounts ?? []) {
      const volume = spec.volumes?.find((v) => v.name === mount.name);
      if (!volume) throw new Error(`pod ${this.name}: volume ${mount.name} is mounted but not defined`);
      const dir = join(this.#dir, "volumes", volume.name);
      mkdirSync(dir, { recursive: true });
      if (volume.configMap) {
        const cm = await core.readNamespacedConfigMap({ name: volume.configMap.name as string, namespace });
        for (const [key, value] of Object.entries(cm.data ?? {})) writeFile(join(dir, key), value);
      } else if (volume.secret) {
        const secret = await core.readNamespacedSecret({
          name: volume.secret.secretName as string,
          namespace,
        });
        for (const [key, value] of Object.entries(secret.data ?? {}))
          writeFile(join(dir, key), Buffer.from(value, "base64").toString("utf8"));
      }
      mounts.push([mount.mountPath, mount.subPath ? join(dir, mount.subPath) : dir]);
    }
    mounts.push([IMAGE_ROOT, this.root]);
    // Longest mount path first, so /app/x wins over /app.
    return mounts.sort((a, b) => b[0].length - a[0].length);
  }

  async #checkReady(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) {
      this.ready = false;
      return;
    }
    if (!this.#probe) {
      this.ready = true;
      return;
    }
    this.ready = await httpOk(this.#port, this.#probe.path);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      await this.#exited;
      clearTimeout(killer);
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

function writeFile(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

function httpOk(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: "127.0.0.1", port, path, agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 400);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

interface Running {
  templateHash: string;
  pods: PodProcess[];
}

export class KubeletAgent {
  readonly #options: AgentOptions;
  readonly #apps: AppsV1Api;
  readonly #core: CoreV1Api;
  readonly #running = new Map<string, Running>();
  #timer?: NodeJS.Timeout;
  #syncing = false;
  #stopped = false;
  /** The last error of a sync (a failing start, an API error), for test diagnostics. */
  lastError?: Error;

  constructor(options: AgentOptions) {
    this.#options = options;
    mkdirSync(options.logDir, { recursive: true });
    this.#apps = options.kubeConfig.makeApiClient(AppsV1Api);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  start(): void {
    this.#timer = setInterval(() => void this.sync(), SYNC_MS);
  }

  /** The pods (processes) of a Deployment. */
  pods(deployment: string): readonly PodProcess[] {
    return this.#running.get(deployment)?.pods ?? [];
  }

  /** Deployments with processes. */
  get deployments(): string[] {
    return [...this.#running.keys()].filter((d) => (this.#running.get(d)?.pods.length ?? 0) > 0);
  }

  async sync(): Promise<void> {
    if (this.#syncing || this.#stopped) return;
    this.#syncing = true;
    try {
      const list = await this.#apps.listNamespacedDeployment({ namespace: this.#options.namespace });
      const seen = new Set<string>();
      for (const d of list.items) {
        const name = d.metadata?.name as string;
        seen.add(name);
        await this.#reconcile(d);
      }
      for (const [name, running] of this.#running) {
        if (seen.has(name)) continue;
        await Promise.all(running.pods.map((p) => p.stop()));
        this.#running.delete(name);
      }
    } catch (error) {
      this.lastError = error as Error;
    } finally {
      this.#syncing = false;
    }
  }

  async #reconcile(d: V1Deployment): Promise<void> {
    const name = d.metadata?.name as string;
    const template = d.spec?.template;
    const hash = createHash("sha256")
      .update(JSON.stringify(template ?? {}))
      .digest("hex");
    let running = this.#running.get(name);
    if (running && running.templateHash !== hash) {
      await Promise.all(running.pods.map((p) => p.stop()));
      running = undefined;
    }
    if (!running) {
      running = { templateHash: hash, pods: [] };
      this.#running.set(name, running);
    }
    const want = d.spec?.replicas ?? 1;
    while (running.pods.length > want) await running.pods.pop()?.stop();
    while (running.pods.length < want && template?.spec) {
      const pod = new PodProcess(`${name}-${running.pods.length}`, this.#options.root);
      running.pods.push(pod);
      await pod.start(template.spec, this.#core, this.#options);
    }
    const ready = running.pods.filter((p) => p.ready).length;
    const status = {
      observedGeneration: d.metadata?.generation,
      replicas: running.pods.length,
      updatedReplicas: running.pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      unavailableReplicas: Math.max(0, want - ready),
    };
    const current = d.status ?? {};
    const same = (Object.keys(status) as Array<keyof typeof status>).every(
      (k) => (current[k] ?? 0) === (status[k] ?? 0),
    );
    if (same) return;
    await this.#apps.patchNamespacedDeploymentStatus(
      { name, namespace: this.#options.namespace, body: { status } },
      statusPatch,
    );
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    while (this.#syncing) await new Promise((r) => setTimeout(r, 20));
    await Promise.all([...this.#running.values()].flatMap((r) => r.pods.map((p) => p.stop())));
    this.#running.clear();
  }
}
