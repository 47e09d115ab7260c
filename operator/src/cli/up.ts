// `petrelctl up` (run Pipeline/Bot YAML on this machine) and `petrelctl demo` (npm start).
import { resolve } from "node:path";
import type { Command } from "commander";
import { durationMs } from "../../../bot-runtime/src/config/resources.ts";
import { ConfigError, loadLocalConfig, readSources } from "../local/config.ts";
import { runDemo } from "../local/demo.ts";
import { runLocal } from "../local/run.ts";

// No default list: commander then still reports a missing -f.
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function timeoutOf(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return durationMs(text);
  } catch {
    throw new Error(`--timeout must be a duration such as 90s or 10m, not ${JSON.stringify(text)}`);
  }
}

function reportConfigError(error: unknown): boolean {
  if (!(error instanceof ConfigError)) return false;
  console.error(`petrelctl: the resources are not valid (${error.problems.length} problem(s)):`);
  for (const problem of error.problems) console.error(`  ${problem}`);
  return true;
}

/** A closed pipe (`petrelctl up | head`) must not crash petrelctl midway and leave its bots behind. */
function ignoreClosedStdout(): void {
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}

interface UpFlags {
  file: string[];
  follow?: boolean;
  untilDrained?: boolean;
  dataDir: string;
  reset?: boolean;
  timeout?: string;
}

export function registerUpCommands(program: Command): void {
  program
    .command("up")
    .description(
      "Run Pipeline and Bot resources (the YAML used on Kubernetes) on this machine: a private nats-server, one process per bot replica, a live status",
    )
    .requiredOption(
      "-f, --file <file>",
      "YAML file of Pipeline, Bot and Exclusion resources (repeatable)",
      collect,
    )
    .option("--follow", "keep running until Ctrl-C (the default)")
    .option(
      "--until-drained",
      "exit once every collector ran and every queue is empty (1 on dead letters or failed bots)",
    )
    .option("--data-dir <dir>", "where the NATS store, bot configs and logs go", ".petrel")
    .option("--reset", "delete the pipelines' queues, dead letters and bot state first")
    .option("--timeout <duration>", "with --until-drained: fail when not drained within this time (e.g. 10m)")
    .action(async (flags: UpFlags) => {
      if (flags.follow && flags.untilDrained)
        throw new Error("--follow and --until-drained exclude each other");
      const timeoutMs = timeoutOf(flags.timeout);
      ignoreClosedStdout();
      const dataDir = resolve(flags.dataDir);
      let config: ReturnType<typeof loadLocalConfig>;
      try {
        config = loadLocalConfig(readSources(flags.file), { secretsDir: resolve(dataDir, "secrets") });
      } catch (error) {
        if (reportConfigError(error)) {
          process.exitCode = 1;
          return;
        }
        throw error;
      }
      const result = await runLocal(config, {
        dataDir,
        mode: flags.untilDrained ? "until-drained" : "follow",
        ...(flags.reset ? { reset: true } : {}),
        ...(process.env.NATS_URL ? { natsUrl: process.env.NATS_URL } : {}),
        ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      });
      process.exitCode = result.exitCode;
    });

  program
    .command("demo")
    .description(
      "Run the demo pipeline (examples/demo.yaml: sample feeds → parsers → deduplicator → taxonomy → file) until drained, from a fresh state",
    )
    .option("--follow", "keep running until Ctrl-C instead of exiting once drained")
    .option(
      "--data-dir <dir>",
      "where state, logs and demo-output.jsonl go (default: .petrel in the repository)",
    )
    .option("--timeout <duration>", "fail when not drained within this time (e.g. 5m)")
    .action(async (flags: { follow?: boolean; dataDir?: string; timeout?: string }) => {
      const timeoutMs = timeoutOf(flags.timeout);
      ignoreClosedStdout();
      try {
        process.exitCode = await runDemo({
          ...(flags.follow ? { follow: true } : {}),
          ...(flags.dataDir ? { dataDir: flags.dataDir } : {}),
          ...(process.env.NATS_URL ? { natsUrl: process.env.NATS_URL } : {}),
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        });
      } catch (error) {
        if (reportConfigError(error)) {
          process.exitCode = 1;
          return;
        }
        throw error;
      }
    });
}
