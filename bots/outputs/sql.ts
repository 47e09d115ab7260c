// Writes events as rows of an SQL table, one column per field, as IntelMQ's SQL output does, to
// PostgreSQL or MySQL/MariaDB. A batch is one transaction of multi-row INSERTs and write() resolves
// after COMMIT. With Petrel's petrel_hash column (petrelctl sql initdb) a batch written again after a
// failure adds no rows; a table made by IntelMQ's intelmq_psql_initdb works too, without that guarantee.
import { createHash } from "node:crypto";
import { z } from "zod";
import { pyFloatRepr } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { EVENT_FIELDS } from "../../bot-runtime/src/event/harmonization.ts";
import { type Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import {
  addHashColumnDdl,
  HASH_COLUMN,
  SQL_ENGINES,
  type SqlEngine,
} from "../../bot-runtime/src/sdk/sql-schema.ts";
import {
  type ConnectSettings,
  connectSql,
  type SqlSession,
  SSL_MODES,
  type Statement,
  type TableInfo,
  TransactionError,
} from "./sql/engines.ts";

const parameters = z.object({
  engine: z
    .enum(SQL_ENGINES)
    .describe(
      "The database: postgresql, or mysql for MySQL and MariaDB (IntelMQ's sqlite and mssql are not supported).",
    ),
  host: z
    .string()
    .default("localhost")
    .describe(
      "Host name or address of the server; a path starting with / is the directory (PostgreSQL) or file (MySQL) of its Unix socket.",
    ),
  port: z
    .union([z.number().int().min(1).max(65535), z.string().regex(/^\d+$/)])
    .nullable()
    .optional()
    .describe("Port of the server; unset: 5432 for postgresql, 3306 for mysql."),
  database: z.string().default("intelmq-events").describe("The database."),
  user: z.string().default("intelmq").describe("User name."),
  password: z.string().nullable().optional().describe("Password."),
  sslmode: z
    .enum(SSL_MODES)
    .nullable()
    .optional()
    .describe(
      "TLS, as libpq's sslmode: disable, allow, prefer, require (encrypted, certificate not checked), verify-ca, verify-full (also the host name). Unset: require for postgresql (IntelMQ's default), disable for mysql (IntelMQ connects to MySQL without TLS). Not used over a Unix socket.",
    ),
  sslrootcert: z
    .string()
    .nullable()
    .optional()
    .describe("Petrel: CA certificate file (PEM) for verify-ca and verify-full; unset: the system's CAs."),
  sslcert: z
    .string()
    .nullable()
    .optional()
    .describe("Petrel: client certificate file (PEM), for certificate login."),
  sslkey: z.string().nullable().optional().describe("Petrel: the client certificate's key file (PEM)."),
  connect_timeout: z.number().min(0).default(5).describe("Seconds to wait for a connection; 0: no limit."),
  table: z
    .string()
    .min(1)
    .default("events")
    .describe('The table, as written in SQL (may be schema-qualified or quoted: public."events").'),
  fields: z
    .union([z.array(z.string().min(1)), z.string()])
    .nullable()
    .optional()
    .describe(
      "Write only these fields (a list, or comma-separated); unset: every field of the event. A field an event lacks is left to the column's default.",
    ),
  message_jsondict_as_string: z
    .boolean()
    .default(true)
    .describe("Write extra as one JSON column; false: each extra.* field to a column of its own name."),
  jsondict_as_string: z
    .boolean()
    .default(true)
    .describe(
      "Accepted for compatibility and ignored, as by IntelMQ, whose SQL output replaces it with message_jsondict_as_string when it starts.",
    ),
  autocommit: z
    .boolean()
    .default(true)
    .describe("Accepted for compatibility: Petrel writes each batch in one transaction either way."),
  reconnect_delay: z
    .number()
    .min(0)
    .default(0)
    .describe("Seconds to wait before connecting again after the connection was lost."),
  fail_on_errors: z
    .boolean()
    .default(false)
    .describe(
      "Accepted for compatibility: a failed batch is always retried and then dead-lettered by the runtime.",
    ),
});

type Params = z.output<typeof parameters>;

/** Most rows in one INSERT statement (more go in further statements of the same transaction). */
const MAX_ROWS_PER_STATEMENT = 1_000;
/** PostgreSQL's limit of values per statement. */
const MAX_VALUES_PER_STATEMENT = 65_535;
/** \u0000 where it is an escape in JSON text, not an escaped backslash followed by u0000. */
const JSON_NUL_ESCAPE = /(?<!\\)((?:\\\\)*)\\u0000/g;
const JSON_FIELDS = new Set(
  Object.entries(EVENT_FIELDS)
    .filter(([, spec]) => spec.type === "JSON" || spec.type === "JSONDict")
    .map(([field]) => field),
);
const ISO_UTC = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)\+00:00$/;

/** A stable key over the whole event, time.observation included (IntelMQ's hash leaves it out). */
export function eventKey(event: Event): string {
  const keys = event.keys().sort();
  let text = "";
  for (const key of keys) text += `${key}\0${JSON.stringify(event.get(key))}\0`;
  return createHash("sha256").update(text).digest("hex");
}

interface Row {
  readonly event: Event;
  /** Column → value, as IntelMQ's SQL output has them before its driver quotes them. */
  readonly values: Map<string, unknown>;
}

function connectSettings(params: Params): ConnectSettings {
  return {
    host: params.host,
    port: params.port == null ? (params.engine === "postgresql" ? 5432 : 3306) : Number(params.port),
    database: params.database,
    user: params.user,
    password: params.password,
    sslmode: params.sslmode ?? (params.engine === "postgresql" ? "require" : "disable"),
    sslrootcert: params.sslrootcert,
    sslcert: params.sslcert,
    sslkey: params.sslkey,
    connectTimeoutMs: params.connect_timeout === 0 ? 2_147_483_647 : params.connect_timeout * 1000,
  };
}

/** The row IntelMQ's SQL output would insert for the event (its to_dict, fields, prepare_values). */
function rowOf(event: Event, params: Params, fields: readonly string[] | undefined, engine: SqlEngine): Row {
  const dict = event.toDict({ jsondictAsString: params.message_jsondict_as_string });
  const values = new Map<string, unknown>();
  for (const key of fields ?? Object.keys(dict)) {
    if (!(key in dict)) continue;
    let value = dict[key];
    if (typeof value === "number" && isFloatField(key)) value = pyFloatRepr(value);
    // jsonb cannot hold NUL: as in IntelMQ, its escape becomes the text \u0000.
    else if (typeof value === "string" && engine === "postgresql" && JSON_FIELDS.has(key)) {
      value = value.replace(JSON_NUL_ESCAPE, "$1\\\\u0000");
    } else if (typeof value === "object" && value !== null) value = JSON.stringify(value);
    values.set(key, value);
  }
  if (values.size === 0) {
    throw new FieldError(
      "KeyNotExists",
      fields ? fields.join(",") : "(all)",
      undefined,
      ": the event has none of the fields to write, there is no row to insert",
    );
  }
  return { event, values };
}

/** MySQL's DATETIME and TIMESTAMP take no zone: a UTC time goes as YYYY-MM-DD HH:MM:SS.ffffff. */
function mysqlTime(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const match = ISO_UTC.exec(value);
  return match ? `${match[1]} ${match[2]}` : value;
}

/** Multi-row INSERTs for the rows; a row's missing columns get their DEFAULT. */
function insertStatements(
  session: SqlSession,
  table: string,
  info: TableInfo,
  rows: readonly Row[],
): Statement[] {
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of rows) {
    for (const key of row.values.keys()) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  if (info.idempotent) columns.push(HASH_COLUMN);
  const mysql = session.engine === "mysql";
  const temporal = columns.map((c) => mysql && info.columns.get(c)?.temporal === true);
  const head = `INSERT INTO ${table} (${columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ")}) VALUES `;
  const tail = !info.idempotent
    ? ""
    : mysql
      ? ` ON DUPLICATE KEY UPDATE "${HASH_COLUMN}" = "${HASH_COLUMN}"`
      : " ON CONFLICT DO NOTHING";
  const statements: Statement[] = [];
  let tuples: string[] = [];
  let values: unknown[] = [];
  let bytes = 0;
  const flush = () => {
    if (tuples.length === 0) return;
    statements.push({ sql: head + tuples.join(", ") + tail, values });
    tuples = [];
    values = [];
    bytes = 0;
  };
  for (const row of rows) {
    const rowValues: Array<unknown> = [];
    let rowBytes = 16;
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as string;
      const value = column === HASH_COLUMN && info.idempotent ? eventKey(row.event) : row.values.get(column);
      rowValues.push(value === undefined ? undefined : temporal[i] ? mysqlTime(value) : value);
      // Escaped text may double; UTF-8 takes up to 3 bytes per UTF-16 unit.
      rowBytes += typeof value === "string" ? value.length * 6 + 4 : 24;
    }
    const present = rowValues.filter((v) => v !== undefined);
    if (
      tuples.length >= MAX_ROWS_PER_STATEMENT ||
      values.length + present.length > MAX_VALUES_PER_STATEMENT ||
      (tuples.length > 0 && bytes + rowBytes > session.maxStatementBytes)
    ) {
      flush();
    }
    let next = values.length;
    tuples.push(
      `(${rowValues.map((v) => (v === undefined ? "DEFAULT" : session.placeholder(next++))).join(", ")})`,
    );
    values.push(...present);
    bytes += rowBytes;
  }
  flush();
  return statements;
}

export default defineOutput({
  id: "outputs.sql",
  intelmqModules: ["intelmq.bots.outputs.sql.output"],
  kind: "output",
  description:
    "Inserts events into a PostgreSQL or MySQL/MariaDB table, one column per field (the table from petrelctl sql initdb or IntelMQ's intelmq_psql_initdb).",
  parameters,
  deviations: [
    {
      id: "batch-transaction",
      summary:
        "A batch of events is written with multi-row INSERTs in one transaction; IntelMQ inserts and commits one event at a time (autocommit has no effect).",
      reason: "Throughput, and an acknowledged batch is committed as a whole or not at all.",
    },
    {
      id: "idempotent-hash-column",
      summary: `Tables with Petrel's ${HASH_COLUMN} column (a unique SHA-256 key over the whole event) get no second row for an event written again; IntelMQ's table has no such column.`,
      reason:
        "A batch whose COMMIT succeeded but whose acknowledgement was lost is delivered again; without the key it would be inserted twice. Tables without the column are written as IntelMQ writes them.",
    },
    {
      id: "postgresql-nul-escape",
      summary:
        "PostgreSQL: only in JSON values (extra, output), and only where it is an escape, does \\u0000 become the text \\\\u0000; IntelMQ changes the six characters \\u0000 in every value, also in plain text and after an escaped backslash.",
      reason:
        "IntelMQ's replacement alters text it does not need to and turns an escaped backslash followed by u0000 into a NUL escape that PostgreSQL rejects, failing the event.",
    },
    {
      id: "mysql-times-without-zone",
      summary:
        "MySQL: values for DATETIME and TIMESTAMP columns are written as UTC 'YYYY-MM-DD HH:MM:SS.ffffff'; IntelMQ sends '…T…+00:00', which MariaDB and MySQL before 8.0.19 reject.",
      reason: "So that time columns can have a time type; text columns still get IntelMQ's text.",
    },
    {
      id: "mysql-port-and-tls",
      summary:
        "MySQL: an unset port is 3306 (IntelMQ: 5432 for every engine), and sslmode, when set, applies to MySQL too (IntelMQ never uses TLS for MySQL).",
      reason: "MySQL's own port, and encrypted connections where the server requires them.",
    },
  ],
  async create(params, ctx) {
    const settings = connectSettings(params);
    const fields =
      params.fields == null
        ? undefined
        : typeof params.fields === "string"
          ? params.fields
              .split(",")
              .map((f) => f.trim())
              .filter((f) => f !== "")
          : params.fields;
    const where = `${params.engine} ${params.database} on ${params.host}`;
    let session: SqlSession | undefined;
    let info: TableInfo | undefined;
    let warnedNotIdempotent = false;
    let lostConnection = false;

    async function open(): Promise<{ session: SqlSession; info: TableInfo }> {
      if (lostConnection && params.reconnect_delay > 0) {
        await new Promise((resolve) => setTimeout(resolve, params.reconnect_delay * 1000));
      }
      const opened = await connectSql(params.engine, settings);
      try {
        info = await opened.describe(params.table);
      } catch (error) {
        await opened.close();
        throw new Error(
          `table ${params.table} in ${where}: ${(error as Error).message} (create it with: petrelctl sql initdb --engine ${params.engine} --table '${params.table}')`,
          { cause: error },
        );
      }
      lostConnection = false;
      if (!info.idempotent && !warnedNotIdempotent) {
        warnedNotIdempotent = true;
        ctx.log.warn(
          { table: params.table },
          `Table ${params.table} has no unique ${HASH_COLUMN} column: an event written again after a failure adds a second row. Add it with: ${addHashColumnDdl(params.engine, params.table)}`,
        );
      }
      session = opened;
      return { session: opened, info };
    }

    // Like IntelMQ, connect when the bot starts, so that wrong settings fail early.
    await open();

    return {
      async write(events) {
        if (events.length === 0) return;
        const rows = events.map((event) => rowOf(event, params, fields, params.engine));
        for (let attempt = 0; ; attempt++) {
          if (session?.broken) {
            // Closed while idle (a server restart): replaced before it is used.
            await session.close();
            session = undefined;
            lostConnection = true;
          }
          const reused = session !== undefined && info !== undefined;
          const current = reused ? { session: session as SqlSession, info: info as TableInfo } : await open();
          try {
            await current.session.transaction(
              insertStatements(current.session, params.table, current.info, rows),
            );
            return;
          } catch (error) {
            const cause = error instanceof TransactionError ? error.cause : error;
            if (!current.session.broken) throw cause;
            await current.session.close();
            session = undefined;
            lostConnection = true;
            // A connection that broke while idle (a server restart) is replaced at once, when nothing
            // can have been committed or a second write is harmless; otherwise the runtime retries.
            const harmless =
              error instanceof TransactionError && (error.beforeCommit || current.info.idempotent);
            if (attempt > 0 || !reused || !harmless) throw cause;
            ctx.log.warn({ err: cause }, `Connection to ${where} lost; connecting again.`);
          }
        }
      },
      async close() {
        await session?.close();
        session = undefined;
      },
    };
  },
});
