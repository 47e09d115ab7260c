// `petrelctl demo` (npm start): examples/demo.yaml run until drained, from a fresh state each time so
// re-runs give the same result: the demo pipeline's queues, dead letters and deduplication state are
// reset and the previous output is removed.
import { createReadStream, existsSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline";
import { loadLocalConfig, readSources } from "./config.ts";
import { REPO_ROOT } from "./nats-server.ts";
import { type RunOptions, runLocal } from "./run.ts";

export const DEMO_FILE = join(REPO_ROOT, "examples", "demo.yaml");
export const DEMO_OUTPUT = "demo-output.jsonl";

export interface DemoOptions extends Omit<RunOptions, "dataDir" | "mode" | "reset" | "cwd"> {
  /** Default: .petrel in the repository. */
  dataDir?: string;
  follow?: boolean;
}

async function countLines(file: string): Promise<number> {
  if (!existsSync(file)) return 0;
  let n = 0;
  for await (const line of createInterface({
    input: createReadStream(file),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    if (line !== "") n++;
  }
  return n;
}

export async function runDemo(options: DemoOptions = {}): Promise<number> {
  const out = options.out ?? process.stdout;
  const print = (line = "") => out.write(`${line}\n`);
  const dataDir = resolve(options.dataDir ?? join(REPO_ROOT, ".petrel"));
  const config = loadLocalConfig(readSources([DEMO_FILE]), {
    secretsDir: join(dataDir, "secrets"),
  });
  // The events go into the data directory, so `--data-dir` keeps a test or a second demo apart.
  const output = join(dataDir, DEMO_OUTPUT);
  for (const bot of config.bots) {
    if (bot.module.id === "outputs.file") bot.resource.spec.parameters.file = output;
  }
  rmSync(output, { force: true });
  const shown = relative(process.cwd(), output).startsWith("..") ? output : relative(process.cwd(), output);
  print(`Petrel demo: ${relative(REPO_ROOT, DEMO_FILE)}, sample feeds from examples/feeds/ → ${shown}`);

  const result = await runLocal(config, {
    ...options,
    dataDir,
    mode: options.follow ? "follow" : "until-drained",
    reset: true,
    cwd: REPO_ROOT,
  });
  const events = await countLines(output);
  if (result.exitCode !== 0) {
    if (events > 0) print(`${events} events were written to ${shown} before the demo failed.`);
    return result.exitCode;
  }
  if (result.outcome === "drained" && events === 0) {
    print(
      `The demo pipeline drained but wrote no events to ${shown}; see the bot logs in ${join(dataDir, "logs")}.`,
    );
    return 1;
  }
  print("");
  print(`${events} events are in ${shown} (one IntelMQ-format JSON event per line).`);
  print(`Validate them:  npx petrelctl event check ${shown}`);
  print("Run it yourself: npx petrelctl up -f examples/demo.yaml   (see examples/README.md)");
  return 0;
}
