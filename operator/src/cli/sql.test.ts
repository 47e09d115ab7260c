// `petrelctl sql initdb` as users run it, against IntelMQ's intelmq_psql_initdb from the oracle venv:
// without petrel_hash the PostgreSQL output is IntelMQ's, byte for byte; with it, one column and its
// unique key more.
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { HASH_COLUMN } from "../../../bot-runtime/src/sdk/sql-schema.ts";
import { intelmqInitdbs } from "../../../bots/outputs/sql/test-support/sql-oracle.ts";
import { type InitdbFlags, initdbSql } from "./sql.ts";

const bin = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));

function petrelctl(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** The command's SQL without a process of its own. */
function sql(flags: Partial<InitdbFlags>): string {
  return initdbSql({ engine: "postgresql", table: "events", jsonb: true, hashColumn: true, ...flags });
}

async function initdb(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await petrelctl(["sql", "initdb", ...args]);
  expect(stderr).toBe("");
  expect(code).toBe(0);
  return stdout;
}

describe("petrelctl sql initdb", () => {
  let intelmq: { plain: string; json: string; partitioned: string };
  beforeAll(async () => {
    const [plain, json, partitioned] = await intelmqInitdbs([
      {},
      { noJsonb: true },
      { partitionKey: "time.source" },
    ]);
    intelmq = { plain: plain as string, json: json as string, partitioned: partitioned as string };
  }, 30_000);

  it("prints IntelMQ's table without petrel_hash, byte for byte", async () => {
    const [plain, json, partitioned] = await Promise.all([
      initdb(["--no-hash-column"]),
      initdb(["--no-hash-column", "--no-jsonb"]),
      initdb(["--no-hash-column", "--partition-key", "time.source"]),
    ]);
    expect(plain).toBe(`${intelmq.plain}\n`);
    expect(json).toBe(`${intelmq.json}\n`);
    expect(partitioned).toBe(`${intelmq.partitioned}\n`);
  }, 30_000);

  it("adds petrel_hash with a unique key, and nothing else", async () => {
    const lines = intelmq.plain.split("\n");
    const [petrelText, partitioned] = await Promise.all([
      initdb([]),
      initdb(["--partition-key", "time.source"]),
    ]);
    const petrel = petrelText.trimEnd().split("\n");
    expect(petrel.filter((line) => !lines.includes(line))).toEqual([
      expect.stringMatching(new RegExp(`^-- ${HASH_COLUMN}: `)),
      '    "tlp" text,',
      `    "${HASH_COLUMN}" varchar(64) UNIQUE`,
    ]);
    expect(lines.filter((line) => !petrel.includes(line))).toEqual(['    "tlp" text']);
    expect(partitioned).toContain(`    UNIQUE ("${HASH_COLUMN}", "time.source")`);
    expect(partitioned).toContain('    PRIMARY KEY ("id", "time.source")');
  }, 30_000);

  it("prints IF NOT EXISTS statements, MySQL's table, another table name, the ALTER TABLE", async () => {
    const again = sql({ skipOrReplace: true, table: "public.intelmq_events" });
    const mysql = sql({ engine: "mysql" });
    const alter = sql({ addHashColumn: true });
    expect(again).toContain("EXCEPTION WHEN duplicate_object THEN NULL;");
    expect(again).toContain("CREATE TABLE IF NOT EXISTS public.intelmq_events (");
    expect(again).toContain(
      'CREATE INDEX IF NOT EXISTS "idx_intelmq_events_source.ip" ON public.intelmq_events USING btree ("source.ip");',
    );
    expect(mysql).toContain("    `source.ip` VARCHAR(45),");
    expect(mysql).toContain("    `time.source` DATETIME(6),");
    expect(mysql).toContain("    `severity` ENUM('critical', 'high', 'medium', 'low', 'info', 'undefined'),");
    expect(mysql).toContain(`    \`${HASH_COLUMN}\` CHAR(64) CHARACTER SET ascii UNIQUE,`);
    expect(mysql).toMatch(/\) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;\n$/);
    expect(alter).toBe(`ALTER TABLE events ADD COLUMN "${HASH_COLUMN}" varchar(64) UNIQUE;\n`);
  });

  it("refuses what it cannot make, naming the option", async () => {
    const cases = [
      [["--engine", "sqlite"], /--engine must be one of postgresql, mysql, not sqlite/],
      [["--engine", "mysql", "--no-jsonb"], /--no-jsonb applies to postgresql only/],
      [["--partition-key", "time.nonsense"], /--partition-key time.nonsense: no such event field/],
    ] as const;
    const results = await Promise.all(cases.map(([args]) => petrelctl(["sql", "initdb", ...args])));
    for (const [i, { code, stdout, stderr }] of results.entries()) {
      expect(code).toBe(1);
      expect(stdout).toBe("");
      expect(stderr).toMatch(cases[i]?.[1] as RegExp);
    }
  });
});
