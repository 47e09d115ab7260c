// The blocklist.de parser against IntelMQ's own: the list's file name picks the classification.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import blocklistde from "./blocklistde.ts";

const MODULE = "intelmq.bots.parsers.blocklistde.parser";

const LIST = [
  "192.0.2.1",
  "  198.51.100.23  ",
  "",
  "203.0.113.77\t",
  "2001:db8::5",
  "2001:DB8:0:0:0:0:0:6",
  "not-an-ip",
  "# not a comment for this feed",
  "192.0.2.300",
  "",
].join("\n");

const URLS = [
  "https://lists.blocklist.de/lists/ssh.txt",
  "https://lists.blocklist.de/lists/mail.txt",
  "https://lists.blocklist.de/lists/apache.txt",
  "https://lists.blocklist.de/lists/imap.txt",
  "https://lists.blocklist.de/lists/ftp.txt",
  "https://lists.blocklist.de/lists/sip.txt",
  "https://lists.blocklist.de/lists/bots.txt",
  "https://lists.blocklist.de/lists/strongips.txt",
  "https://lists.blocklist.de/lists/ircbot.txt",
  "https://lists.blocklist.de/lists/bruteforcelogin.txt",
  "https://lists.blocklist.de/lists/all.txt",
  "https://lists.blocklist.de/lists/unknown.txt",
  "https://lists.blocklist.de/lists/ssh.txt?download=1",
  "https://lists.blocklist.de/lists/ssh.txt;type=a",
  "file://localhost/var/lib/feeds/ssh.txt",
  "file://localhost/var/lib/feeds/blocklistde-ssh.txt",
];

const demoFile = new URL("../../examples/feeds/blocklistde/ssh.txt", import.meta.url);
const demoReport = () =>
  testReport(readFileSync(demoFile, "utf8"), { "feed.url": `file://localhost${demoFile.pathname}` });

describe("parsers.blocklistde against IntelMQ", () => {
  const cases = URLS.map((url) => ({ params: {}, report: testReport(LIST, { "feed.url": url }) }));
  cases.push({ params: {}, report: testReport("192.0.2.1\r\n192.0.2.2\r\n") });
  // One IntelMQ process: every list, then the demo's sample.
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [...cases, { params: {}, report: demoReport() }]);
  });

  it("gives IntelMQ's events and rejects for every list", async () => {
    for (const [i, c] of cases.entries()) {
      const [petrel] = await petrelParse(blocklistde, c.params, [c.report]);
      const name = String(c.report.get("feed.url") ?? "no feed.url");
      expect(petrel, name).toEqual(intelmq[i]);
    }
    // The samples exercise both outcomes.
    expect(intelmq[0]?.events).toHaveLength(5);
    expect(intelmq[0]?.errors).toEqual(["not-an-ip", "# not a comment for this feed", "192.0.2.300"]);
    expect(intelmq[0]?.events[0]?.["protocol.application"]).toBe("ssh");
    expect(intelmq[cases.length - 1]?.errors).toHaveLength(2);
  });

  it("parses the demo's sample list like IntelMQ", async () => {
    const [petrel] = await petrelParse(blocklistde, {}, [demoReport()]);
    expect(petrel).toEqual(intelmq[cases.length]);
    expect(petrel?.errors).toEqual([]);
    expect(new Set(petrel?.events.map((e) => e["protocol.application"]))).toEqual(new Set(["ssh"]));
  });
});
