// key=value lines (log formats such as "src=192.0.2.1 dst=198.51.100.2 action=block"), as IntelMQ's
// key-value parser reads them: the keys listed in `keys` become fields, everything else is ignored.
import { z } from "zod";
import { convertDateTime } from "../../bot-runtime/src/event/compat/datetime.ts";
import { pyIntOrThrow } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { addIfValid } from "../../bot-runtime/src/sdk/parsing.ts";
import { lines } from "../../bot-runtime/src/sdk/records.ts";

const NUMERIC = /^\p{N}+$/u;

/**
 * A time.source value as IntelMQ reads it: numbers are UNIX seconds, other text goes to the fuzzy date
 * parser; what cannot be read gives no value (undefined). Times beyond what a timestamp can hold fail the
 * line, as Python's OverflowError does.
 */
function timeOf(value: string): string | undefined {
  try {
    return NUMERIC.test(value)
      ? convertDateTime(Number(pyIntOrThrow(value)), "timestamp")
      : convertDateTime(value, "fuzzy");
  } catch (error) {
    const message = (error as Error).message;
    if (message.includes("out of range for platform") || message.includes("infinity")) throw error;
    return undefined;
  }
}

export default defineParser({
  id: "parsers.key_value",
  intelmqModules: ["intelmq.bots.parsers.key_value.parser"],
  kind: "parser",
  description:
    "Parses lines of key=value pairs: the keys listed in `keys` are mapped to fields (a key mapped to time.source is read as a time).",
  parameters: z.object({
    keys: z
      .record(z.string(), z.string())
      .refine((keys) => Object.keys(keys).length > 0, { message: "name at least one key" })
      .describe('Which keys become which fields, e.g. {"src": "source.ip", "ts": "time.source"}.'),
    kv_separator: z
      .string()
      .min(1)
      .default("=")
      .describe("Separates a key from its value (the last one in a pair)."),
    pair_separator: z.string().min(1).default(" ").describe("Separates the pairs of a line."),
    strip_quotes: z
      .boolean()
      .default(true)
      .describe('Remove double quotes around a value ("a b" is still split by a space separator).'),
    timestamp_key: z
      .string()
      .nullable()
      .optional()
      .describe(
        "Accepted for IntelMQ configurations; unused there and here (map a key to time.source instead).",
      ),
  }),
  create: (params) => ({
    records: (report) => lines(report),
    parse(record, newEvent) {
      const event = newEvent();
      for (const pair of (record.value as string).split(params.pair_separator)) {
        const cut = pair.lastIndexOf(params.kv_separator);
        if (cut <= 0) continue; // no key
        const key = pair.slice(0, cut);
        let value = pair.slice(cut + params.kv_separator.length);
        if (params.strip_quotes && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        if (!Object.hasOwn(params.keys, key)) continue;
        const field = params.keys[key] as string;
        addIfValid(event, field, field === "time.source" ? timeOf(value) : value);
      }
      return event;
    },
  }),
});
