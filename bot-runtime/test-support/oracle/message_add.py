# Oracle driver: for each JSON line {kind, field, value} on stdin, add the value to a fresh IntelMQ
# message twice (strict: sanitize=False, and sanitize=True) and print one JSON line with both outcomes.
import json
import math
import sys

from intelmq import HARMONIZATION_CONF_FILE
from intelmq.lib.message import Event, Report
from intelmq.lib.utils import load_configuration

# Loaded once: IntelMQ re-reads (and YAML-parses) the file for every new message otherwise.
try:
    HARMONIZATION = load_configuration(HARMONIZATION_CONF_FILE)
except ValueError:
    from pkg_resources import resource_filename
    HARMONIZATION = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))


def json_safe(value):
    # Non-finite floats are not JSON; tag them so the comparison can still see them.
    if isinstance(value, float) and not math.isfinite(value):
        return {"$nonfinite": repr(value)}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def attempt(kind, field, value, sanitize):
    message = Event(harmonization=HARMONIZATION) if kind == "Event" else Report(auto=True, harmonization=HARMONIZATION)
    try:
        result = message.add(field, value, sanitize=sanitize)
    except Exception as error:  # any raise means IntelMQ rejects the value
        return {"error": type(error).__name__}
    return {"result": result, "fields": json_safe(dict(message))}


for line in sys.stdin:
    case = json.loads(line)
    print(json.dumps({
        "strict": attempt(case["kind"], case["field"], case["value"], False),
        "sanitize": attempt(case["kind"], case["field"], case["value"], True),
    }), flush=False)
