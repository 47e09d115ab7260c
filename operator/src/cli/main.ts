// petrelctl: Petrel's command-line tool (intelmqctl's verbs, plus tools for events and pipelines).
import { Command, CommanderError } from "commander";
import { registerEventCommands } from "./event-commands.ts";

export function buildProgram(): Command {
  const program = new Command("petrelctl")
    .description("Manage Petrel pipelines and work with IntelMQ-format events")
    .showHelpAfterError()
    .exitOverride();
  registerEventCommands(program);
  program
    .command("demo")
    .description("Run the demo pipeline (examples/demo.yaml) offline")
    .action(() => {
      console.log(
        [
          "The demo pipeline is not part of this release yet. When the bot runtime lands, `npm start` will:",
          "  1. start a private nats-server with JetStream (data under ./.petrel/),",
          "  2. run examples/demo.yaml: a file collector over bundled sample feeds -> parsers ->",
          "     deduplicator -> taxonomy expert -> file output,",
          "  3. show progress and write the events to .petrel/demo-output.jsonl.",
          'Today you can already validate events: echo \'{"__type":"Event","source.ip":"192.0.2.1/32"}\' | npx petrelctl event check --sanitize',
        ].join("\n"),
      );
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    console.error(`petrelctl: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
