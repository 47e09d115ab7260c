// petrelctl: Petrel's command-line tool (intelmqctl's verbs, plus tools for events and pipelines).
import { Command, CommanderError } from "commander";
import { registerAsnCommands } from "./asn.ts";
import { registerClusterCommands } from "./cluster/commands.ts";
import { registerDlqCommands } from "./dlq.ts";
import { registerEventCommands } from "./event-commands.ts";
import { registerFeedCommands } from "./feed.ts";
import { registerImportCommands } from "./import.ts";
import { registerRunCommand } from "./run.ts";
import { registerShadowserverCommands } from "./shadowserver.ts";
import { registerSqlCommands } from "./sql.ts";
import { registerUpCommands } from "./up.ts";

export function buildProgram(): Command {
  const program = new Command("petrelctl")
    .description("Manage Petrel pipelines and work with IntelMQ-format events")
    .showHelpAfterError()
    .exitOverride();
  registerEventCommands(program);
  registerDlqCommands(program);
  registerUpCommands(program);
  registerClusterCommands(program);
  registerImportCommands(program);
  registerShadowserverCommands(program);
  registerFeedCommands(program);
  registerRunCommand(program);
  registerAsnCommands(program);
  registerSqlCommands(program);
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
