// IntelMQ 3.5 itself, for comparison: each bot runs as its own process exactly as `intelmqctl start`
// runs it (the module's BOT.run() with a bot id), configured by a runtime.yaml in a temporary
// INTELMQ_ROOT_DIR, with the Redis pipeline (and the deduplicator's cache) on a private redis-server.
// IntelMQ refuses to run as root unless it can switch to the user intelmq; as root (containers), its
// privilege drop is stubbed out before BOT.run(), which changes nothing else.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { atExit, track } from "./children.ts";
import type { RunningBot } from "./pipeline.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const asRoot = process.getuid?.() === 0;

let python: string | undefined;
/** The IntelMQ venv's python (scripts/ensure-intelmq.sh installs it on first use). */
export function intelmqPython(): string {
  python ??= execFileSync("bash", [join(ROOT, "scripts/ensure-intelmq.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  return python;
}

export interface IntelmqBotSpec {
  id: string;
  /** IntelMQ module path, e.g. intelmq.bots.experts.taxonomy.expert. */
  module: string;
  parameters?: Record<string, unknown>;
  /** Destination queue names of the _default path. */
  destinations: string[];
}

export class IntelmqPipeline {
  readonly root: string;
  readonly #redisPort: number;
  readonly #modules = new Map<string, string>();
  readonly #running: RunningBot[] = [];

  readonly #removeRoot: { done(): void };

  private constructor(root: string, redisPort: number, removeRoot: { done(): void }) {
    this.root = root;
    this.#redisPort = redisPort;
    this.#removeRoot = removeRoot;
  }

  /** `bots` may be a function of the pipeline's directory (for files the bots write). */
  static create(
    redisPort: number,
    bots: IntelmqBotSpec[] | ((root: string) => IntelmqBotSpec[]),
  ): IntelmqPipeline {
    const root = mkdtempSync(join(tmpdir(), "petrel-bench-intelmq-"));
    const removeRoot = atExit(() => rmSync(root, { recursive: true, force: true }));
    for (const dir of ["etc", "var/log", "var/lib/bots", "var/run"])
      mkdirSync(join(root, dir), { recursive: true });
    const python = intelmqPython();
    const site = execFileSync(
      python,
      ["-c", "import intelmq, os; print(os.path.dirname(intelmq.__file__))"],
      {
        encoding: "utf8",
      },
    ).trim();
    copyFileSync(join(site, "etc/harmonization.conf"), join(root, "etc/harmonization.conf"));
    const redis = (prefix: string) => ({
      [`${prefix}_host`]: "127.0.0.1",
      [`${prefix}_port`]: redisPort,
      [`${prefix}_password`]: null,
    });
    const runtime: Record<string, unknown> = {
      global: {
        ...redis("source_pipeline"),
        ...redis("destination_pipeline"),
        source_pipeline_broker: "redis",
        destination_pipeline_broker: "redis",
        source_pipeline_db: 2,
        destination_pipeline_db: 2,
        ...redis("statistics"),
        statistics_database: 3,
        logging_level: "WARNING",
        logging_handler: "file",
        logging_path: join(root, "var/log"),
        error_procedure: "pass",
        error_max_retries: 3,
        error_dump_message: true,
      },
    };
    const pipeline = new IntelmqPipeline(root, redisPort, removeRoot);
    for (const bot of typeof bots === "function" ? bots(root) : bots) {
      pipeline.#modules.set(bot.id, bot.module);
      runtime[bot.id] = {
        bot_id: bot.id,
        module: bot.module,
        enabled: true,
        run_mode: "continuous",
        parameters: { ...bot.parameters, destination_queues: { _default: bot.destinations } },
      };
    }
    // JSON is YAML: IntelMQ reads it with its YAML loader.
    writeFileSync(join(root, "etc/runtime.yaml"), JSON.stringify(runtime, null, 2));
    return pipeline;
  }

  /** The Redis list a bot reads (IntelMQ's default source queue name). */
  static queue(botId: string): string {
    return `${botId}-queue`;
  }

  get redisPort(): number {
    return this.#redisPort;
  }

  spawn(botId: string): RunningBot {
    const module = this.#modules.get(botId);
    if (!module) throw new Error(`no IntelMQ bot ${botId}`);
    const stub = asRoot ? "import intelmq.lib.utils as u; u.drop_privileges = lambda: True; " : "";
    // Start-up failures go to stderr, everything else to the bot's log file.
    const stderr = openSync(join(this.root, "var/log", `${botId}.stderr`), "a");
    const child: ChildProcess = track(
      spawn(intelmqPython(), ["-c", `${stub}from ${module} import BOT; BOT.run()`, botId], {
        env: { ...process.env, INTELMQ_ROOT_DIR: `${this.root}/` },
        stdio: ["ignore", "ignore", stderr],
      }),
    );
    closeSync(stderr);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const running: RunningBot = {
      name: botId,
      pid: child.pid as number,
      child,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killer);
      },
    };
    this.#running.push(running);
    return running;
  }

  /** The last lines of a bot's log, for error messages. */
  logTail(botId: string, lines = 15): string {
    return [".log", ".stderr"]
      .map((ext) => join(this.root, "var/log", `${botId}${ext}`))
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file, "utf8").split("\n").slice(-lines).join("\n"))
      .join("\n");
  }

  async destroy(): Promise<void> {
    await Promise.all(this.#running.map((r) => r.stop()));
    rmSync(this.root, { recursive: true, force: true });
    this.#removeRoot.done();
  }
}
