// `petrelctl shadowserver update-schema`: download Shadowserver's IntelMQ report schema, validate it and
// write it where the Shadowserver parser reads it. Petrel does not bundle the schema; the default file is
// the one parsers without schema_file read: $PETREL_SHADOWSERVER_SCHEMA, else
// .cache/shadowserver/schema.json in Petrel's directory. The image build runs it too (Dockerfile).
// IntelMQ's `intelmq.bots.parsers.shadowserver.parser --update-schema`. Exit 0: written or already
// current; 1: download, validation or writing failed (the file is left as it was).
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  downloadSchema,
  SCHEMA_FILE_ENV,
  SchemaError,
  SHADOWSERVER_SCHEMA_URL,
  type ShadowserverSchema,
  schemaLocation,
  storeSchema,
} from "../../../bots/parsers/shadowserver/schema.ts";

export interface UpdateOptions {
  url: string;
  output: string;
  timeoutMs?: number;
}

export interface UpdateResult {
  /** Whether the file was (re)written. */
  written: boolean;
  /** Lines for the user. */
  messages: string[];
}

function describeChanges(old: ShadowserverSchema, next: ShadowserverSchema): string[] {
  const before = new Set(old.reports.keys());
  const after = new Set(next.reports.keys());
  const added = [...after].filter((k) => !before.has(k));
  const removed = [...before].filter((k) => !after.has(k));
  const lines: string[] = [];
  if (added.length > 0) lines.push(`  added report types: ${added.join(", ")}`);
  if (removed.length > 0) lines.push(`  removed report types: ${removed.join(", ")}`);
  return lines;
}

/** Downloads, validates and writes the schema; throws SchemaError when it cannot be used or written. */
export async function updateSchema(options: UpdateOptions): Promise<UpdateResult> {
  const downloaded = await downloadSchema(options.url, {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  const next = downloaded.schema;
  let stored: ReturnType<typeof storeSchema>;
  try {
    stored = storeSchema(options.output, downloaded.text);
  } catch (error) {
    if (!(error instanceof SchemaError)) throw error;
    throw new SchemaError(`${error.message}; give another file with -o`);
  }
  const messages: string[] = [];
  if (!stored.written) {
    messages.push(
      `${options.output}: already the current schema ${next.version} (${next.reports.size} report types)`,
    );
    return { written: false, messages };
  }
  const from = stored.previous ? `${stored.previous.version} → ` : "";
  messages.push(
    `${options.output}: schema ${from}${next.version} written (${next.reports.size} report types, from ${options.url})`,
  );
  for (const entry of next.changeLog) messages.push(`  change log: ${entry}`);
  if (stored.previous) messages.push(...describeChanges(stored.previous, next));
  if (next.unknownConversions.length > 0) {
    messages.push(
      `  warning: conversions this Petrel does not know (optional columns using them keep their raw value, required ones fail): ${next.unknownConversions.join(", ")}`,
    );
  }
  return { written: true, messages };
}

export function registerShadowserverCommands(program: Command): void {
  const shadowserver = program.command("shadowserver").description("Shadowserver report parsing");
  shadowserver
    .command("update-schema")
    .description(
      "Download Shadowserver's report schema, validate it and write it for the Shadowserver parser, which needs it (IntelMQ's --update-schema)",
    )
    .option("--url <url>", "where to download the schema from", SHADOWSERVER_SCHEMA_URL)
    .option(
      "-o, --output <file>",
      `the schema file to write; the default is what parsers without schema_file read: $${SCHEMA_FILE_ENV}, else .cache/shadowserver/schema.json in Petrel's directory`,
    )
    .action(async (flags: { url: string; output?: string }) => {
      const output = resolve(flags.output ?? schemaLocation(undefined).file);
      try {
        const result = await updateSchema({ url: flags.url, output });
        for (const line of result.messages) console.log(line);
      } catch (error) {
        if (!(error instanceof SchemaError)) throw error;
        console.error(`petrelctl shadowserver update-schema: ${error.message}`);
        console.error(`The schema file ${output} was not changed.`);
        process.exitCode = 1;
      }
    });
}
