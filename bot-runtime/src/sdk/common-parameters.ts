// Parameters every bot of a kind accepts (IntelMQ's names), merged into each module's own schema.
import { z } from "zod";
import type { BotKind, BotModule } from "./bot.ts";

const collector = z.object({
  name: z.string().optional().describe("Feed name, stored in feed.name of each report."),
  provider: z.string().optional().describe("Feed provider, stored in feed.provider."),
  code: z.string().optional().describe("Feed code, stored in feed.code."),
  documentation: z
    .string()
    .optional()
    .describe("Where the feed is documented, stored in feed.documentation."),
  accuracy: z
    .number()
    .min(0)
    .max(100)
    .default(100)
    .describe("Feed accuracy (0–100), stored in feed.accuracy."),
  rate_limit: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("Seconds between collection runs (IntelMQ's name; the Bot's interval takes precedence)."),
});

const parser = z.object({
  default_fields: z
    .record(z.string(), z.unknown())
    .default({})
    .describe("Fields added to every event unless the parser set them."),
  copy_collector_provided_fields: z
    .array(z.string())
    .default([])
    .describe("Report fields (e.g. extra.file_name) copied into every event."),
});

const none = z.object({});

export const COMMON_PARAMETERS: Record<BotKind, z.ZodObject> = {
  collector,
  parser,
  expert: none,
  output: none,
};

/** The full parameter schema of a module: its own parameters plus its kind's common ones. */
export function parameterSchema(module: BotModule): z.ZodObject {
  return module.parameters.extend(COMMON_PARAMETERS[module.kind].shape);
}

export type CollectorCommon = z.output<typeof collector>;
export type ParserCommon = z.output<typeof parser>;
