// Event model benchmark: parse + strict validation + serialise of a 22-field, ~1.2 KB event,
// against a plain JSON.parse + JSON.stringify of the same text measured in the same run.
import { parseMessage } from "../bot-runtime/src/event/message.ts";
import type { BenchResult } from "./harness.ts";
import { measure } from "./harness.ts";

const raw = Buffer.from(
  "2021-05-05 09:00:00,192.0.2.1,443,64496,Example AS Name,DE,host-192-0-2-1.example.net,c2-server,zeus," +
    "https://feeds.example.org/c2/ipblocklist.csv,first seen 2021-05-01,last online 2021-05-05,reported by sensor 17," +
    "additional context for the indicator that makes the raw line as long as typical feed lines are in practice\n",
).toString("base64");

export const SAMPLE_EVENT = JSON.stringify({
  __type: "Event",
  "feed.name": "Feodo Tracker IP Blocklist",
  "feed.provider": "abuse.ch",
  "feed.accuracy": 100,
  "feed.url": "https://feodotracker.abuse.ch/downloads/ipblocklist.json",
  "feed.documentation": "https://feodotracker.abuse.ch/blocklist/",
  "time.observation": "2021-05-05T10:00:00+00:00",
  "time.source": "2021-05-05T09:00:00+00:00",
  "source.ip": "192.0.2.1",
  "source.port": 443,
  "source.asn": 64496,
  "source.as_name": "Example AS Name",
  "source.geolocation.cc": "DE",
  "source.reverse_dns": "host-192-0-2-1.example.net",
  "classification.type": "c2-server",
  "classification.taxonomy": "malicious-code",
  "classification.identifier": "zeus",
  "malware.name": "zeus",
  status: "online",
  "extra.first_seen": "2021-05-01 00:00:00",
  "extra.last_online": "2021-05-05",
  "extra.sensor": 17,
  raw,
});

export function benchEventModel(seconds: number): BenchResult[] {
  const text = SAMPLE_EVENT;
  const baseline = measure("JSON.parse + JSON.stringify (baseline)", seconds, () => {
    JSON.stringify(JSON.parse(text));
  });
  const petrel = measure("Event parse + strict validate + serialise", seconds, () => {
    parseMessage(text).serialize();
  });
  const sanitize = measure("Event parse + sanitize every field + serialise", seconds, () => {
    parseMessage(text, { mode: "sanitize" }).serialize();
  });
  const hash = measure(
    "Event hash (IntelMQ SHA-256 over repr)",
    seconds,
    (() => {
      const event = parseMessage(text);
      return () => {
        event.hash();
      };
    })(),
  );
  return [baseline, petrel, sanitize, hash].map((r) => ({ ...r, baseline: baseline.nsPerOp }));
}
