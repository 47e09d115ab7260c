// `petrelctl event …`: validate and normalise IntelMQ-format messages.

import { once } from "node:events";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { FieldError, parseMessage } from "../../../bot-runtime/src/event/message.ts";

export interface CheckOptions {
  sanitize?: boolean;
  defaultType?: "Event" | "Report";
}

/**
 * Checks JSON lines one by one. Returns one output line per input line, in order: the normalised
 * message as compact JSON, or "ERROR line N: <field>: <value> <rule>".
 */
export function checkLine(
  line: string,
  lineNumber: number,
  options: CheckOptions,
): { ok: boolean; text: string } {
  if (line.trim() === "") {
    return { ok: false, text: `ERROR line ${lineNumber}: (message): empty line is not a JSON message` };
  }
  try {
    const message = parseMessage(line, {
      mode: options.sanitize ? "sanitize" : "strict",
      ...(options.defaultType ? { defaultType: options.defaultType } : {}),
    });
    return { ok: true, text: message.serialize() };
  } catch (error) {
    if (error instanceof FieldError) return { ok: false, text: `ERROR line ${lineNumber}: ${error.message}` };
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, text: `ERROR line ${lineNumber}: (message): ${message}` };
  }
}

async function checkStream(input: NodeJS.ReadableStream, options: CheckOptions): Promise<number> {
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let failed = 0;
  let n = 0;
  for await (const line of lines) {
    const result = checkLine(line, ++n, options);
    if (!result.ok) failed++;
    if (!process.stdout.write(`${result.text}\n`)) await once(process.stdout, "drain");
  }
  return failed;
}

export function registerEventCommands(program: Command): void {
  const event = program.command("event").description("Work with IntelMQ-format events and reports");
  event
    .command("check")
    .description(
      "Validate JSON lines (events or reports) from FILE or stdin; print each normalised, or an ERROR line naming the field, value and rule",
    )
    .argument("[file]", "file of JSON lines (default: stdin)")
    .option(
      "--sanitize",
      "normalise each field as parsers do (IntelMQ sanitize-on-add) instead of strict validation",
    )
    .option("--default-type <type>", "message type to assume when __type is missing (Event or Report)")
    .action(async (file: string | undefined, opts: { sanitize?: boolean; defaultType?: string }) => {
      const defaultType = opts.defaultType;
      if (defaultType !== undefined && defaultType !== "Event" && defaultType !== "Report") {
        throw new Error(`--default-type must be Event or Report, not ${JSON.stringify(defaultType)}`);
      }
      const input = file === undefined || file === "-" ? process.stdin : createReadStream(file);
      const failed = await checkStream(input, {
        sanitize: opts.sanitize === true,
        ...(defaultType ? { defaultType } : {}),
      });
      if (failed > 0) process.exitCode = 1;
    });
}
