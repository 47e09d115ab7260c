import { readFileSync } from "node:fs";
import { pino } from "pino";
import { type Event, Report } from "../src/event/message.ts";
import { type BotContext, DISCARD_METRICS, type ParserModule } from "../src/sdk/bot.ts";
import { type ParserCommon, parameterSchema } from "../src/sdk/common-parameters.ts";
import { parserProcessor } from "../src/sdk/processor.ts";
import { runOracle } from "./python-oracle.ts";

const driver = readFileSync(new URL("./oracle/parser_bot.py", import.meta.url), "utf8");

export interface ParseOutcome {
  /** Emitted events as flat field objects. */
  events: Record<string, unknown>[];
  /** The raw (decoded) of each rejected record. */
  errors: string[];
  /** Set when the whole report failed. */
  exception?: string;
  /** IntelMQ only, with `exception`: what the bot had sent before it raised. */
  sentBefore?: { events: Record<string, unknown>[]; errors: string[] };
}

export const TEST_OBSERVATION = "2024-05-01T10:00:00+00:00";

/** A report as a collector would send it, with a fixed time.observation. */
export function testReport(raw: string, fields: Record<string, unknown> = {}): Report {
  const report = new Report();
  report.add("time.observation", TEST_OBSERVATION);
  report.add("feed.name", "Test Feed");
  report.add("feed.accuracy", 90);
  for (const [key, value] of Object.entries(fields)) report.add(key, value);
  report.add("raw", raw);
  return report;
}

function decodeRaw(message: { get(key: string): unknown } | Record<string, unknown>): string {
  const raw = message instanceof Report ? message.get("raw") : (message as Record<string, unknown>).raw;
  return typeof raw === "string" ? Buffer.from(raw, "base64").toString("utf8") : "";
}

export function testContext(botId = "test-bot"): BotContext {
  return {
    botId,
    pipeline: "test",
    log: pino({ level: "silent" }),
    signal: new AbortController().signal,
    state: () => Promise.reject(new Error("no state in parser tests")),
    metrics: DISCARD_METRICS,
  };
}

/** Runs `reports` through the Petrel parser module with `params` (IntelMQ's parameter names). */
export async function petrelParse(
  module: ParserModule,
  params: Record<string, unknown>,
  reports: readonly Report[],
): Promise<ParseOutcome[]> {
  const parsed = parameterSchema(module).parse(params) as ParserCommon;
  const processor = parserProcessor(await module.create(parsed as never, testContext()), parsed);
  const outcomes: ParseOutcome[] = [];
  for (const report of reports) {
    const outcome: ParseOutcome = { events: [], errors: [] };
    try {
      await processor.process(new Report(JSON.parse(report.serialize())), {
        inputId: "oracle",
        emit: (_path, message) => {
          outcome.events.push((message as Event).toDict());
          return undefined;
        },
        reject: (_error, message) => {
          outcome.errors.push(decodeRaw(message as Report));
          return undefined;
        },
      });
    } catch (error) {
      outcome.exception = String(error);
    }
    outcomes.push(outcome);
  }
  return outcomes;
}

interface OracleOutput {
  events?: Record<string, unknown>[];
  errors?: Record<string, unknown>[];
  exception?: string;
  events_before?: Record<string, unknown>[];
  errors_before?: Record<string, unknown>[];
}

export interface OracleCase {
  params: Record<string, unknown>;
  report: Report;
  /**
   * Build a new IntelMQ bot for this case instead of reusing one with the same parameters: some IntelMQ
   * parsers keep state from one report to the next (a Last-Modified time, the format of the last header).
   */
  fresh?: boolean;
}

/** Runs each case's report through IntelMQ's parser `intelmqModule` with the case's parameters (one python). */
export async function intelmqParse(
  intelmqModule: string,
  cases: readonly OracleCase[],
): Promise<ParseOutcome[]> {
  const outputs = await runOracle<unknown, OracleOutput>(
    driver,
    cases.map(({ params, report, fresh }) => ({
      module: intelmqModule,
      params,
      report: report.toDict(),
      ...(fresh ? { fresh: true } : {}),
    })),
  );
  return outputs.map((out) => ({
    events: out.events ?? [],
    errors: (out.errors ?? []).map(decodeRaw),
    ...(out.exception
      ? {
          exception: out.exception,
          sentBefore: {
            events: out.events_before ?? [],
            errors: (out.errors_before ?? []).map(decodeRaw),
          },
        }
      : {}),
  }));
}

/**
 * The id of a deliberate difference the module declares (BotModule.deviations), for naming the test that
 * asserts it; throws when the module does not declare it, so a test cannot assert an undeclared one.
 */
export function declaredDeviation(
  module: { id: string; deviations?: readonly { id: string }[] },
  id: string,
): string {
  if (!module.deviations?.some((d) => d.id === id)) {
    throw new Error(`${module.id} does not declare the deviation ${id}`);
  }
  return id;
}

/** A copy of the report with another raw (the same feed fields and time.observation). */
export function withRaw(report: Report, raw: string): Report {
  const copy = new Report(JSON.parse(report.serialize()) as Record<string, unknown>);
  copy.add("raw", raw, { overwrite: true });
  return copy;
}
