// Connections for outputs.sql: PostgreSQL (node-postgres) and MySQL/MariaDB (mysql2) behind one small
// interface — run statements in one transaction, describe the target table — with libpq's sslmode
// semantics for TLS on both.
import { readFileSync } from "node:fs";
import type { ConnectionOptions as TlsOptions } from "node:tls";
import mysql from "mysql2/promise";
import pg from "pg";
import { HASH_COLUMN, type SqlEngine } from "../../../bot-runtime/src/sdk/sql-schema.ts";

export const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] as const;
export type SslMode = (typeof SSL_MODES)[number];

export interface ConnectSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string | null | undefined;
  sslmode: SslMode;
  sslrootcert?: string | null | undefined;
  sslcert?: string | null | undefined;
  sslkey?: string | null | undefined;
  connectTimeoutMs: number;
}

export interface Statement {
  sql: string;
  values: unknown[];
}

export interface TableInfo {
  /** Column names, and whether each holds a date and time (MySQL: values are written without zone). */
  columns: ReadonlyMap<string, { temporal: boolean }>;
  /** The table has petrel_hash with a unique index: rows already written are skipped. */
  idempotent: boolean;
}

export interface SqlSession {
  readonly engine: SqlEngine;
  /** Largest statement (bytes of SQL text with its values) the server takes; Infinity when unlimited. */
  readonly maxStatementBytes: number;
  /** The placeholder of the i-th value (0-based) of a statement. */
  placeholder(index: number): string;
  /**
   * Runs the statements in one transaction and resolves after COMMIT. A failure rolls back; when it
   * happened before COMMIT was sent, `error.beforeCommit` is true.
   */
  transaction(statements: readonly Statement[]): Promise<void>;
  describe(table: string): Promise<TableInfo>;
  /** The connection failed or was closed: it cannot be used again. */
  readonly broken: boolean;
  close(): Promise<void>;
}

/** A failed transaction; `beforeCommit`: nothing can have been committed. */
export class TransactionError extends Error {
  readonly beforeCommit: boolean;
  constructor(cause: unknown, beforeCommit: boolean) {
    super((cause as Error)?.message ?? String(cause), { cause });
    this.name = "TransactionError";
    this.beforeCommit = beforeCommit;
  }
}

// ---- TLS: libpq's sslmode ----

/** TLS settings to try in order (false: no TLS), as libpq's sslmode does. */
export function tlsAttempts(settings: ConnectSettings): Array<TlsOptions | false> {
  const files = (): TlsOptions => ({
    ...(settings.sslrootcert ? { ca: readFileSync(settings.sslrootcert) } : {}),
    ...(settings.sslcert ? { cert: readFileSync(settings.sslcert) } : {}),
    ...(settings.sslkey ? { key: readFileSync(settings.sslkey) } : {}),
  });
  // require: encrypted, the certificate is not checked (libpq without a root certificate file).
  const unverified = (): TlsOptions => ({ ...files(), rejectUnauthorized: false });
  // As libpq: no TLS over a Unix socket, whatever sslmode says.
  if (settings.host.startsWith("/")) return [false];
  switch (settings.sslmode) {
    case "disable":
      return [false];
    case "allow":
      return [false, unverified()];
    case "prefer":
      return [unverified(), false];
    case "require":
      return [unverified()];
    case "verify-ca":
      return [{ ...files(), rejectUnauthorized: true, checkServerIdentity: () => undefined }];
    case "verify-full":
      return [{ ...files(), rejectUnauthorized: true }];
  }
}

/** Connects with the first TLS setting that works; the last error when none does. */
async function firstWorking<T>(
  attempts: ReadonlyArray<TlsOptions | false>,
  connect: (tls: TlsOptions | false) => Promise<T>,
): Promise<T> {
  let lastError: unknown;
  for (const tls of attempts) {
    try {
      return await connect(tls);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

// ---- PostgreSQL ----

async function connectPostgres(settings: ConnectSettings): Promise<SqlSession> {
  const client = await firstWorking(tlsAttempts(settings), async (tls) => {
    const candidate = new pg.Client({
      host: settings.host,
      port: settings.port,
      database: settings.database,
      user: settings.user,
      ...(settings.password == null ? {} : { password: settings.password }),
      ssl: tls === false ? false : tls,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      keepAlive: true,
      application_name: "petrel outputs.sql",
    });
    candidate.on("error", () => undefined);
    try {
      await candidate.connect();
      return candidate;
    } catch (error) {
      await candidate.end().catch(() => undefined);
      throw error;
    }
  });
  let broken = false;
  client.on("error", () => {
    broken = true;
  });
  client.on("end", () => {
    broken = true;
  });
  return {
    engine: "postgresql",
    maxStatementBytes: Number.POSITIVE_INFINITY,
    placeholder: (index) => `$${index + 1}`,
    get broken() {
      return broken;
    },
    async transaction(statements) {
      let committing = false;
      try {
        await client.query("BEGIN");
        for (const statement of statements) {
          await client.query(statement.sql, statement.values);
        }
        committing = true;
        await client.query("COMMIT");
      } catch (error) {
        if (!broken) {
          await client.query("ROLLBACK").catch(() => {
            broken = true;
          });
        }
        throw new TransactionError(error, !committing);
      }
    },
    async describe(table) {
      const result = await client.query(`SELECT * FROM ${table} WHERE false`);
      const columns = new Map(result.fields.map((f) => [f.name, { temporal: false }]));
      let idempotent = false;
      if (columns.has(HASH_COLUMN)) {
        // A unique index that includes petrel_hash (with the partition key in partitioned tables).
        const unique = await client.query(
          `SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
           WHERE i.indrelid = $1::regclass AND i.indisunique AND a.attname = $2 LIMIT 1`,
          [table, HASH_COLUMN],
        );
        idempotent = unique.rowCount === 1;
      }
      return { columns, idempotent };
    },
    async close() {
      broken = true;
      await client.end().catch(() => undefined);
    },
  };
}

// ---- MySQL / MariaDB ----

/** MySQL's column type codes of DATE, TIMESTAMP, DATETIME (and their fractional variants). */
const MYSQL_TEMPORAL_TYPES = new Set([7, 10, 12, 17, 18]);

async function connectMysql(settings: ConnectSettings): Promise<SqlSession> {
  const connection = await firstWorking(tlsAttempts(settings), (tls) =>
    mysql.createConnection({
      ...(settings.host.startsWith("/")
        ? { socketPath: settings.host }
        : { host: settings.host, port: settings.port }),
      database: settings.database,
      user: settings.user,
      ...(settings.password == null ? {} : { password: settings.password }),
      ...(tls === false
        ? {}
        : {
            ssl: {
              ...(tls.ca ? { ca: tls.ca as Buffer } : {}),
              ...(tls.cert ? { cert: tls.cert as Buffer } : {}),
              ...(tls.key ? { key: tls.key as Buffer } : {}),
              rejectUnauthorized: tls.rejectUnauthorized !== false,
              verifyIdentity: tls.rejectUnauthorized !== false && tls.checkServerIdentity === undefined,
            },
          }),
      connectTimeout: settings.connectTimeoutMs,
      charset: "utf8mb4",
      enableKeepAlive: true,
      supportBigNumbers: true,
    }),
  );
  let broken = false;
  connection.on("error", () => {
    broken = true;
  });
  connection.on("end", () => {
    broken = true;
  });
  try {
    // IntelMQ quotes identifiers with double quotes (ANSI_QUOTES); times are written as UTC; values are
    // escaped with backslashes, which NO_BACKSLASH_ESCAPES would turn into data.
    const [modes] = (await connection.query("SELECT @@SESSION.sql_mode AS mode")) as unknown as [
      Array<{ mode: string }>,
    ];
    const sqlMode = new Set(
      String(modes[0]?.mode ?? "")
        .split(",")
        .filter((m) => m !== ""),
    );
    sqlMode.add("ANSI_QUOTES");
    sqlMode.delete("NO_BACKSLASH_ESCAPES");
    await connection.query("SET SESSION sql_mode = ?, time_zone = '+00:00'", [[...sqlMode].join(",")]);
  } catch (error) {
    await connection.end().catch(() => undefined);
    throw error;
  }
  const [packet] = (await connection.query("SELECT @@max_allowed_packet AS max")) as unknown as [
    Array<{ max: number | string }>,
  ];
  const maxStatementBytes = Math.max(64 * 1024, Number(packet[0]?.max ?? 4 * 1024 * 1024) - 1024);
  return {
    engine: "mysql",
    maxStatementBytes,
    placeholder: () => "?",
    get broken() {
      return broken;
    },
    async transaction(statements) {
      let committing = false;
      try {
        await connection.query("BEGIN");
        for (const statement of statements) await connection.query(statement.sql, statement.values);
        committing = true;
        await connection.query("COMMIT");
      } catch (error) {
        if (!broken) {
          await connection.query("ROLLBACK").catch(() => {
            broken = true;
          });
        }
        throw new TransactionError(error, !committing);
      }
    },
    async describe(table) {
      const [, fields] = await connection.query(`SELECT * FROM ${table} LIMIT 0`);
      const columns = new Map(
        (fields ?? []).map((f) => [f.name, { temporal: MYSQL_TEMPORAL_TYPES.has(f.columnType ?? -1) }]),
      );
      let idempotent = false;
      if (columns.has(HASH_COLUMN)) {
        try {
          const [rows] = (await connection.query(
            `SHOW INDEX FROM ${table} WHERE Column_name = ? AND Non_unique = 0`,
            [HASH_COLUMN],
          )) as unknown as [unknown[]];
          idempotent = rows.length > 0;
        } catch {
          // A view has no indexes.
        }
      }
      return { columns, idempotent };
    },
    async close() {
      broken = true;
      await connection.end().catch(() => undefined);
    },
  };
}

export function connectSql(engine: SqlEngine, settings: ConnectSettings): Promise<SqlSession> {
  return engine === "postgresql" ? connectPostgres(settings) : connectMysql(settings);
}
