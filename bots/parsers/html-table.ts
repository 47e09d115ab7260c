// HTML tables (e.g. CyberCrime Tracker's panel lists): one event per table row, its cells mapped to fields
// by `columns`, as IntelMQ's HTML table parser reads them with BeautifulSoup (see sdk/html.ts).
import { z } from "zod";
import { isValidTimeFormat } from "../../bot-runtime/src/event/compat/datetime.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import {
  findAll,
  hasAttributeValue,
  parseHtml,
  serializeHtml,
  textOf,
} from "../../bot-runtime/src/sdk/html.ts";
import {
  addIfValid,
  BAD_RECORD_DEAD_LETTERED,
  DEFAULT_FIELDS_APPLIED,
  item,
  pyIntOrUndefined,
  pySplit,
  timeConverter,
} from "../../bot-runtime/src/sdk/parsing.ts";
import { reportText } from "../../bot-runtime/src/sdk/records.ts";

const list = (value: string | string[]) =>
  typeof value === "string" ? value.split(",").map((part) => pyStrip(part)) : value;

const parameters = z.object({
  columns: z
    .union([z.string(), z.array(z.string())])
    .default(["", "source.fqdn"])
    .describe(
      'Field of each cell, as a list or a comma-separated string; "a|b" tries a, then b; "" or "__IGNORE__" skips the cell.',
    ),
  ignore_values: z
    .union([z.string(), z.array(z.string())])
    .nullable()
    .optional()
    .describe(
      "Per column, a cell value that means no value (list or comma-separated; default: the empty cell).",
    ),
  table_index: z.number().int().default(0).describe("Which of the (matching) tables to read, from 0."),
  attribute_name: z.string().default("").describe("Only tables with this attribute…"),
  attribute_value: z.string().default("").describe("…having this value (for class: one of its classes)."),
  skip_table_head: z.boolean().default(true).describe("Skip the table's first row."),
  split_column: z
    .string()
    .default("")
    .describe("A field whose cell is split (see split_separator and split_index)."),
  split_separator: z
    .string()
    .nullable()
    .optional()
    .describe("Separator for split_column (default: whitespace)."),
  split_index: z.number().int().default(0).describe("Which part of the split cell to keep."),
  default_url_protocol: z.string().default("http://").describe("Prefix for *.url values that have no '://'."),
  time_format: z
    .string()
    .nullable()
    .optional()
    .refine((v) => isValidTimeFormat(v), { message: "not a time format IntelMQ knows" })
    .describe(
      "How time.source and time.destination are read: fuzzy (default), timestamp, from_format|<format> …",
    ),
  type: z
    .string()
    .nullable()
    .default("c2-server")
    .describe("classification.type of every event unless a column sets it (null: none)."),
});

export default defineParser({
  id: "parsers.html_table",
  intelmqModules: ["intelmq.bots.parsers.html_table.parser"],
  kind: "parser",
  description: "Parses an HTML table into one event per row, mapping its cells to fields.",
  parameters,
  deviations: [
    {
      ...BAD_RECORD_DEAD_LETTERED,
      summary:
        "A row whose cell fits none of its column's fields is dead-lettered (as the row's HTML) and the other rows still give their events; IntelMQ fails the whole report on it.",
    },
    DEFAULT_FIELDS_APPLIED,
    {
      id: "html5-tokenizer",
      summary:
        "Tags and attributes are read by an HTML5 tokenizer, so malformed markup can read differently from Python's html.parser, which IntelMQ uses: a repeated attribute keeps its first value (html.parser its last), and an incomplete numeric reference such as '&#65a' with no ';' after it is text here where html.parser reads the whole rest of the document as text.",
      reason:
        "Petrel reuses parse5's tokenizer rather than carry a second, Python-compatible one; the tree, the text and the written rows are BeautifulSoup's.",
    },
  ],
  create(params) {
    const columns = list(params.columns);
    const ignore = params.ignore_values == null ? columns.map(() => "") : list(params.ignore_values);
    if (ignore.length !== columns.length) {
      throw new Error("columns and ignore_values must have the same length");
    }
    const [conversion, formatString] = (params.time_format || "fuzzy").split("|");
    const timeFormat = formatString ? `${conversion}|${formatString}` : (conversion as string);
    if (params.type != null) new Event().add("classification.type", params.type);
    const readTime = timeConverter(timeFormat);
    return {
      *records(report) {
        const root = parseHtml([...reportText(report)].join(""));
        let tables = findAll(root, "table");
        if (params.attribute_name) {
          tables = tables.filter((t) => hasAttributeValue(t, params.attribute_name, params.attribute_value));
        }
        const rows = findAll(item(tables, params.table_index), "tr").slice(params.skip_table_head ? 1 : 0);
        for (const row of rows) {
          yield { value: findAll(row, "td").map(textOf), raw: serializeHtml(row) };
        }
      },
      parse(record, newEvent) {
        const cells = record.value as string[];
        const event = newEvent();
        let added = false;
        const n = Math.min(columns.length, cells.length);
        for (let c = 0; c < n; c++) {
          let data: string | number = pyStrip(cells[c] as string);
          if (data === ignore[c]) continue;
          const keys = (columns[c] as string).split("|");
          let placed = false;
          for (const key of keys) {
            if (data === "" || key === "__IGNORE__" || key === "") {
              placed = true;
              break;
            }
            if (params.split_column && key === params.split_column) {
              data = pyStrip(item(pySplit(String(data), params.split_separator), params.split_index));
            }
            if (key === "time.source" || key === "time.destination") {
              if (typeof data === "string") {
                const number = pyIntOrUndefined(data); // a number is read as one by the time format
                if (number !== undefined) data = Number(number);
              }
              data = readTime(data) as string;
            } else if (key.endsWith(".url") && typeof data === "string" && !data.includes("://")) {
              data = params.default_url_protocol + data;
            }
            if (addIfValid(event, key, data) === true) {
              added = true;
              placed = true;
              break;
            }
          }
          if (!placed)
            throw new Error(`Could not add value ${JSON.stringify(data)} to ${keys.join("|")}, all invalid.`);
        }
        if (!added) return undefined; // nothing from this row
        if (params.type != null && !event.has("classification.type"))
          event.add("classification.type", params.type);
        event.add("raw", record.raw);
        return event;
      },
    };
  },
});
