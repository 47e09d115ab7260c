// OpenPhish premium feed: one JSON object per line with the phishing URL and what OpenPhish knows of
// its host and target, as IntelMQ's commercial OpenPhish parser reads it.
import { z } from "zod";
import { isPyFalsy } from "../../bot-runtime/src/event/compat/generic.ts";
import { pyJsonDumps } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { pyIntOrThrow } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { DateParseError, parseDateStrict, STRICT_DATE_NUMBERS } from "../../bot-runtime/src/sdk/dates.ts";
import { addIfValid, BAD_RECORD_DEAD_LETTERED, getField } from "../../bot-runtime/src/sdk/parsing.ts";
import { jsonLines } from "../../bot-runtime/src/sdk/records.ts";

/** Copied as they are into extra.<name>. */
const EXTRA = [
  "brand",
  "emails",
  "family_id",
  "page_language",
  "phishing_kit",
  "sector",
  "ssl_cert_issued_by",
  "ssl_cert_issued_to",
  "ssl_cert_serial",
  "tld",
];

export default defineParser({
  id: "parsers.openphish.commercial",
  intelmqModules: ["intelmq.bots.parsers.openphish.parser_commercial"],
  kind: "parser",
  description:
    "Parses the OpenPhish premium feed (JSON lines) into phishing events with the host's ASN, country, IP and the targeted brand.",
  parameters: z.object({}),
  deviations: [
    STRICT_DATE_NUMBERS,
    {
      ...BAD_RECORD_DEAD_LETTERED,
      summary:
        "A line that is not JSON is dead-lettered and the other lines still give their events; IntelMQ fails the whole report on it, and on a blank line.",
    },
    {
      id: "dead-letter-raw-line",
      summary:
        'A line that fails is dead-lettered as the line itself; IntelMQ writes a JSON list holding the line as one string (["{\\"url\\": …}"]).',
      reason: "The dead letter should be the input as it came, ready to be fixed and sent again.",
    },
  ],
  create: () => ({
    records: (report) => jsonLines(report),
    parse(record, newEvent) {
      const line = record.value;
      if (isPyFalsy(line)) return undefined;
      const field = (key: string) => getField(line, key);
      const event = newEvent();
      const asn = field("asn");
      if (!isPyFalsy(asn)) {
        if (typeof asn !== "string") throw new TypeError(`asn is not a string: ${JSON.stringify(asn)}`);
        let number: bigint | undefined;
        try {
          number = pyIntOrThrow([...asn].slice(2).join("")); // "AS64500"
        } catch {
          number = undefined;
        }
        if (number !== undefined) addIfValid(event, "source.asn", Number(number));
      }
      const time = isPyFalsy(field("isotime")) ? field("discover_time") : field("isotime");
      if (!isPyFalsy(time)) {
        try {
          addIfValid(event, "time.source", parseDateStrict(time));
        } catch (error) {
          if (!(error instanceof DateParseError)) throw error;
        }
      }
      event.add("classification.type", "phishing");
      event.add("source.as_name", field("asn_name"));
      addIfValid(event, "source.geolocation.cc", field("country_code"));
      addIfValid(event, "source.geolocation.country", field("country_name"));
      addIfValid(event, "source.fqdn", field("host"));
      event.add("source.ip", field("ip"));
      addIfValid(event, "screenshot_url", field("screenshot"));
      for (const key of EXTRA) event.add(`extra.${key}`, field(key));
      event.add("source.url", field("url"));
      event.add("raw", pyJsonDumps([line]));
      return event;
    },
  }),
});
