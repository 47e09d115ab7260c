// Team Cymru full bogons lists (IPv4 and IPv6): one prefix or address per line under a first line that
// says when the list was made ("# last updated … (Wed May  1 08:00:00 2024 GMT)"), as IntelMQ's Cymru
// full bogons parser reads them.
import { z } from "zod";
import { pyIsSpace, pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { parseDateStrict, STRICT_DATE_NUMBERS } from "../../bot-runtime/src/sdk/dates.ts";
import { addIfValid, BAD_RECORD_DEAD_LETTERED } from "../../bot-runtime/src/sdk/parsing.ts";
import { lines, reportText } from "../../bot-runtime/src/sdk/records.ts";

/**
 * The report's first line after leading blanks, up to its "\n" (a "\r" before it stays); for a report
 * of one line, that line less its last character (IntelMQ cuts at find("\n"), which is -1 there).
 * Undefined for a report of blanks.
 */
function firstRow(report: Report): string | undefined {
  let head = "";
  for (const chunk of reportText(report)) {
    head += head === "" ? chunk.slice(leadingBlanks(chunk)) : chunk;
    const newline = head.indexOf("\n");
    if (newline >= 0) return head.slice(0, newline);
  }
  const text = pyStrip(head);
  return text === "" ? undefined : [...text].slice(0, -1).join("");
}

function leadingBlanks(text: string): number {
  let i = 0;
  while (i < text.length && pyIsSpace(text.charCodeAt(i))) i++;
  return i;
}

/** The text between the first "(" and the first ")", with Python's slicing where either is missing. */
function parenthesised(row: string): string {
  const chars = [...row];
  const close = chars.indexOf(")");
  return chars.slice(chars.indexOf("(") + 1, close).join("");
}

export default defineParser({
  id: "parsers.cymru.full_bogons",
  intelmqModules: ["intelmq.bots.parsers.cymru.parser_full_bogons"],
  kind: "parser",
  description:
    "Parses Team Cymru's full bogons lists (IPv4, IPv6) into blacklist events for each address or network, dated by the list's header.",
  parameters: z.object({}),
  deviations: [
    STRICT_DATE_NUMBERS,
    {
      ...BAD_RECORD_DEAD_LETTERED,
      summary:
        "A line that is neither an address nor a network is dead-lettered; IntelMQ sends the other lines' events and then fails the report (it cannot recover the line).",
    },
  ],
  create: () => ({
    *records(report) {
      const first = firstRow(report);
      if (first === undefined) return;
      const time = parseDateStrict(parenthesised(first));
      for (const { value } of lines(report)) {
        if (value.startsWith("#") || value.startsWith("//")) continue;
        yield { value: { line: value, time }, raw: `${first}\n${value}` };
      }
    },
    parse(record, newEvent) {
      const { line, time } = record.value as { line: string; time: string };
      const event = newEvent();
      if (!addIfValid(event, "source.ip", line)) event.add("source.network", line);
      event.add("time.source", time);
      event.add("classification.type", "blacklist");
      return event;
    },
  }),
});
