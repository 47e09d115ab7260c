# Oracle driver: for each JSON line {message, filter_keys, filter_type} print IntelMQ's hash and
# fields of the message, read the way IntelMQ reads messages from its queues. Float-typed fields are
# made Python floats first, as they are in messages IntelMQ itself produces (JSON from JavaScript
# cannot say 13.0).
import json
import sys

from intelmq.lib.message import MessageFactory
from intelmq.lib.utils import load_configuration
from intelmq import HARMONIZATION_CONF_FILE

try:
    harmonization = load_configuration(HARMONIZATION_CONF_FILE)
except ValueError:
    from pkg_resources import resource_filename
    harmonization = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))
float_fields = {k for k, v in harmonization["event"].items() if v["type"] in ("Float", "Accuracy")}

for line in sys.stdin:
    case = json.loads(line)
    raw = {k: (float(v) if k in float_fields else v) for k, v in case["message"].items()}
    message = MessageFactory.unserialize(json.dumps(raw), harmonization=harmonization)
    digest = message.hash(filter_keys=set(case["filter_keys"]), filter_type=case["filter_type"])
    print(json.dumps({"hash": digest, "fields": dict(message)}))
