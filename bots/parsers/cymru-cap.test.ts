// The Team Cymru CAP parser against IntelMQ's own: both formats, every category and note.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import cap from "./cymru-cap.ts";

const MODULE = "intelmq.bots.parsers.cymru.parser_cap_program";

const T = "2024-05-01 09:00:00";
const AS = "EXAMPLE-AS Example Networks, DE";

const CURRENT = [
  "# CAP report for an example CSIRT, written for Petrel's tests",
  `# generated on ${T}`,
  "#",
  `bot|192.0.2.1|64500|${T}|family: Mirai; dest_addr: 198.51.100.1; dest_port: 23,2323 (total_count:2)|${AS}`,
  `bot|192.0.2.2|64500|${T}|srcport 1234 mwtype Conficker destaddr 198.51.100.2 Avalanche Botnet|${AS}`,
  `bot|192.0.2.3|0|${T}|family: Gozi;protocol: 6;port: 4444;hostname: c2.example.com|EXAMPLE, Inc., Example Networks, US`,
  `bruteforce|192.0.2.4|64501|${T}|ssh;|${AS}`,
  `bruteforce|192.0.2.5|64501|${T}|protocol: 6; dest_port: 22; username: root|${AS}`,
  `controller|192.0.2.6|64502|${T}|family: Emotet; port: 8080; additional_asns: 64503,64504|${AS}`,
  `darknet|192.0.2.7|64502|${T}|protocol: 17; darknet_port: 53|${AS}`,
  `darknet|2001:db8::8|64502|${T}|protocol: 58|${AS}`,
  `darknet|192.0.2.9|64502|${T}|protocol: 200|${AS}`,
  `phishing|192.0.2.10|64503|${T}|http://phish.example.com/login|${AS}`,
  `phishing|192.0.2.11|64503|${T}|url: http://phish.example.com/x|${AS}`,
  `proxy|192.0.2.12|64503|${T}|httpconnect-8080|${AS}`,
  `proxy|192.0.2.13|64503|${T}|socks4|${AS}`,
  `honeypot|192.0.2.14|64504|${T}|honeypot_port: 445; protocol: 6|${AS}`,
  `openresolvers|192.0.2.15|64504|${T}||${AS}`,
  `openresolver|192.0.2.16|64504|${T}|hostname: 192.0.2.16|${AS}`,
  `scanner|192.0.2.17|64504|${T}|ports_scanned: 22,23,80; protocol: 6|${AS}`,
  `scanner|192.0.2.18|64504|${T}|hostname: scan.example.orgport: 80|${AS}`,
  `spam|192.0.2.19|64505|${T}||${AS}`,
  `conficker|192.0.2.20|64505|${T}|destination_port_numbers: 445 (total_count:1)|${AS}`,
  `tor|192.0.2.21|64505|${T}||${AS}`,
  // lines that fail in IntelMQ too
  `unknowncat|192.0.2.22|64505|${T}||${AS}`,
  `bot|192.0.2.23|64505|${T}|nonsense without colon|${AS}`,
  `darknet|192.0.2.24|64505|${T}|protocol: 99|${AS}`,
  `darknet|192.0.2.25|64505|${T}|color: blue|${AS}`,
  `conficker|192.0.2.26|64505|${T}|family: Conficker|${AS}`,
  `bot|192.0.2.27|0|${T}|additional_asns: 1,2|${AS}`,
  `bot|192.0.2.28|64505|${T}|family: x|only four|fields`,
  `scanner|192.0.2.29|64505|${T}|dest_port: 80,abc|${AS}`,
  `proxy|192.0.2.30|64505|${T}|a-b-c|${AS}`,
  `bot|192.0.2.300|64505|${T}|family: x|${AS}`,
  `bot|192.0.2.31|64505|${T}|family: x|EXAMPLE, DEU`,
].join("\n");

const OLD = [
  "# Data file written at 2024-05-01 09:00:00 by an example writer",
  `beagle|198.51.100.1|64510|${T}||OLD-AS`,
  `beagle|198.51.100.2|64510|${T}|GET /|OLD-AS`,
  `blaster|198.51.100.3|64510|${T}||OLD-AS`,
  `slammer|198.51.100.4|0|${T}||OLD-AS`,
  `bots|198.51.100.5|64510|${T}|srcport 1234 mwtype Gozi ISFB destaddr 203.0.113.1 Some Botnet|OLD-AS`,
  `bots|198.51.100.6|64510|${T}|dstaddr 203.0.113.2 srcport abc|OLD-AS`,
  `bruteforce|198.51.100.7|64510|${T}|ftp|OLD-AS`,
  `ddosreport|198.51.100.8|64510|${T}|http 80|OLD-AS`,
  `defacement|198.51.100.9|64510|${T}|http://defaced.example.com/ 12345|OLD-AS`,
  `defacement|198.51.100.10|64510|${T}|http://defaced.example.com/|OLD-AS`,
  `fastflux|198.51.100.11|64510|${T}|flux.example.com|OLD-AS`,
  `fastflux|198.51.100.12|64510|${T}||OLD-AS`,
  `malwareurl|198.51.100.13|64510|${T}|http://malware.example.com/x.exe 42|OLD-AS`,
  `openresolvers|198.51.100.14|64510|${T}||OLD-AS`,
  `phishing|198.51.100.15|64510|${T}|http://phish.example.net/|OLD-AS`,
  `proxy|198.51.100.16|64510|${T}|HTTP CONNECT (8080)|OLD-AS`,
  `routers|198.51.100.17|64510|${T}|cisco|OLD-AS`,
  `routers|198.51.100.18|64510|${T}||OLD-AS`,
  `scanners|198.51.100.19|64510|${T}|22|OLD-AS`,
  `scanners|198.51.100.20|64510|${T}|22,23|OLD-AS`,
  `spam|198.51.100.21|64510|${T}||OLD-AS`,
  `spam|198.51.100.22|64510|${T}|source|OLD-AS`,
  `spreaders|198.51.100.23|64510|${T}|http://spread.example.com/ d41d8cd98f00b204e9800998ecf8427e|OLD-AS`,
  `stormworm|198.51.100.24|64510|${T}|crypto srcport 4321|OLD-AS`,
  `stormworm|198.51.100.25|64510|${T}|confidence:5 legacy|OLD-AS`,
  `toxbot|198.51.100.26|64510|${T}|srcport 5555|OLD-AS`,
  `toxbot|198.51.100.27|64510|${T}|srcport|OLD-AS`,
  `unknown|198.51.100.28|64510|${T}||OLD-AS`,
].join("\r\n");

const NO_HEADER = `bot|192.0.2.1|64500|${T}|family: Mirai|${AS}`;

describe("parsers.cymru.cap against IntelMQ", () => {
  const report = (raw: string) =>
    testReport(raw, { "feed.url": "https://www.cymru.com/$certname/example_20240501.txt" });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      { params: {}, report: report(CURRENT), fresh: true },
      { params: {}, report: report(OLD), fresh: true },
      { params: {}, report: report(NO_HEADER), fresh: true },
      // One bot for two reports: the second has no header of its own.
      { params: {}, report: report(CURRENT) },
      { params: {}, report: report(NO_HEADER) },
      { params: {}, report: report(`${CURRENT}\n# a trailing comment`), fresh: true },
    ]);
  });

  // A dead letter ends with its line; the comments above it differ (dead-letter-context-so-far).
  const lastLines = (o: ParseOutcome | undefined) => ({
    events: o?.events,
    errors: o?.errors.map((e) => e.slice(e.lastIndexOf("\n") + 1)),
  });

  it("gives IntelMQ's events for the current format", async () => {
    const [petrel] = await petrelParse(cap, {}, [report(CURRENT)]);
    expect(lastLines(petrel)).toEqual(lastLines(intelmq[0]));
    expect(petrel?.events).toHaveLength(24);
    expect(petrel?.errors).toHaveLength(11);
  });

  it("gives IntelMQ's events for the old format", async () => {
    const [petrel] = await petrelParse(cap, {}, [report(OLD)]);
    expect(lastLines(petrel)).toEqual(lastLines(intelmq[1]));
    expect(petrel?.events).toHaveLength(18);
    expect(petrel?.errors).toHaveLength(10);
  });

  it("keeps the header above each event's raw, as IntelMQ does", async () => {
    const [petrel] = await petrelParse(cap, {}, [report(CURRENT)]);
    const raw = Buffer.from(String(petrel?.events[0]?.raw), "base64").toString();
    expect(raw).toBe([...CURRENT.split("\n").slice(0, 3), CURRENT.split("\n")[3]].join("\n"));
  });

  it(`${declaredDeviation(cap, "format-per-report")}: a report without header fails, IntelMQ reuses the last format`, async () => {
    const [petrel] = await petrelParse(cap, {}, [report(NO_HEADER)]);
    expect(petrel).toEqual({ events: [], errors: [NO_HEADER] });
    expect(intelmq[2]?.errors).toEqual([NO_HEADER]);
    expect(intelmq[4]?.events).toHaveLength(1);
  });

  it(`${declaredDeviation(cap, "dead-letter-context-so-far")}: a dead letter has the header lines before it`, async () => {
    const [petrel] = await petrelParse(cap, {}, [report(`${CURRENT}\n# a trailing comment`)]);
    const header = CURRENT.split("\n").slice(0, 3).join("\n");
    const line = `unknowncat|192.0.2.22|64505|${T}||${AS}`;
    expect(petrel?.errors).toContain(`${header}\n${line}`);
    expect(intelmq[5]?.errors).toContain(`${header}\n# a trailing comment\n${line}`);
  });
});
