// Parser throughput: each parser on one large synthetic report, parsed into events held in memory (the
// runtime's parserProcessor with a sink that keeps the events; no broker). Prints a Markdown table for
// docs/benchmarks.md. Run: node_modules/.bin/node bots/parsers/throughput.bench.ts [records] [repetitions]
import { pino } from "pino";
import { CSV_PARSER_PARAMETERS, csvLine } from "../../bench/runtime/data.ts";
import { type Message, Report } from "../../bot-runtime/src/event/message.ts";
import { DISCARD_METRICS, type ParserModule } from "../../bot-runtime/src/sdk/bot.ts";
import { type ParserCommon, parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { parserProcessor } from "../../bot-runtime/src/sdk/processor.ts";
import feodotracker from "./abusech-feodotracker.ts";
import alienvaultOtx from "./alienvault-otx.ts";
import alienvaultReputation from "./alienvault-reputation.ts";
import blocklistde from "./blocklistde.ts";
import cymruCap from "./cymru-cap.ts";
import cymruFullBogons from "./cymru-full-bogons.ts";
import genericCsv from "./generic-csv.ts";
import htmlTable from "./html-table.ts";
import jsonParser from "./json.ts";
import keyValue from "./key-value.ts";
import misp from "./misp.ts";
import openphish from "./openphish.ts";
import openphishCommercial from "./openphish-commercial.ts";
import phishtank from "./phishtank.ts";
import spamhausCert from "./spamhaus-cert.ts";
import spamhausDrop from "./spamhaus-drop.ts";

const records = Number(process.argv[2] ?? 100_000);
const repetitions = Number(process.argv[3] ?? 3);

const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const net = (i: number) => `${10 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}.0/24`;
const lines = (n: number, line: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => line(i)).join("\n");
const stamp = (i: number) => `2024-05-01 09:${String(i % 60).padStart(2, "0")}:00`;

interface Workload {
  module: ParserModule;
  params: Record<string, unknown>;
  feedUrl: string;
  /** The report's text for n records. */
  text: (n: number) => string;
  what: string;
}

const WORKLOADS: Workload[] = [
  {
    module: genericCsv,
    params: CSV_PARSER_PARAMETERS,
    feedUrl: "https://feed.example.com/c2.csv",
    text: (n) => lines(n, csvLine),
    what: "8-column CSV lines (the runtime benchmarks' feed)",
  },
  {
    module: blocklistde,
    params: {},
    feedUrl: "https://lists.blocklist.de/lists/ssh.txt",
    text: (n) => lines(n, ip),
    what: "one address per line",
  },
  {
    module: feodotracker,
    params: {},
    feedUrl: "https://feodotracker.abuse.ch/downloads/ipblocklist.json",
    text: (n) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          ip_address: ip(i),
          port: 443,
          status: "online",
          hostname: null,
          as_number: 64500,
          as_name: "EXAMPLE-AS",
          country: "DE",
          first_seen: stamp(i),
          last_online: "2024-05-01",
          malware: "QakBot",
        })),
      ),
    what: "JSON list of C2 entries",
  },
  {
    module: openphish,
    params: {},
    feedUrl: "https://openphish.com/feed.txt",
    text: (n) => lines(n, (i) => `https://login-${i}.example.com/verify/${i}`),
    what: "one URL per line",
  },
  {
    module: openphishCommercial,
    params: {},
    feedUrl: "https://openphish.com/prvt-intell/",
    text: (n) =>
      lines(n, (i) =>
        JSON.stringify({
          url: `https://login-${i}.example.com/verify`,
          host: `login-${i}.example.com`,
          ip: ip(i),
          asn: "AS64500",
          asn_name: "EXAMPLE-NET",
          country_code: "US",
          isotime: "2024-05-01T09:58:12Z",
          brand: "PayPal",
          sector: "Finance",
          tld: "com",
        }),
      ),
    what: "JSON lines",
  },
  {
    module: phishtank,
    params: {},
    feedUrl: "https://data.phishtank.com/data/online-valid.json",
    text: (n) =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          phish_id: i,
          url: `https://login-${i}.example.com/signin`,
          phish_detail_url: `http://www.phishtank.com/phish_detail.php?phish_id=${i}`,
          submission_time: "2024-05-01T09:12:55+00:00",
          verified: "yes",
          verification_time: "2024-05-01T09:40:01+00:00",
          online: "yes",
          details: [{ ip_address: ip(i), cidr_block: net(i), announcing_network: "64500", country: "DE" }],
          target: "Example Bank",
        })),
      ),
    what: "JSON list of phishing entries",
  },
  {
    module: spamhausCert,
    params: {},
    feedUrl: "https://portal.spamhaus.org/cert/api.php?cert=example&key=SECRET",
    text: (n) =>
      `; header\n; ip, asn, country, lastseen, botname, domain, remote_ip, remote_port, local_port, protocol\n${lines(
        n,
        (i) => `${ip(i)},AS64500,DE,${1714550400 + i},conficker,,198.51.100.1,80,1027,tcp`,
      )}`,
    what: "comma lines under a comment header",
  },
  {
    module: spamhausDrop,
    params: {},
    feedUrl: "https://www.spamhaus.org/drop/drop.txt",
    text: (n) =>
      `; Spamhaus DROP List\n; Last-Modified: Wed, 01 May 2024 10:00:00 GMT\n${lines(n, (i) => `${net(i)} ; SBL${100000 + i}`)}`,
    what: "network ; SBL id lines",
  },
  {
    module: misp,
    params: {},
    feedUrl: "https://misp.example.org/",
    text: (n) =>
      JSON.stringify({
        id: "42",
        uuid: "5e1b6a3c-1111-4000-8000-000000000042",
        Tag: [{ name: 'ecsirt:malicious-code="c2server"' }],
        Attribute: Array.from({ length: n }, (_, i) => ({
          category: "Network activity",
          comment: "",
          timestamp: String(1714550400 + i),
          type: "ip-dst",
          uuid: `5e1b6a3c-0000-4000-8000-${String(i).padStart(12, "0")}`,
          value: ip(i),
        })),
      }),
    what: "one MISP event, one attribute per record",
  },
  {
    module: alienvaultReputation,
    params: {},
    feedUrl: "https://reputation.alienvault.com/reputation.data",
    text: (n) => lines(n, (i) => `${ip(i)}#4#2#Malicious Host#US#Dallas#32.78,-96.80#3`),
    what: "#-separated lines",
  },
  {
    module: alienvaultOtx,
    params: {},
    feedUrl: "https://otx.alienvault.com",
    text: (n) =>
      JSON.stringify(
        Array.from({ length: Math.ceil(n / 100) }, (_, p) => ({
          id: `pulse-${p}`,
          name: "pulse",
          description: "campaign",
          author_name: "analyst",
          modified: "2024-05-01T10:11:12.345000",
          tags: ["x"],
          indicators: Array.from({ length: 100 }, (_, i) => ({
            indicator: ip(p * 100 + i),
            type: "IPv4",
            created: "2024-05-01T09:00:00.000",
          })),
        })),
      ),
    what: "pulses of 100 indicators",
  },
  {
    module: cymruCap,
    params: {},
    feedUrl: "https://www.cymru.com/cap/example.txt",
    text: (n) =>
      `# generated on 2024-05-01 09:00:00\n${lines(
        n,
        (i) => `bot|${ip(i)}|64500|${stamp(i)}|family: Mirai; dest_addr: 198.51.100.1|EXAMPLE-AS Example, DE`,
      )}`,
    what: "pipe-separated lines (current format)",
  },
  {
    module: cymruFullBogons,
    params: {},
    feedUrl: "https://www.team-cymru.org/Services/Bogons/fullbogons-ipv4.txt",
    text: (n) => `# last updated 1714550400 (Wed May  1 08:00:00 2024 GMT)\n${lines(n, net)}`,
    what: "one network per line",
  },
  {
    module: jsonParser,
    params: { splitlines: true },
    feedUrl: "https://feed.example.com/events.json",
    text: (n) =>
      lines(n, (i) =>
        JSON.stringify({
          "source.ip": ip(i),
          "classification.type": "scanner",
          "time.source": "2024-05-01T08:00:00+00:00",
        }),
      ),
    what: "IntelMQ JSON, one event per line",
  },
  {
    module: keyValue,
    params: {
      keys: { src: "source.ip", dpt: "destination.port", proto: "protocol.transport", ts: "time.source" },
    },
    feedUrl: "https://logs.example.com/fw.log",
    text: (n) => lines(n, (i) => `ts=${1714550400 + i} src=${ip(i)} dpt=443 proto=tcp action=block`),
    what: "key=value lines",
  },
  {
    module: htmlTable,
    params: { columns: ["time.source", "source.url", "source.ip", "malware.name"] },
    feedUrl: "https://tracker.example.com/",
    text: (n) =>
      `<html><body><table><tr><th>Date</th><th>URL</th><th>IP</th><th>Type</th></tr>\n${lines(
        n,
        (i) =>
          `<tr><td>${stamp(i)}</td><td><a href="http://c2-${i}.example.com/">c2-${i}.example.com/panel/</a></td><td>${ip(i)}</td><td>Pony</td></tr>`,
      )}</table></body></html>`,
    what: "HTML table rows",
  },
];

async function measure(workload: Workload): Promise<{ events: number; seconds: number; bytes: number }> {
  const params = parameterSchema(workload.module).parse(workload.params) as ParserCommon;
  const context = {
    botId: "bench",
    pipeline: "bench",
    log: pino({ level: "silent" }),
    signal: new AbortController().signal,
    state: () => Promise.reject(new Error("no state")),
    metrics: DISCARD_METRICS,
  };
  const processor = parserProcessor(await workload.module.create(params as never, context), params);
  const text = workload.text(records);
  const report = Report.create();
  report.add("feed.name", "Benchmark feed");
  report.add("feed.url", workload.feedUrl);
  report.add("raw", text);
  const serialized = report.serialize();
  let best = Number.POSITIVE_INFINITY;
  let events = 0;
  for (let r = 0; r < repetitions; r++) {
    const kept: Message[] = [];
    const input = new Report(JSON.parse(serialized) as Record<string, unknown>);
    const start = process.hrtime.bigint();
    const outcome = await processor.process(input, {
      inputId: "bench",
      emit: (_path, message) => {
        kept.push(message);
        return undefined;
      },
      reject: () => undefined,
    });
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (outcome.rejected > 0) throw new Error(`${workload.module.id}: ${outcome.rejected} records rejected`);
    events = kept.length;
    best = Math.min(best, seconds);
  }
  return { events, seconds: best, bytes: Buffer.byteLength(text) };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const out = [
  `| parser | report (${fmt(records)} records) | size | events | events/s |`,
  "|---|---|---:|---:|---:|",
];
for (const workload of WORKLOADS) {
  const { events, seconds, bytes } = await measure(workload);
  const line = `| \`${workload.module.id}\` | ${workload.what} | ${(bytes / 2 ** 20).toFixed(1)} MiB | ${fmt(events)} | ${fmt(events / seconds)} |`;
  console.error(line);
  out.push(line);
}
console.log(out.join("\n"));
