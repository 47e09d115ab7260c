// Small bot modules for local-mode tests (the real collectors, parsers and outputs live in bots/).
import { appendFile } from "node:fs/promises";
import { z } from "zod";
import { Report } from "../../../../bot-runtime/src/event/message.ts";
import {
  type BotModule,
  defineCollector,
  defineExpert,
  defineOutput,
  defineParser,
} from "../../../../bot-runtime/src/sdk/bot.ts";
import { lines } from "../../../../bot-runtime/src/sdk/records.ts";

/** Emits one report holding the given lines, once per run. */
export const linesCollector = defineCollector({
  id: "test.lines_collector",
  intelmqModules: [],
  kind: "collector",
  mode: "interval",
  description: "test: one report of the given lines per run",
  parameters: z.object({ lines: z.array(z.string()).min(1).describe("Lines of the report.") }),
  create: (params) => ({
    async collect(emit) {
      const report = Report.create();
      report.add("raw", `${params.lines.join("\n")}\n`);
      await emit(report);
    },
  }),
});

/** One event per line: the line is source.ip ("bad" lines fail and are dead-lettered). */
export const ipParser = defineParser({
  id: "test.ip_parser",
  intelmqModules: [],
  kind: "parser",
  description: "test: each line is an IP address",
  parameters: z.object({}),
  create: () => ({
    records: (report) => lines(report),
    parse(record, newEvent) {
      const event = newEvent();
      event.add("source.ip", record.value);
      event.add("classification.type", "blacklist");
      return event;
    },
  }),
});

/** Fails every event: with error_procedure stop the bot exits with code 3. */
export const failingExpert = defineExpert({
  id: "test.failing_expert",
  intelmqModules: [],
  kind: "expert",
  description: "test: throws on every event",
  parameters: z.object({}),
  create: () => ({
    process() {
      throw new Error("this expert always fails");
    },
  }),
});

/** Cannot even start: the process exits 1 every time, as a bot with a broken setup does. */
export const crashingExpert = defineExpert({
  id: "test.crashing_expert",
  intelmqModules: [],
  kind: "expert",
  description: "test: fails to start",
  parameters: z.object({}),
  create: () => {
    throw new Error("this expert cannot start");
  },
});

/** Appends events as JSON lines to `file`. */
export const jsonlOutput = defineOutput({
  id: "test.jsonl_output",
  intelmqModules: [],
  kind: "output",
  description: "test: events as JSON lines",
  parameters: z.object({ file: z.string().describe("File to append to.") }),
  create: (params) => ({
    async write(events) {
      await appendFile(params.file, events.map((e) => `${e.serialize()}\n`).join(""));
    },
  }),
});

export const TEST_BOTS: readonly BotModule[] = [
  linesCollector,
  ipParser,
  failingExpert,
  crashingExpert,
  jsonlOutput,
];
