// The HTML tree (sdk/html.ts) against BeautifulSoup with html.parser, which IntelMQ's HTML table parser
// uses: each row as BeautifulSoup writes it, and the text of its cells.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { findAll, parseHtml, serializeHtml, textOf } from "./html.ts";

const driver = readFileSync(new URL("../../test-support/oracle/bs4_rows.py", import.meta.url), "utf8");

const CORPUS = [
  "<table><tr><td>a</td><td>b</td></tr></table>",
  "<table>\n  <tr>\n    <td> a </td>\n    <td>\tb\n</td>\n  </tr>\n</table>",
  "<tr><td>1<td>2<td>3</tr><tr><td>4</td></tr>",
  "<table><tr><td>x</tr></td></table><tr><td>after</td></tr>",
  '<tr><td class=" b  a " id=x data-y=\'1 > 0\' lang="it\'s">t</td></tr>',
  '<tr><td title="say &quot;hi&quot; it\'s">q</td><td headers=" h1  h2 ">h</td></tr>',
  "<tr><td>&amp; &lt; &gt; &quot; &apos; &nbsp; &copy &copy; &notit; &notin; &ampx &AMP; &unknown; &#65; &#x41; &#150; &#x110000; &#65a & &x;</td></tr>",
  '<tr><td><a href="?a=1&amp;b=2&notify=3&copy=4">link</a></td></tr>',
  "<tr><td>a<br>b<br/>c<br></br>d<img src=x>e<hr/>f</td></tr>",
  "<tr><td><!-- c --><!----><b>bold</b><script>if (a < b && c) {}</script><style>td>x{}</style>after</td></tr>",
  "<tr><td><![CDATA[cdata]]>x<?php echo 1 ?>y<!x>z</td></tr>",
  "<tr><td><pre>  keep  \n  me </pre>   \n   <textarea>  </textarea> <span>   </span></td></tr>",
  "<tr><td><template>tpl</template><ruby>r<rt>rt</rt><rp>(</rp></ruby>txt</td></tr>",
  "<tr>\r\n<td>crlf\r\ntext</td>\r\n</tr>",
  "<TR><TD CLASS=Up>Upper</TD></TR>",
  "<tr><td>unicode ✓ ünï 𝄞</td><td>tab\there</td></tr>",
  "<table><tr><td><table><tr><td>inner</td></tr></table>outer</td></tr></table>",
  "<tr><td>no end",
  "text &amp",
];

describe("HTML read as BeautifulSoup's html.parser reads it", () => {
  let python: Array<Array<[string, string[]]>> = [];
  beforeAll(async () => {
    // BeautifulSoup is in the oracle's pinned requirements (IntelMQ's HTML table parser imports it).
    python = await runOracle(
      driver,
      CORPUS.map((html) => ({ html })),
    );
  });

  it("gives BeautifulSoup's rows and cell texts", () => {
    const mismatches: string[] = [];
    CORPUS.forEach((html, i) => {
      const root = parseHtml(html);
      const rows = findAll(root, "tr").map((tr) => [serializeHtml(tr), findAll(tr, "td").map(textOf)]);
      if (JSON.stringify(rows) !== JSON.stringify(python[i]))
        mismatches.push(
          `${JSON.stringify(html)}\n  petrel: ${JSON.stringify(rows)}\n  bs4:    ${JSON.stringify(python[i])}`,
        );
    });
    expect(mismatches).toEqual([]);
  });
});
