// The SQL table events are written to (outputs.sql, `petrelctl sql initdb`): one column per event
// field, named as the field ("source.ip"), typed from the field catalogue the way IntelMQ's
// intelmq_psql_initdb types them for PostgreSQL, with a MySQL/MariaDB equivalent. Petrel adds one
// column, petrel_hash: a unique key over the whole event that makes writing a batch again a no-op.
import { EVENT_FIELDS, type FieldSpec } from "../event/harmonization.ts";

export const SQL_ENGINES = ["postgresql", "mysql"] as const;
export type SqlEngine = (typeof SQL_ENGINES)[number];

/** Petrel's idempotence key column: SHA-256 (hex) of the event; not a field, never in IntelMQ's table. */
export const HASH_COLUMN = "petrel_hash";

/** The fields IntelMQ's events table has an index on (those that reports and lookups filter by). */
export const INDEXED_FIELDS = [
  "classification.identifier",
  "classification.taxonomy",
  "classification.type",
  "feed.code",
  "feed.name",
  "source.abuse_contact",
  "source.asn",
  "source.ip",
  "source.fqdn",
  "time.observation",
  "time.source",
] as const;

/** The field whose values become an enumerated type, so that severities sort by severity. */
const ENUM_FIELD = "severity";

/** The values of a field limited to a list by its regex, ^(a|b|c)$, in the catalogue's order. */
export function enumValues(field: string): string[] {
  const regex = EVENT_FIELDS[field]?.regex ?? "";
  const list = /^\^\(([a-z|]+)\)\$$/.exec(regex);
  if (!list) throw new Error(`${field} is not limited to a list of values (regex ${regex})`);
  return (list[1] as string).split("|");
}

/** The column type of a field; `jsonb` false types JSON fields json (intelmq_psql_initdb --no-jsonb). */
export function columnType(engine: SqlEngine, field: string, spec: FieldSpec, jsonb = true): string {
  const pg = engine === "postgresql";
  switch (spec.type) {
    case "IPAddress":
      // Longest text form: an IPv4-mapped IPv6 address.
      return pg ? "inet" : "VARCHAR(45)";
    case "IPNetwork":
      return pg ? "inet" : "VARCHAR(49)";
    case "DateTime":
      // Written as UTC; MySQL's DATETIME has no zone.
      return pg ? "timestamp with time zone" : "DATETIME(6)";
    case "Boolean":
      return pg ? "boolean" : "BOOLEAN";
    case "Integer":
      return pg ? "integer" : "INT";
    case "ASN":
      return pg ? "integer" : "INT UNSIGNED";
    case "Float":
    case "Accuracy":
      return pg ? "real" : "FLOAT";
    case "JSON":
    case "JSONDict":
      return pg ? (jsonb ? "jsonb" : "json") : "JSON";
    default:
      if (field === ENUM_FIELD)
        return pg ? "severity_enum" : `ENUM(${enumValues(field).map(quoteText).join(", ")})`;
      if (spec.length !== undefined) return pg ? `varchar(${spec.length})` : `VARCHAR(${spec.length})`;
      // Text of any length: MySQL's TEXT stops at 64 KiB.
      return pg ? "text" : "LONGTEXT";
  }
}

function quoteText(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Quotes an identifier for the engine (MySQL's backticks work whatever the session's sql_mode). */
export function quoteIdentifier(engine: SqlEngine, name: string): string {
  return engine === "postgresql" ? `"${name.replaceAll('"', '""')}"` : `\`${name.replaceAll("`", "``")}\``;
}

export interface EventsTableOptions {
  engine: SqlEngine;
  /** The table, as written in SQL (may be schema-qualified); default events. */
  table?: string;
  /** PostgreSQL: json instead of jsonb for extra and output. */
  jsonb?: boolean;
  /** A field made part of the primary key (and of petrel_hash's unique key), for partitioned tables. */
  partitionKey?: string;
  /** Create only what does not exist yet (IF NOT EXISTS; the enum type is kept if present). */
  ifNotExists?: boolean;
  /** Add the petrel_hash column (default); without it the table is exactly IntelMQ's. */
  hashColumn?: boolean;
}

/** The unquoted last part of a table name, for index names: public."Events" → Events. */
function tableBaseName(table: string): string {
  const last = table.match(/(?:"((?:[^"]|"")*)"|`((?:[^`]|``)*)`|([^."`]+))$/);
  return last
    ? (last[1]?.replaceAll('""', '"') ?? last[2]?.replaceAll("``", "`") ?? (last[3] as string))
    : table;
}

/** CREATE statements for the events table (and PostgreSQL's severity type), ending in a newline. */
export function eventsTableDdl(options: EventsTableOptions): string {
  const {
    engine,
    table = "events",
    jsonb = true,
    partitionKey,
    ifNotExists = false,
    hashColumn = true,
  } = options;
  if (partitionKey !== undefined && !(partitionKey in EVENT_FIELDS)) {
    throw new Error(`partition key ${partitionKey}: no such event field`);
  }
  const q = (name: string) => quoteIdentifier(engine, name);
  const ine = ifNotExists ? " IF NOT EXISTS" : "";
  const base = tableBaseName(table);
  const columns = Object.entries(EVENT_FIELDS)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([field, spec]) => `    ${q(field)} ${columnType(engine, field, spec, jsonb)}`);
  const lines: string[] = [];
  const pg = engine === "postgresql";
  const severities = enumValues(ENUM_FIELD).map((v) => `    ${quoteText(v)}`);
  if (pg) {
    const createType = `CREATE TYPE severity_enum AS ENUM (\n${severities.join(",\n")}\n);`;
    // PostgreSQL has no CREATE TYPE IF NOT EXISTS.
    lines.push(
      ifNotExists
        ? `DO $$ BEGIN\n${createType}\nEXCEPTION WHEN duplicate_object THEN NULL;\nEND $$;`
        : createType,
    );
  }
  const id = pg
    ? `    "id" BIGSERIAL${partitionKey ? "" : " UNIQUE PRIMARY KEY"}`
    : `    \`id\` BIGINT NOT NULL AUTO_INCREMENT${partitionKey ? "" : " PRIMARY KEY"}`;
  const body = [id, ...columns];
  if (hashColumn) {
    const unique = partitionKey ? "" : " UNIQUE";
    body.push(
      pg
        ? `    ${q(HASH_COLUMN)} varchar(64)${unique}`
        : `    ${q(HASH_COLUMN)} CHAR(64) CHARACTER SET ascii${unique}`,
    );
  }
  if (partitionKey) {
    body.push(`    PRIMARY KEY (${q("id")}, ${q(partitionKey)})`);
    if (hashColumn) body.push(`    UNIQUE (${q(HASH_COLUMN)}, ${q(partitionKey)})`);
  }
  if (!pg) {
    // MySQL has no CREATE INDEX IF NOT EXISTS: the indexes are part of the table. Text columns are
    // indexed on a prefix.
    for (const field of INDEXED_FIELDS) {
      const type = columnType(engine, field, EVENT_FIELDS[field] as FieldSpec);
      const prefix = type === "LONGTEXT" ? "(255)" : "";
      body.push(`    INDEX ${q(`idx_${base}_${field}`)} (${q(field)}${prefix})`);
    }
  }
  const comment = hashColumn
    ? `-- ${HASH_COLUMN}: Petrel's key over the whole event (SHA-256), so that an event written again adds no row.\n`
    : "";
  lines.push(
    `${comment}CREATE TABLE${ine} ${table} (\n${body.join(",\n")}\n)${pg ? "" : " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"};`,
  );
  if (pg) {
    for (const field of INDEXED_FIELDS) {
      lines.push(`CREATE INDEX${ine} ${q(`idx_${base}_${field}`)} ON ${table} USING btree (${q(field)});`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The statement that adds petrel_hash to an existing table (one made by IntelMQ's intelmq_psql_initdb). */
export function addHashColumnDdl(engine: SqlEngine, table: string): string {
  const column = quoteIdentifier(engine, HASH_COLUMN);
  return engine === "postgresql"
    ? `ALTER TABLE ${table} ADD COLUMN ${column} varchar(64) UNIQUE;`
    : `ALTER TABLE ${table} ADD COLUMN ${column} CHAR(64) CHARACTER SET ascii UNIQUE;`;
}
