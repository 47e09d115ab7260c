// `petrelctl sql initdb`: the CREATE statements for the table outputs.sql writes to, from Petrel's field
// catalogue: IntelMQ's intelmq_psql_initdb layout (a column per field, the same types and indexes) plus
// the petrel_hash column that makes writes idempotent; for PostgreSQL or MySQL/MariaDB. Printed to
// stdout, to be piped into psql or mysql.
import type { Command } from "commander";
import { EVENT_FIELDS } from "../../../bot-runtime/src/event/harmonization.ts";
import {
  addHashColumnDdl,
  eventsTableDdl,
  SQL_ENGINES,
  type SqlEngine,
} from "../../../bot-runtime/src/sdk/sql-schema.ts";

export interface InitdbFlags {
  engine: string;
  table: string;
  jsonb: boolean;
  partitionKey?: string;
  skipOrReplace?: boolean;
  hashColumn: boolean;
  addHashColumn?: boolean;
}

/** The SQL for the flags; throws with a message for the user when they do not fit together. */
export function initdbSql(flags: InitdbFlags): string {
  if (!(SQL_ENGINES as readonly string[]).includes(flags.engine)) {
    throw new Error(`--engine must be one of ${SQL_ENGINES.join(", ")}, not ${flags.engine}`);
  }
  const engine = flags.engine as SqlEngine;
  if (!flags.jsonb && engine !== "postgresql") throw new Error("--no-jsonb applies to postgresql only");
  if (flags.partitionKey !== undefined && !(flags.partitionKey in EVENT_FIELDS)) {
    throw new Error(`--partition-key ${flags.partitionKey}: no such event field`);
  }
  if (flags.addHashColumn) {
    if (!flags.hashColumn) throw new Error("--add-hash-column and --no-hash-column contradict each other");
    return `${addHashColumnDdl(engine, flags.table)}\n`;
  }
  return eventsTableDdl({
    engine,
    table: flags.table,
    jsonb: flags.jsonb,
    ...(flags.partitionKey === undefined ? {} : { partitionKey: flags.partitionKey }),
    ifNotExists: flags.skipOrReplace === true,
    hashColumn: flags.hashColumn,
  });
}

export function registerSqlCommands(program: Command): void {
  const sql = program.command("sql").description("Databases for the SQL output (outputs.sql)");
  sql
    .command("initdb")
    .description(
      "Print the CREATE statements for the events table outputs.sql writes to: IntelMQ's intelmq_psql_initdb layout, plus Petrel's petrel_hash column",
    )
    .option(
      "--engine <engine>",
      `the database: ${SQL_ENGINES.join(" or ")} (MySQL and MariaDB)`,
      "postgresql",
    )
    .option("--table <table>", "the table's name, as written in SQL (may be schema-qualified)", "events")
    .option(
      "--no-jsonb",
      "PostgreSQL: json instead of jsonb for extra and output (as intelmq_psql_initdb --no-jsonb)",
    )
    .option(
      "--partition-key <field>",
      "make this field part of the primary key (and of petrel_hash's unique key), for partitioned tables such as TimescaleDB hypertables",
    )
    .option("--skip-or-replace", "create only what does not exist yet (IF NOT EXISTS)")
    .option(
      "--no-hash-column",
      "leave out petrel_hash: exactly IntelMQ's table (a batch written again after a failure then adds its rows again)",
    )
    .option(
      "--add-hash-column",
      "print only the ALTER TABLE that adds petrel_hash to an existing table (IntelMQ's)",
    )
    .action((flags: InitdbFlags) => {
      try {
        process.stdout.write(initdbSql(flags));
      } catch (error) {
        console.error(`petrelctl sql initdb: ${(error as Error).message}`);
        process.exitCode = 1;
      }
    });
}
