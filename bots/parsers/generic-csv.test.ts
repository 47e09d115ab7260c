// The generic CSV parser against IntelMQ's own, report by report: same events (fields, values, raw),
// same rows rejected.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import genericCsv from "./generic-csv.ts";

const MODULE = "intelmq.bots.parsers.generic.parser_csv";

interface Case {
  name: string;
  params: Record<string, unknown>;
  raw: string;
}

const URLHAUS_COLUMNS = [
  "__IGNORE__",
  "time.source",
  "source.url",
  "status",
  "extra.last_online",
  "classification.type",
  "extra.tags",
  "__IGNORE__",
  "extra.reporter",
];

const URLHAUS = [
  "################################################################",
  "# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #",
  "#                                                              #",
  "################################################################",
  "#",
  "# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter",
  '"3001","2024-05-01 09:58:12","http://192.0.2.10:48012/i","online","2024-05-01 09:58:12","malware_download","32-bit,elf,mips,Mozi","https://urlhaus.abuse.ch/url/3001/","reporter_a"',
  '"3002","2024-05-01 09:41:03","https://malware.example.com/payload.exe","offline","None","malware_download","exe","https://urlhaus.abuse.ch/url/3002/","reporter_b"',
  '"3003","2024-05-01 09:12:55","http://[2001:db8::7]/x.sh","online","2024-05-01 09:12:55","malware_download","","https://urlhaus.abuse.ch/url/3003/","reporter_a"',
  '"3004","not a date","http://198.51.100.4/a","online","","malware_download","sh","https://urlhaus.abuse.ch/url/3004/","reporter_c"',
  "",
].join("\r\n");

const CASES: Case[] = [
  {
    name: "URLhaus recent CSV (quoted fields, comment header, CRLF, a bad date)",
    params: {
      columns: URLHAUS_COLUMNS,
      type_translation: { malware_download: "malware-distribution" },
      default_url_protocol: "http://",
    },
    raw: URLHAUS,
  },
  {
    name: "comma-separated columns string, skip_header, alternatives, LF endings",
    params: {
      columns: "source.ip|source.fqdn, source.port, time.source, __IGNORE__, classification.type",
      skip_header: true,
      type: "scanner",
    },
    raw: [
      "host,port,seen,comment,type",
      "192.0.2.1,22,2024-05-01T08:00:00Z,ssh scan,",
      "example.org,80,2024-05-01 08:05,http,",
      "  2001:db8::1 ,443,1714550700,tls,",
      "# a comment inside the data",
      "\t",
      "not a host!,25,2024-05-01,smtp,",
      "198.51.100.9,-,2024-05-01,,brute-force",
      "",
    ].join("\n"),
  },
  {
    name: "columns_required, regex search, data_type json, compose_fields",
    params: {
      columns: ["source.ip", "extra.data", "source.fqdn", "destination.port"],
      columns_required: [true, false, false, false],
      column_regex_search: { "source.fqdn": "[a-z0-9.-]+\\.example\\.(com|net)" },
      data_type: '{"extra.data": "json"}',
      compose_fields: { "source.url": "http://{2}:{3}/", comment: "{0} seen" },
    },
    raw: [
      '192.0.2.5,"{""a"": [1, 2]}",host: www.example.com,8080',
      "192.0.2.6,,nothing here,81",
      '192.0.2.7,"[1,2",x.example.net,82',
      "192.0.2.8,null,a.example.com,notaport",
    ].join("\n"),
  },
  {
    name: "semicolon delimiter, raw re-written with commas, NULs, mixed line endings",
    params: { columns: "source.ip,extra.x", delimiter: ";" },
    raw: '192.0.2.11;a,b\r\n192.0.2.12\u0000;c\n192.0.2.13;"d;e"\r\n',
  },
  {
    name: "semicolon delimiter with columns as a list",
    params: { columns: ["source.ip", "extra.note"], delimiter: ";" },
    raw: '192.0.2.21;"quoted ""note"""\r192.0.2.22;plain\r',
  },
  {
    name: "whitelist filter",
    params: { columns: ["source.ip", "malware.name"], filter_text: "mozi", filter_type: "whitelist" },
    raw: "192.0.2.31,mozi\n192.0.2.32,mirai\n192.0.2.33,mozi-variant\n",
  },
  {
    name: "blacklist filter",
    params: { columns: ["source.ip", "malware.name"], filter_text: "mozi", filter_type: "blacklist" },
    raw: "192.0.2.31,mozi\n192.0.2.32,mirai\n",
  },
  {
    name: "time formats: timestamp",
    params: { columns: ["source.ip", "time.source"], time_format: "timestamp" },
    raw: "192.0.2.41,1714550400\n192.0.2.42,1714550400.25\n192.0.2.43,yesterday\n",
  },
  {
    name: "time formats: from_format",
    params: { columns: ["source.ip", "time.source"], time_format: "from_format|%d.%m.%Y %H:%M" },
    raw: "192.0.2.44,01.05.2024 10:30\n192.0.2.45,2024-05-01\n",
  },
  {
    name: "time formats: epoch_millis (10, 12, 13 digits; other lengths give no time)",
    params: { columns: ["source.ip", "time.source"], time_format: "epoch_millis" },
    raw: "192.0.2.46,1714550400123\n192.0.2.47,171455040012\n192.0.2.48,1714550400\n192.0.2.49,17145504\n",
  },
  {
    name: "time formats: windows_nt",
    params: { columns: ["source.ip", "time.source"], time_format: "windows_nt" },
    raw: "192.0.2.37,133590240000000000\n192.0.2.38,133590240001234567\n192.0.2.39,not-a-number\n",
  },
  {
    name: "time formats: utc_isoformat",
    params: { columns: ["source.ip", "time.source"], time_format: "utc_isoformat" },
    raw: "192.0.2.34,2024-05-01T10:00:00+00:00\n192.0.2.35,2024-05-01T10:00:00.5+00:00\n192.0.2.36,2024-05-01 10:00:00\n",
  },
  {
    name: "time formats: fuzzy, odd timestamps",
    params: { columns: ["source.ip", "time.source", "time.destination"], time_format: "fuzzy" },
    raw: "192.0.2.31,Wed May  1 08:00:00 2024 GMT,2024-05-01T10:00:00+02:00\n192.0.2.32,1 May 2024 10:00 PM,\n192.0.2.33,no date here,\n",
  },
  {
    name: "skip_header as a number after comment lines, __IGNORE__ among alternatives",
    params: { columns: ["__IGNORE__|source.ip", "source.fqdn|__IGNORE__", "extra.x"], skip_header: 2 },
    raw: "# comment before the header\nh1,h2,h3\nh1b,h2b,h3b\n192.0.2.30,not a fqdn!,x\n,www.example.com,y\n",
  },
  {
    name: "time formats: from_format_midnight",
    params: { columns: ["source.ip", "time.source"], time_format: "from_format_midnight|%Y/%m/%d" },
    raw: "192.0.2.48,2024/05/01\n",
  },
  {
    name: "type_translation given as a JSON string, untranslated values without type",
    params: {
      columns: ["source.ip", "classification.type|__IGNORE__"],
      type_translation: '{"bot": "infected-system", "cc": "c2-server"}',
    },
    raw: "192.0.2.51,bot\n192.0.2.52,cc\n192.0.2.53,unknown\n192.0.2.54,phishing\n",
  },
  {
    name: "type_translation as a list (IntelMQ's feeds.yaml shape) never matches",
    params: {
      columns: ["source.ip", "classification.type|__IGNORE__"],
      type_translation: [{ malware_download: "malware-distribution" }],
    },
    raw: "192.0.2.55,malware_download\n",
  },
  {
    name: "type with an untranslated value falls through to the value itself",
    params: {
      columns: ["source.ip", "classification.type"],
      type_translation: { bot: "infected-system" },
      type: "blacklist",
    },
    raw: "192.0.2.56,bot\n192.0.2.57,phishing\n192.0.2.58,nonsense\n",
  },
  {
    name: "URLs without protocol, default_url_protocol, ignored values",
    params: { columns: ["source.url", "destination.url|destination.fqdn"], default_url_protocol: "https://" },
    raw: "www.example.com/path,example.net\nftp://files.example.com/x,N/A\n-,dst.example.com\n",
  },
  {
    name: "quoted fields spanning lines, empty quoted fields, short and long rows",
    params: { columns: ["source.ip", "extra.text", "extra.more"], skip_header: 2 },
    raw: 'ip,text,more\nsecond header line\n192.0.2.61,"line one\nline two",x\n192.0.2.62,""\n192.0.2.63\n192.0.2.64,a,b,c,d\n',
  },
  {
    name: "a quoted field left open at the end of the report",
    params: { columns: ["source.ip", "extra.text"] },
    raw: '192.0.2.71,fine\n192.0.2.72,"never closed\nstill open',
  },
  {
    name: "CR line endings with a header",
    params: { columns: ["source.ip"], skip_header: true },
    raw: "ip\r192.0.2.81\r192.0.2.82",
  },
  {
    name: "IPv6, FQDN sanitising, unicode",
    params: { columns: ["source.ip", "source.fqdn", "event_description.text"] },
    raw: "2001:DB8:0:0::AB,WWW.Example.COM.,Ünïcödé täxt\n2001:db8::zz,bücher.example,x\n",
  },
  {
    name: "duplicate field in two columns fails the row",
    params: { columns: ["source.ip", "source.ip"] },
    raw: "192.0.2.91,192.0.2.92\n192.0.2.93,\n",
  },
];

function summary(outcome: ParseOutcome) {
  return {
    events: outcome.events,
    errors: outcome.errors.length,
    exception: outcome.exception !== undefined,
  };
}

const URLHAUS_DEMO = readFileSync(
  new URL("../../examples/feeds/urlhaus-recent.csv", import.meta.url),
  "utf8",
);
// The URLhaus settings of IntelMQ's feed catalogue (feeds.yaml), which the demo uses.
const URLHAUS_DEMO_PARAMS = {
  columns: [
    "time.source",
    "source.url",
    "status",
    "classification.type|__IGNORE__",
    "source.fqdn|__IGNORE__",
    "source.ip",
    "source.asn",
    "source.geolocation.cc",
  ],
  type_translation: { malware_download: "malware-distribution" },
  default_url_protocol: "http://",
  delimiter: ",",
  skip_header: false,
};
const urlhausDemoReport = () =>
  testReport(URLHAUS_DEMO, { "feed.url": "https://urlhaus.abuse.ch/feeds/country/DE/" });
const HEADER_ONLY = { params: { columns: ["source.ip"], skip_header: true }, raw: "ip" };
const BAD_ROW = {
  params: { columns: ["source.ip", "extra.x"], skip_header: true },
  raw: 'ip,x\r\n192.0.2.1,a\r\nnot-an-ip,"b,c"\r\n',
};

describe("parsers.generic_csv against IntelMQ", () => {
  const cases = CASES.map((c) => ({
    ...c,
    report: testReport(c.raw, { "feed.url": "https://feed.example.com/data.csv" }),
  }));
  // One IntelMQ process for the file: the samples, then the cases of the tests below.
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [
      ...cases,
      { params: HEADER_ONLY.params, report: testReport(HEADER_ONLY.raw) },
      { params: URLHAUS_DEMO_PARAMS, report: urlhausDemoReport() },
      { params: BAD_ROW.params, report: testReport(BAD_ROW.raw) },
    ]);
  });
  const more = (i: number) => intelmq[cases.length + i];

  it("gives IntelMQ's events for every sample", async () => {
    for (const [i, c] of cases.entries()) {
      const [petrel] = await petrelParse(genericCsv, c.params, [c.report]);
      expect(summary(petrel as ParseOutcome), c.name).toEqual(summary(intelmq[i] as ParseOutcome));
    }
  });

  it(`${declaredDeviation(genericCsv, "dead-letter-row-rewritten")}: a bad row is dead-lettered as the row written back, after the header lines`, async () => {
    const [out] = await petrelParse(genericCsv, BAD_ROW.params, [testReport(BAD_ROW.raw)]);
    expect(out?.events).toEqual(more(2)?.events);
    expect(out?.errors).toEqual(['ip,x\r\nnot-an-ip,"b,c"\r\n']);
    // IntelMQ writes the line's characters as fields.
    expect(more(2)?.errors).toHaveLength(1);
    expect(more(2)?.errors[0]).toMatch(/^ip,x\r\nn,o,t,-,a,n,-,i,p,/);
  });

  it(`${declaredDeviation(genericCsv, "header-only-report")}: a report of just a header line gives no events, IntelMQ raises`, async () => {
    const [petrel] = await petrelParse(genericCsv, HEADER_ONLY.params, [testReport(HEADER_ONLY.raw)]);
    expect(petrel).toEqual({ events: [], errors: [] });
    expect(more(0)?.exception).toMatch(/TypeError/);
  });

  it(`${declaredDeviation(genericCsv, "quote-after-closing-quote")}: a quoted field with text after its closing quote keeps its quotes`, async () => {
    const [petrel] = await petrelParse(genericCsv, { columns: ["source.ip", "extra.x"] }, [
      testReport('192.0.2.1,"ab"c\n'),
    ]);
    expect(petrel?.events[0]?.["extra.x"]).toBe('"ab"c');
  });

  it("rejects invalid parameters when the bot is created", async () => {
    const report = [testReport("192.0.2.1\n")];
    await expect(
      petrelParse(genericCsv, { columns: ["source.ip"], columns_required: [true, false] }, report),
    ).rejects.toThrow(/same length/);
    await expect(
      petrelParse(genericCsv, { columns: ["source.ip"], time_format: "nonsense" }, report),
    ).rejects.toThrow();
    await expect(
      petrelParse(genericCsv, { columns: ["source.ip"], type: "no-such-type" }, report),
    ).rejects.toThrow();
    await expect(
      petrelParse(genericCsv, { columns: ["source.ip"], compose_fields: { comment: "{0:>5}" } }, report),
    ).rejects.toThrow(/placeholders/);
  });

  it("parses the demo's sample URLhaus feed like IntelMQ", async () => {
    const [petrel] = await petrelParse(genericCsv, URLHAUS_DEMO_PARAMS, [urlhausDemoReport()]);
    expect(petrel).toEqual(more(1));
    expect(petrel?.errors).toEqual([]);
    expect(petrel?.events).toHaveLength(URLHAUS_DEMO.split("\n").filter((l) => l.startsWith('"')).length);
  });
});
