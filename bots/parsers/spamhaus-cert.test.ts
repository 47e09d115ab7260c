// The Spamhaus CERT parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import spamhausCert from "./spamhaus-cert.ts";

const MODULE = "intelmq.bots.parsers.spamhaus.parser_cert";
const FEED_URL = "https://portal.spamhaus.org/cert/api.php?cert=example&key=SECRET123";

const HEADER = [
  "; Infected hosts seen in the last hour, for CERT Example, generated 2024-05-01 10:00 UTC",
  "; (c) Example sample data written for Petrel's tests",
  ";",
  "; ip, asn, country, lastseen, botname, domain, remote_ip, remote_port, local_port, protocol",
];

const LINES = [
  "192.0.2.1,AS64500,DE,1714550400,conficker,,198.51.100.1,80,1027,tcp",
  "192.0.2.2, AS64500 , de ,1714550401,openrelay,,,25,,tcp",
  "192.0.2.3,AS64501,AT,1714550402,sshauth,,203.0.113.5,22,40000,tcp",
  "192.0.2.4,?,AT,1714550403,telnetauth,,203.0.113.5,23,-,tcp",
  "192.0.2.5,AS64502,FR,1714550404,smtpauth,,203.0.113.6,587,?,tcp",
  "192.0.2.6,AS64502,FR,1714550405,iotscan,c2.example.com,203.0.113.7,2323,1234,tcp",
  "192.0.2.7,AS64502,FR,1714550406,iotuser,c2.example.com,203.0.113.7,80,1234,tcp",
  "192.0.2.8,AS64503,NL,1714550407,wpscanner,victim.example.org,203.0.113.8,80,5555,tcp",
  "192.0.2.9,AS64503,NL,1714550408,w_wplogin,victim.example.org,203.0.113.8,443,5556,tcp",
  "192.0.2.10,AS64503,NL,1714550409,l_spamlink,spam.example.net,http://spam.example.net/buy,25,198.51.100.9:2.1:spambot,tcp",
  "192.0.2.11,AS64504,BE,1714550410,pop,,203.0.113.9,110,1111,tcp",
  "192.0.2.12,AS64504,BE,1714550411,IMAP,,203.0.113.9,143,1112,tcp",
  "192.0.2.13,AS64504,BE,1714550412,smb,,203.0.113.10,445,1113,tcp",
  "192.0.2.14,AS64504,BE,1714550413,iotrdp,,203.0.113.10,3389,1114,tcp",
  "192.0.2.15,AS64504,BE,1714550414,iotmicrosoftds,,203.0.113.10,445,1115,tcp",
  "192.0.2.16,AS64505,PL,1714550415,proxyget,,203.0.113.11,8080,1116,tcp",
  "192.0.2.17,AS64505,PL,1714550416,iotlogin,,203.0.113.11,23,1117,tcp",
  "192.0.2.18,AS64505,PL,1714550417,iotcmd,,203.0.113.11,23,1118,tcp",
  "192.0.2.19,AS64505,PL,1714550418,iotmirai,,203.0.113.11,23,1119,tcp",
  "192.0.2.20,AS64505,PL,1714550419,ioturl,evil.example.com,203.0.113.12,80,1120,tcp",
  "192.0.2.21,AS64506,CZ,1714550420,automatedtest,,203.0.113.13,80,1121,tcp",
  "192.0.2.22,AS64506,CZ,1714550421,authspoofbadehlo,,203.0.113.13,25,1122,tcp",
  "192.0.2.23,AS64506,CZ,1714550422,extortion,,203.0.113.13,25,1123,tcp",
  "192.0.2.24,AS64506,CZ,1714550423,extortion,,203.0.113.13,587,1124,tcp",
  "192.0.2.25,AS64507,IT,1714550424,misc,,203.0.113.14,25,1125,tcp",
  "192.0.2.26,AS64507,IT,1714550425,auto,http://c2.example.com/gate.php,203.0.113.15,80,1126,udp",
  "2001:db8::27,AS64507,IT,1714550426,gozi,c2.example.com:8080,2001:db8::ff,8080,1127,TCP",
  "192.0.2.28,AS64507,IT,1714550427,Necurs,sinkhole.example.org,203.0.113.16,99999,1128,notaproto",
  "192.0.2.29,AS64507,IT,1714550428,necurs,,,,,",
  "192.0.2.30,AS64507,IT,not-a-time,necurs,,,,,",
  "192.0.2.31,AS64507,IT,1714550430,necurs,,,",
  "192.0.2.300,AS64507,IT,1714550431,necurs,,,,,",
  "192.0.2.32,AS64507,IT,1714550432,l_spamlink,,http://spam.example.net/,25,no-colons,tcp",
  "192.0.2.33,AS64507,IT,1714550433,necurs,,,,12ab,tcp",
  "192.0.2.34,AS64507,XYZ,1714550434,necurs,,,,,",
  "192.0.2.35,AS64507,IT,1714550435,Bad Name ü,,,,,",
];
const BAD = [29, 30, 31, 32, 33, 34, 35].map((i) => LINES[i] as string);

const TRAILING_BAD = "192.0.2.300,AS64507,IT,1714550431,necurs,,,,,";
const body = [...HEADER, ...LINES.slice(0, 20), "", "; a comment in the middle", ...LINES.slice(20), ""].join(
  "\r\n",
);

describe("parsers.spamhaus.cert against IntelMQ", () => {
  const report = (raw: string, url = FEED_URL) => testReport(raw, { "feed.url": url });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      { params: {}, report: report(body) },
      { params: {}, report: report(LINES.slice(0, 3).join("\n"), "https://portal.example.org/cert.txt") },
      { params: {}, report: report(`${TRAILING_BAD}\n; trailing comment`) },
    ]);
  });

  it("gives IntelMQ's events for every bot name", async () => {
    const [petrel] = await petrelParse(spamhausCert, {}, [report(body)]);
    expect(petrel?.events).toEqual(intelmq[0]?.events);
    expect(petrel?.events).toHaveLength(LINES.length - BAD.length);
    expect(petrel?.events[0]?.["feed.url"]).toBe("https://portal.spamhaus.org/cert/api.php?cert=example&");
  });

  it("dead-letters the bad lines with the header, as IntelMQ does", async () => {
    const [petrel] = await petrelParse(spamhausCert, {}, [report(body)]);
    const header = [...HEADER, "; a comment in the middle"].join("\n");
    expect(petrel?.errors).toEqual(BAD.map((line) => `${header}\n${line}`));
    expect(petrel?.errors).toEqual(intelmq[0]?.errors);
  });

  it("parses a report without header or key", async () => {
    const [petrel] = await petrelParse(spamhausCert, {}, [
      report(LINES.slice(0, 3).join("\n"), "https://portal.example.org/cert.txt"),
    ]);
    expect(petrel).toEqual(intelmq[1]);
  });

  it(`${declaredDeviation(spamhausCert, "dead-letter-context-so-far")}: a dead letter has the comments before the line`, async () => {
    const [petrel] = await petrelParse(spamhausCert, {}, [report(`${TRAILING_BAD}\n; trailing comment`)]);
    expect(petrel?.errors).toEqual([TRAILING_BAD]);
    expect(intelmq[2]?.errors).toEqual([`; trailing comment\n${TRAILING_BAD}`]);
  });
});
