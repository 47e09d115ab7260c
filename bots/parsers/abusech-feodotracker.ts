// abuse.ch Feodo Tracker IP blocklist (JSON): one botnet C2 server per array element, as IntelMQ's
// Feodo Tracker parser reads it. A rejected element is dead-lettered as itself (IntelMQ 3.5 writes
// "[null]" there, having no current line for JSON input).
import { z } from "zod";
import { convertDateTime } from "../../bot-runtime/src/event/compat/datetime.ts";
import { isPyFalsy } from "../../bot-runtime/src/event/compat/generic.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { addIfValid, DEAD_LETTER_KEEPS_ELEMENT } from "../../bot-runtime/src/sdk/parsing.ts";
import { jsonArray } from "../../bot-runtime/src/sdk/records.ts";

/** IntelMQ's from_format conversions: a value that does not match gives no time (a TypeError fails). */
function sourceTime(value: unknown, format: string): string | undefined {
  if (typeof value !== "string")
    throw new TypeError(`strptime() argument 1 must be str, not ${typeof value}`);
  try {
    return convertDateTime(value, format);
  } catch (error) {
    if (error instanceof TypeError) throw error;
    return undefined;
  }
}

export default defineParser({
  id: "parsers.abusech.feodotracker",
  intelmqModules: ["intelmq.bots.parsers.abusech.parser_feodotracker"],
  kind: "parser",
  description: "Parses the abuse.ch Feodo Tracker IP blocklist (JSON) into c2-server events.",
  parameters: z.object({}),
  deviations: [DEAD_LETTER_KEEPS_ELEMENT],
  create: () => ({
    records: (report) => jsonArray(report),
    parse(record, newEvent) {
      // IntelMQ skips falsy elements ({} , null, 0) without counting them as failures.
      if (isPyFalsy(record.value)) return undefined;
      const entry = record.value as Record<string, unknown>;
      if (typeof entry !== "object" || Array.isArray(entry)) {
        throw new TypeError(`expected a JSON object, got ${JSON.stringify(entry)}`);
      }
      const event = newEvent();
      if (!isPyFalsy(entry.first_seen)) {
        addIfValid(event, "time.source", sourceTime(entry.first_seen, "from_format|%Y-%m-%d %H:%M:%S"));
      } else if (!isPyFalsy(entry.last_online)) {
        addIfValid(event, "time.source", sourceTime(entry.last_online, "from_format_midnight|%Y-%m-%d"));
      }
      event.add("classification.type", "c2-server");
      event.add("source.ip", entry.ip_address);
      event.add("source.port", entry.port);
      addIfValid(event, "source.asn", entry.as_number);
      addIfValid(event, "source.as_name", entry.as_name);
      addIfValid(event, "source.geolocation.cc", entry.country);
      addIfValid(event, "source.reverse_dns", entry.hostname);
      addIfValid(event, "malware.name", entry.malware);
      addIfValid(event, "extra.last_online", entry.last_online);
      addIfValid(event, "status", entry.status);
      return event;
    },
  }),
});
