// outputs.sql with engine postgresql against a private PostgreSQL server: Petrel's table layout
// against intelmq_psql_initdb's, rows against what IntelMQ's SQL output writes, idempotence, a
// failing batch, server restarts mid-stream, TLS, and write throughput.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EVENT_FIELDS } from "../../bot-runtime/src/event/harmonization.ts";
import { type Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { eventsTableDdl, HASH_COLUMN } from "../../bot-runtime/src/sdk/sql-schema.ts";
import { startPostgres, type TestPostgres } from "../../bot-runtime/test-support/postgres.ts";
import {
  BACKSLASH_U0000,
  createSqlOutput,
  intelmqInitdbs,
  loggingContext,
  makeEvent,
  makeEvents,
  type OracleResult,
  replayValue,
  runIntelmqSqlOutput,
  streamThroughRestarts,
  writeInBatches,
} from "./sql/test-support/sql-oracle.ts";
import sqlOutput, { eventKey } from "./sql.ts";

const FIELDS = Object.keys(EVENT_FIELDS).sort();
const petrelctl = fileURLToPath(new URL("../../operator/bin/petrelctl.js", import.meta.url));

let server: TestPostgres;
let intelmqDdl: string;
let intelmqPartitioned: string;
let intelmqSeparateRaws: string;

function connection(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    engine: "postgresql",
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.password,
    database: server.database,
    ...extra,
  };
}

/** Runs SQL statements (a script) in the test database, with search_path set to `schema`. */
async function script(sql: string, schema = "public"): Promise<void> {
  await server.query(`SET search_path TO ${schema}; ${sql}`);
}

/** The rows of a table as sorted JSON arrays of the columns' text; JSON columns normalized as jsonb. */
async function rowsOf(table: string, columns: readonly string[], normalizeJson: boolean): Promise<string[]> {
  const select = columns.map((c) => {
    const json = EVENT_FIELDS[c]?.type === "JSON" || EVENT_FIELDS[c]?.type === "JSONDict";
    return json && normalizeJson ? `"${c}"::jsonb::text` : `"${c}"::text`;
  });
  const rows = await server.query<Record<string, string | null>>(
    `SELECT json_build_array(${select.join(", ")})::text AS row FROM ${table}`,
  );
  return rows.map((r) => r.row as string).sort();
}

async function count(table: string, where = "true"): Promise<number> {
  const [row] = await server.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${where}`);
  return Number(row?.n);
}

/** Replays what IntelMQ handed psycopg2, through node-postgres, in one transaction. */
async function replay(result: OracleResult): Promise<void> {
  expect(result.error).toBeNull();
  if (result.driver === "real") return;
  const client = new pg.Client(server.clientConfig);
  await client.connect();
  try {
    await client.query("BEGIN");
    for (const [query, values] of result.statements) {
      let n = 0;
      await client.query(
        query.replaceAll("%s", () => `$${++n}`),
        (values ?? []).map(replayValue),
      );
    }
    await client.query("COMMIT");
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  server = await startPostgres();
  await script("CREATE SCHEMA ref; CREATE SCHEMA oracle; CREATE SCHEMA compat;");
  // ref: IntelMQ's own table; oracle and compat: IntelMQ's with json (not jsonb), so JSON text is kept
  // as written; public: Petrel's.
  let intelmqJson: string;
  [intelmqDdl, intelmqJson, intelmqPartitioned, intelmqSeparateRaws] = (await intelmqInitdbs([
    {},
    { noJsonb: true },
    { partitionKey: "time.source" },
    { separateRaws: true },
  ])) as [string, string, string, string];
  await script(intelmqDdl, "ref");
  await script(intelmqJson, "oracle");
  await script(intelmqJson, "compat");
  await script(eventsTableDdl({ engine: "postgresql" }), "public");
}, 60_000);

afterAll(async () => {
  await server?.dispose();
});

describe("outputs.sql (postgresql)", () => {
  it("creates IntelMQ's table: the same columns, types and indexes, plus petrel_hash", async () => {
    const columns = (schema: string) =>
      server.query<Record<string, unknown>>(
        `SELECT column_name, data_type, udt_name, character_maximum_length, column_default IS NOT NULL AS has_default
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'events' ORDER BY ordinal_position`,
        [schema],
      );
    const intelmq = await columns("ref");
    const petrel = await columns("public");
    expect(intelmq).toHaveLength(FIELDS.length + 1);
    expect(petrel.filter((c) => c.column_name !== HASH_COLUMN)).toEqual(intelmq);
    expect(petrel.at(-1)).toMatchObject({
      column_name: HASH_COLUMN,
      udt_name: "varchar",
      character_maximum_length: 64,
    });
    const indexes = (schema: string) =>
      server.query<{ indexname: string; indexdef: string }>(
        "SELECT indexname, replace(indexdef, $1 || '.', '') AS indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'events' ORDER BY indexname",
        [schema],
      );
    const petrelIndexes = await indexes("public");
    expect(petrelIndexes.filter((i) => !i.indexname.includes(HASH_COLUMN))).toEqual(await indexes("ref"));
    expect(petrelIndexes.find((i) => i.indexname.includes(HASH_COLUMN))?.indexdef).toMatch(
      /^CREATE UNIQUE INDEX/,
    );
    const enumValues = (schema: string) =>
      server.query(
        "SELECT enumlabel FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 ORDER BY enumsortorder",
        [schema],
      );
    expect(await enumValues("public")).toEqual(await enumValues("ref"));

    // --skip-or-replace runs twice; --no-jsonb and --partition-key as intelmq_psql_initdb makes them.
    await script("CREATE SCHEMA again;");
    for (let i = 0; i < 2; i++) {
      await script(eventsTableDdl({ engine: "postgresql", ifNotExists: true }), "again");
    }
    await script("CREATE SCHEMA ref_partitioned; CREATE SCHEMA partitioned;");
    await script(intelmqPartitioned, "ref_partitioned");
    await script(eventsTableDdl({ engine: "postgresql", partitionKey: "time.source" }), "partitioned");
    const keyOf = (schema: string) =>
      server.query(
        `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
         WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY a.attname`,
        [`${schema}.events`],
      );
    expect(await keyOf("partitioned")).toEqual(await keyOf("ref_partitioned"));
    expect((await columns("oracle")).find((c) => c.column_name === "extra")?.udt_name).toBe("json");
  });

  it("writes the rows IntelMQ's SQL output writes, into IntelMQ's table and into Petrel's", async () => {
    const events = makeEvents(3000);
    const subset = [
      "time.source",
      "source.ip",
      "classification.type",
      "extra",
      "feed.accuracy",
      "source.tor_node",
    ];
    await script(
      `CREATE TABLE oracle.subset (LIKE oracle.events INCLUDING ALL); CREATE TABLE compat.subset (LIKE compat.events INCLUDING ALL);
       CREATE TABLE oracle.split ("feed.name" text, "extra.n" integer, "extra.text" text, "time.observation" timestamptz);
       CREATE TABLE compat.split (LIKE oracle.split);`,
    );
    // IntelMQ's SQL output takes message_jsondict_as_string; its own jsondict_as_string has no effect.
    const split = {
      message_jsondict_as_string: false,
      fields: ["feed.name", "extra.n", "extra.text", "time.observation"],
    };
    const started = Date.now();
    const results = await runIntelmqSqlOutput([
      { params: connection({ sslmode: "require", table: "oracle.events" }), events },
      {
        params: connection({
          sslmode: "require",
          table: "oracle.subset",
          fields: subset,
          jsondict_as_string: false,
        }),
        events,
      },
      {
        params: connection({ sslmode: "require", table: "oracle.split", ...split }),
        events: events.slice(0, 500),
      },
    ]);
    const oracleMs = Date.now() - started;
    for (const result of results) await replay(result);
    if (results[0]?.driver === "recorded") expect(results[0].statements).toHaveLength(events.length);

    for (const [params, written] of [
      [{ table: "compat.events" }, events],
      [{ table: "public.events" }, events],
      [{ table: "compat.subset", fields: subset.join(","), jsondict_as_string: false }, events],
      [{ table: "compat.split", ...split }, events.slice(0, 500)],
    ] as const) {
      const output = await createSqlOutput(connection(params));
      await writeInBatches(output, written);
      await output.close?.();
    }

    const intelmq = await rowsOf("oracle.events", FIELDS, false);
    expect(intelmq).toHaveLength(events.length);
    expect(await rowsOf("compat.events", FIELDS, false)).toEqual(intelmq);
    expect(await rowsOf("public.events", FIELDS, true)).toEqual(await rowsOf("oracle.events", FIELDS, true));
    expect(await rowsOf("compat.subset", FIELDS, false)).toEqual(
      await rowsOf("oracle.subset", FIELDS, false),
    );
    const splitColumns = split.fields;
    expect(await rowsOf("compat.split", splitColumns, false)).toEqual(
      await rowsOf("oracle.split", splitColumns, false),
    );
    // The cases the comparison must cover.
    expect(await count("compat.events", `"extra"::text LIKE '%\\\\\\\\u0000%'`)).toBeGreaterThan(0);
    expect(await count("public.events", `"source.tor_node"`)).toBeGreaterThan(0);
    expect(await count("public.events", `"time.source" IS NULL`)).toBe(1000);
    expect(await count("public.events", `"petrel_hash" IS NOT NULL`)).toBe(events.length);
    console.log(
      `outputs.sql postgresql: ${events.length} events × 3 cases compared with IntelMQ's SQL output (driver: ${results[0]?.driver}, oracle ${oracleMs} ms)`,
    );
  }, 60_000);

  it("escapes NUL in JSON as IntelMQ does, without changing other text", async () => {
    expect(sqlOutput.deviations?.map((d) => d.id)).toContain("postgresql-nul-escape");
    await script(
      "CREATE TABLE nul_intelmq (LIKE ref.events INCLUDING ALL); CREATE TABLE nul_petrel (LIKE public.events INCLUDING ALL);",
    );
    const withNul = makeEvent(11);
    expect(withNul.get("extra.nul")).toBe("a\u0000b");
    const textComment = makeEvent(12);
    textComment.add("comment", BACKSLASH_U0000);
    const textInJson = makeEvent(13);
    textInJson.add("extra.text", BACKSLASH_U0000);
    const cases = [withNul, textComment, textInJson];
    const results = await runIntelmqSqlOutput(
      cases.map((event) => ({
        params: connection({ sslmode: "require", table: "nul_intelmq" }),
        events: [event],
      })),
    );
    for (const result of results.slice(0, 2)) await replay(result);
    // IntelMQ turns the escaped backslash before u0000 into a NUL escape, which jsonb refuses.
    if (results[2]?.driver === "recorded") {
      await expect(replay(results[2] as OracleResult)).rejects.toThrow(/unsupported Unicode escape sequence/);
    }
    expect(await count("nul_intelmq")).toBe(2);
    const output = await createSqlOutput(connection({ table: "nul_petrel" }));
    await output.write(cases);
    await output.close?.();
    const extraNul = `"extra"->>'nul'`;
    const [intelmq] = await server.query(
      `SELECT ${extraNul} AS nul FROM nul_intelmq WHERE ${extraNul} IS NOT NULL`,
    );
    const [petrel] = await server.query(
      `SELECT ${extraNul} AS nul FROM nul_petrel WHERE ${extraNul} IS NOT NULL`,
    );
    expect(petrel).toEqual(intelmq);
    expect(petrel?.nul).toBe("a\\u0000b");
    const [comment] = await server.query(`SELECT "comment" FROM nul_intelmq WHERE "comment" IS NOT NULL`);
    expect(comment?.comment).toBe(BACKSLASH_U0000.replace("\\u0000", "\\\\u0000"));
    expect(await server.query(`SELECT "comment" FROM nul_petrel WHERE "comment" IS NOT NULL`)).toEqual([
      { comment: BACKSLASH_U0000 },
    ]);
    expect(
      await server.query(`SELECT "extra"->>'text' AS text FROM nul_petrel WHERE "extra" ? 'text'`),
    ).toEqual([{ text: BACKSLASH_U0000 }]);
  });

  it("adds no row for an event written again, and nothing for a repeated batch", async () => {
    expect(sqlOutput.deviations?.map((d) => d.id)).toContain("idempotent-hash-column");
    await script("CREATE TABLE again_events (LIKE public.events INCLUDING ALL);");
    const output = await createSqlOutput(connection({ table: "again_events" }));
    const events = makeEvents(600, 50_000);
    await output.write(events.slice(0, 400));
    await output.write(events.slice(0, 400));
    await output.write(events.slice(200, 600));
    expect(await count("again_events")).toBe(600);
    // time.observation counts: the same event seen again later is a new row.
    const later = events[0]?.copy() as Event;
    later.add("time.observation", "2030-01-01T00:00:00+00:00", { overwrite: true });
    expect(eventKey(later)).not.toBe(eventKey(events[0] as Event));
    await output.write([later]);
    expect(await count("again_events")).toBe(601);
    await output.close?.();
  });

  it("writes a batch as one transaction: a failing event leaves none of the batch, across statements", async () => {
    expect(sqlOutput.deviations?.map((d) => d.id)).toContain("batch-transaction");
    await script("CREATE TABLE tx_events (LIKE public.events INCLUDING ALL);");
    const output = await createSqlOutput(connection({ table: "tx_events" }));
    const events = makeEvents(2500, 70_000);
    // A valid AS number that IntelMQ's integer column cannot hold, in the last of three statements.
    const overflowing = makeEvent(72_499);
    overflowing.add("source.asn", 4_200_000_000, { overwrite: true });
    await expect(output.write([...events.slice(0, 2499), overflowing])).rejects.toThrow(
      /out of range for type integer/,
    );
    expect(await count("tx_events")).toBe(0);
    await output.write(events);
    expect(await count("tx_events")).toBe(2500);
    // The connection is still good after the rollback.
    await output.write(makeEvents(3, 80_000));
    expect(await count("tx_events")).toBe(2503);
    await output.close?.();
  });

  it("loses nothing and duplicates nothing when the server crashes or restarts mid-stream", async () => {
    await script("CREATE TABLE restart_events (LIKE public.events INCLUDING ALL);");
    await script("CREATE TABLE restart_intelmq (LIKE ref.events INCLUDING ALL);");
    const { ctx, logs } = loggingContext();
    const idempotent = await createSqlOutput(connection({ table: "restart_events" }), ctx);
    const intelmqTable = await createSqlOutput(connection({ table: "restart_intelmq" }));
    const events = makeEvents(6000, 100_000);
    const failures = await streamThroughRestarts(
      server,
      [idempotent, intelmqTable],
      events,
      async () => (await count("restart_events")) >= 3500,
    );
    expect(failures).toBeGreaterThan(0);
    expect(await count("restart_events")).toBe(events.length);
    const [distinct] = await server.query<{ n: string }>(
      `SELECT count(DISTINCT "extra"->>'n') AS n FROM restart_intelmq`,
    );
    expect(Number(distinct?.n)).toBe(events.length);
    const intelmqRows = await count("restart_intelmq");
    expect(intelmqRows).toBeGreaterThanOrEqual(events.length);
    expect(logs.some((l) => /lost; connecting again/.test(l.msg))).toBe(true);
    console.log(
      `outputs.sql postgresql restart: ${events.length} events, ${failures} failed writes retried; rows: ${events.length} with petrel_hash, ${intelmqRows} in IntelMQ's table`,
    );
    await idempotent.close?.();
    await intelmqTable.close?.();
  }, 60_000);

  it("waits reconnect_delay before connecting again", async () => {
    const output = await createSqlOutput(connection({ table: "restart_events", reconnect_delay: 0.6 }));
    await output.write(makeEvents(1, 110_000));
    await server.stop("fast");
    await server.restart();
    const started = Date.now();
    await output.write(makeEvents(1, 110_001));
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
    const again = Date.now();
    await output.write(makeEvents(1, 110_002));
    expect(Date.now() - again).toBeLessThan(600);
    await output.close?.();
    expect(await count("restart_events", `"extra"->>'n' LIKE '11000%'`)).toBe(3);
  });

  it("writes IntelMQ's table without petrel_hash, saying once that it is not idempotent", async () => {
    await script("CREATE TABLE plain_events (LIKE ref.events INCLUDING ALL);");
    const { ctx, logs } = loggingContext();
    const output = await createSqlOutput(connection({ table: "plain_events" }), ctx);
    const events = makeEvents(10, 90_000);
    await output.write(events);
    await output.write(events);
    expect(await count("plain_events")).toBe(20);
    const warnings = logs.filter((l) => l.msg.includes(HASH_COLUMN));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.msg).toContain(
      `ALTER TABLE plain_events ADD COLUMN "${HASH_COLUMN}" varchar(64) UNIQUE;`,
    );
    await output.close?.();
  });

  it("writes through IntelMQ's v_events view that keeps raw apart (--separate-raws)", async () => {
    await server.query("CREATE DATABASE raws_db");
    const client = new pg.Client({ ...server.clientConfig, database: "raws_db" });
    await client.connect();
    try {
      await client.query(intelmqSeparateRaws);
      const { ctx, logs } = loggingContext();
      const output = await createSqlOutput(connection({ database: "raws_db", table: "v_events" }), ctx);
      const events = makeEvents(300, 60_000);
      await writeInBatches(output, events, 128);
      await output.close?.();
      const joined = await client.query(
        `SELECT e."extra"->>'n' AS n, r.raw FROM events e JOIN raws r ON r.event_id = e.id ORDER BY e.id`,
      );
      expect(joined.rows).toEqual(events.map((e) => ({ n: String(e.get("extra.n")), raw: e.get("raw") })));
      expect(logs.filter((l) => l.msg.includes(HASH_COLUMN))).toHaveLength(1);
    } finally {
      await client.end();
    }
  });

  it("writes through petrelctl run", async () => {
    await script("CREATE TABLE run_events (LIKE public.events INCLUDING ALL);");
    const dir = mkdtempSync(join(tmpdir(), "petrel-sql-run-"));
    try {
      const input = join(dir, "events.jsonl");
      writeFileSync(
        input,
        `${makeEvents(40, 65_000)
          .map((e) => e.serialize())
          .join("\n")}\n`,
      );
      const params = JSON.stringify(connection({ table: "run_events" }));
      const result = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [petrelctl, "run", "intelmq.bots.outputs.sql.output", "--input", input, "--params", params],
          { encoding: "utf8" },
          (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }),
        );
      });
      expect(result.code, result.stderr).toBe(0);
      expect(await count("run_events")).toBe(40);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it("fails at start, naming the table and how to create it", async () => {
    await expect(createSqlOutput(connection({ table: "missing_events" }))).rejects.toThrow(
      /missing_events.*does not exist.*petrelctl sql initdb --engine postgresql --table 'missing_events'/,
    );
    await expect(createSqlOutput(connection({ password: "wrong" }))).rejects.toThrow(
      /password authentication failed/,
    );
    await expect(createSqlOutput({ ...connection(), engine: "sqlite" })).rejects.toThrow(/engine/);
    // An event with none of the fields to write fails alone, for good (the runtime dead-letters it).
    const output = await createSqlOutput(connection({ fields: ["malware.name"] }));
    const without = makeEvent(1);
    expect(without.has("malware.name")).toBe(false);
    await expect(output.write([without])).rejects.toThrow(FieldError);
    await expect(output.write([without])).rejects.toThrow(/none of the fields to write/);
    await output.close?.();
  });

  it("connects as sslmode says, and over the Unix socket", async () => {
    const sessionSsl = async (params: Record<string, unknown>): Promise<boolean> => {
      const output = await createSqlOutput(connection({ table: "public.events", ...params }));
      try {
        const [row] = await server.query<{ ssl: boolean }>(
          `SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'petrel outputs.sql' ORDER BY a.backend_start DESC LIMIT 1`,
        );
        return row?.ssl as boolean;
      } finally {
        await output.close?.();
      }
    };
    expect(await sessionSsl({})).toBe(true); // IntelMQ's default: require
    expect(await sessionSsl({ sslmode: "disable" })).toBe(false);
    expect(await sessionSsl({ sslmode: "allow" })).toBe(false);
    expect(await sessionSsl({ sslmode: "prefer" })).toBe(true);
    expect(await sessionSsl({ sslmode: "verify-full", sslrootcert: server.caFile })).toBe(true);
    expect(await sessionSsl({ sslmode: "verify-full", sslrootcert: server.caFile, host: "localhost" })).toBe(
      true,
    );
    await expect(sessionSsl({ sslmode: "verify-full" })).rejects.toThrow(/certificate/);
    // The certificate names localhost and 127.0.0.1, not 127.0.0.2: only verify-ca accepts that.
    expect(await sessionSsl({ sslmode: "verify-ca", sslrootcert: server.caFile, host: "127.0.0.2" })).toBe(
      true,
    );
    await expect(
      sessionSsl({ sslmode: "verify-full", sslrootcert: server.caFile, host: "127.0.0.2" }),
    ).rejects.toThrow(/127\.0\.0\.2/);
    const local = await createSqlOutput(
      connection({ host: server.socketDir, password: null, table: "public.events" }),
    );
    await local.write(makeEvents(1, 95_000));
    await local.close?.();
    expect(await count("public.events", `"extra"->>'n' = '95000'`)).toBe(1);
  });

  it("measures write latency and throughput", async () => {
    await script("CREATE TABLE bench_events (LIKE public.events INCLUDING ALL);");
    await script("CREATE TABLE bench_intelmq (LIKE ref.events INCLUDING ALL);");
    const events = makeEvents(12_000, 200_000);
    for (const table of ["bench_events", "bench_intelmq"]) {
      const output = await createSqlOutput(connection({ table }));
      const latencies: number[] = [];
      const started = process.hrtime.bigint();
      for (let i = 0; i < events.length; i += 256) {
        const t = process.hrtime.bigint();
        await output.write(events.slice(i, i + 256));
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      await output.close?.();
      expect(await count(table)).toBe(events.length);
      latencies.sort((a, b) => a - b);
      const at = (q: number) => (latencies[Math.floor(q * (latencies.length - 1))] as number).toFixed(1);
      console.log(
        `outputs.sql postgresql ${table === "bench_events" ? "with petrel_hash" : "IntelMQ's table"}: ${events.length} events in batches of 256: ${Math.round(events.length / seconds)} rows/s, batch latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
      );
    }
  }, 60_000);
});
