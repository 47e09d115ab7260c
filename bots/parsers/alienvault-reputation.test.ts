// The AlienVault reputation list parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import alienvault from "./alienvault-reputation.ts";

const MODULE = "intelmq.bots.parsers.alienvault.parser";

const LINES = [
  "192.0.2.1#4#2#Malicious Host#US#Dallas#32.7831,-96.8067#3",
  "192.0.2.2#3#2#Scanning Host;Spamming#DE#Berlin#52.52,13.405#11",
  "  192.0.2.3#2#3#C&C;C2Server;Malware IP#FR##48.85,2.35#5  ",
  "198.51.100.4#2#2#;Spamming#NL#Amsterdam#52.37,4.89#3",
  "198.51.100.5#2#2#Malware Domain; Malware distribution #GB#Lóndon#51.5,-0.12#3",
  "2001:db8::6#2#2#Spamming###1e1, -2.5#3",
  "198.51.100.7#2#2#Spamming#US#Nowhere##3",
  "198.51.100.8#2#2#Spamming#US#Nowhere#1.0,2.0,3.0#3",
  "198.51.100.9#2#2#Spamming#US",
  "# a comment",
  "",
  "not-an-ip#2#2#Spamming#US#Nowhere#1,2#3",
  "198.51.100.10#2#2#Spamming#USA#Nowhere#1,2#3",
  "198.51.100.11#2#2#Spamming#US#Nowhere#north,east#3",
  "198.51.100.12#1#1#unknown activity#BR#São Paulo#-23.55,-46.63",
];

describe("parsers.alienvault.reputation against IntelMQ", () => {
  const report = (raw: string) =>
    testReport(raw, { "feed.url": "https://reputation.alienvault.com/reputation.data" });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [{ params: {}, report: report(LINES.join("\n")) }]);
  });

  it("gives IntelMQ's events and fails the same lines", async () => {
    const [petrel] = await petrelParse(alienvault, {}, [report(LINES.join("\n"))]);
    expect(petrel).toEqual(intelmq[0]);
    expect(petrel?.events).toHaveLength(11);
    expect(petrel?.errors).toHaveLength(7);
  });
});
