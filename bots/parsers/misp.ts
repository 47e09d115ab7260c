// MISP events (one event's JSON per report, as the MISP collector sends them): one event per attribute
// of the categories and types IntelMQ's MISP parser maps, classified by the MISP event's ecsirt tag.
import { z } from "zod";
import { convertDateTime } from "../../bot-runtime/src/event/compat/datetime.ts";
import { isPyFalsy } from "../../bot-runtime/src/event/compat/generic.ts";
import { pyLower } from "../../bot-runtime/src/event/compat/idna.ts";
import { pyJsonDumps } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import {
  addIfValid,
  BAD_RECORD_DEAD_LETTERED,
  DEFAULT_FIELDS_APPLIED,
  getField,
  pyIterate,
  requireField,
  urljoinPath,
} from "../../bot-runtime/src/sdk/parsing.ts";
import { reportJson } from "../../bot-runtime/src/sdk/records.ts";

/** ecsirt taxonomy tags (MISP's default) → classification.type. */
const TAXONOMY: Readonly<Record<string, string>> = {
  'ecsirt:fraud="phishing"': "phishing",
  'ecsirt:availability="ddos"': "ddos",
  'ecsirt:abusive-content="spam"': "spam",
  'ecsirt:information-gathering="scanner"': "scanner",
  'ecsirt:information-content-security="dropzone"': "other",
  'ecsirt:malicious-code="malware"': "infected-system",
  'ecsirt:malicious-code="botnet-drone"': "infected-system",
  'ecsirt:malicious-code="ransomware"': "infected-system",
  'ecsirt:malicious-code="malware-configuration"': "malware-configuration",
  'ecsirt:malicious-code="c2server"': "c2-server",
  'ecsirt:intrusion-attempts="exploit"': "exploit",
  'ecsirt:intrusion-attempts="brute-force"': "brute-force",
  'ecsirt:intrusion-attempts="ids-alert"': "ids-alert",
  'ecsirt:intrusions="defacement"': "unauthorised-information-modification",
  'ecsirt:intrusions="compromised"': "system-compromise",
  'ecsirt:intrusions="backdoor"': "system-compromise",
  'ecsirt:vulnerable="vulnerable-service"': "vulnerable-system",
  'ecsirt:other="blacklist"': "blacklist",
  'ecsirt:other="unknown"': "undetermined",
  'ecsirt:test="test"': "test",
};

const CATEGORIES = new Set([
  "Payload delivery",
  "Artifacts dropped",
  "Payload installation",
  "Network activity",
]);

/** MISP attribute type → field. */
const TYPES: Readonly<Record<string, string>> = {
  domain: "source.fqdn",
  hostname: "source.fqdn",
  md5: "malware.hash.md5",
  sha1: "malware.hash.sha1",
  "ip-src": "source.ip",
  "ip-dst": "source.ip",
  "email-src": "source.account",
  url: "source.url",
};

/** What every attribute's event shares, from the MISP event. */
interface Context {
  readonly mispEvent: Record<string, unknown>;
  readonly classification: string | undefined;
  readonly identifier: string | undefined;
  readonly malware: string | undefined;
  readonly url: string;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${what} is not a list`);
  return value;
}

function fromTimestamp(value: unknown): string | undefined {
  if (typeof value !== "string" && typeof value !== "number")
    throw new TypeError(`not a timestamp: ${JSON.stringify(value)}`);
  return convertDateTime(value, "timestamp");
}

export default defineParser({
  id: "parsers.misp",
  intelmqModules: ["intelmq.bots.parsers.misp.parser"],
  kind: "parser",
  description:
    "Parses a MISP event (JSON) into one event per attribute of the payload and network categories (domains, hostnames, IPs, URLs, MD5/SHA1, sender addresses), classified by the event's ecsirt tag.",
  parameters: z.object({}),
  deviations: [
    {
      ...BAD_RECORD_DEAD_LETTERED,
      summary:
        "An attribute that cannot be parsed (a missing key, an invalid value) is dead-lettered as its JSON and the other attributes still give their events; IntelMQ fails the whole MISP event on it.",
    },
    DEFAULT_FIELDS_APPLIED,
  ],
  create: () => ({
    *records(report) {
      const mispEvent = reportJson(report);
      let classification: string | undefined;
      let identifier: string | undefined;
      const tags = getField(mispEvent, "Tag");
      if (!isPyFalsy(tags)) {
        for (const tag of pyIterate(tags, "Tag")) {
          const name = requireField(tag, "name");
          if (name === "dropzone") identifier = "dropzone";
          if (typeof name === "string" && Object.hasOwn(TAXONOMY, name)) {
            classification = TAXONOMY[name];
            break;
          }
        }
      }
      const attributes = [...list(requireField(mispEvent, "Attribute"), "Attribute")];
      if (Object.hasOwn(mispEvent as object, "Object")) {
        for (const object of list(requireField(mispEvent, "Object"), "Object")) {
          attributes.push(...list(requireField(object, "Attribute"), "Attribute"));
        }
      }
      // The last "Payload type" attribute names the malware.
      let malware: string | undefined;
      for (const attribute of attributes) {
        if (requireField(attribute, "category") === "Payload type") {
          const value = requireField(attribute, "value");
          if (typeof value !== "string") throw new TypeError("a Payload type value is not text");
          malware = pyLower(value);
        }
      }
      const feedUrl = report.get("feed.url");
      if (typeof feedUrl !== "string") throw new Error("the report has no feed.url (the MISP instance)");
      const url = urljoinPath(feedUrl, `events/view/${pyStr(requireField(mispEvent, "id"))}`);
      const context: Context = {
        mispEvent: mispEvent as Record<string, unknown>,
        classification,
        identifier,
        malware,
        url,
      };
      for (const attribute of attributes) {
        yield { value: { attribute, context }, raw: pyJsonDumps(attribute, { sortKeys: true }) };
      }
    },
    parse(record, newEvent) {
      const { attribute, context } = record.value as { attribute: unknown; context: Context };
      const [value, uuid, comment, timestamp, category, type] = [
        "value",
        "uuid",
        "comment",
        "timestamp",
        "category",
        "type",
      ].map((key) => requireField(attribute, key));
      if (!(typeof category === "string" && CATEGORIES.has(category))) return undefined;
      if (!(typeof type === "string" && Object.hasOwn(TYPES, type))) return undefined;
      const event = newEvent();
      event.add("raw", record.raw);
      event.add(TYPES[type] as string, value);
      event.add("misp.event_uuid", requireField(context.mispEvent, "uuid"));
      event.add("misp.attribute_uuid", uuid);
      event.add("comment", comment);
      event.add("event_description.text", category);
      event.add("event_description.url", context.url);
      addIfValid(event, "malware.name", context.malware);
      event.add("classification.type", context.classification);
      event.add("classification.identifier", context.identifier);
      event.add("time.source", fromTimestamp(timestamp));
      return event;
    },
  }),
});
