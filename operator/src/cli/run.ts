// `petrelctl run MODULE --input FILE`: intelmqctl's `run BOT process --dryrun` — one bot, once, offline
// (no NATS, nothing acknowledged anywhere). MODULE is a Petrel id or the IntelMQ module path it replaces.
// A parser gets FILE as the body of one report (--field sets report fields such as feed.url); an expert
// or output gets FILE as JSON lines of events; a collector runs one collection (no input). Events of the
// _default path go to stdout as JSON lines (--all-paths: every path, each line {"path", "message"});
// reports of a collector likewise. Dead letters and errors go to stderr. State (ctx.state) lives in
// memory for the run. Exit 0: everything processed; 1: the bot could not run (module, parameters,
// input); 2: it ran, but something was dead-lettered (or a collection failed).
import { once } from "node:events";
import { accessSync, constants, createReadStream, readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Command } from "commander";
import { pino } from "pino";
import type { z } from "zod";
import {
  type Event,
  FieldError,
  type Message,
  parseMessage,
  Report,
} from "../../../bot-runtime/src/event/message.ts";
import {
  type BotContext,
  type BotModule,
  type Collector,
  DISCARD_METRICS,
  type Expert,
  type Output,
  type Parser,
  type StateStore,
} from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import {
  type CollectorCommon,
  type ParserCommon,
  parameterSchema,
} from "../../../bot-runtime/src/sdk/common-parameters.ts";
import {
  expertProcessor,
  type ProcessSink,
  parserProcessor,
  routedOf,
} from "../../../bot-runtime/src/sdk/processor.ts";
import { collectKeyValue } from "./key-value.ts";

/** The bot could not run (exit 1). */
export class RunError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RunError";
  }
}

export interface RunOptions {
  /** A file, or "-" for stdin. Not for collectors. */
  input?: string;
  params?: Record<string, unknown>;
  /** Report fields, for parsers. */
  fields?: Record<string, unknown>;
  allPaths?: boolean;
  logLevel?: string;
  /** Where output and diagnostics go (stdout, stderr by default). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  stdin?: NodeJS.ReadableStream;
  signal?: AbortSignal;
}

export interface RunSummary {
  module: string;
  /** Messages printed (events, or a collector's reports), per path. */
  emitted: Record<string, number>;
  deadLetters: number;
  /** Events an output wrote. */
  written: number;
}

/** ctx.state offline: buckets in memory, entries expiring after the bucket's ttlMs. */
export function memoryState(): BotContext["state"] {
  const buckets = new Map<
    string,
    { ttlMs: number | undefined; entries: Map<string, { value: string; at: number }> }
  >();
  return (bucket, options = {}) => {
    let store = buckets.get(bucket);
    if (!store) {
      store = { ttlMs: options.ttlMs, entries: new Map() };
      buckets.set(bucket, store);
    }
    const { entries, ttlMs } = store;
    const live = (key: string) => {
      const entry = entries.get(key);
      if (entry && ttlMs !== undefined && Date.now() - entry.at >= ttlMs) {
        entries.delete(key);
        return undefined;
      }
      return entry;
    };
    const state: StateStore = {
      get: async (key) => live(key)?.value,
      put: async (key, value) => {
        entries.set(key, { value, at: Date.now() });
      },
      create: async (key, value) => {
        if (live(key)) return false;
        entries.set(key, { value, at: Date.now() });
        return true;
      },
      delete: async (key) => {
        entries.delete(key);
      },
    };
    return Promise.resolve(state);
  };
}

function describeError(error: unknown): string {
  if (error instanceof FieldError || error instanceof Error) return error.message;
  return String(error);
}

/** Writes a line, waiting when the stream asks to (a slow `| less`). */
function writeLine(stream: NodeJS.WritableStream, line: string): undefined | Promise<void> {
  if (stream.write(`${line}\n`)) return undefined;
  return once(stream, "drain").then(() => undefined);
}

function validatedParameters(module: BotModule, params: Record<string, unknown>): Record<string, unknown> {
  const schema = parameterSchema(module);
  const checked = schema.safeParse(params);
  if (!checked.success) {
    const problems = checked.error.issues.map(
      (i: z.core.$ZodIssue) => `${i.path.map(String).join(".") || "(parameters)"}: ${i.message}`,
    );
    throw new RunError(`invalid parameters for ${module.id}:\n  ${problems.join("\n  ")}`);
  }
  const unknown = Object.keys(params).filter((k) => !Object.hasOwn(schema.shape, k));
  if (unknown.length > 0) {
    const known = Object.keys(schema.shape).sort();
    throw new RunError(
      `${module.id} has no parameter ${unknown.join(", ")}; its parameters: ${known.join(", ") || "none"}`,
    );
  }
  return checked.data as Record<string, unknown>;
}

function readInput(input: string, stdin: NodeJS.ReadableStream): Promise<Buffer> {
  if (input !== "-") {
    try {
      return Promise.resolve(readFileSync(input));
    } catch (error) {
      throw new RunError(`${input}: cannot read the input: ${describeError(error)}`);
    }
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stdin.on("data", (c: Buffer | string) => chunks.push(typeof c === "string" ? Buffer.from(c) : c));
    stdin.on("end", () => resolve(Buffer.concat(chunks)));
    stdin.on("error", reject);
  });
}

/** The lines of the input (a file or stdin), streamed. */
function inputLines(input: string, stdin: NodeJS.ReadableStream): AsyncIterable<string> {
  let stream: NodeJS.ReadableStream;
  if (input === "-") stream = stdin;
  else {
    try {
      accessSync(input, constants.R_OK);
    } catch (error) {
      throw new RunError(`${input}: cannot read the input: ${describeError(error)}`);
    }
    stream = createReadStream(input);
  }
  return createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
}

/** Runs one bot once over the input; see the file comment. */
export async function runBot(moduleName: string | BotModule, options: RunOptions): Promise<RunSummary> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const stdin = options.stdin ?? process.stdin;
  const module = typeof moduleName === "string" ? findModule(moduleName) : moduleName;
  if (!module) {
    throw new RunError(
      `no bot module ${JSON.stringify(moduleName)} (Petrel ids and IntelMQ module paths: docs/bots.md)`,
    );
  }
  if (module.kind === "collector" && options.input !== undefined) {
    throw new RunError(`${module.id} is a collector: it takes no --input (it fetches its own data)`);
  }
  if (module.kind !== "collector" && options.input === undefined) {
    throw new RunError(
      `${module.id} is ${module.kind === "expert" ? "an" : "a"} ${module.kind}: give --input FILE (or - for stdin)`,
    );
  }
  if (module.kind !== "parser" && options.fields && Object.keys(options.fields).length > 0) {
    throw new RunError("--field sets report fields, for parsers only");
  }
  const params = validatedParameters(module, options.params ?? {});
  const abort = new AbortController();
  options.signal?.addEventListener("abort", () => abort.abort(), { once: true });
  const log = pino(
    { level: options.logLevel ?? "warn", base: { bot: module.id } },
    pino.destination({ dest: 2, sync: true }),
  );
  const ctx: BotContext = {
    botId: `run-${module.id}`,
    pipeline: "run",
    log,
    signal: abort.signal,
    state: memoryState(),
    metrics: DISCARD_METRICS,
  };
  const summary: RunSummary = { module: module.id, emitted: {}, deadLetters: 0, written: 0 };

  const print = (path: string, message: Message): undefined | Promise<void> => {
    summary.emitted[path] = (summary.emitted[path] ?? 0) + 1;
    if (options.allPaths) return writeLine(stdout, JSON.stringify({ path, message: message.toJSON() }));
    if (path !== "_default") return undefined;
    return writeLine(stdout, message.serialize());
  };
  const deadLetter = (
    what: string,
    error: unknown,
    message?: Message | string,
  ): undefined | Promise<void> => {
    summary.deadLetters++;
    const shown =
      message === undefined ? "" : ` ${typeof message === "string" ? message : message.serialize()}`;
    return writeLine(stderr, `dead letter (${what}): ${describeError(error)}${shown}`);
  };

  let instance: Awaited<ReturnType<BotModule["create"]>>;
  try {
    instance = await module.create(params as never, ctx);
  } catch (error) {
    throw new RunError(`${module.id} could not start: ${describeError(error)}`);
  }

  if (module.kind === "collector") {
    const collector = instance as Collector;
    const common = params as CollectorCommon;
    const collected = collector.collect(async (report) => {
      for (const [key, value] of [
        ["feed.name", common.name],
        ["feed.provider", common.provider],
        ["feed.code", common.code],
        ["feed.documentation", common.documentation],
        ["feed.accuracy", common.accuracy],
      ] as const) {
        if (value !== undefined) report.add(key, value, { overwrite: false });
      }
      if (!report.has("raw")) {
        await writeLine(stderr, "a report without raw data was not sent");
        return;
      }
      await print("_default", report);
    });
    try {
      await collected;
    } catch (error) {
      await deadLetter("collection failed", error);
    }
    await collector.close?.();
    return summary;
  }

  if (module.kind === "parser") {
    const data = await readInput(options.input as string, stdin);
    const report = Report.create();
    for (const [key, value] of Object.entries(options.fields ?? {})) {
      try {
        report.add(key, value, { overwrite: true });
      } catch (error) {
        throw new RunError(`--field ${key}: ${describeError(error)}`);
      }
    }
    report.add("raw", data.toString("base64"), { sanitize: false, overwrite: true });
    const processor = parserProcessor(instance as Parser, params as ParserCommon);
    const sink: ProcessSink = {
      inputId: "run-report",
      emit: print,
      reject: (error, message) => {
        const raw = Buffer.from(String((message as Report).get("raw") ?? ""), "base64").toString("utf8");
        return deadLetter("record rejected", error, JSON.stringify(raw));
      },
    };
    try {
      await processor.process(report, sink);
    } catch (error) {
      await deadLetter("report failed", error);
    }
    return summary;
  }

  // Experts and outputs: JSON lines of events.
  const events = async function* (): AsyncGenerator<{ event: Event; line: number }> {
    let n = 0;
    for await (const text of inputLines(options.input as string, stdin)) {
      n++;
      if (text.trim() === "") continue;
      try {
        const message = parseMessage(text, { defaultType: "Event" });
        if (message.kind !== "Event") throw new Error(`expected an Event, got a ${message.kind}`);
        yield { event: message as Event, line: n };
      } catch (error) {
        await deadLetter(`input line ${n} is no valid event`, error, text);
      }
    }
  };

  if (module.kind === "expert") {
    const expert = instance as Expert;
    const processor = expertProcessor(expert);
    for await (const { event, line } of events()) {
      const original = event.serialize();
      try {
        await processor.process(event, {
          inputId: `line-${line}`,
          emit: print,
          reject: (error) => deadLetter(`line ${line}`, error, original),
        });
      } catch (error) {
        await deadLetter(`line ${line}`, error, original);
      }
    }
    // An expert that emits on time (aggregate) gets one turn after the last input, as if time had come.
    if (expert.tick) {
      await expert.tick(
        async (_id, result) => {
          for (const { path, message } of routedOf(result)) await print(path, message);
        },
        { flush: true },
      );
    }
    await expert.close?.();
    return summary;
  }

  const output = instance as Output;
  const batch: Array<{ event: Event; line: number; text: string }> = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const items = batch.splice(0);
    try {
      await output.write(items.map((i) => i.event));
      summary.written += items.length;
    } catch {
      // Find the culprits: one by one, as the runtime does.
      for (const item of items) {
        try {
          await output.write([parseMessage(item.text) as Event]);
          summary.written++;
        } catch (error) {
          await deadLetter(`line ${item.line} not written`, error, item.text);
        }
      }
    }
  };
  for await (const { event, line } of events()) {
    batch.push({ event, line, text: event.serialize() });
    if (batch.length >= 500) await flush();
  }
  await flush();
  await output.close?.();
  return summary;
}

interface RunFlags {
  input?: string;
  params?: string;
  param?: Record<string, unknown>;
  field?: Record<string, unknown>;
  allPaths?: boolean;
  logLevel?: string;
}

function parametersOf(flags: RunFlags): Record<string, unknown> {
  let params: Record<string, unknown> = {};
  if (flags.params !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(flags.params);
    } catch (error) {
      throw new RunError(`--params is not JSON: ${describeError(error)}`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new RunError("--params must be a JSON object of parameters");
    }
    params = parsed as Record<string, unknown>;
  }
  return { ...params, ...(flags.param ?? {}) };
}

function summaryLine(summary: RunSummary, kind: string, params: Record<string, unknown>): string {
  const what = kind === "collector" ? "report(s)" : "event(s)";
  const paths = Object.entries(summary.emitted)
    .map(([path, n]) => `${n} ${what} on ${path}`)
    .join(", ");
  const done =
    kind === "output"
      ? `${summary.written} event(s) written to its sink (parameters ${JSON.stringify(params)})`
      : `emitted ${paths || `no ${what}`}`;
  return `petrelctl run ${summary.module}: ${done}; ${summary.deadLetters} dead letter(s)`;
}

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description(
      "Run one bot once, offline (intelmqctl run BOT process --dryrun): a parser on a report body, an expert or output on JSON-lines events",
    )
    .argument("<module>", "a Petrel bot id or the IntelMQ module path it replaces")
    .option(
      "-i, --input <file>",
      "parsers: the report body; experts, outputs: JSON lines of events; - for stdin",
    )
    .option("--params <json>", "the bot's parameters as a JSON object")
    .option(
      "--param <name=value>",
      "one parameter (repeatable; JSON values are parsed, e.g. true or [1,2])",
      (v, prev) => collectKeyValue(v, prev as Record<string, unknown> | undefined),
    )
    .option(
      "--field <name=value>",
      "parsers: a report field, e.g. feed.url=https://… (repeatable)",
      (v, prev) => collectKeyValue(v, prev as Record<string, unknown> | undefined),
    )
    .option("--all-paths", 'print the events of every path, each line {"path": …, "message": …}')
    .option("--log-level <level>", "the bot's log level on stderr (default warn)")
    .action(async (moduleName: string, flags: RunFlags) => {
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once("SIGINT", onSignal);
      process.stdout.on("error", (error: NodeJS.ErrnoException) => {
        if (error.code !== "EPIPE") throw error;
      });
      try {
        const module = findModule(moduleName);
        const params = parametersOf(flags);
        const summary = await runBot(moduleName, {
          ...(flags.input === undefined ? {} : { input: flags.input }),
          params,
          fields: flags.field ?? {},
          allPaths: flags.allPaths === true,
          ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
          signal: abort.signal,
        });
        console.error(summaryLine(summary, module?.kind ?? "", params));
        process.exitCode = summary.deadLetters > 0 ? 2 : 0;
      } catch (error) {
        if (!(error instanceof RunError)) throw error;
        console.error(`petrelctl run: ${error.message}`);
        process.exitCode = 1;
      } finally {
        process.off("SIGINT", onSignal);
      }
    });
}
