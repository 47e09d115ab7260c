// outputs.sql with engine mysql against a private MariaDB server: Petrel's MySQL table layout, rows
// against what IntelMQ's SQL output writes, idempotence, a failing batch, server crashes and restarts
// mid-stream, TLS, the Unix socket, and write throughput.
import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_FIELDS } from "../../bot-runtime/src/event/harmonization.ts";
import {
  columnType,
  eventsTableDdl,
  HASH_COLUMN,
  INDEXED_FIELDS,
} from "../../bot-runtime/src/sdk/sql-schema.ts";
import { startMariaDb, type TestMariaDb } from "../../bot-runtime/test-support/mariadb.ts";
import {
  createSqlOutput,
  loggingContext,
  makeEvent,
  makeEvents,
  type OracleResult,
  replayValue,
  runIntelmqSqlOutput,
  streamThroughRestarts,
  writeInBatches,
} from "./sql/test-support/sql-oracle.ts";
import sqlOutput from "./sql.ts";

const FIELDS = Object.keys(EVENT_FIELDS).sort();
const TIME_FIELDS = FIELDS.filter((f) => EVENT_FIELDS[f]?.type === "DateTime");

let server: TestMariaDb;

function connection(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    engine: "mysql",
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    ...extra,
  };
}

/** IntelMQ's table for MariaDB as its users must declare it: times as text (MariaDB refuses '…+00:00'). */
function intelmqTextTimesTable(table: string): string {
  return eventsTableDdl({ engine: "mysql", table, hashColumn: false }).replaceAll(
    "DATETIME(6)",
    "VARCHAR(32)",
  );
}

async function count(table: string, where = "true"): Promise<number> {
  const [row] = await server.query<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`);
  return Number(row?.n);
}

/** The rows as sorted JSON arrays of the field columns; `times` maps the time columns first. */
async function rowsOf(
  table: string,
  times: (value: string | null) => string | null = (v) => v,
): Promise<string[]> {
  const rows = await server.query<Record<string, unknown>>(
    `SELECT ${FIELDS.map((f) => `\`${f}\``).join(", ")} FROM ${table}`,
  );
  return rows
    .map((row) =>
      JSON.stringify(FIELDS.map((f) => (TIME_FIELDS.includes(f) ? times(row[f] as string | null) : row[f]))),
    )
    .sort();
}

/** Replays what IntelMQ handed PyMySQL, through mysql2 (IntelMQ's session sets ANSI_QUOTES too). */
async function replay(result: OracleResult): Promise<void> {
  expect(result.error).toBeNull();
  if (result.driver === "real") return;
  const client = await mysql.createConnection({
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    charset: "utf8mb4",
  });
  try {
    await client.query("SET sql_mode = CONCAT_WS(',', (SELECT @@sql_mode), 'ANSI_QUOTES')");
    await client.query("BEGIN");
    for (const [query, values] of result.statements) {
      const args = (values ?? []).map((v) => {
        const value = replayValue(v);
        return typeof v === "object" && v !== null && "float" in v ? Number(value) : value;
      });
      await client.query(query.replaceAll("%s", "?"), args);
    }
    await client.query("COMMIT");
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = await startMariaDb();
  await server.query(eventsTableDdl({ engine: "mysql" }));
  await server.query(intelmqTextTimesTable("intelmq_text"));
  await server.query(intelmqTextTimesTable("compat_text"));
}, 60_000);

afterAll(async () => {
  await server?.dispose();
});

describe("outputs.sql (mysql)", () => {
  it("creates the table: a column per field, typed as for PostgreSQL, the indexes, petrel_hash", async () => {
    await server.query(eventsTableDdl({ engine: "mysql", table: "again", ifNotExists: true }));
    await server.query(eventsTableDdl({ engine: "mysql", table: "again", ifNotExists: true }));
    const columns = await server.query<{ name: string; type: string }>(
      "SELECT column_name AS name, column_type AS type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'again' ORDER BY ordinal_position",
    );
    expect(columns.map((c) => c.name)).toEqual(["id", ...FIELDS, HASH_COLUMN]);
    const expected = (field: string) =>
      columnType("mysql", field, EVENT_FIELDS[field] as never)
        .toLowerCase()
        .replace("boolean", "tinyint(1)")
        .replace(/^int$/, "int(11)")
        .replace("int unsigned", "int(10) unsigned")
        .replace("json", "longtext")
        .replaceAll("', '", "','");
    for (const { name, type } of columns.slice(1, -1)) expect(type, name).toBe(expected(name));
    const indexes = await server.query<{ name: string; column: string; unique: number }>(
      "SELECT index_name AS name, column_name AS `column`, 1 - non_unique AS `unique` FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'again'",
    );
    expect(indexes.filter((i) => i.name.startsWith("idx_again_")).map((i) => i.column)).toEqual(
      expect.arrayContaining([...INDEXED_FIELDS]),
    );
    expect(indexes.find((i) => i.column === HASH_COLUMN)?.unique).toBe(1);
  });

  it("writes the rows IntelMQ's SQL output writes; times as DATETIME in Petrel's table", async () => {
    expect(sqlOutput.deviations?.map((d) => d.id)).toContain("mysql-times-without-zone");
    const events = makeEvents(2000);
    const started = Date.now();
    const [result, intoDatetime] = await runIntelmqSqlOutput([
      { params: connection({ table: "intelmq_text" }), events },
      { params: connection({ table: "events" }), events: events.slice(1, 2) },
    ]);
    const oracleMs = Date.now() - started;
    await replay(result as OracleResult);
    if (result?.driver === "recorded") expect(result.statements).toHaveLength(events.length);
    // What IntelMQ sends for a time, MariaDB refuses for a DATETIME column.
    if (intoDatetime?.driver === "recorded") {
      await expect(replay(intoDatetime)).rejects.toThrow(/Incorrect datetime value: '2024-05-01T/);
    }
    for (const table of ["compat_text", "events"]) {
      const output = await createSqlOutput(connection({ table }));
      await writeInBatches(output, events);
      await output.close?.();
    }
    const intelmq = await rowsOf("intelmq_text");
    expect(intelmq).toHaveLength(events.length);
    expect(await rowsOf("compat_text")).toEqual(intelmq);
    const asDatetime = (v: string | null) => {
      if (v === null) return null;
      const [date, time = ""] = v.replace("+00:00", "").split("T");
      const [seconds, fraction = ""] = time.split(".");
      return `${date} ${seconds}.${fraction.padEnd(6, "0")}`;
    };
    expect(await rowsOf("events")).toEqual(await rowsOf("intelmq_text", asDatetime));
    expect(
      await count("events", "`time.source` LIKE '%.%' AND `time.source` NOT LIKE '%.000000'"),
    ).toBeGreaterThan(0);
    expect(await count("events", `${HASH_COLUMN} IS NOT NULL`)).toBe(events.length);
    console.log(
      `outputs.sql mysql: ${events.length} events compared with IntelMQ's SQL output (driver: ${result?.driver}, oracle ${oracleMs} ms)`,
    );
  }, 60_000);

  it("adds no row for an event written again", async () => {
    await server.query("CREATE TABLE again_events LIKE events");
    const output = await createSqlOutput(connection({ table: "again_events" }));
    const events = makeEvents(500, 50_000);
    await output.write(events.slice(0, 300));
    await output.write(events.slice(0, 300));
    await output.write(events.slice(100, 500));
    await output.close?.();
    expect(await count("again_events")).toBe(500);
  });

  it("writes a batch as one transaction: a failing event leaves none of the batch", async () => {
    await server.query("CREATE TABLE tx_events LIKE events");
    const output = await createSqlOutput(connection({ table: "tx_events" }));
    const events = makeEvents(2500, 70_000);
    // A valid float that MySQL's FLOAT cannot hold, in the last of three statements.
    const tooLarge = makeEvent(72_499);
    tooLarge.add("source.geolocation.latitude", 1e300, { overwrite: true });
    await expect(output.write([...events.slice(0, 2499), tooLarge])).rejects.toThrow(/Out of range value/);
    expect(await count("tx_events")).toBe(0);
    await output.write(events);
    expect(await count("tx_events")).toBe(2500);
    await output.close?.();
  });

  it("loses nothing and duplicates nothing when the server crashes or restarts mid-stream", async () => {
    await server.query("CREATE TABLE restart_events LIKE events");
    const { ctx, logs } = loggingContext();
    const output = await createSqlOutput(connection({ table: "restart_events" }), ctx);
    const events = makeEvents(5000, 100_000);
    const failures = await streamThroughRestarts(
      server,
      [output],
      events,
      async () => (await count("restart_events")) >= 3000,
    );
    await output.close?.();
    expect(failures).toBeGreaterThan(0);
    expect(await count("restart_events")).toBe(events.length);
    const [distinct] = await server.query<{ n: number }>(
      "SELECT count(DISTINCT JSON_VALUE(extra, '$.n')) AS n FROM restart_events",
    );
    expect(Number(distinct?.n)).toBe(events.length);
    expect(logs.some((l) => /connecting again/.test(l.msg))).toBe(true);
    console.log(
      `outputs.sql mysql restart: ${events.length} events, ${failures} failed writes retried, ${events.length} rows`,
    );
  }, 60_000);

  it("writes a table without petrel_hash, saying once that it is not idempotent", async () => {
    await server.query("CREATE TABLE plain_events LIKE compat_text");
    const { ctx, logs } = loggingContext();
    const output = await createSqlOutput(connection({ table: "plain_events" }), ctx);
    await output.write(makeEvents(5, 90_000));
    await output.write(makeEvents(5, 90_000));
    await output.close?.();
    expect(await count("plain_events")).toBe(10);
    const warnings = logs.filter((l) => l.msg.includes(HASH_COLUMN));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain(
      `ALTER TABLE plain_events ADD COLUMN \`${HASH_COLUMN}\` CHAR(64) CHARACTER SET ascii UNIQUE;`,
    );
  });

  it("uses MySQL's port when none is set, sslmode when set, and the Unix socket", async () => {
    expect(sqlOutput.deviations?.map((d) => d.id)).toContain("mysql-port-and-tls");
    await expect(createSqlOutput(connection({ port: null }))).rejects.toThrow(/3306/);
    await server.query(`CREATE USER 'tls'@'127.0.0.1' IDENTIFIED BY 'tls-password' REQUIRE SSL`);
    await server.query(`GRANT ALL PRIVILEGES ON ${server.database}.* TO 'tls'@'127.0.0.1'`);
    const tls = (params: Record<string, unknown>) =>
      createSqlOutput(connection({ user: "tls", password: "tls-password", ...params })).then(
        async (output) => {
          await output.write(makeEvents(1, 95_000));
          await output.close?.();
        },
      );
    // IntelMQ connects to MySQL without TLS: so does an unset sslmode.
    await expect(tls({})).rejects.toThrow(/Access denied/);
    await tls({ sslmode: "require" });
    await tls({ sslmode: "prefer" });
    await tls({ sslmode: "verify-full", sslrootcert: server.caFile });
    await tls({ sslmode: "verify-ca", sslrootcert: server.caFile });
    await expect(tls({ sslmode: "verify-full" })).rejects.toThrow(/certificate/);
    await expect(tls({ sslmode: "disable" })).rejects.toThrow(/Access denied/);
    expect(await count("events", "JSON_VALUE(extra, '$.n') = 95000")).toBe(1);
    await server.query(`CREATE USER 'local'@'localhost' IDENTIFIED BY 'local-password'`);
    await server.query(`GRANT ALL PRIVILEGES ON ${server.database}.* TO 'local'@'localhost'`);
    const local = await createSqlOutput(
      connection({ host: server.socket, port: null, user: "local", password: "local-password" }),
    );
    await local.write(makeEvents(1, 96_000));
    await local.close?.();
    expect(await count("events", "JSON_VALUE(extra, '$.n') = 96000")).toBe(1);
  });

  it("measures write latency and throughput", async () => {
    await server.query("CREATE TABLE bench_events LIKE events");
    const events = makeEvents(12_000, 200_000);
    const output = await createSqlOutput(connection({ table: "bench_events" }));
    const latencies: number[] = [];
    const started = process.hrtime.bigint();
    for (let i = 0; i < events.length; i += 256) {
      const t = process.hrtime.bigint();
      await output.write(events.slice(i, i + 256));
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    await output.close?.();
    expect(await count("bench_events")).toBe(events.length);
    latencies.sort((a, b) => a - b);
    const at = (q: number) => (latencies[Math.floor(q * (latencies.length - 1))] as number).toFixed(1);
    console.log(
      `outputs.sql mysql (MariaDB) with petrel_hash: ${events.length} events in batches of 256: ${Math.round(events.length / seconds)} rows/s, batch latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
    );
  }, 60_000);
});
