// Runs bot processes (one per replica) and keeps them running: a crashed process is restarted with
// exponential backoff, one stopped by `error_procedure: stop` (exit code 3) is left stopped, and one
// that keeps crashing is given up. Stopping sends SIGTERM (the bot drains), then SIGKILL after a grace.
import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, closeSync, openSync, readSync, statSync } from "node:fs";

/** Exit code of a bot stopped by error_procedure: stop (bot-runtime/src/runtime/main.ts). */
export const EXIT_STOPPED_BY_ERROR_PROCEDURE = 3;

const ORPHAN_GUARD = new URL(
  `./orphan-guard${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`,
  import.meta.url,
);

export type InstanceState = "running" | "backoff" | "failed" | "error-stop" | "stopping" | "stopped";

export interface InstanceSpec {
  bot: string;
  replica: number;
  configFile: string;
  logFile: string;
  metricsPort: number;
}

export interface SupervisorEvent {
  time: Date;
  bot: string;
  replica: number;
  kind: "started" | "exited" | "failed" | "error-stop";
  pid?: number;
  message: string;
}

export interface SupervisorOptions {
  /** bot-runtime/src/runtime/main.ts */
  mainScript: string;
  /** Working directory of the bots (relative paths in parameters are resolved from it). */
  cwd: string;
  /** Extra node options for bot processes (tests load test modules this way). */
  nodeArgs?: readonly string[];
  env?: NodeJS.ProcessEnv;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** A process that ran this long before crashing starts a fresh backoff sequence. */
  stableAfterMs?: number;
  /** Consecutive crashes before the supervisor gives up on a replica. */
  maxCrashes?: number;
  stopGraceMs?: number;
  onEvent?: (event: SupervisorEvent) => void;
  /**
   * Runs before a crashed process is started again, e.g. to give it another metrics port: the one it
   * had may have been taken meanwhile (another program's connection got it as its local port).
   */
  beforeRestart?: (spec: InstanceSpec) => Promise<void>;
}

export class Instance {
  readonly spec: InstanceSpec;
  state: InstanceState = "stopped";
  pid: number | undefined;
  /** Processes started after the first. */
  restarts = 0;
  consecutiveCrashes = 0;
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  nextStartAt: number | undefined;
  child: ChildProcess | undefined;
  startedAt = 0;
  timer: NodeJS.Timeout | undefined;
  exited: Promise<void> = Promise.resolve();

  constructor(spec: InstanceSpec) {
    this.spec = spec;
  }

  get name(): string {
    return this.spec.replica === 0 ? this.spec.bot : `${this.spec.bot}#${this.spec.replica}`;
  }
}

export class Supervisor {
  readonly #options: Required<Omit<SupervisorOptions, "onEvent" | "env" | "beforeRestart">> &
    Pick<SupervisorOptions, "onEvent" | "env" | "beforeRestart">;
  readonly instances: Instance[] = [];
  #stopping = false;

  constructor(options: SupervisorOptions) {
    this.#options = {
      nodeArgs: [],
      backoffInitialMs: 1000,
      backoffMaxMs: 30_000,
      stableAfterMs: 30_000,
      maxCrashes: 5,
      stopGraceMs: 30_000,
      ...options,
    };
  }

  add(spec: InstanceSpec): Instance {
    const instance = new Instance(spec);
    this.instances.push(instance);
    return instance;
  }

  startAll(): void {
    for (const instance of this.instances) this.#start(instance);
  }

  #emit(instance: Instance, kind: SupervisorEvent["kind"], message: string): void {
    this.#options.onEvent?.({
      time: new Date(),
      bot: instance.spec.bot,
      replica: instance.spec.replica,
      kind,
      ...(instance.pid !== undefined ? { pid: instance.pid } : {}),
      message,
    });
  }

  #start(instance: Instance): void {
    if (this.#stopping) return;
    const { spec } = instance;
    const o = this.#options;
    instance.timer = undefined;
    instance.nextStartAt = undefined;
    // A line in the bot's own JSON log format, so the log shows where each process begins.
    appendFileSync(
      spec.logFile,
      `${JSON.stringify({ level: 30, time: Date.now(), bot: spec.bot, replica: spec.replica, msg: `petrelctl: starting bot process (restart ${instance.restarts})` })}\n`,
    );
    const log = openSync(spec.logFile, "a");
    let child: ChildProcess;
    try {
      child = spawn(
        process.execPath,
        [...o.nodeArgs, "--import", ORPHAN_GUARD.href, o.mainScript, "--config", spec.configFile],
        {
          cwd: o.cwd,
          env: o.env ?? process.env,
          // Own process group: Ctrl-C reaches petrelctl, which stops bots in order; the IPC channel
          // lets a bot notice that petrelctl is gone (see orphan-guard.ts).
          detached: true,
          stdio: ["ignore", log, log, "ipc"],
        },
      );
    } finally {
      closeSync(log);
    }
    instance.child = child;
    instance.pid = child.pid;
    instance.state = "running";
    instance.startedAt = Date.now();
    instance.exited = new Promise((resolve) => {
      let done = false;
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (done) return;
        done = true;
        this.#onExit(instance, code, signal);
        resolve();
      };
      child.once("exit", finish);
      child.once("error", (error) => {
        appendFileSync(spec.logFile, `petrelctl: could not start the bot process: ${error.message}\n`);
        finish(-1, null);
      });
    });
    this.#emit(instance, "started", `${instance.name} started (pid ${child.pid})`);
  }

  async #restart(instance: Instance): Promise<void> {
    try {
      await this.#options.beforeRestart?.(instance.spec);
    } catch (error) {
      appendFileSync(
        instance.spec.logFile,
        `petrelctl: preparing the restart failed: ${(error as Error).message}\n`,
      );
    }
    if (instance.state === "backoff") this.#start(instance);
  }

  #onExit(instance: Instance, code: number | null, signal: NodeJS.Signals | null): void {
    instance.lastExit = { code, signal };
    instance.child = undefined;
    const how = signal ? `killed by ${signal}` : `exit code ${code}`;
    if (this.#stopping || instance.state === "stopping") {
      instance.state = "stopped";
      return;
    }
    if (code === EXIT_STOPPED_BY_ERROR_PROCEDURE) {
      instance.state = "error-stop";
      this.#emit(
        instance,
        "error-stop",
        `${instance.name} stopped itself (error_procedure: stop); not restarted, see ${instance.spec.logFile}`,
      );
      return;
    }
    const o = this.#options;
    if (Date.now() - instance.startedAt >= o.stableAfterMs) instance.consecutiveCrashes = 0;
    instance.consecutiveCrashes++;
    if (instance.consecutiveCrashes >= o.maxCrashes) {
      instance.state = "failed";
      this.#emit(
        instance,
        "failed",
        `${instance.name} crashed ${instance.consecutiveCrashes} times in a row (${how}); giving up, see ${instance.spec.logFile}`,
      );
      return;
    }
    const delay = Math.min(o.backoffMaxMs, o.backoffInitialMs * 2 ** (instance.consecutiveCrashes - 1));
    instance.state = "backoff";
    instance.nextStartAt = Date.now() + delay;
    instance.restarts++;
    instance.timer = setTimeout(() => void this.#restart(instance), delay);
    const reason = lastError(instance.spec.logFile);
    this.#emit(
      instance,
      "exited",
      `${instance.name} (pid ${instance.pid}) ${signal ? "was killed by" : "exited with"} ${signal ?? `code ${code}`}; restarting in ${formatDelay(delay)} (log ${instance.spec.logFile})${reason ? `: ${reason}` : ""}`,
    );
  }

  /** SIGTERM to every process, SIGKILL to those still running after the grace period. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const instance of this.instances) {
      if (instance.timer) clearTimeout(instance.timer);
      instance.timer = undefined;
      if (instance.child) {
        instance.state = "stopping";
        instance.child.kill("SIGTERM");
      } else if (instance.state === "backoff") {
        instance.state = "stopped";
      }
    }
    const all = Promise.all(this.instances.map((i) => i.exited));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#options.stopGraceMs);
    });
    const late = await Promise.race([all.then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) this.kill();
    await all;
  }

  /** SIGKILL to every running process (a second Ctrl-C, or a stop that took too long). */
  kill(): void {
    this.#stopping = true;
    for (const instance of this.instances) {
      if (instance.timer) clearTimeout(instance.timer);
      instance.child?.kill("SIGKILL");
    }
  }

  get stopping(): boolean {
    return this.#stopping;
  }
}

export function formatDelay(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/** The message of the last error a bot logged (its JSON log's last line at level error or above). */
export function lastError(logFile: string): string | undefined {
  let text: string;
  try {
    const size = statSync(logFile).size;
    const fd = openSync(logFile, "r");
    try {
      const length = Math.min(size, 16_384);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      text = buffer.toString("utf8");
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
  for (const line of text.split("\n").reverse()) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { level?: number; msg?: string; err?: { message?: string } | string };
      if ((entry.level ?? 0) < 50) continue;
      // Of a stack, its first line.
      const detail = (typeof entry.err === "string" ? entry.err : entry.err?.message)?.split("\n")[0];
      return [entry.msg, detail].filter((part) => part !== undefined && part !== "").join(" ");
    } catch {
      // A partial line at the start of the tail.
    }
  }
  return undefined;
}
