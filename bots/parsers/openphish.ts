// OpenPhish public feed: one phishing URL per line, as IntelMQ's OpenPhish parser reads it.
import { z } from "zod";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { BAD_RECORD_DEAD_LETTERED, DEFAULT_FIELDS_APPLIED } from "../../bot-runtime/src/sdk/parsing.ts";
import { lines } from "../../bot-runtime/src/sdk/records.ts";

export default defineParser({
  id: "parsers.openphish",
  intelmqModules: ["intelmq.bots.parsers.openphish.parser"],
  kind: "parser",
  description: "Parses the OpenPhish public feed (one URL per line) into phishing events.",
  parameters: z.object({}),
  deviations: [BAD_RECORD_DEAD_LETTERED, DEFAULT_FIELDS_APPLIED],
  create: () => ({
    records: (report) => lines(report),
    parse(record, newEvent) {
      const event = newEvent();
      event.add("classification.type", "phishing");
      event.add("source.url", record.value);
      return event;
    },
  }),
});
