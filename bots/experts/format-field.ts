// Python string methods on field values, as IntelMQ's format field expert: strip (strip_columns), then
// replace (replace_column), then split into a list (split_column). Fields that are missing or empty are
// left alone; a value that is not text is an error naming the field.
import { z } from "zod";
import { PY_SPACE_CLASS, pyStrip, pyStripChars } from "../../bot-runtime/src/event/compat/pystring.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

/** Python truthiness of a field value (None, "", 0, false, [] and {} are false). */
function truthy(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}

/** The field's value when it is text worth changing; undefined when missing or empty. */
function textOf(event: Event, field: string, operation: string): string | undefined {
  const value = event.get(field);
  if (!truthy(value)) return undefined;
  if (typeof value !== "string") {
    throw new Error(
      `${operation}: field ${field} holds ${Array.isArray(value) ? "a list" : `a ${typeof value}`} (${JSON.stringify(value)}), not text`,
    );
  }
  return value;
}

/** Python str.strip(chars): removes code points in `chars` from both ends (chars null: whitespace). */
export function stripper(chars: string | null): (s: string) => string {
  if (chars === null) return pyStrip;
  if (!/[\ud800-\udfff]/.test(chars)) return (s) => pyStripChars(s, chars);
  const set = new Set(Array.from(chars));
  return (s) => {
    const points = Array.from(s);
    let start = 0;
    let end = points.length;
    while (start < end && set.has(points[start] as string)) start++;
    while (end > start && set.has(points[end - 1] as string)) end--;
    return points.slice(start, end).join("");
  };
}

/** Python str.replace(old, new, count): count < 0 replaces all; an empty `old` inserts between code points. */
export function pyReplace(s: string, old: string, replacement: string, count: number): string {
  if (count === 0) return s;
  const limit = count < 0 ? Number.POSITIVE_INFINITY : count;
  if (old === "") {
    const points = Array.from(s);
    let out = "";
    let done = 0;
    for (let i = 0; i <= points.length; i++) {
      if (done < limit) {
        out += replacement;
        done++;
      }
      if (i < points.length) out += points[i];
    }
    return out;
  }
  if (limit === Number.POSITIVE_INFINITY) return s.replaceAll(old, replacement);
  let out = "";
  let from = 0;
  for (let done = 0; done < limit; done++) {
    const at = s.indexOf(old, from);
    if (at < 0) break;
    out += s.slice(from, at) + replacement;
    from = at + old.length;
  }
  return out + s.slice(from);
}

const WHITESPACE_RUN = new RegExp(`${PY_SPACE_CLASS}+`, "u");

/** Python str.split(sep); sep null splits on runs of whitespace and drops empty pieces. */
function pySplit(s: string, separator: string | null): string[] {
  if (separator === null) return pyStrip(s) === "" ? [] : pyStrip(s).split(WHITESPACE_RUN);
  return s.split(separator);
}

const optionalColumn = z.string().nullable();

export default defineExpert({
  id: "experts.format_field",
  intelmqModules: ["intelmq.bots.experts.format_field.expert"],
  kind: "expert",
  description:
    "Strips characters from fields, replaces text in a field and splits a field into a list, as Python's str.strip, str.replace and str.split (in that order).",
  parameters: z.object({
    strip_columns: z
      .union([z.string(), z.array(z.string())])
      .default("")
      .describe("Fields to strip: a list, or names separated by commas. Empty: strip nothing."),
    strip_chars: z
      .string()
      .nullable()
      .default(" ")
      .describe("Characters removed from both ends of the strip_columns values (null: whitespace)."),
    replace_column: optionalColumn.default("").describe("Field in which old_value is replaced by new_value."),
    old_value: z.string().default("").describe("Text to replace in replace_column."),
    new_value: z.string().default("").describe("Text that replaces old_value."),
    replace_count: z
      .number()
      .int()
      .default(1)
      .describe("How many occurrences of old_value to replace, from the start; -1: all."),
    split_column: optionalColumn
      .optional()
      .describe("Field whose text is split into a list at split_separator."),
    split_separator: z
      .string()
      .min(1, "split_separator must not be empty (null splits at whitespace)")
      .nullable()
      .default(",")
      .describe("Separator for split_column (null: runs of whitespace)."),
  }),
  deviations: [
    {
      id: "empty-separator-rejected",
      summary:
        "An empty split_separator is refused when the bot starts; IntelMQ starts and fails each event with a split_column value (ValueError: empty separator).",
      reason: "A configuration that can only fail is reported once, naming the parameter.",
    },
  ],
  create(params) {
    const stripColumns =
      typeof params.strip_columns === "string"
        ? params.strip_columns
            .split(",")
            .map((c) => pyStrip(c))
            .filter((c) => c !== "")
        : params.strip_columns.filter((c) => c !== "");
    const strip = stripper(params.strip_chars);
    const replaceColumn = params.replace_column || undefined;
    const splitColumn = params.split_column || undefined;
    const { old_value: oldValue, new_value: newValue, replace_count: count } = params;
    const separator = params.split_separator;
    return {
      process(event) {
        for (const column of stripColumns) {
          const value = textOf(event, column, "strip_columns");
          if (value !== undefined) event.add(column, strip(value), { overwrite: true });
        }
        if (replaceColumn !== undefined) {
          const value = textOf(event, replaceColumn, "replace_column");
          if (value !== undefined) {
            event.add(replaceColumn, pyReplace(value, oldValue, newValue, count), { overwrite: true });
          }
        }
        if (splitColumn !== undefined) {
          const value = textOf(event, splitColumn, "split_column");
          if (value !== undefined) event.add(splitColumn, pySplit(value, separator), { overwrite: true });
        }
        return event;
      },
    };
  },
});
