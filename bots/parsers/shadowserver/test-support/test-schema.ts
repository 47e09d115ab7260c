// Petrel's own Shadowserver test schema (test-schema.json beside this file): invented report types in the
// format of Shadowserver's schema, written by the team to exercise every conversion function and every
// rule of the schema format. Shadowserver's real schema is not part of the repository.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const TEST_SCHEMA_FILE = fileURLToPath(new URL("./test-schema.json", import.meta.url));

/** The test schema as a JSON document (a fresh copy each call). */
export function testSchemaDocument(): Record<string, unknown> {
  return JSON.parse(readFileSync(TEST_SCHEMA_FILE, "utf8")) as Record<string, unknown>;
}
