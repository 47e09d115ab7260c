// Runs reports through IntelMQ 3.5's Shadowserver parser (library mode, in the oracle venv) with a given
// schema file, and single values through its conversion functions.
import { readFileSync } from "node:fs";
import type { Report } from "../../../../bot-runtime/src/event/message.ts";
import type { ParseOutcome } from "../../../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../../../bot-runtime/test-support/python-oracle.ts";

const driver = readFileSync(new URL("./oracle.py", import.meta.url), "utf8");

export interface ShadowserverCase {
  /** Path of the schema file IntelMQ reads. */
  schema: string;
  params: Record<string, unknown>;
  report: Report;
}

interface OracleOutput {
  events?: Record<string, unknown>[];
  errors?: Record<string, unknown>[];
  exception?: string;
  value?: unknown;
  /** Python's repr() of a float that JSON cannot carry (nan, inf). */
  nonfinite?: string;
}

function decodeRaw(message: Record<string, unknown>): string {
  return typeof message.raw === "string" ? Buffer.from(message.raw, "base64").toString("utf8") : "";
}

/** IntelMQ's events, rejected rows (their raw) or exception, per case. */
export async function intelmqShadowserver(cases: readonly ShadowserverCase[]): Promise<ParseOutcome[]> {
  const outputs = await runOracle<unknown, OracleOutput>(
    driver,
    cases.map(({ schema, params, report }) => ({ schema, params, report: report.toDict() })),
  );
  return outputs.map((out) => ({
    events: out.events ?? [],
    errors: (out.errors ?? []).map(decodeRaw),
    ...(out.exception ? { exception: out.exception } : {}),
  }));
}

export interface ConversionCase {
  convert: string;
  value: string;
  /** The row, for the conversions that take it. */
  row?: Record<string, string | null>;
}

/** The directory of IntelMQ's Shadowserver parser package (its test schema and test data are nearby). */
export async function intelmqParserDirectory(): Promise<string> {
  const [out] = await runOracle<unknown, OracleOutput>(driver, [{ locate: true }]);
  return String(out?.value);
}

/** IntelMQ's conversion function results: {value}, {nonfinite} or {exception}. */
export async function intelmqConversions(
  cases: readonly ConversionCase[],
): Promise<Array<{ value?: unknown; exception?: string; nonfinite?: string }>> {
  return runOracle<ConversionCase, OracleOutput>(driver, cases);
}
