// Shadowserver reports (CSV), driven by Shadowserver's published IntelMQ schema: the report type comes
// from the report's extra.file_name (2024-05-01-<file_name>-de-geo.csv → <file_name>) or the feedname
// parameter; the schema maps its columns to fields (required ones fail the row when invalid, optional
// ones go to extra), sets its constant fields, and every column left over goes to extra. Value for value
// IntelMQ 3.5's Shadowserver parser. Petrel does not bundle the schema: the bot reads it from a schema
// file (schema_file, else $PETREL_SHADOWSERVER_SCHEMA, else .cache/shadowserver/schema.json in Petrel's
// directory) that `petrelctl shadowserver update-schema` or auto_update fills, and refuses to start
// without one.
import { z } from "zod";
import { PY_DIGIT_CLASS } from "../../bot-runtime/src/event/compat/pystring.ts";
import { type Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { defineParser, type ParserRecord } from "../../bot-runtime/src/sdk/bot.ts";
import { type ConvertedValue, type Row, takesRow } from "./shadowserver/conversions.ts";
import { csvDictRecords } from "./shadowserver/csv.ts";
import {
  type ColumnMapping,
  downloadSchema,
  loadSchema,
  type ReportType,
  SCHEMA_FILE_ENV,
  SchemaError,
  SHADOWSERVER_SCHEMA_URL,
  type ShadowserverSchema,
  schemaLocation,
  storeSchema,
} from "./shadowserver/schema.ts";

const parameters = z.object({
  feedname: z
    .string()
    .nullable()
    .optional()
    .describe(
      "Parse every report as the report type with this feed_name in the schema. Unset, or not in the schema: the type comes from each report's extra.file_name.",
    ),
  overwrite: z
    .boolean()
    .default(false)
    .describe(
      "Replace the report's feed.name with the report type's feed name (else only set it when missing).",
    ),
  auto_update: z
    .boolean()
    .default(false)
    .describe(
      "Download the schema from schema_url when the bot starts; a valid one is used and written to the schema file (kept in memory when that is read-only). A failed download keeps the schema file's.",
    ),
  schema_file: z
    .string()
    .min(1)
    .optional()
    .describe(
      `Petrel: the schema file, as petrelctl shadowserver update-schema writes it. Unset: $${SCHEMA_FILE_ENV} (Petrel's image sets it to the schema downloaded when the image was built), else .cache/shadowserver/schema.json in Petrel's directory. Petrel bundles no schema: without one the bot does not start.`,
    ),
  schema_url: z
    .string()
    .url()
    .default(SHADOWSERVER_SCHEMA_URL)
    .describe("Petrel: where auto_update downloads the schema from."),
});

// IntelMQ's file name rule: an optional date, the report type (word characters), more "-words", ".csv".
// Python's \d and \w match Unicode digits and letters, and its $ also matches before a final newline.
const D = PY_DIGIT_CLASS;
const FILE_NAME = new RegExp(
  `^(?:${D}{4}-${D}{2}-${D}{2}-)?([\\p{L}\\p{N}_]+)(?:-[\\p{L}\\p{N}_]+)*\\.csv\\n?$`,
  "u",
);

interface ShadowserverRow {
  readonly row: Row;
  readonly fieldnames: readonly string[];
  readonly report: ReportType;
}

/** Python's list.remove: the first occurrence. */
function removeFirst(list: string[], item: string): void {
  const i = list.indexOf(item);
  if (i < 0) throw new Error(`list.remove(x): ${JSON.stringify(item)} not in list`);
  list.splice(i, 1);
}

/** Applies a column's conversion as IntelMQ calls it: with the row only when the schema says so. */
function convert(m: ColumnMapping, value: string, row: Row): ConvertedValue {
  if (m.convert === undefined)
    throw new Error(`unknown conversion function ${JSON.stringify(m.conversionName)}`);
  if (m.withRow !== takesRow(m.conversionName as string)) {
    throw new TypeError(
      `${m.conversionName}() ${m.withRow ? "takes only the value" : "needs the row"}, as the schema calls it for column ${m.column}`,
    );
  }
  return m.convert(value, row);
}

function isFieldError(error: unknown, code: FieldError["code"]): boolean {
  return error instanceof FieldError && error.code === code;
}

export default defineParser({
  id: "parsers.shadowserver",
  intelmqModules: ["intelmq.bots.parsers.shadowserver.parser"],
  kind: "parser",
  description:
    "Parses Shadowserver's CSV reports, every report type of Shadowserver's published schema; the type comes from extra.file_name or feedname.",
  parameters,
  deviations: [
    {
      id: "schema-file",
      summary:
        "The schema comes from schema_file, else $PETREL_SHADOWSERVER_SCHEMA (set in Petrel's image, which carries the schema current when it was built), else .cache/shadowserver/schema.json in Petrel's directory; IntelMQ reads shadowserver-schema.json in its state directory. Neither bundles the schema and both refuse to start without it; petrelctl shadowserver update-schema downloads it (IntelMQ: the parser's --update-schema). IntelMQ's test_mode (its three-report test schema) does not exist.",
      reason:
        "A bot in a read-only container image has no writable state directory: the schema's place is set per image or per bot instead.",
    },
    {
      id: "auto-update-each-start",
      summary:
        "auto_update downloads the schema at every start and replaces the schema file when it differs (keeping it in memory when the file cannot be written); IntelMQ downloads at most once an hour (a check file in its state directory), replaces the file when _meta.date_created changed and keeps the old one as .bak.",
      reason:
        "Bot pods share no writable state directory for a check file, and their schema file is usually the image's, which is read-only.",
    },
    {
      id: "non-finite-float",
      summary:
        "A float column holding nan or inf fails the row; IntelMQ keeps the value, and its event then holds NaN or Infinity, which is not JSON.",
      reason:
        "Events are JSON; a value that no JSON reader accepts would break every bot and output downstream.",
    },
    {
      id: "integer-range",
      summary:
        "A converted integer beyond ±(2^53−1) fails the row; Python's ints have no limit, so IntelMQ keeps it.",
      reason: "JSON numbers in JavaScript cannot carry such integers exactly (as in Petrel's event model).",
    },
  ],
  async create(params, ctx) {
    const location = schemaLocation(params.schema_file);
    let schema: ShadowserverSchema | undefined;
    let localError: SchemaError | undefined;
    try {
      schema = loadSchema(location);
    } catch (error) {
      if (!(error instanceof SchemaError) || !params.auto_update) throw error;
      localError = error;
    }
    if (params.auto_update) {
      try {
        const downloaded = await downloadSchema(params.schema_url, { signal: ctx.signal, timeoutMs: 30_000 });
        schema = downloaded.schema;
        ctx.log.info(
          { version: schema.version, url: params.schema_url },
          "downloaded the Shadowserver schema",
        );
        try {
          if (storeSchema(location.file, downloaded.text).written) {
            ctx.log.info({ file: location.file }, "wrote the downloaded Shadowserver schema");
          }
        } catch (error) {
          ctx.log.info(
            { file: location.file, err: error },
            "cannot write the schema file; using the downloaded schema from memory",
          );
        }
      } catch (error) {
        if (schema === undefined) {
          throw new SchemaError(
            `${(localError as SchemaError).message}\nauto_update could not download it from ${params.schema_url} either: ${(error as Error).message}`,
          );
        }
        ctx.log.warn(
          { err: error, version: schema.version, file: location.file },
          "could not update the Shadowserver schema; using the schema file's",
        );
      }
    }
    if (schema === undefined) throw localError as SchemaError;
    const active: ShadowserverSchema = schema;
    ctx.log.info(
      { version: active.version, reports: active.reports.size, file: location.file },
      "Shadowserver schema loaded",
    );
    if (active.unknownConversions.length > 0) {
      ctx.log.warn(
        { conversions: active.unknownConversions },
        "the schema names conversions this Petrel does not know: optional columns keep their raw value, required ones fail the row",
      );
    }
    const fixed = params.feedname ? active.byFeedName.get(params.feedname) : undefined;
    if (params.feedname && !fixed) {
      ctx.log.info(
        { feedname: params.feedname },
        "feedname is not a report type of the schema; detecting the type from the file names",
      );
    }

    function reportTypeOf(fileName: unknown): ReportType {
      if (typeof fileName !== "string" || fileName === "") {
        throw new Error(
          "No feedname given as parameter and the processed report has no 'extra.file_name'. Ensure that at least one is given.",
        );
      }
      const match = FILE_NAME.exec(fileName);
      if (!match) throw new Error(`Report's 'extra.file_name' ${JSON.stringify(fileName)} is not valid.`);
      const found = active.byFileName.get(match[1] as string);
      if (!found) {
        throw new Error(`Could not get a config for ${JSON.stringify(match[1])}, check the documentation.`);
      }
      return found;
    }

    return {
      *records(report): Generator<ParserRecord<ShadowserverRow>> {
        const type = fixed ?? reportTypeOf(report.get("extra.file_name"));
        let checked = false;
        for (const { row, fieldnames, raw } of csvDictRecords(report)) {
          if (!checked) {
            checked = true;
            const missing = type.optional.map((m) => m.column).filter((c) => !fieldnames.includes(c));
            if (missing.length > 0) {
              ctx.log.warn(
                { feed: type.feedName, columns: [...new Set(missing)] },
                "optional columns not found in the report; possible change in data format",
              );
            }
          }
          yield { value: { row, fieldnames, report: type }, raw };
        }
      },

      parse(record, newEvent) {
        const { row, fieldnames, report: type } = record.value as ShadowserverRow;
        const fields = [...fieldnames];
        const event: Event = newEvent();
        event.add("feed.name", type.feedName, { overwrite: params.overwrite });
        event.add("feed.documentation", type.url, { overwrite: false });
        const extra = new Map<string, unknown>();

        for (const m of type.required) {
          if (!fields.includes(m.column)) {
            if (!row.has(m.column)) {
              throw new Error(
                `Required column ${JSON.stringify(m.column)} not found in feed ${JSON.stringify(type.feedName)}. Possible change in data format or misconfiguration.`,
              );
            }
            fields.push(m.column); // the column serves two fields
          }
          const raw = row.get(m.column) ?? null;
          const value = m.conversionName !== undefined && raw !== null ? convert(m, raw, row) : raw;
          if (value === null) continue;
          if (m.field === false) throw new TypeError(`required column ${m.column} has no field`);
          try {
            event.add(m.field, value);
          } catch (error) {
            if (!isFieldError(error, "InvalidKey")) throw error;
          }
          removeFirst(fields, m.column);
        }

        for (const m of type.optional) {
          if (!fields.includes(m.column)) {
            if (!row.has(m.column)) continue;
            fields.push(m.column);
          }
          const raw = row.get(m.column) ?? null;
          const value = m.convert !== undefined && raw !== null ? convert(m, raw, row) : raw;
          if (value === null) {
            removeFirst(fields, m.column);
            continue;
          }
          if (m.field === "extra.") {
            extra.set(m.column, value);
            removeFirst(fields, m.column);
          } else if (m.field !== false && m.field.startsWith("extra.")) {
            extra.set(m.field.slice("extra.".length), value);
            removeFirst(fields, m.column);
          } else if (m.field === false) {
            removeFirst(fields, m.column);
          } else {
            try {
              event.add(m.field, value);
              removeFirst(fields, m.column);
            } catch (error) {
              if (isFieldError(error, "InvalidKey")) {
                extra.set(m.field, value);
                removeFirst(fields, m.column);
              } else if (!isFieldError(error, "InvalidValue")) {
                throw error;
              }
            }
          }
        }

        event.update(type.constants as Record<string, unknown>);
        event.add("raw", record.raw);
        for (const column of fields) {
          const value = row.get(column) ?? null;
          if (value !== "") extra.set(column, value);
        }
        if (extra.size > 0) event.add("extra", Object.fromEntries(extra));
        return event;
      },
    };
  },
});
