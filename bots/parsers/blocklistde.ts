// blocklist.de lists: one IP address per line; the list's file name (the last path segment of feed.url)
// decides the classification, as in IntelMQ's blocklist.de parser.
import { z } from "zod";
import { urlparsePath, urlsplit } from "../../bot-runtime/src/event/compat/urlsplit.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { lines } from "../../bot-runtime/src/sdk/records.ts";

const attacks = (service: string) => `IP reported as having run attacks on the service ${service}`;

/** Fields per list file; other file names are classified as blacklist. */
const MAPPING: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  "all.txt": { "classification.type": "blacklist" },
  "ssh.txt": {
    "classification.type": "ids-alert",
    "protocol.application": "ssh",
    "event_description.text": attacks("SSH"),
  },
  "mail.txt": {
    "classification.type": "ids-alert",
    "protocol.application": "smtp",
    "event_description.text": attacks("Mail, Postfix"),
  },
  "apache.txt": {
    "classification.type": "ids-alert",
    "protocol.application": "http",
    "event_description.text": attacks("Apache, Apache-DDoS, RFI-Attacks"),
  },
  "imap.txt": {
    "classification.type": "ids-alert",
    "protocol.application": "imap",
    "event_description.text": attacks("IMAP, SASL, POP3"),
  },
  "ftp.txt": {
    "classification.type": "ids-alert",
    "protocol.application": "ftp",
    "event_description.text": attacks("FTP"),
  },
  "sip.txt": {
    "classification.type": "ids-alert",
    "protocol.application": "sip",
    "event_description.text": attacks("SIP, VOIP, Asterisk"),
  },
  "bots.txt": {
    "classification.type": "spam",
    "event_description.text":
      "IP reported as having spammed on IRC, open forums, wikis or registration forms.",
  },
  "strongips.txt": {
    "classification.type": "blacklist",
    "event_description.text": "IP reported as having run attacks in last 2 months",
  },
  "ircbot.txt": { "classification.type": "infected-system", "protocol.application": "irc" },
  "bruteforcelogin.txt": {
    "classification.type": "brute-force",
    "event_description.text":
      "IP reported as having run attacks on Joomlas, Wordpress and other Web-Logins with Brute-Force Logins",
  },
};

/** posixpath.basename(urlparse(url).path). */
function listFileName(url: string): string {
  const { scheme, path } = urlsplit(url);
  const p = urlparsePath(scheme, path);
  return p.slice(p.lastIndexOf("/") + 1);
}

export default defineParser({
  id: "parsers.blocklistde",
  intelmqModules: ["intelmq.bots.parsers.blocklistde.parser"],
  kind: "parser",
  description:
    "Parses the blocklist.de IP lists; the list's file name in feed.url (ssh.txt, mail.txt, …) sets the classification.",
  parameters: z.object({}),
  create: () => ({
    records: (report) => lines(report),
    parse(record, newEvent, report) {
      const url = report.get("feed.url");
      if (typeof url !== "string") throw new Error("the report has no feed.url to tell which list it is");
      const event = newEvent();
      event.add("source.ip", record.value);
      const fields = MAPPING[listFileName(url)];
      if (fields === undefined) event.add("classification.type", "blacklist");
      else for (const [key, value] of Object.entries(fields)) event.add(key, value);
      return event;
    },
  }),
});
