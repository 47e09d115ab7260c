// Spamhaus DROP lists ("Don't Route Or Peer"): DROP, EDROP and DROPv6 list networks, ASN-DROP autonomous
// systems, as IntelMQ's Spamhaus DROP parser reads them. The list is told by the exact feed.url; the
// "Last-Modified" comment gives every event its time.source. Spamhaus's JSON lists (one object per line,
// metadata last) are read too, into the same fields.
import { z } from "zod";
import { convertDateTime } from "../../bot-runtime/src/event/compat/datetime.ts";
import { pyJsonLoads } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { pyStrip, pyStripChars } from "../../bot-runtime/src/event/compat/pystring.ts";
import type { Event, Report } from "../../bot-runtime/src/event/message.ts";
import { defineParser, type ParserRecord } from "../../bot-runtime/src/sdk/bot.ts";
import { parseDateStrict, STRICT_DATE_NUMBERS } from "../../bot-runtime/src/sdk/dates.ts";
import {
  addIfValid,
  DEAD_LETTER_CONTEXT_SO_FAR,
  getField,
  isJsonObject,
  item,
} from "../../bot-runtime/src/sdk/parsing.ts";
import { linesWithComments, reportLines } from "../../bot-runtime/src/sdk/records.ts";

const BASE = "https://www.spamhaus.org/drop/";
const NETWORK_LISTS = new Set(["edrop.txt", "dropv6.txt", "drop.txt", "drop.lasso"].map((f) => BASE + f));
const ASN_LISTS = new Set([`${BASE}asndrop.txt`]);
const NETWORK_JSON = new Set(["drop_v4.json", "drop_v6.json"].map((f) => BASE + f));
const ASN_JSON = new Set([`${BASE}asndrop.json`]);

interface Entry {
  readonly line: string;
  /** Last-Modified as read (or as written, when it could not be read), for time.source. */
  readonly time: string | undefined;
}

/** The text lists: ";" comments (one says Last-Modified), then one entry per line. */
function* textRecords(report: Report): Generator<ParserRecord<Entry>> {
  let time: string | undefined;
  for (const record of linesWithComments(report, (line) => line.startsWith(";"))) {
    if (!record.comment) {
      yield { value: { line: record.value, time }, raw: record.raw };
      continue;
    }
    if (!record.value.includes("Last-Modified:")) continue;
    time = [...pyStripChars(record.value, "; ")].slice(15).join("");
    try {
      time = parseDateStrict(time);
    } catch (error) {
      // IntelMQ keeps the text it could not read, and adds it to the events that follow.
      yield { value: { line: record.value, time }, raw: record.raw, error: error as Error };
    }
  }
}

/** The JSON lists: one object per line; the last, {"type": "metadata", "timestamp": …}, dates them all. */
function* jsonRecords(report: Report): Generator<ParserRecord<unknown>> {
  let timestamp: unknown;
  for (const line of reportLines(report)) {
    const value = pyJsonLoads(line);
    if (isJsonObject(value) && value.type === "metadata") timestamp = value.timestamp;
  }
  const time = typeof timestamp === "number" ? convertDateTime(timestamp, "timestamp") : undefined;
  for (const line of reportLines(report)) {
    if (pyStrip(line) === "") continue;
    const value = pyJsonLoads(line);
    if (value === undefined) yield { value, raw: line, error: new SyntaxError(`not JSON: ${line}`) };
    else if (!(isJsonObject(value) && value.type === "metadata"))
      yield { value: { entry: value, time }, raw: line };
  }
}

function parseText(event: Event, url: unknown, line: string): void {
  if (typeof url === "string" && NETWORK_LISTS.has(url)) {
    // "192.0.2.0/24 ; SBL123456"
    const value = pyStrip(line).split(";");
    event.add("source.network", pyStrip(item(value, 0)));
    event.add("extra", { blocklist: pyStrip(item(value, 1)) });
  } else if (typeof url === "string" && ASN_LISTS.has(url)) {
    // "AS64500 ; DE | EXAMPLE-AS"
    const value = line.replaceAll("|", ";").split(";");
    event.add("source.asn", pyStrip(pyStripChars(item(value, 0), "AS")));
    event.add("source.as_name", pyStrip(item(value, 2)));
    if (item(value, 1) !== "") event.add("source.geolocation.cc", pyStrip(item(value, 1)));
  } else {
    throw new Error(`Unknown data feed ${String(url)}.`);
  }
}

function parseJson(event: Event, url: string, entry: unknown): void {
  const field = (key: string) => getField(entry, key);
  if (NETWORK_JSON.has(url)) {
    event.add("source.network", field("cidr"));
    event.add("extra", { blocklist: field("sblid") });
  } else {
    event.add("source.asn", field("asn"));
    event.add("source.as_name", field("asname"));
    event.add("source.geolocation.cc", field("cc"));
    addIfValid(event, "extra.domain", field("domain"));
  }
  addIfValid(event, "source.registry", field("rir"));
}

export default defineParser({
  id: "parsers.spamhaus.drop",
  intelmqModules: ["intelmq.bots.parsers.spamhaus.parser_drop"],
  kind: "parser",
  description:
    "Parses the Spamhaus DROP, EDROP, DROPv6 and ASN-DROP lists (text or JSON, told by feed.url) into spam events for networks or autonomous systems.",
  parameters: z.object({}),
  deviations: [
    STRICT_DATE_NUMBERS,
    DEAD_LETTER_CONTEXT_SO_FAR,
    {
      id: "last-modified-per-report",
      summary:
        "A report without a Last-Modified comment gives events without time.source; IntelMQ's bot reuses the Last-Modified time of an earlier report it parsed.",
      reason: "A report's events should not depend on which reports the bot happened to parse before it.",
    },
    {
      id: "json-lists",
      summary:
        "Also reads Spamhaus's JSON lists (drop_v4.json, drop_v6.json, asndrop.json: one object per line, a metadata line with the time last) into the same fields, plus source.registry (and extra.domain for ASN-DROP); IntelMQ 3.5 rejects every line of them as an unknown feed.",
      reason:
        "Spamhaus merged EDROP into DROP in 2024 and publishes DROPv6 and ASN-DROP as JSON; IntelMQ's parser only knows the text files.",
    },
  ],
  create: () => ({
    records(report) {
      const url = report.get("feed.url");
      const json = typeof url === "string" && (NETWORK_JSON.has(url) || ASN_JSON.has(url));
      return json ? jsonRecords(report) : textRecords(report);
    },
    parse(record, newEvent, report) {
      const url = report.get("feed.url");
      const event = newEvent();
      if (typeof url === "string" && (NETWORK_JSON.has(url) || ASN_JSON.has(url))) {
        const { entry, time } = record.value as { entry: unknown; time: string | undefined };
        if (time !== undefined) event.add("time.source", time);
        event.add("classification.type", "spam");
        parseJson(event, url, entry);
        return event;
      }
      const { line, time } = record.value as Entry;
      if (time) event.add("time.source", time);
      event.add("classification.type", "spam");
      event.add("raw", line);
      if (url === undefined) throw new Error("the report has no feed.url to tell which list it is");
      parseText(event, url, line);
      return event;
    },
  }),
});
