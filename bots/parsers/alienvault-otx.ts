// AlienVault OTX pulses (a JSON list, as the OTX collector sends them): one event per indicator of the
// types IntelMQ's OTX parser knows, with the pulse's author, name, tags and targets in extra.
import { z } from "zod";
import { isPyFalsy } from "../../bot-runtime/src/event/compat/generic.ts";
import { pyJsonDumps } from "../../bot-runtime/src/event/compat/pyjson.ts";
import { urlsplit } from "../../bot-runtime/src/event/compat/urlsplit.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import {
  addIfValid,
  DEAD_LETTER_KEEPS_ELEMENT,
  isJsonObject,
  pyIterate,
  requireField,
} from "../../bot-runtime/src/sdk/parsing.ts";
import { jsonArray } from "../../bot-runtime/src/sdk/records.ts";

const HASHES: Readonly<Record<string, string>> = {
  "FileHash-SHA256": "malware.hash.sha256",
  "FileHash-SHA1": "malware.hash.sha1",
  "FileHash-MD5": "malware.hash.md5",
};

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new TypeError(`${what} is not text: ${JSON.stringify(value)}`);
  return value;
}

/** Python's s[:-4] on code points. */
function dropLast4(s: string): string {
  const chars = [...s];
  return chars.slice(0, Math.max(chars.length - 4, 0)).join("");
}

/** Adds the indicator's own field; false for indicator types IntelMQ skips. */
function addIndicator(event: Event, indicator: unknown, extra: Record<string, unknown>): boolean {
  const type = requireField(indicator, "type");
  const value = () => requireField(indicator, "indicator");
  const withScheme = () => {
    const v = text(value(), "indicator");
    return v.includes("://") ? v : `http://${v}`;
  };
  if (typeof type === "string" && Object.hasOwn(HASHES, type)) {
    event.add(HASHES[type] as string, value());
  } else if (type === "hostname" || type === "domain") {
    // Some "domains" are URLs: a path makes them one.
    const resource = withScheme();
    if (urlsplit(resource).path.length > 0) event.add("source.url", resource);
    else event.add("source.fqdn", value());
  } else if (type === "IPv4" || type === "IPv6") {
    event.add("source.ip", value());
  } else if (type === "email") {
    event.add("source.account", value());
  } else if (type === "URL" || type === "URI") {
    // OTX URIs are full URLs or only a path.
    if (!addIfValid(event, "source.url", withScheme())) {
      if (type === "URI") event.add("source.urlpath", value());
      else throw new Error(`Invalid value ${JSON.stringify(value())} for URL harmonization type.`);
    }
  } else if (type === "CIDR") {
    event.add("source.network", value());
  } else if (type === "CVE") {
    extra.cve = value();
  } else {
    return false;
  }
  return true;
}

export default defineParser({
  id: "parsers.alienvault.otx",
  intelmqModules: ["intelmq.bots.parsers.alienvault.parser_otx"],
  kind: "parser",
  description:
    "Parses AlienVault OTX pulses (JSON) into one blacklist event per indicator: hashes, hosts, IPs, e-mail addresses, URLs, networks, CVEs.",
  parameters: z.object({}),
  deviations: [
    {
      ...DEAD_LETTER_KEEPS_ELEMENT,
      summary:
        'A pulse that fails is dead-lettered as itself (a one-element JSON list); IntelMQ dead-letters "[null]".',
    },
  ],
  create: () => ({
    records: (report) => jsonArray(report),
    parse(record, newEvent) {
      const pulse = record.value;
      if (isPyFalsy(pulse)) return undefined;
      const field = (key: string) => requireField(pulse, key);
      const has = (key: string) => isJsonObject(pulse) && Object.hasOwn(pulse, key);
      const base = { author: field("author_name"), pulse: field("name") };
      const events: Event[] = [];
      for (const indicator of pyIterate(field("indicators"), "indicators")) {
        const extra: Record<string, unknown> = {};
        const event = newEvent();
        if (!addIndicator(event, indicator, extra)) continue;
        // The indicator's pulse key if it has one, else the pulse's id (as OTX does).
        extra.pulse_key =
          isJsonObject(indicator) && Object.hasOwn(indicator, "pulse_key")
            ? indicator.pulse_key
            : field("id");
        if (has("tags")) extra.tags = field("tags");
        if (has("modified")) {
          const modified = text(field("modified"), "modified");
          extra.time_updated = modified.includes(".")
            ? `${dropLast4(modified)}+00:00`
            : `${modified}.00+00:00`;
        }
        if (has("industries")) extra.industries = field("industries");
        if (has("adversary")) extra.adversary = field("adversary");
        if (has("targeted_countries") && !isPyFalsy(field("targeted_countries"))) {
          extra.targeted_countries = field("targeted_countries");
        }
        if (has("TLP")) event.add("tlp", field("TLP"));
        event.add("comment", field("description"));
        event.add("extra", { ...base, ...extra });
        event.add("classification.type", "blacklist");
        const created = text(requireField(indicator, "created"), "created");
        event.add("time.source", `${dropLast4(created)}+00:00`);
        event.add("raw", pyJsonDumps(indicator, { sortKeys: true }));
        events.push(event);
      }
      return events;
    },
  }),
});
