// `petrelctl import intelmq`: print an IntelMQ configuration as Petrel Pipeline and Bot resources, and
// report on stderr what could not be carried over. Exit 0: all mapped; 2: something reported; 1: the
// input cannot be read.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import {
  DEFAULT_PIPELINE,
  ImportInputError,
  type IntelmqInput,
  importIntelmq,
  type SourceText,
} from "../import/intelmq.ts";

interface ImportFlags {
  pipelineConf?: string;
  runtimeConf?: string;
  defaultsConf?: string;
  pipeline: string;
  output?: string;
}

function read(path: string): SourceText {
  if (!existsSync(path)) throw new ImportInputError(`${path}: no such file`);
  try {
    return { path, text: readFileSync(path, "utf8") };
  } catch (error) {
    throw new ImportInputError(`${path}: cannot be read: ${(error as Error).message}`);
  }
}

function inputOf(runtimeYaml: string | undefined, flags: ImportFlags): IntelmqInput {
  if (runtimeYaml && flags.runtimeConf) {
    throw new Error("give runtime.yaml or --runtime-conf, not both");
  }
  const runtime = runtimeYaml ?? flags.runtimeConf;
  if (!runtime) {
    throw new Error(
      "give IntelMQ's runtime.yaml, or --runtime-conf runtime.conf --pipeline-conf pipeline.conf for IntelMQ 1.x/2.x",
    );
  }
  if (flags.runtimeConf && !flags.pipelineConf) {
    throw new Error(
      "--runtime-conf needs --pipeline-conf (IntelMQ 1.x/2.x keep the queues in pipeline.conf)",
    );
  }
  return {
    runtime: read(runtime),
    ...(flags.pipelineConf ? { pipeline: read(flags.pipelineConf) } : {}),
    ...(flags.defaultsConf ? { defaults: read(flags.defaultsConf) } : {}),
  };
}

function run(runtimeYaml: string | undefined, flags: ImportFlags): void {
  let result: ReturnType<typeof importIntelmq>;
  try {
    result = importIntelmq(inputOf(runtimeYaml, flags), { pipeline: flags.pipeline });
  } catch (error) {
    if (!(error instanceof ImportInputError)) throw error;
    console.error(`petrelctl import: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  if (flags.output) writeFileSync(flags.output, result.yaml);
  else process.stdout.write(result.yaml);
  for (const line of result.report) console.error(line);
  if (result.hints.length > 0) {
    console.error("Create the Secrets before applying the Bots (values as in the IntelMQ configuration):");
    for (const hint of result.hints) console.error(`  ${hint}`);
  }
  const { bots, mapped, unmapped } = result.counts;
  const reported = result.report.length;
  console.error(
    `petrelctl import: ${bots} bot(s) ${flags.output ? `written to ${flags.output}` : "imported"}: ${mapped} with a Petrel bot, ${unmapped} without one yet; ${reported === 0 ? "everything mapped" : `${reported} item(s) reported above`}`,
  );
  process.exitCode = reported === 0 ? 0 : 2;
}

export function registerImportCommands(program: Command): void {
  const importCommand = program
    .command("import")
    .description("Convert configurations of other tools into Petrel resources");
  importCommand
    .command("intelmq")
    .description(
      "Print an IntelMQ configuration as Petrel Pipeline and Bot YAML; what cannot be mapped is reported on stderr (exit 2)",
    )
    .argument("[runtime-yaml]", "IntelMQ ≥ 3's runtime.yaml (global section and bots)")
    .option("--runtime-conf <file>", "IntelMQ 1.x/2.x: runtime.conf (the bots and their parameters)")
    .option("--pipeline-conf <file>", "IntelMQ 1.x/2.x: pipeline.conf (source and destination queues)")
    .option("--defaults-conf <file>", "IntelMQ 1.x/2.x: defaults.conf (global settings)")
    .option("--pipeline <name>", "name of the Pipeline", DEFAULT_PIPELINE)
    .option("-o, --output <file>", "write the YAML to this file instead of stdout")
    .action((runtimeYaml: string | undefined, flags: ImportFlags) => run(runtimeYaml, flags));
}
