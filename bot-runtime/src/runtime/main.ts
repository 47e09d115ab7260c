// Entry point of a bot process: `node bot-runtime/src/runtime/main.ts --config FILE` (or the config as
// JSON in PETREL_BOT_CONFIG). SIGTERM/SIGINT drain in-flight work and exit; SIGHUP re-reads the config
// and re-initialises the bot without losing or duplicating messages.
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:http";
import { parseArgs } from "node:util";
import { pino } from "pino";
import { RuntimeConfig } from "../config/render.ts";
import { findModule } from "../sdk/catalogue.ts";
import { BotProcess, BotStoppedByErrorProcedure } from "./bot-process.ts";
import { BotMetrics, serveMetrics } from "./metrics.ts";

/** Exit code of a bot stopped by error_procedure: stop (supervisors must not restart it). */
export const EXIT_STOPPED_BY_ERROR_PROCEDURE = 3;
const GRACE_MS = Number(process.env.PETREL_STOP_GRACE_MS ?? 25_000);

function loadConfig(file: string | undefined): RuntimeConfig {
  const text = file ? readFileSync(file, "utf8") : process.env.PETREL_BOT_CONFIG;
  if (!text) throw new Error("no bot configuration: pass --config FILE or set PETREL_BOT_CONFIG");
  return RuntimeConfig.parse(JSON.parse(text));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string" } } });
  let config = loadConfig(values.config);
  const log = pino({ level: config.logLevel, base: { pipeline: config.pipeline, bot: config.bot } });
  const module = findModule(config.module);
  if (!module) throw new Error(`unknown bot module ${JSON.stringify(config.module)}`);
  const metrics = new BotMetrics({
    pipeline: config.pipeline,
    bot: config.bot,
    module: module.id,
    kind: module.kind,
  });
  let current: BotProcess | undefined;
  const server: Server = await serveMetrics(metrics, config.metricsPort, {
    ready: () => current?.ready === true,
  });
  const address = server.address();
  log.info(
    { module: module.id, metricsPort: typeof address === "object" ? address?.port : undefined },
    "Bot starting.",
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
    const botModule = findModule(config.module) ?? module;
    current = new BotProcess({ config, module: botModule, log, metrics });
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
      log.level = config.logLevel;
      log.info("Configuration reloaded.");
      continue;
    }
    break;
  }
  log.info("Bot stopped.");
  if (values.config) unwatchFile(values.config);
  server.close();
}

main().catch((error: unknown) => {
  console.error(
    JSON.stringify({ level: 60, msg: "Bot failed.", err: String((error as Error)?.stack ?? error) }),
  );
  process.exit(1);
});
