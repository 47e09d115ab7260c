// `petrelctl shadowserver update-schema` as users run it, against a local HTTP server that serves
// schemas the way interchange.shadowserver.org does (Petrel's own test schema, not Shadowserver's).
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { petrelParse, testReport } from "../../../bot-runtime/test-support/parser-oracle.ts";
import { testTempDir } from "../../../bot-runtime/test-support/temp-dir.ts";
import {
  formatSchemaDocument,
  PROJECT_SCHEMA_FILE,
  SCHEMA_FILE_ENV,
} from "../../../bots/parsers/shadowserver/schema.ts";
import {
  TEST_SCHEMA_FILE,
  testSchemaDocument,
} from "../../../bots/parsers/shadowserver/test-support/test-schema.ts";
import shadowserver from "../../../bots/parsers/shadowserver.ts";

const bin = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));

function petrelctl(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const environment = { ...process.env, ...env };
  if (!(SCHEMA_FILE_ENV in env)) delete environment[SCHEMA_FILE_ENV];
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { encoding: "utf8", env: environment },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const served = testSchemaDocument();

/** The test schema with a new version, scan_gadget removed and a report type added. */
function newerSchema(): Record<string, unknown> {
  const { scan_gadget: _removed, ...rest } = served;
  return {
    ...rest,
    _meta: { date_created: "2099-01-01T00:00:00Z", change_log: ["Added scan_petrel."] },
    scan_petrel: {
      feed_name: "Petrel-Probe",
      file_name: "scan_petrel",
      url: "https://example.org/petrel",
      required_fields: [["time.source", "timestamp", "add_UTC_to_timestamp"]],
      optional_fields: [["extra.", "banner", "future_conversion"]],
      constant_fields: { "classification.type": "vulnerable-system" },
    },
  };
}

describe("petrelctl shadowserver update-schema", () => {
  const responses = new Map<string, { status: number; body: string }>();
  const server = createServer((request, response) => {
    const found = responses.get(request.url ?? "");
    if (found) response.writeHead(found.status, { "content-type": "application/json" }).end(found.body);
    else response.writeHead(404).end("no such schema");
  });
  let base = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    responses.set("/intelmq/v1/schema", { status: 200, body: JSON.stringify(served) });
    responses.set("/newer", { status: 200, body: JSON.stringify(newerSchema()) });
    responses.set("/not-json", { status: 200, body: "<html>maintenance</html>" });
    responses.set("/no-meta", { status: 200, body: JSON.stringify({ scan_gadget: served.scan_gadget }) });
    responses.set("/broken-type", {
      status: 200,
      body: JSON.stringify({ _meta: { date_created: "x" }, scan_x: { feed_name: "X" } }),
    });
    responses.set("/error", { status: 500, body: "{}" });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("downloads, validates and writes the schema; a second run finds it current", async () => {
    const output = join(testTempDir("petrel-schema-"), "schema.json");
    const first = await petrelctl([
      "shadowserver",
      "update-schema",
      "--url",
      `${base}/intelmq/v1/schema`,
      "-o",
      output,
    ]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const version = (served._meta as { date_created: string }).date_created;
    expect(first.stdout).toContain(`${output}: schema ${version} written (`);
    expect(readFileSync(output, "utf8")).toBe(formatSchemaDocument(served));
    expect(readFileSync(output, "utf8")).toBe(readFileSync(TEST_SCHEMA_FILE, "utf8"));

    const mtime = statSync(output).mtimeMs;
    const second = await petrelctl([
      "shadowserver",
      "update-schema",
      "--url",
      `${base}/intelmq/v1/schema`,
      "-o",
      output,
    ]);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/already the current schema/);
    expect(statSync(output).mtimeMs).toBe(mtime);
  });

  it("reports what changed, warns about unknown conversions, and the parser reads the new file", async () => {
    const output = join(testTempDir("petrel-schema-"), "schema.json");
    writeFileSync(output, formatSchemaDocument(served));
    const r = await petrelctl([
      "shadowserver",
      "update-schema",
      "--url",
      `${base}/newer`,
      "--output",
      output,
    ]);
    expect(r.code).toBe(0);
    const version = (served._meta as { date_created: string }).date_created;
    expect(r.stdout).toContain(`schema ${version} → 2099-01-01T00:00:00Z written`);
    expect(r.stdout).toContain("change log: Added scan_petrel.");
    expect(r.stdout).toContain("added report types: scan_petrel");
    expect(r.stdout).toContain("removed report types: scan_gadget");
    expect(r.stdout).toMatch(
      /warning: conversions this Petrel does not know .*: (\w+, )*future_conversion$/m,
    );

    const [out] = await petrelParse(shadowserver, { schema_file: output }, [
      testReport("timestamp,banner\n2024-05-01 10:00:00,hello", { "extra.file_name": "scan_petrel.csv" }),
    ]);
    expect(out?.events[0]).toMatchObject({
      "feed.documentation": "https://example.org/petrel",
      "extra.banner": "hello",
      "classification.type": "vulnerable-system",
    });
  });

  it("writes by default where parsers without schema_file read: $PETREL_SHADOWSERVER_SCHEMA, else .cache", async () => {
    const file = join(testTempDir("petrel-schema-"), "var", "lib", "schema.json");
    const env = { [SCHEMA_FILE_ENV]: file };
    const r = await petrelctl(["shadowserver", "update-schema", "--url", `${base}/intelmq/v1/schema`], env);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain(`${file}: schema `);
    expect(readFileSync(file, "utf8")).toBe(readFileSync(TEST_SCHEMA_FILE, "utf8"));
    const saved = process.env[SCHEMA_FILE_ENV];
    process.env[SCHEMA_FILE_ENV] = file;
    try {
      const [out] = await petrelParse(shadowserver, {}, [
        testReport("timestamp,ip,port\n2024-05-01 10:00:00,192.0.2.1,8443", {
          "extra.file_name": "scan_gadget.csv",
        }),
      ]);
      expect(out?.events).toHaveLength(1);
    } finally {
      if (saved === undefined) delete process.env[SCHEMA_FILE_ENV];
      else process.env[SCHEMA_FILE_ENV] = saved;
    }
    // Without the variable: the project's .cache/shadowserver/schema.json (a failed download names it
    // without touching it).
    const before = existsSync(PROJECT_SCHEMA_FILE) ? readFileSync(PROJECT_SCHEMA_FILE, "utf8") : undefined;
    const fallback = await petrelctl(["shadowserver", "update-schema", "--url", `${base}/error`]);
    expect(fallback.code).toBe(1);
    expect(fallback.stderr).toContain(`The schema file ${PROJECT_SCHEMA_FILE} was not changed.`);
    expect(existsSync(PROJECT_SCHEMA_FILE) ? readFileSync(PROJECT_SCHEMA_FILE, "utf8") : undefined).toBe(
      before,
    );
  });

  it("refuses what is not a valid schema and leaves the file as it was (exit 1)", async () => {
    const output = join(testTempDir("petrel-schema-"), "schema.json");
    writeFileSync(output, "previous content");
    const expected: Record<string, RegExp> = {
      "/not-json": /not JSON/,
      "/no-meta": /_meta/,
      "/broken-type": /scan_x: file_name: .*\n.*scan_x: required_fields/,
      "/error": /HTTP 500/,
      "/missing": /HTTP 404/,
    };
    for (const [path, message] of Object.entries(expected)) {
      const r = await petrelctl(["shadowserver", "update-schema", "--url", `${base}${path}`, "-o", output]);
      expect(r.code, path).toBe(1);
      expect(r.stderr, path).toMatch(message);
      expect(r.stderr, path).toContain(`The schema file ${output} was not changed.`);
      expect(readFileSync(output, "utf8")).toBe("previous content");
    }
    const closed = await petrelctl([
      "shadowserver",
      "update-schema",
      "--url",
      "http://127.0.0.1:1/x",
      "-o",
      output,
    ]);
    expect(closed.code).toBe(1);
    expect(closed.stderr).toMatch(/download failed/);
    const unwritable = await petrelctl([
      "shadowserver",
      "update-schema",
      "--url",
      `${base}/intelmq/v1/schema`,
      "-o",
      join(output, "no-such-directory", "schema.json"),
    ]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toMatch(/cannot write the schema .*; give another file with -o/);
  });
});
