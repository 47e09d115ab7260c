// Team Cymru CAP (CSIRT Assistance Program) reports: "category|address|asn|time|notes|asinfo" lines in
// two formats, told by the header comment ("generated on …": the current one, "Data file written at …":
// the old one), as IntelMQ's Cymru CAP parser reads them. The header is kept at the top of each raw.
import { z } from "zod";
import { isValidFqdnValue } from "../../bot-runtime/src/event/compat/fqdn-url.ts";
import { pyLower } from "../../bot-runtime/src/event/compat/idna.ts";
import { pyIntOrThrow } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import type { Event, Report } from "../../bot-runtime/src/event/message.ts";
import { defineParser, type ParserRecord } from "../../bot-runtime/src/sdk/bot.ts";
import { DEAD_LETTER_CONTEXT_SO_FAR, item } from "../../bot-runtime/src/sdk/parsing.ts";
import { reportLines } from "../../bot-runtime/src/sdk/records.ts";

type Format = "current" | "old" | undefined;

/** Category → fields of the current format. */
const CATEGORIES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  bot: { "classification.type": "infected-system" },
  bruteforce: { "classification.type": "brute-force" },
  controller: { "classification.type": "c2-server" },
  darknet: { "classification.type": "scanner", "classification.identifier": "darknet" },
  phishing: { "classification.type": "phishing", "classification.identifier": "phishing" },
  proxy: { "classification.type": "proxy", "classification.identifier": "openproxy" },
  honeypot: { "classification.type": "scanner" },
  openresolvers: {
    "classification.type": "vulnerable-system",
    "classification.identifier": "dns-open-resolver",
    "protocol.application": "dns",
  },
  openresolver: {
    "classification.type": "vulnerable-system",
    "classification.identifier": "dns-open-resolver",
    "protocol.application": "dns",
  },
  scanner: { "classification.type": "scanner", "classification.identifier": "scanner" },
  spam: { "classification.type": "spam", "classification.identifier": "spam" },
  conficker: {
    "classification.type": "infected-system",
    "classification.identifier": "conficker",
    "malware.name": "conficker",
  },
  tor: { "classification.type": "tor", "classification.identifier": "tor" },
};

/** IP protocol numbers Cymru reports → protocol.transport. */
const PROTOCOLS: Readonly<Record<string, string>> = {
  "1": "icmp",
  "6": "tcp",
  "11": "nvp-ii",
  "17": "udp",
  "47": "gre",
  "58": "ipv6-icmp",
  "59": "ipv6-nonxt",
};

const PORT_KEYS = new Set([
  "dest_port",
  "ports_scanned",
  "honeypot_port",
  "darknet_port",
  "destination_port_numbers",
]);
const BOGUS_HOSTNAME_PORT = /hostname: ([^:]+)port: ([0-9]+)/;
const PORT_TOTAL = / \(total_count:\p{Nd}+\)$/u;
const INFECTED_OLD = new Set([
  "blaster",
  "dameware",
  "dipnet",
  "mydoom",
  "nachi",
  "phatbot",
  "sinit",
  "slammer",
]);

function int(text: string): number {
  return Number(pyIntOrThrow(text));
}

function add(event: Event, fields: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(fields)) event.add(key, value);
}

/** "|"-separated into exactly six parts. */
function sixFields(line: string): [string, string, string, string, string, string] {
  const parts = line.split("|");
  if (parts.length !== 6) throw new Error(`expected 6 fields separated by "|", got ${parts.length}`);
  return parts as [string, string, string, string, string, string];
}

/** Notes of the old "bots" format: "[srcport <port>] [mwtype <type>] [destaddr <ip> [comment]]". */
function parseBotNotes(words: readonly string[], event: Event): void {
  const results = new Map<string, string>();
  let key: string | undefined;
  let value: string[] = [];
  const comment: string[] = [];
  for (const word of [...words, undefined]) {
    if (
      word === undefined ||
      word === "srcport" ||
      word === "mwtype" ||
      word === "destaddr" ||
      word === "dstaddr"
    ) {
      if (key !== undefined && value.length > 0) results.set(key, value.join(" "));
      key = word;
      value = [];
    } else if (key === "destaddr" && value.length === 1) comment.push(word);
    else value.push(word);
  }
  for (const [kind, text] of results) {
    if (kind === "srcport") event.add("extra.source_port", int(text));
    else if (kind === "mwtype")
      add(event, { "classification.identifier": pyLower(text), "malware.name": pyLower(text) });
    else event.add("destination.ip", text);
  }
  if (comment.length > 0) event.add("event_description.text", comment.join(" "));
}

function parseCurrent(line: string, newEvent: () => Event, raw: string): Event[] {
  const [category, ip, asn, timestamp, rawNotes, asinfo] = sixFields(line);
  // Some lines run two notes together: "hostname: sub.example.comport: 80".
  let notes = rawNotes;
  const bogus = BOGUS_HOSTNAME_PORT.exec(notes);
  if (bogus) {
    notes = `${notes.slice(0, bogus.index)}hostname: ${bogus[1]}; port: ${bogus[2]}${notes.slice(bogus.index + bogus[0].length)}`;
  }
  const asinfoParts = asinfo.split(", ");
  const event = newEvent();
  event.add("raw", raw);
  event.add("source.ip", ip);
  if (asn !== "0") event.add("source.asn", asn);
  event.add("time.source", `${timestamp} GMT`);
  event.add("source.as_name", asinfoParts.slice(0, -1).join(", ")); // the country code comes last
  event.add("source.geolocation.cc", item(asinfoParts, -1));
  const fields = Object.hasOwn(CATEGORIES, category) ? CATEGORIES[category] : undefined;
  if (fields === undefined) throw new Error(`Unknown category ${JSON.stringify(category)}.`);
  add(event, fields);
  const ports: string[] = [];
  for (let note of notes.split(";").filter((n) => n !== "")) {
    if (!note.includes(":") || note.startsWith("http")) {
      if (category === "proxy") note = `proxy_type: ${note}`;
      else if (category === "bruteforce") {
        // Older bruteforce lines have just the protocol: "ssh;".
        add(event, { "classification.identifier": note, "protocol.application": note });
        break;
      } else if (category === "phishing") {
        event.add("source.url", note);
        break;
      } else {
        if (category === "bot" && tryBotNotes(notes, event)) break;
        throw new Error(
          `Unable to parse comment ${JSON.stringify(note)} of category ${JSON.stringify(category)}.`,
        );
      }
    }
    const colon = note.indexOf(":");
    const key = pyStrip(note.slice(0, colon));
    const value = pyStrip(note.slice(colon + 1));
    if (key === "family") {
      add(event, { "classification.identifier": pyLower(value), "malware.name": pyLower(value) });
    } else if (key === "dest_addr" || key === "destaddr") {
      event.add("destination.ip", value);
    } else if (PORT_KEYS.has(key)) {
      for (const port of value.replace(PORT_TOTAL, "").split(",")) ports.push(pyStrip(port));
    } else if (key === "protocol") {
      if (Object.hasOwn(PROTOCOLS, value)) event.add("protocol.transport", PROTOCOLS[value]);
      else if (int(value) >= 143)
        event.add("extra.protocol.transport", int(value)); // unassigned, testing
      else throw new Error(`Unknown protocol ${JSON.stringify(value)}.`);
    } else if (key === "hostname") {
      if (!isValidFqdnValue(value) && value === ip) continue;
      event.add("source.fqdn", value);
    } else if (key === "proxy_type") {
      if (value.includes("-")) {
        const parts = value.split("-");
        if (parts.length !== 2) throw new Error(`expected protocol-port, got ${JSON.stringify(value)}`);
        add(event, { "protocol.application": parts[0], "source.port": parts[1] });
      } else event.add("protocol.application", value);
    } else if (key === "port" || key === "srcport") {
      event.add("source.port", value);
    } else if (key === "username") {
      event.add("source.account", value);
    } else if (key === "additional_asns") {
      if (!event.has("source.asn")) throw new Error("KeyError: 'source.asn'");
      event.add("extra.source.asns", [event.get("source.asn"), ...value.split(",").map(int)]);
    } else {
      throw new Error(
        `Unknown key ${JSON.stringify(key)} in comment of category ${JSON.stringify(category)}.`,
      );
    }
  }
  // One event per destination port.
  return ports.length === 0
    ? [event]
    : ports.map((port) => {
        const copy = event.copy();
        copy.add("destination.port", port);
        return copy;
      });
}

/** IntelMQ tries the old notes format for "bot" lines it cannot read otherwise. */
function tryBotNotes(notes: string, event: Event): boolean {
  try {
    parseBotNotes(notes.split(" "), event);
    return true;
  } catch {
    return false;
  }
}

function unknownNotesFormat(type: string): never {
  throw new Error(`Can't properly parse report ${JSON.stringify(type)}, the format of its notes is unknown.`);
}

function parseOld(line: string, newEvent: () => Event, raw: string): Event {
  const [type, ip, asn, timestamp, notes, asName] = sixFields(line);
  const words = notes.split(" ");
  const event = newEvent();
  event.add("source.ip", ip);
  if (asn !== "0") event.add("source.asn", asn);
  event.add("time.source", `${timestamp} GMT`);
  event.add("source.as_name", asName);
  event.add("raw", raw);
  const infected = (name: string) =>
    add(event, {
      "classification.type": "infected-system",
      "classification.identifier": name,
      "malware.name": name,
    });
  if (type === "beagle") {
    infected("beagle");
    if (notes.length > 0) unknownNotesFormat(type);
  } else if (INFECTED_OLD.has(type)) {
    infected(type);
  } else if (type === "bots") {
    event.add("classification.type", "infected-system");
    parseBotNotes(words, event);
  } else if (type === "bruteforce") {
    add(event, {
      "classification.type": "brute-force",
      "classification.identifier": notes,
      "protocol.application": notes,
    });
  } else if (type === "ddosreport") {
    unknownNotesFormat(type);
  } else if (type === "defacement") {
    add(event, {
      "classification.type": "unauthorised-information-modification",
      "classification.identifier": type,
    });
    event.add("source.url", item(words, 0));
    event.add("extra.zoneh.id", item(words, 1));
  } else if (type === "fastflux") {
    add(event, { "classification.type": "system-compromise", "classification.identifier": type });
    if (notes !== "") event.add("source.reverse_dns", notes);
  } else if (type === "malwareurl") {
    event.add("source.url", item(words, 0));
    add(event, { "classification.type": "malware-distribution", "classification.identifier": "malwareurl" });
  } else if (type === "openresolvers") {
    add(event, CATEGORIES.openresolvers as Record<string, string>);
  } else if (type === "phishing") {
    add(event, {
      "classification.type": "phishing",
      "classification.identifier": "phishing",
      "source.url": notes,
    });
  } else if (type === "proxy") {
    add(event, {
      "classification.type": "proxy",
      "classification.identifier": "openproxy",
      "extra.request": notes,
    });
  } else if (type === "routers") {
    event.add("classification.type", "system-compromise");
    if (notes !== "") event.add("classification.identifier", notes);
  } else if (type === "scanners") {
    add(event, { "classification.type": "scanner", "classification.identifier": "scanner" });
    let port: number;
    try {
      port = int(notes);
    } catch {
      return unknownNotesFormat(type); // several ports: their separator is unknown
    }
    event.add("source.port", port);
  } else if (type === "spam") {
    add(event, { "classification.type": "spam", "classification.identifier": "spam" });
    if (notes.length > 0) unknownNotesFormat(type);
  } else if (type === "spreaders") {
    event.add("source.url", item(words, 0));
    // IntelMQ's check of an optional MD5 is broken (len() of a bool): such lines always fail there.
    throw new TypeError("object of type 'bool' has no len()");
  } else if (type === "stormworm") {
    stormworm(event, words);
  } else if (type === "toxbot") {
    infected("toxbot");
    event.add("extra.source_port", int(item(words, 1)));
  } else {
    throw new Error(`Unknown report ${JSON.stringify(type)}.`);
  }
  return event;
}

/** "confidence:<n> [legacy|crypto] [srcport <port>]", read as IntelMQ does (a confidence always fails). */
function stormworm(event: Event, words: readonly string[]): void {
  if (!event.has("feed.accuracy")) event.add("feed.accuracy", 100);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (word.startsWith("confidence:")) {
      // IntelMQ multiplies feed.accuracy in place, which re-adds an existing field and raises.
      int(word.replace(/^[confidence:]+/, ""));
      event.add("feed.accuracy", event.get("feed.accuracy"));
    } else if (word === "legacy" || word === "crypto") {
      event.add("malware.version", word);
    } else if (word === "srcport") {
      event.add("extra.source_port", int(item(words, i + 1)));
      break;
    }
  }
}

/** Lines with the format of the header seen so far; "#" lines are the header, kept above each raw. */
function* capRecords(report: Report): Generator<ParserRecord<{ line: string; format: Format }>> {
  let format: Format;
  let header = "";
  for (const text of reportLines(report)) {
    const line = pyStrip(text);
    if (line.startsWith("#")) {
      header += `${line}\n`;
      if (line.includes("generated on")) format = "current";
      else if (line.includes("Data file written at")) format = "old";
    } else if (line !== "") {
      yield { value: { line, format }, raw: header + line };
    }
  }
}

export default defineParser({
  id: "parsers.cymru.cap",
  intelmqModules: ["intelmq.bots.parsers.cymru.parser_cap_program"],
  kind: "parser",
  description:
    "Parses Team Cymru CAP reports (current and old format) into events classified by category: bots, controllers, scanners, brute force, open resolvers, proxies, phishing, spam…",
  parameters: z.object({}),
  deviations: [
    DEAD_LETTER_CONTEXT_SO_FAR,
    {
      id: "format-per-report",
      summary:
        "A report without a header that tells its format fails line by line; IntelMQ's bot reads it in the format of the last report it parsed.",
      reason: "A report's events should not depend on which reports the bot happened to parse before it.",
    },
  ],
  create: () => ({
    records: (report) => capRecords(report),
    parse(record, newEvent) {
      const { line, format } = record.value as { line: string; format: Format };
      if (format === "current") return parseCurrent(line, newEvent, record.raw);
      if (format === "old") return parseOld(line, newEvent, record.raw);
      throw new Error("no header says which format the report has");
    },
  }),
});
