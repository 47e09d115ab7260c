// AlienVault IP reputation list: "ip#reliability#risk#activity[;activity…]#cc#city#lat,long#…" per line,
// one event per activity, as IntelMQ's AlienVault parser reads it.
import { z } from "zod";
import { pyLower } from "../../bot-runtime/src/event/compat/idna.ts";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineParser } from "../../bot-runtime/src/sdk/bot.ts";
import { item } from "../../bot-runtime/src/sdk/parsing.ts";
import { lines } from "../../bot-runtime/src/sdk/records.ts";

/** AlienVault activity (lower case) → classification.type; others are undetermined. */
const CLASSIFICATION: Readonly<Record<string, string>> = {
  c2server: "c2-server",
  "scanning host": "scanner",
  "malicious host": "infected-system",
  spamming: "spam",
  "malware domain": "malware-distribution",
  "malware ip": "malware-distribution",
  "malware distribution": "malware-distribution",
};

export default defineParser({
  id: "parsers.alienvault.reputation",
  intelmqModules: ["intelmq.bots.parsers.alienvault.parser"],
  kind: "parser",
  description:
    "Parses the AlienVault IP reputation list into one event per listed activity, with the host's country, city and coordinates.",
  parameters: z.object({}),
  create: () => ({
    records: (report) => lines(report),
    parse(record, newEvent) {
      const row = record.value as string;
      const values = row.split("#");
      const activity = item(values, 3);
      const activities = pyStrip(activity).indexOf(";") > 0 ? activity.split(";") : [activity];
      // A line without "lat,long" fails, as in IntelMQ (its coordinates are never assigned).
      const geo = pyStrip(item(values, 6));
      const coordinates = geo.length > 0 ? geo.split(",") : [];
      if (coordinates.length !== 2) throw new Error(`no coordinates (lat,long) in ${JSON.stringify(geo)}`);
      const [latitude, longitude] = coordinates as [string, string];
      return activities.map((name): Event => {
        const event = newEvent();
        event.add("classification.type", CLASSIFICATION[pyLower(name)] ?? "undetermined");
        event.add("source.ip", pyStrip(item(values, 0)));
        event.add("source.geolocation.cc", pyStrip(item(values, 4)));
        event.add("source.geolocation.city", pyStrip(item(values, 5)));
        event.add("source.geolocation.latitude", pyStrip(latitude));
        event.add("source.geolocation.longitude", pyStrip(longitude));
        event.add("raw", row);
        return event;
      });
    },
  }),
});
