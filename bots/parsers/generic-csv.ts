// Generic CSV parser: maps columns to fields, as IntelMQ's generic CSV parser does, value for value.
// Its differences (deviations below) are all on input IntelMQ itself mishandles.
import { z } from "zod";
import { isValidTimeFormat } from "../../bot-runtime/src/event/compat/datetime.ts";
import { isPyFalsy } from "../../bot-runtime/src/event/compat/generic.ts";
import { pyJsonLoads } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { pyRepr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import { Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { addIfValid, timeConverter } from "../../bot-runtime/src/sdk/parsing.ts";
import { csvRecords } from "../../bot-runtime/src/sdk/records.ts";

const jsonObject = z.record(z.string(), z.unknown());

const parameters = z.object({
  columns: z
    .union([z.string(), z.array(z.string())])
    .describe(
      'Field of each column, as a list or a comma-separated string. "a|b" tries a, then b; "__IGNORE__" or "" skips the column.',
    ),
  columns_required: z
    .array(z.boolean())
    .nullable()
    .optional()
    .describe("Per column: whether a value that fits none of its fields fails the row (default: all true)."),
  column_regex_search: z
    .record(z.string(), z.string())
    .nullable()
    .optional()
    .describe(
      "Per field: a regular expression; the field gets its first match in the value (none: no value).",
    ),
  compose_fields: z
    .record(z.string(), z.string())
    .nullable()
    .default({})
    .describe('Fields built from the row with a format string, e.g. {"source.url": "http://{0}/{1}"}.'),
  data_type: z
    .union([z.string(), z.record(z.string(), z.literal("json"))])
    .nullable()
    .optional()
    .describe(
      'Per field: a conversion of the value before it is added; only "json" exists. JSON text or object.',
    ),
  default_url_protocol: z
    .string()
    .default("http://")
    .describe("Prefix for values of *.url fields that have no '://'."),
  delimiter: z.string().length(1).default(",").describe("The column delimiter (one character)."),
  filter_text: z
    .string()
    .nullable()
    .optional()
    .describe("Text to look for in each row (its fields joined by the delimiter); see filter_type."),
  filter_type: z
    .enum(["blacklist", "whitelist"])
    .nullable()
    .optional()
    .describe("whitelist: keep only rows containing filter_text; blacklist: drop them."),
  skip_header: z
    .union([z.boolean(), z.number().int().min(0)])
    .default(false)
    .describe(
      "Header lines to skip: true for one, or a number. They are kept at the top of each event's raw.",
    ),
  time_format: z
    .string()
    .nullable()
    .optional()
    .refine((v) => isValidTimeFormat(v), {
      message:
        "must be timestamp, windows_nt, epoch_millis, utc_isoformat, fuzzy, from_format|<format> or from_format_midnight|<format>",
    })
    .describe(
      "How time.source and time.destination are read: fuzzy (default), timestamp, from_format|%Y-%m-%d …",
    ),
  type: z
    .string()
    .nullable()
    .optional()
    .describe("classification.type of every event unless a column sets it."),
  type_translation: z
    .union([z.string(), jsonObject, z.array(jsonObject)])
    .nullable()
    .default({})
    .describe(
      "Maps feed values of classification.type to IntelMQ types (JSON text or object). A list (as some IntelMQ feed configurations give) matches nothing, as in IntelMQ.",
    ),
});

type Params = z.output<typeof parameters>;

// How a field's value is prepared before it is added.
const PLAIN = 0;
const TIME = 1;
const URL_FIELD = 2;
const CLASSIFICATION_TYPE = 3;
type Kind = typeof PLAIN | typeof TIME | typeof URL_FIELD | typeof CLASSIFICATION_TYPE;

interface KeySpec {
  readonly key: string;
  readonly skip: boolean;
  readonly regex: RegExp | undefined;
  readonly json: boolean;
  readonly kind: Kind;
}

interface Column {
  readonly keys: readonly KeySpec[];
  readonly required: boolean;
}

function jsonParam(value: unknown, name: string): unknown {
  if (typeof value !== "string") return value;
  const parsed = pyJsonLoads(value);
  if (parsed === undefined) throw new Error(`${name} is not valid JSON: ${value}`);
  return parsed;
}

// Python's re syntax for named groups, the one difference common in these patterns.
function pythonRegex(source: string): RegExp {
  // Without the u flag: it would refuse escapes Python accepts, such as \_.
  return new RegExp(source.replaceAll("(?P<", "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>"));
}

/** Python's str.format with positional fields only ({}, {0}, {{, }}), compiled once. */
function compileFormat(template: string): (row: readonly string[]) => string {
  const parts: Array<string | number> = [];
  let auto = 0;
  let manual = false;
  let literal = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === "{" && template[i + 1] === "{") {
      literal += "{";
      i++;
    } else if (c === "}" && template[i + 1] === "}") {
      literal += "}";
      i++;
    } else if (c === "{") {
      const close = template.indexOf("}", i);
      const name = close < 0 ? "" : template.slice(i + 1, close);
      if (close < 0 || !/^\d*$/.test(name)) {
        throw new Error(`compose_fields: only {} and {N} placeholders are supported: ${template}`);
      }
      if ((name === "" && manual) || (name !== "" && auto > 0)) {
        throw new Error(`compose_fields: cannot mix {} and {N}: ${template}`);
      }
      if (name === "") parts.push(literal, auto++);
      else {
        manual = true;
        parts.push(literal, Number(name));
      }
      literal = "";
      i = close;
    } else if (c === "}") {
      throw new Error(`compose_fields: single '}' in ${template}`);
    } else {
      literal += c;
    }
  }
  parts.push(literal);
  return (row) => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") out += part;
      else if (part < row.length) out += row[part];
      else throw new RangeError(`compose_fields: the row has no column ${part}`);
    }
    return out;
  };
}

function buildColumns(params: Params): Column[] {
  const names =
    typeof params.columns === "string" ? params.columns.split(",").map((c) => c.trim()) : params.columns;
  const required = params.columns_required ?? names.map(() => true);
  if (required.length !== names.length) {
    throw new Error(
      `columns (${names.length}) and columns_required (${required.length}) must have the same length`,
    );
  }
  const dataType = (jsonParam(params.data_type || "{}", "data_type") ?? {}) as Record<string, unknown>;
  for (const [key, conversion] of Object.entries(dataType)) {
    if (conversion !== "json")
      throw new Error(`data_type of ${key}: unknown conversion ${String(conversion)}`);
  }
  const regexes = params.column_regex_search ?? {};
  return names.map((group, i) => ({
    required: required[i] as boolean,
    keys: (group.includes("|") ? group.split("|") : [group]).map((key) => ({
      key,
      skip: key === "__IGNORE__" || key === "",
      regex: regexes[key] ? pythonRegex(regexes[key]) : undefined,
      json: Object.hasOwn(dataType, key),
      kind:
        key === "time.source" || key === "time.destination"
          ? TIME
          : key.endsWith(".url")
            ? URL_FIELD
            : key === "classification.type"
              ? CLASSIFICATION_TYPE
              : PLAIN,
    })),
  }));
}

export default defineParser({
  id: "parsers.generic_csv",
  intelmqModules: ["intelmq.bots.parsers.generic.parser_csv"],
  kind: "parser",
  description:
    "Parses CSV reports: each column is mapped to a field; comment (#) and blank lines are skipped.",
  parameters,
  deviations: [
    {
      id: "dead-letter-row-rewritten",
      summary:
        "A rejected row is dead-lettered as the row written back as CSV (after the header lines); IntelMQ hands the line's text to its CSV writer, which writes one field per character.",
      reason: "The dead letter should be the row, ready to be fixed and sent again.",
    },
    {
      id: "quote-after-closing-quote",
      summary:
        'A quoted field with more text after its closing quote (`"ab"c`) keeps its quotes (`"ab"c`); Python\'s csv module reads it as `abc`.',
      reason: "Malformed quoting; Petrel reads CSV with csv-parse, which keeps such a field as written.",
    },
    {
      id: "header-only-report",
      summary: "A report with fewer lines than skip_header gives no events; IntelMQ's bot raises on it.",
      reason: "A report without data rows is empty, not broken.",
    },
  ],
  create(params) {
    const columns = buildColumns(params);
    const translation = params.type_translation ? jsonParam(params.type_translation, "type_translation") : {};
    // IntelMQ tests membership in whatever it got; only an object (dict) can ever match.
    const translate =
      translation !== null && typeof translation === "object" && !Array.isArray(translation)
        ? (translation as Record<string, unknown>)
        : undefined;
    const translating = !isPyFalsy(translation);
    const type = params.type ?? undefined;
    if (type !== undefined) new Event().add("classification.type", type);
    const [conversion, formatString] = (params.time_format || "fuzzy").split("|");
    const timeFormat = formatString ? `${conversion}|${formatString}` : (conversion as string);
    const protocol = params.default_url_protocol;
    const readTime = timeConverter(timeFormat);
    const compose = Object.entries(params.compose_fields ?? {}).map(
      ([key, template]) => [key, compileFormat(template)] as const,
    );
    const filterText = params.filter_text && params.filter_type ? params.filter_text : undefined;
    const keepMatching = params.filter_type === "whitelist";
    const delimiter = params.delimiter;
    const headerLines = Number(params.skip_header);

    return {
      *records(report) {
        const rows = csvRecords(report, { cleanup: "generic", delimiter, rawDelimiter: ",", headerLines });
        if (filterText === undefined) {
          yield* rows;
          return;
        }
        for (const record of rows) {
          if (record.value.join(delimiter).includes(filterText) === keepMatching) yield record;
        }
      },

      parse(record, newEvent) {
        const row = record.value as string[];
        const event = newEvent();
        const n = Math.min(columns.length, row.length);
        for (let c = 0; c < n; c++) {
          const column = columns[c] as Column;
          let value: unknown = row[c];
          let placed = false;
          let key = "";
          for (const spec of column.keys) {
            key = spec.key;
            if (value === "") {
              placed = true;
              break;
            }
            if (spec.regex !== undefined) {
              if (typeof value !== "string") throw new TypeError(`${key}: cannot search a non-string value`);
              value = spec.regex.exec(value)?.[0] ?? null;
            }
            if (spec.skip) {
              placed = true;
              break;
            }
            if (spec.json) {
              if (typeof value !== "string") throw new TypeError(`${key}: the JSON value must be a string`);
              value = pyJsonLoads(value);
              if (value === undefined) throw new SyntaxError(`${key}: not valid JSON`);
            }
            if (spec.kind === TIME) {
              if (typeof value !== "string" && typeof value !== "number") {
                throw new TypeError(`${key}: cannot read a time from ${pyRepr(value)}`);
              }
              value = readTime(value);
            } else if (spec.kind === URL_FIELD) {
              if (isPyFalsy(value)) continue;
              if (typeof value !== "string") throw new TypeError(`${key}: not a string: ${pyRepr(value)}`);
              if (!value.includes("://")) value = protocol + value;
            } else if (spec.kind === CLASSIFICATION_TYPE && translating) {
              if (typeof value === "object" && value !== null) {
                throw new TypeError(`${key}: unhashable value ${pyRepr(value)}`);
              }
              if (translate !== undefined && typeof value === "string" && Object.hasOwn(translate, value)) {
                value = translate[value];
              } else if (type === undefined) {
                continue;
              }
            }
            if (addIfValid(event, key, value) !== false) {
              placed = true;
              break;
            }
          }
          if (!placed && column.required) {
            throw new FieldError("InvalidValue", key, value, "fits none of the column's fields");
          }
        }
        for (const [key, format] of compose) event.add(key, format(row));
        if (type !== undefined) event.add("classification.type", type, { overwrite: false });
        return event;
      },
    };
  },
});
