# Oracle driver: for each JSON line {"value": text} run python-dateutil's parser.parse(text) (not fuzzy,
# as several IntelMQ parsers call it) and print {"ok": <the result as IntelMQ stores it in time.source>}
# or {"error": <exception class name>}.
import json
import sys

import dateutil.parser
from intelmq.lib.harmonization import DateTime

for line in sys.stdin:
    value = json.loads(line)["value"]
    try:
        result = DateTime.sanitize(str(dateutil.parser.parse(value)))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__}))
        continue
    print(json.dumps({"ok": result}))
