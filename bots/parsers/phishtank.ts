// PhishTank online-valid feed (a JSON list of verified phishing URLs), as IntelMQ's PhishTank parser
// reads it.
import { z } from "zod";
import { isPyFalsy } from "../../bot-runtime/src/event/compat/generic.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { DateParseError, parseDateStrict, STRICT_DATE_NUMBERS } from "../../bot-runtime/src/sdk/dates.ts";
import { addIfValid, DEAD_LETTER_KEEPS_ELEMENT, getField } from "../../bot-runtime/src/sdk/parsing.ts";
import { jsonArray } from "../../bot-runtime/src/sdk/records.ts";

export default defineParser({
  id: "parsers.phishtank",
  intelmqModules: ["intelmq.bots.parsers.phishtank.parser"],
  kind: "parser",
  description:
    "Parses the PhishTank feed (JSON) into phishing events with the target, PhishTank's verification and the first host detail.",
  parameters: z.object({}),
  deviations: [DEAD_LETTER_KEEPS_ELEMENT, STRICT_DATE_NUMBERS],
  create: () => ({
    records: (report) => jsonArray(report),
    parse(record, newEvent) {
      const entry = record.value;
      if (isPyFalsy(entry)) return undefined;
      const field = (key: string) => getField(entry, key);
      const event = newEvent();
      const submitted = field("submission_time");
      if (!isPyFalsy(submitted)) {
        try {
          addIfValid(event, "time.source", parseDateStrict(submitted));
        } catch (error) {
          if (!(error instanceof DateParseError)) throw error;
        }
      }
      event.add("classification.type", "phishing");
      addIfValid(event, "extra.phishtank.phish_id", field("phish_id"));
      event.add("source.url", field("url"));
      addIfValid(event, "event_description.url", field("phish_detail_url"));
      addIfValid(event, "event_description.target", field("target"));
      event.add("status", "online"); // the feed lists online phishing sites only
      addIfValid(event, "extra.phishtank.verified", field("verified"));
      addIfValid(event, "extra.phishtank.verification_time", field("verification_time"));
      const details = field("details");
      if (Array.isArray(details) && details.length > 0) {
        const detail = (key: string) => getField(details[0], key);
        addIfValid(event, "source.ip", detail("ip_address"));
        addIfValid(event, "source.network", detail("cidr_block"));
        addIfValid(event, "source.asn", detail("announcing_network"));
        addIfValid(event, "source.geolocation.cc", detail("country"));
      }
      return event;
    },
  }),
});
