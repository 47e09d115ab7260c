// The Shadowserver report schema: Shadowserver's published JSON document that tells the parser, per
// report type, which CSV column goes to which IntelMQ field through which conversion. Petrel does not
// bundle it: `petrelctl shadowserver update-schema` downloads it into a schema file (the parser's
// schema_file, else $PETREL_SHADOWSERVER_SCHEMA, else .cache/shadowserver/schema.json in Petrel's
// directory), the parser's auto_update downloads it at start, and Petrel's image carries the one
// downloaded when the image was built.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { CONVERSIONS, type Conversion, isKnownConversion } from "./conversions.ts";

/** Where Shadowserver publishes the schema for IntelMQ (IntelMQ 3.5 downloads it from here too). */
export const SHADOWSERVER_SCHEMA_URL = "https://interchange.shadowserver.org/intelmq/v1/schema";

/** The environment variable that names the schema file of parsers without schema_file (and the CLI's). */
export const SCHEMA_FILE_ENV = "PETREL_SHADOWSERVER_SCHEMA";

/** The project-local schema file: in the .cache folder of the Petrel directory (git-ignored). */
export const PROJECT_SCHEMA_FILE = fileURLToPath(
  new URL("../../../.cache/shadowserver/schema.json", import.meta.url),
);

export interface SchemaLocation {
  readonly file: string;
  /** What chose the file, for messages. */
  readonly source: "schema_file" | "environment" | "default";
}

/**
 * The schema file a parser reads: its schema_file parameter, else $PETREL_SHADOWSERVER_SCHEMA, else the
 * project-local file. `petrelctl shadowserver update-schema` writes the same file by default.
 */
export function schemaLocation(
  schemaFile: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): SchemaLocation {
  if (schemaFile) return { file: schemaFile, source: "schema_file" };
  const fromEnv = env[SCHEMA_FILE_ENV];
  if (fromEnv) return { file: fromEnv, source: "environment" };
  return { file: PROJECT_SCHEMA_FILE, source: "default" };
}

const SOURCE_TEXT: Record<SchemaLocation["source"], string> = {
  schema_file: "the parser's schema_file",
  environment: `named by $${SCHEMA_FILE_ENV}`,
  default: `the default when neither schema_file nor $${SCHEMA_FILE_ENV} is set`,
};

/** A file name as a POSIX shell word. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'"'"'`)}'`;
}

/** The command that writes a schema to `file` (run in Petrel's directory), for messages. */
export function updateCommand(file: string): string {
  return `npx petrelctl shadowserver update-schema -o ${shellWord(file)}`;
}

/** [field, column], optionally with a conversion and whether it also gets the row. false: ignore. */
const FieldMapping = z.union([
  z.tuple([z.union([z.string(), z.literal(false)]), z.string()]),
  z.tuple([z.union([z.string(), z.literal(false)]), z.string(), z.string().nullable()]),
  z.tuple([z.union([z.string(), z.literal(false)]), z.string(), z.string().nullable(), z.boolean()]),
]);

export const ReportTypeSchema = z
  .object({
    feed_name: z.string().min(1).describe("Name of the report type; becomes feed.name (see overwrite)."),
    file_name: z
      .string()
      .min(1)
      .describe("The report type's part of Shadowserver's file names (2024-05-01-<file_name>-….csv)."),
    url: z.string().optional().describe("The report type's documentation, put in feed.documentation."),
    required_fields: z
      .array(FieldMapping)
      .describe("Columns that must exist; a value that fails fails the row."),
    optional_fields: z.array(FieldMapping).describe("Columns used when present; invalid values go to extra."),
    constant_fields: z.record(z.string(), z.unknown()).optional().describe("Fields set on every event."),
  })
  .loose();

const MetaSchema = z
  .object({
    date_created: z.string().min(1).describe("The schema's version: when Shadowserver generated it."),
    change_log: z.array(z.string()).optional(),
  })
  .loose();

export type ReportTypeDefinition = z.output<typeof ReportTypeSchema>;

export class SchemaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SchemaError";
  }
}

/** One column mapping, ready to apply. */
export interface ColumnMapping {
  /** The IntelMQ field, "extra." (extra under the column's name), or false (ignore the column). */
  readonly field: string | false;
  readonly column: string;
  /** The conversion's name, when the schema names one. */
  readonly conversionName: string | undefined;
  /** The conversion, when the parser knows it. */
  readonly convert: Conversion | undefined;
  /** The conversion also gets the whole row. */
  readonly withRow: boolean;
}

export interface ReportType {
  readonly feedName: string;
  readonly fileName: string;
  readonly url: string | undefined;
  readonly required: readonly ColumnMapping[];
  readonly optional: readonly ColumnMapping[];
  readonly constants: Readonly<Record<string, unknown>>;
}

export interface ShadowserverSchema {
  /** _meta.date_created. */
  readonly version: string;
  readonly changeLog: readonly string[];
  /** Report types by their key in the document, in document order. */
  readonly reports: ReadonlyMap<string, ReportType>;
  /** Report types by feed_name and by file_name (a later duplicate wins, as in IntelMQ). */
  readonly byFeedName: ReadonlyMap<string, ReportType>;
  readonly byFileName: ReadonlyMap<string, ReportType>;
  /** Conversion names the schema uses that this parser does not know. */
  readonly unknownConversions: readonly string[];
}

function mapping(item: z.output<typeof FieldMapping>): ColumnMapping {
  const [field, column, conversionName, withRow] = item;
  const name = conversionName ?? undefined;
  return {
    field,
    column,
    conversionName: name,
    convert: name !== undefined && isKnownConversion(name) ? CONVERSIONS[name] : undefined,
    withRow: withRow === true,
  };
}

/** What a schema without _meta (IntelMQ's test schema) reports as its version. */
export const UNVERSIONED = "(no _meta.date_created)";

export interface CompileOptions {
  /** Require _meta.date_created, as IntelMQ's schema download does (loading a file does not). */
  requireVersion?: boolean;
}

/** Validates a decoded schema document and indexes it; throws SchemaError naming every problem. */
export function compileSchema(
  document: unknown,
  source: string,
  options: CompileOptions = {},
): ShadowserverSchema {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new SchemaError(`${source}: not a Shadowserver schema: expected a JSON object of report types`);
  }
  const problems: string[] = [];
  const entries = Object.entries(document as Record<string, unknown>);
  const rawMeta = (document as Record<string, unknown>)._meta;
  const meta =
    rawMeta === undefined && !options.requireVersion
      ? MetaSchema.safeParse({ date_created: UNVERSIONED })
      : MetaSchema.safeParse(rawMeta);
  if (!meta.success) problems.push(`_meta: ${meta.error.issues.map(issueText).join("; ")}`);
  const reports = new Map<string, ReportType>();
  const byFeedName = new Map<string, ReportType>();
  const byFileName = new Map<string, ReportType>();
  const unknown = new Set<string>();
  for (const [key, value] of entries) {
    if (key === "_meta") continue;
    const parsed = ReportTypeSchema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${key}: ${issueText(issue)}`);
      continue;
    }
    const definition = parsed.data;
    const report: ReportType = {
      feedName: definition.feed_name,
      fileName: definition.file_name,
      url: definition.url,
      required: definition.required_fields.map(mapping),
      optional: definition.optional_fields.map(mapping),
      constants: definition.constant_fields ?? {},
    };
    for (const m of [...report.required, ...report.optional]) {
      if (m.conversionName !== undefined && m.convert === undefined) unknown.add(m.conversionName);
    }
    reports.set(key, report);
    byFeedName.set(report.feedName, report);
    byFileName.set(report.fileName, report);
  }
  if (problems.length === 0 && reports.size === 0) problems.push("no report types");
  if (problems.length > 0) {
    const shown = problems.slice(0, 20);
    const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : "";
    throw new SchemaError(`${source}: not a valid Shadowserver schema:\n  ${shown.join("\n  ")}${more}`);
  }
  const m = meta.data as z.output<typeof MetaSchema>;
  return {
    version: m.date_created,
    changeLog: m.change_log ?? [],
    reports,
    byFeedName,
    byFileName,
    unknownConversions: [...unknown].sort(),
  };
}

function issueText(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Parses schema text; throws SchemaError when it is not JSON or not a valid schema. */
export function parseSchema(text: string, source: string, options: CompileOptions = {}): ShadowserverSchema {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new SchemaError(`${source}: not JSON: ${(error as Error).message}`);
  }
  return compileSchema(document, source, options);
}

/**
 * Reads a schema file. A missing file fails with the command that downloads it; an unreadable or
 * invalid one with the problem and the same command.
 */
export function loadSchema(location: SchemaLocation | string): ShadowserverSchema {
  const { file, source } = typeof location === "string" ? schemaLocation(location) : location;
  if (!existsSync(file)) {
    throw new SchemaError(
      `No Shadowserver schema at ${file} (${SOURCE_TEXT[source]}). Petrel does not bundle Shadowserver's ` +
        `report schema; download it with\n  ${updateCommand(file)}\nor set the parser's auto_update: true ` +
        "to download it when the bot starts.",
    );
  }
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new SchemaError(`${file}: cannot read the Shadowserver schema: ${(error as Error).message}`);
  }
  try {
    return parseSchema(text, file);
  } catch (error) {
    if (!(error instanceof SchemaError)) throw error;
    throw new SchemaError(`${error.message}\nReplace it with\n  ${updateCommand(file)}`);
  }
}

export interface StoredSchema {
  /** Whether the file was (re)written; false when it already held this schema. */
  readonly written: boolean;
  /** The schema the file held before, when it held a valid one. */
  readonly previous: ShadowserverSchema | undefined;
}

/**
 * Writes downloaded schema text to `file` as formatSchemaDocument writes it, unless the file already
 * holds exactly that. Creates missing folders; writes beside the file and renames, so a reader never
 * sees half a file. Throws SchemaError when it cannot write.
 */
export function storeSchema(file: string, downloadedText: string): StoredSchema {
  const text = formatSchemaDocument(JSON.parse(downloadedText));
  let existing: string | undefined;
  try {
    existing = readFileSync(file, "utf8");
  } catch {
    existing = undefined;
  }
  let previous: ShadowserverSchema | undefined;
  if (existing !== undefined) {
    try {
      previous = parseSchema(existing, file);
    } catch {
      previous = undefined;
    }
  }
  if (existing === text) return { written: false, previous };
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(temporary, text);
    renameSync(temporary, file);
  } catch (error) {
    if (existsSync(temporary)) rmSync(temporary, { force: true });
    throw new SchemaError(`${file}: cannot write the schema (${(error as Error).message})`);
  }
  return { written: true, previous };
}

export interface DownloadOptions {
  signal?: AbortSignal;
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
}

export interface DownloadedSchema {
  readonly text: string;
  readonly schema: ShadowserverSchema;
}

/** Downloads a schema and validates it; throws SchemaError on HTTP errors and invalid documents. */
export async function downloadSchema(
  url: string = SHADOWSERVER_SCHEMA_URL,
  options: DownloadOptions = {},
): Promise<DownloadedSchema> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 60_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  let text: string;
  try {
    const response = await fetch(url, { signal, headers: { accept: "application/json" } });
    if (!response.ok) throw new SchemaError(`${url}: HTTP ${response.status} ${response.statusText}`);
    text = await response.text();
  } catch (error) {
    if (error instanceof SchemaError) throw error;
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    throw new SchemaError(
      `${url}: download failed: ${(error as Error).message}${cause ? ` (${cause})` : ""}`,
    );
  }
  return { text, schema: parseSchema(text, url, { requireVersion: true }) };
}

/**
 * A schema document as schema files are written: two-space JSON where a list that fits in 110 columns
 * stays on one line (as the repository's formatter, Biome, writes JSON), then a newline; a refresh then
 * shows only real changes in a diff.
 */
export function formatSchemaDocument(document: unknown): string {
  return `${formatValue(document, 0, 0)}\n`;
}

const LINE_WIDTH = 110;

/** `used`: columns taken on the value's line before it (indent, key) and after it (a comma). */
function formatValue(value: unknown, indent: number, used: number): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const flat = flatArray(value);
    if (flat !== undefined && used + flat.length <= LINE_WIDTH) return flat;
    const pad = " ".repeat(indent + 2);
    const items = value.map(
      (item, i) => pad + formatValue(item, indent + 2, indent + 2 + (i < value.length - 1 ? 1 : 0)),
    );
    return `[\n${items.join(",\n")}\n${" ".repeat(indent)}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return "{}";
    const pad = " ".repeat(indent + 2);
    const items = entries.map(([key, item], i) => {
      const prefix = `${pad}${JSON.stringify(key)}: `;
      return prefix + formatValue(item, indent + 2, prefix.length + (i < entries.length - 1 ? 1 : 0));
    });
    return `{\n${items.join(",\n")}\n${" ".repeat(indent)}}`;
  }
  return JSON.stringify(value);
}

/** A list of scalars and flat lists on one line, or undefined when it holds an object. */
function flatArray(value: readonly unknown[]): string | undefined {
  const parts: string[] = [];
  for (const item of value) {
    if (Array.isArray(item)) {
      const inner = item.length === 0 ? "[]" : flatArray(item);
      if (inner === undefined) return undefined;
      parts.push(inner);
    } else if (typeof item === "object" && item !== null) {
      return undefined;
    } else {
      parts.push(JSON.stringify(item));
    }
  }
  return `[${parts.join(", ")}]`;
}
