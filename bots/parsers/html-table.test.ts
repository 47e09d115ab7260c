// The HTML table parser against IntelMQ's own (which reads HTML with BeautifulSoup's html.parser).
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type OracleCase,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import htmlTable from "./html-table.ts";

const MODULE = "intelmq.bots.parsers.html_table.parser";
// IntelMQ's HTML table parser imports BeautifulSoup, which IntelMQ does not install itself.

const PANELS = `<!DOCTYPE html>
<html><head><title>C2 panels</title><style>td { color: red; }</style></head>
<body>
<table class="menu"><tr><td>Home</td><td>About</td></tr></table>
<table class=" list  panels " id="panels" data-note='say "hi"'>
  <thead><tr><th>Date</th><th>URL</th><th>IP</th><th>Type</th></tr></thead>
  <tbody>
  <tr class="odd"><td>01-05-2024</td><td><a href="http://c2.example.com/panel/?a=1&amp;b=2">c2.example.com/panel/</a></td><td>192.0.2.100</td><td>Pony</td></tr>
  <tr><td>02-05-2024&nbsp;10:30</td><td>https://c2.example.net/admin.php</td><td>192.0.2.101</td><td>Zeus&amp;co</td></tr>
  <tr>
    <td> 2024-05-03 </td>
    <td>bad.example.org/gate.php?x=1&notify=2&copy;</td>
    <td>2001:DB8::102</td>
    <td><!-- unknown --><b>Lokibot</b><script>var x = "<td>";</script></td>
  </tr>
  <tr><td></td><td>-</td><td>198.51.100.103</td><td>AZORult</td></tr>
  <tr><td>5 May 2024</td><td>c2.example.org/x</td><td>not an ip</td><td>Kpot</td></tr>
  </tbody>
</table>
<table><tr><td>x</td></tr></table>
</body></html>
`;

const COLUMNS = ["time.source", "source.url", "source.ip|source.fqdn", "malware.name"];

const CASES: Array<{ name: string; params: Record<string, unknown>; raw: string }> = [
  {
    name: "by attribute, with alternatives",
    params: { columns: COLUMNS, attribute_name: "id", attribute_value: "panels", type: "c2-server" },
    raw: PANELS,
  },
  {
    name: "by class (one of several)",
    params: {
      columns: ["__IGNORE__", ...COLUMNS.slice(1)],
      attribute_name: "class",
      attribute_value: "panels",
    },
    raw: PANELS,
  },
  {
    name: "by all classes",
    params: {
      columns: ["__IGNORE__", ...COLUMNS.slice(1)],
      attribute_name: "class",
      attribute_value: "list panels",
    },
    raw: PANELS,
  },
  {
    name: "a time format",
    params: { columns: ["time.source", "source.ip"], time_format: "from_format_midnight|%d-%m-%Y" },
    raw: "<table><tr><th>d</th></tr><tr><td>01-05-2024</td><td>192.0.2.8</td></tr></table>",
  },
  {
    name: "by index, head kept, ignore values",
    params: {
      columns: "__IGNORE__, source.url, source.ip|source.fqdn, malware.name",
      table_index: 1,
      skip_table_head: false,
      ignore_values: ",,,Pony",
    },
    raw: PANELS,
  },
  {
    name: "split column",
    params: {
      columns: ["", "source.url", "", "malware.name"],
      table_index: -2,
      split_column: "malware.name",
      split_separator: "&",
      split_index: 0,
      type: null,
    },
    raw: PANELS,
  },
  {
    name: "default columns",
    params: {},
    raw: "<table><tr><td>h</td><td>h</td></tr><tr><td>1</td><td>Example.COM.</td></tr><tr><td>2</td><td></td></tr></table>",
  },
  {
    name: "timestamps",
    params: { columns: ["time.source", "source.ip"], time_format: "timestamp", skip_table_head: false },
    raw: "<table><tr><td>1714550400</td><td>192.0.2.1</td></tr><tr><td> 1714550401 </td><td>192.0.2.2</td></tr></table>",
  },
  {
    name: "unclosed cells nest, as html.parser leaves them",
    params: {
      columns: ["__IGNORE__", "source.url", "source.ip|source.fqdn", "malware.name"],
      skip_table_head: false,
    },
    raw: "<table><tr><td>04-05-2024<td>unclosed.example.com/p<td>192.0.2.104<td>Nested</tr><tr><td>x<td>y.example.com<td>192.0.2.105</td></td></td></tr></table>",
  },
  {
    name: "references, void elements, comments and CDATA in a cell",
    params: { columns: ["event_description.text", "source.ip"], skip_table_head: false, type: "other" },
    raw: '<table><tr><td colspan="4" class="">&#150; end &#x263A; &lt;br&gt;<br>next<br/>line<!----><![CDATA[cd]]><?pi x?></td><td>192.0.2.6</td></tr><tr><td><p>a<p>b</p></td><td>192.0.2.7<img src="x.png" alt=\'1 > 0\'></td></tr></table>',
  },
  {
    name: "attribute quoting and references, whitespace, pre",
    params: { columns: ["event_description.text", "source.ip"], skip_table_head: false },
    raw: '<table><tr><td title=\'it"s\' data-x="a&notit;b&amp" CLASS="  x   y " alt="both \' and &quot;">A&nbsp;&amp;&#x110000;&#150;B&c</td><td>192.0.2.12</td></tr><tr>\n  <td>\n \n</td><td>192.0.2.13</td></tr><tr><td><pre>  keep  </pre>  <textarea> \n </textarea></td><td>192.0.2.14</td></tr><tr><td>&lt;<b>x</b>&gt;<template>t</template><ruby>r<rt>rt</rt></ruby></td><td>192.0.2.15</td></tr></table>',
  },
  {
    name: "CRLF, entities at the end",
    params: { columns: ["source.ip", "event_description.text"], skip_table_head: false },
    raw: "<table>\r\n<tr>\r\n<td>192.0.2.5</td><td>a &amp b &lt c &#65 &ampx &notin; &unknown; x</td></tr></table>&amp",
  },
];

const WITH_BAD_ROW =
  "<table><tr><td>192.0.2.9</td></tr><tr><td>not an ip</td></tr><tr><td>192.0.2.10</td></tr></table>";

describe("parsers.html_table against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": "https://tracker.example.com/index.php" });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    const cases: OracleCase[] = CASES.map((c) => ({ params: c.params, report: report(c.raw) }));
    cases.push({
      params: { columns: ["source.ip"], skip_table_head: false },
      report: report(WITH_BAD_ROW),
    });
    cases.push({
      params: {
        columns: COLUMNS,
        attribute_name: "id",
        attribute_value: "panels",
        default_fields: { "extra.src": "html" },
      },
      report: report(PANELS),
    });
    cases.push({
      params: { columns: ["source.ip", "comment"], skip_table_head: false },
      report: report('<table><tr><td>192.0.2.11</td><td title="a" title="b">x</td></tr></table>'),
    });
    intelmq = await intelmqParse(MODULE, cases);
  });

  it("gives IntelMQ's events, raw included, for every table setting", async () => {
    for (const [i, c] of CASES.entries()) {
      const [petrel] = await petrelParse(htmlTable, c.params, [report(c.raw)]);
      expect(petrel, c.name).toEqual(intelmq[i]);
    }
    expect(intelmq[0]?.events).toHaveLength(5);
    // The events carry the row as BeautifulSoup writes it.
    expect(Buffer.from(String(intelmq[0]?.events[0]?.raw), "base64").toString()).toBe(
      '<tr class="odd"><td>01-05-2024</td><td><a href="http://c2.example.com/panel/?a=1&amp;b=2">c2.example.com/panel/</a></td><td>192.0.2.100</td><td>Pony</td></tr>',
    );
  });

  it(`${declaredDeviation(htmlTable, "bad-record-dead-lettered")}: a row that fits no field is dead-lettered, IntelMQ fails the report`, async () => {
    const [petrel] = await petrelParse(htmlTable, { columns: ["source.ip"], skip_table_head: false }, [
      report(WITH_BAD_ROW),
    ]);
    expect(petrel?.events.map((e) => e["source.ip"])).toEqual(["192.0.2.9", "192.0.2.10"]);
    expect(petrel?.errors).toEqual(["<tr><td>not an ip</td></tr>"]);
    expect(intelmq[CASES.length]?.exception).toMatch(/ValueError/);
    expect(intelmq[CASES.length]?.sentBefore?.events).toEqual(petrel?.events.slice(0, 1));
  });

  it(`${declaredDeviation(htmlTable, "default-fields-applied")}: default_fields reach the events`, async () => {
    const params = {
      columns: COLUMNS,
      attribute_name: "id",
      attribute_value: "panels",
      default_fields: { "extra.src": "html" },
    };
    const [petrel] = await petrelParse(htmlTable, params, [report(PANELS)]);
    const intelmqEvents = intelmq[CASES.length + 1]?.events ?? [];
    expect(intelmqEvents.some((e) => "extra.src" in e)).toBe(false);
    expect(petrel?.events.map(({ "extra.src": src, ...rest }) => [src, rest])).toEqual(
      intelmqEvents.map((e) => ["html", e]),
    );
  });

  it(`${declaredDeviation(htmlTable, "html5-tokenizer")}: a repeated attribute keeps its first value, html.parser its last`, async () => {
    const html = '<table><tr><td>192.0.2.11</td><td title="a" title="b">x</td></tr></table>';
    const [petrel] = await petrelParse(
      htmlTable,
      { columns: ["source.ip", "comment"], skip_table_head: false },
      [report(html)],
    );
    const decode = (raw: unknown) => Buffer.from(String(raw), "base64").toString();
    expect(decode(petrel?.events[0]?.raw)).toBe('<tr><td>192.0.2.11</td><td title="a">x</td></tr>');
    expect(decode(intelmq[CASES.length + 2]?.events[0]?.raw)).toBe(
      '<tr><td>192.0.2.11</td><td title="b">x</td></tr>',
    );
  });
});
