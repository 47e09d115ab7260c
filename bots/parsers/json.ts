// IntelMQ-format JSON: the report holds one event (or one per line, or a JSON list of them), as IntelMQ's
// JSON parser reads it. Fields the input has replace the report's; events without a classification get
// "undetermined".
import { z } from "zod";
import { pyJsonDumps, pyJsonLoads } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { defineParser, type ParserRecord } from "../../bot-runtime/src/sdk/bot.ts";
import {
  BAD_RECORD_DEAD_LETTERED,
  DEFAULT_FIELDS_APPLIED,
  messageFromDict,
  pyIterate,
} from "../../bot-runtime/src/sdk/parsing.ts";
import { reportJson, reportLines, reportText } from "../../bot-runtime/src/sdk/records.ts";

const parameters = z.object({
  splitlines: z.boolean().default(false).describe("Each line of the report is one event (JSON lines)."),
  multiple_events: z
    .boolean()
    .default(false)
    .describe("The report is a JSON list of events; each event's raw is its JSON. Not with splitlines."),
});

export default defineParser({
  id: "parsers.json",
  intelmqModules: ["intelmq.bots.parsers.json.parser"],
  kind: "parser",
  description:
    "Parses IntelMQ-format JSON events: the whole report, each line (splitlines) or each element of a list (multiple_events).",
  parameters,
  deviations: [
    {
      ...BAD_RECORD_DEAD_LETTERED,
      summary:
        "A line or list element that is not a valid event (not JSON, a blank line, an invalid field) is dead-lettered and the others still give their events; IntelMQ fails the whole report on it.",
    },
    DEFAULT_FIELDS_APPLIED,
  ],
  create(params) {
    if (params.splitlines && params.multiple_events) {
      throw new Error("splitlines and multiple_events cannot both be set");
    }
    return {
      *records(report): Generator<ParserRecord<unknown>> {
        if (params.multiple_events) {
          for (const element of pyIterate(reportJson(report), "the report")) {
            yield { value: element, raw: pyJsonDumps(element, { sortKeys: true }) };
          }
        } else if (params.splitlines) {
          for (const line of reportLines(report)) yield { value: line, raw: line };
        } else {
          const text = [...reportText(report)].join("");
          yield { value: text, raw: text };
        }
      },
      parse(record, newEvent) {
        const event = newEvent();
        if (params.multiple_events) {
          event.update(Object.fromEntries(messageFromDict(record.value, "Event").entries()));
          event.add("raw", record.raw);
        } else {
          const decoded = pyJsonLoads(record.value as string);
          if (decoded === undefined) throw new SyntaxError("not JSON");
          event.update(Object.fromEntries(messageFromDict(decoded, "Event").entries()));
          event.add("raw", record.raw, { overwrite: false });
        }
        event.add("classification.type", "undetermined", { overwrite: false });
        return event;
      },
    };
  },
});
