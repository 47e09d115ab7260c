// Entry point of a bot process: `node bot-runtime/src/runtime/main.ts --config FILE` (or the config as
// JSON in PETREL_BOT_CONFIG). The configuration is one bot, or several bots sharing the process (Bot
// spec `process`), which then hand messages to each other in memory. SIGTERM/SIGINT drain in-flight work
// and exit; SIGHUP re-reads the config and re-initialises the bots without losing or duplicating messages.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:http";
import { parseArgs } from "node:util";
import { type Logger, pino } from "pino";
import { AnyProcessConfig, asProcessConfig, type ProcessConfig } from "../config/render.ts";
import { findModule } from "../sdk/catalogue.ts";
import { BotProcess, BotStoppedByErrorProcedure } from "./bot-process.ts";
import { BotMetrics, ProcessMetrics, serveMetrics } from "./metrics.ts";

/** Exit code of a bot stopped by error_procedure: stop (supervisors must not restart it). */
export const EXIT_STOPPED_BY_ERROR_PROCEDURE = 3;
const GRACE_MS = Number(process.env.PETREL_STOP_GRACE_MS ?? 25_000);

function loadConfig(file: string | undefined): ProcessConfig {
  const text = file ? readFileSync(file, "utf8") : process.env.PETREL_BOT_CONFIG;
  if (!text) throw new Error("no bot configuration: pass --config FILE or set PETREL_BOT_CONFIG");
  const config = asProcessConfig(AnyProcessConfig.parse(JSON.parse(text)));
  // Where several bot processes share one network namespace (a test agent playing the kubelet).
  const port = process.env.PETREL_METRICS_PORT;
  if (port !== undefined) {
    if (!/^\d+$/.test(port) || Number(port) > 65535)
      throw new Error(`PETREL_METRICS_PORT is not a port: ${port}`);
    config.metricsPort = Number(port);
  }
  return config;
}

const LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
function mostVerbose(levels: ReadonlyArray<(typeof LEVELS)[number]>): (typeof LEVELS)[number] {
  return LEVELS[Math.min(...levels.map((l) => LEVELS.indexOf(l)))] ?? "info";
}

function moduleOf(name: string) {
  const module = findModule(name);
  if (!module) throw new Error(`unknown bot module ${JSON.stringify(name)}`);
  return module;
}

/** The bots of one configuration, wired to hand over to each other, sharing the process's metrics. */
class BotGroup {
  readonly bots: BotProcess[] = [];
  constructor(
    config: ProcessConfig,
    log: Logger,
    metrics: ProcessMetrics,
    botMetrics: Map<string, BotMetrics>,
  ) {
    const local = new Map<string, BotProcess>();
    const single = config.bots.length === 1;
    for (const bot of config.bots) {
      const module = moduleOf(bot.module);
      let m = botMetrics.get(bot.bot);
      if (!m) {
        m = new BotMetrics(
          { pipeline: bot.pipeline, bot: bot.bot, module: module.id, kind: module.kind },
          metrics,
        );
        botMetrics.set(bot.bot, m);
      }
      const botLog = single ? log : log.child({ bot: bot.bot }, { level: bot.logLevel });
      const botProcess = new BotProcess({ config: bot, module, log: botLog, metrics: m, local });
      if (bot.input) local.set(bot.input.subject, botProcess);
      this.bots.push(botProcess);
    }
  }

  get ready(): boolean {
    return this.bots.every((b) => b.ready);
  }

  stop(): void {
    for (const bot of this.bots) bot.stop();
  }

  /** Runs every bot; when one ends with an error the others are stopped, then the error is thrown. */
  async run(): Promise<void> {
    let failure: unknown;
    await Promise.all(
      this.bots.map((bot) =>
        bot.run().catch((error: unknown) => {
          failure ??= error;
          this.stop();
        }),
      ),
    );
    if (failure !== undefined) throw failure;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string" } } });
  let config = loadConfig(values.config);
  const first = config.bots[0] as ProcessConfig["bots"][number];
  const single = config.bots.length === 1;
  // A bot alone logs as `bot`; bots sharing a process log as `bot` in children of the `process` logger.
  const log = pino({
    // The process logs at the most verbose of its bots' levels; each bot's child logger at its own.
    level: single ? first.logLevel : mostVerbose(config.bots.map((b) => b.logLevel)),
    base: single
      ? { pipeline: config.pipeline, bot: first.bot }
      : { pipeline: config.pipeline, process: config.process },
  });
  for (const bot of config.bots) moduleOf(bot.module);
  const metrics = new ProcessMetrics({ pipeline: config.pipeline, process: config.process });
  const botMetrics = new Map<string, BotMetrics>();
  let current: BotGroup | undefined;
  const server: Server = await serveMetrics(metrics, config.metricsPort, {
    ready: () => current?.ready === true,
  });
  const address = server.address();
  log.info(
    {
      modules: config.bots.map((b) => b.module),
      metricsPort: typeof address === "object" ? address?.port : undefined,
    },
    config.bots.length === 1 ? "Bot starting." : `Process starting with ${config.bots.length} bots.`,
  );

  let stopping = false;
  let reloading = false;
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGINT", () => shutdown("SIGINT"));
  const reload = (why: string) => {
    if (stopping || reloading) return;
    reloading = true;
    log.info({ why }, "Reloading: draining, then re-reading the configuration.");
    current?.stop();
  };
  process.on("SIGHUP", () => reload("SIGHUP"));
  // A changed config file (e.g. an updated ConfigMap, swapped in by symlink) reloads too; polling
  // follows such swaps where inotify watches would not.
  if (values.config) {
    const file = values.config;
    let seen = readFileSync(file, "utf8");
    watchFile(file, { interval: 2_000, persistent: false }, () => {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch {
        return; // mid-swap: the next poll sees the new file
      }
      if (text === seen) return;
      seen = text;
      reload("configuration file changed");
    });
  }
  function shutdown(signal: string) {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "Stopping: draining in-flight messages.");
    current?.stop();
    setTimeout(() => {
      log.error("Drain exceeded the grace period; exiting.");
      process.exit(1);
    }, GRACE_MS).unref();
  }

  for (;;) {
    current = new BotGroup(config, log, metrics, botMetrics);
    try {
      await current.run();
    } catch (error) {
      if (error instanceof BotStoppedByErrorProcedure) {
        log.fatal(error.message);
        server.close();
        process.exit(EXIT_STOPPED_BY_ERROR_PROCEDURE);
      }
      throw error;
    }
    if (reloading && !stopping) {
      reloading = false;
      config = loadConfig(values.config);
      if (config.bots.length === 1) log.level = (config.bots[0] as ProcessConfig["bots"][number]).logLevel;
      log.info("Configuration reloaded.");
      continue;
    }
    break;
  }
  log.info(config.bots.length === 1 ? "Bot stopped." : "Process stopped.");
  if (values.config) unwatchFile(values.config);
  server.close();
}

main().catch((error: unknown) => {
  console.error(
    JSON.stringify({ level: 60, msg: "Bot failed.", err: String((error as Error)?.stack ?? error) }),
  );
  process.exit(1);
});
