# Oracle driver: for each JSON line {"html": text} parse the text with BeautifulSoup's html.parser, as
# IntelMQ's HTML table parser does, and print every <tr> as [str(tr), [td.text for each td in it]].
import json
import sys

from bs4 import BeautifulSoup

for line in sys.stdin:
    soup = BeautifulSoup(json.loads(line)["html"], "html.parser")
    rows = [[str(tr), [td.text for td in tr.find_all("td")]] for tr in soup.find_all("tr")]
    print(json.dumps(rows))
