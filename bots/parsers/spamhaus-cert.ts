// Spamhaus CERT portal feed: comma-separated lines (ip, asn, country, last seen, bot name, C&C domain,
// remote ip, remote port, local port, protocol) under a ";" comment header, as IntelMQ's Spamhaus CERT
// parser reads them. The header's comment lines are kept at the top of every event's raw.
import { z } from "zod";
import { convertDateTime } from "../../bot-runtime/src/event/compat/datetime.ts";
import { pyLower } from "../../bot-runtime/src/event/compat/idna.ts";
import { pyIntOrThrow } from "../../bot-runtime/src/event/compat/pynumber.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { addIfValid, DEAD_LETTER_CONTEXT_SO_FAR, item } from "../../bot-runtime/src/sdk/parsing.ts";
import { type CommentedLine, linesWithComments } from "../../bot-runtime/src/sdk/records.ts";

type Fields = Readonly<Record<string, string>>;

const brute = (identifier: string, application = identifier): Fields => ({
  "classification.type": "brute-force",
  "classification.identifier": identifier,
  "protocol.application": application,
});
const iot = (text: string): Fields => ({
  "classification.type": "system-compromise",
  "classification.identifier": "iot",
  "event_description.text": text,
});

/** Bot names whose fields do not depend on the rest of the line. */
const STATIC: Readonly<Record<string, Fields>> = {
  openrelay: {
    "classification.type": "vulnerable-system",
    "classification.identifier": "openrelay",
    "protocol.application": "smtp",
  },
  sshauth: brute("ssh"),
  telnetauth: brute("telnet"),
  smtpauth: brute("smtp"),
  pop: brute("pop"),
  imap: brute("imap"),
  wpscanner: {
    "classification.type": "scanner",
    "classification.identifier": "wordpress-vulnerabilities",
    "event_description.text": "scanning for wordpress vulnerabilities",
    "protocol.application": "http",
  },
  w_wplogin: {
    "classification.type": "scanner",
    "classification.identifier": "wordpress-login",
    "event_description.text": "scanning for wordpress login pages",
    "protocol.application": "http",
  },
  proxyget: {
    "classification.type": "other",
    "classification.identifier": "proxyget",
    "event_description.text": "The malicious client used a honeypot as proxy.",
  },
  iotlogin: iot("The infected iot device logged in to a honeypot."),
  iotcmd: iot("The infected iot device logged in to a honeypot and issued malicious commands."),
  iotmirai: {
    "classification.type": "infected-system",
    "classification.identifier": "mirai",
    "malware.name": "mirai",
  },
  ioturl: { "classification.type": "c2-server", "classification.identifier": "malware-generic" },
  automatedtest: {
    "classification.type": "brute-force",
    "classification.identifier": "lookup-captcha",
    "event_description.text": "The device automatically brute-forced the Spamhaus CBL lookup.",
  },
  authspoofbadehlo: {
    "classification.type": "brute-force",
    "classification.identifier": "authentication-spoof",
    "protocol.application": "smtp",
    "event_description.text": "The device spoofed SMTP authentication with a bad EHLO.",
  },
};

/** Adds the bot-specific fields; returns the bot name as the rest of the line sees it. */
function classify(event: Event, bot: string, f: readonly string[]): string {
  const fixed = STATIC[bot];
  if (fixed !== undefined) {
    for (const [key, value] of Object.entries(fixed)) event.add(key, value);
    return bot;
  }
  const add = (fields: Fields) => {
    for (const [key, value] of Object.entries(fields)) event.add(key, value);
  };
  switch (bot) {
    case "iotscan":
    case "iotuser":
      add({
        "classification.type": "scanner",
        "event_description.text":
          "The possibly infected IoT device scanned for other vulnerable IoT devices.",
      });
      if (item(f, 7) === "23" || item(f, 7) === "2323") {
        add({ "protocol.application": "telnet", "classification.identifier": "telnet" });
      } else event.add("classification.identifier", "scanner-generic");
      return bot;
    case "l_spamlink": {
      add({
        "classification.type": "spam",
        "classification.identifier": "spamlink",
        "event_description.text": "The URL appeared in a spam email sent by extra.spam_ip.",
      });
      const parts = item(f, 8).split(":");
      if (parts.length !== 3) throw new Error(`expected ip:version:name in ${JSON.stringify(item(f, 8))}`);
      const [ip, version, name] = parts as [string, string, string];
      add({ "malware.name": name, "malware.version": version, "source.url": item(f, 6) });
      event.add("extra.spam_ip", ip);
      return bot;
    }
    case "smb":
    case "rdp":
    case "iotrdp":
    case "iotmicrosoftds": {
      const service = bot.startsWith("iot") ? bot.slice(3) : bot;
      add({
        "classification.type": "scanner",
        "classification.identifier": service,
        "protocol.application": service,
      });
      return service;
    }
    case "extortion":
      add({ "classification.type": "spam", "classification.identifier": "extortion" });
      if (item(f, 7) === "25") event.add("protocol.application", "smtp");
      event.add("event_description.text", "This device sent extortion mails.");
      return bot;
    case "misc":
      // The exact malware is not known, only that the device sends spam as part of a botnet.
      add({ "classification.type": "spam", "classification.identifier": "spam" });
      if (item(f, 7) === "25") event.add("protocol.application", "smtp");
      add({
        "event_description.text":
          "This device is sending spam as part of a botnet. See abuseat.org for more details.",
        "event_description.url": "https://www.abuseat.org/lookup.cgi",
      });
      event.add("feed.documentation", "https://www.abuseat.org/lookup.cgi", { overwrite: false });
      return bot;
    default: {
      const name = bot === "auto" ? "s_other" : bot;
      event.add("malware.name", name);
      event.add("classification.type", "infected-system");
      addIfValid(event, "source.url", item(f, 5));
      return name;
    }
  }
}

export default defineParser({
  id: "parsers.spamhaus.cert",
  intelmqModules: ["intelmq.bots.parsers.spamhaus.parser_cert"],
  kind: "parser",
  description:
    "Parses the Spamhaus CERT feed (infected and attacking hosts seen by Spamhaus): the bot name sets the classification; the access key is removed from feed.url.",
  parameters: z.object({}),
  deviations: [DEAD_LETTER_CONTEXT_SO_FAR],
  create: () => ({
    records: (report) => linesWithComments(report, (line) => line.startsWith(";")),
    parse(record, newEvent) {
      const { value, comment } = record as CommentedLine;
      if (comment) return undefined;
      const f = value.split(",").map(pyStrip);
      const event = newEvent();
      const url = event.get("feed.url");
      if (typeof url !== "string") throw new Error("the report has no feed.url");
      event.change("feed.url", url.split("key=")[0]);
      event.add("source.ip", item(f, 0));
      const asn = item(f, 1).replaceAll("AS", "");
      if (asn !== "?") event.add("source.asn", asn);
      event.add("source.geolocation.cc", item(f, 2));
      event.add("time.source", convertDateTime(Number(pyIntOrThrow(item(f, 3))), "timestamp"));
      const bot = classify(event, pyLower(item(f, 4)), f);
      // Spamhaus: for iotscan, and where the field holds an address or port, the domain is not one.
      if (!(bot === "iotscan" || item(f, 5).includes(":"))) {
        addIfValid(event, "destination.fqdn", item(f, 5));
      }
      addIfValid(event, "destination.ip", item(f, 6));
      addIfValid(event, "destination.port", item(f, 7));
      const localPort = item(f, 8);
      if (localPort !== "" && localPort !== "-" && localPort !== "?" && bot !== "l_spamlink") {
        event.add("extra.source.local_port", Number(pyIntOrThrow(localPort)));
      }
      addIfValid(event, "protocol.transport", item(f, 9));
      return event;
    },
  }),
});
