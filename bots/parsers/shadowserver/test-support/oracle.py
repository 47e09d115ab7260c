# Oracle driver for the Shadowserver parser: for each JSON line {schema, params, report} run IntelMQ's
# Shadowserver parser in library mode with the schema file `schema` (instead of the one in IntelMQ's
# state directory: the tests give Petrel's own test schema) and print one JSON line {events, errors}, or
# {exception} when the bot raised while starting or parsing.
# Mode "convert" lines {convert, value, row} apply one of IntelMQ's conversion functions instead:
# {value} or {exception}. A line {locate} prints {value}: the directory of IntelMQ's parser package.
import importlib
import json
import math
import os
import sys

from intelmq.lib.bot import BotLibSettings
import intelmq.bots.parsers.shadowserver._config as config

state = vars(config)["__config"]
bots = {}
current_schema = None

for line in sys.stdin:
    case = json.loads(line)
    if "locate" in case:
        # Where IntelMQ's Shadowserver parser package lies (its test schema and test data).
        print(json.dumps({"value": os.path.dirname(config.__file__)}))
        continue
    if "convert" in case:
        function = config.functions[case["convert"]]
        try:
            if case.get("row") is not None:
                value = function(case["value"], case["row"])
            else:
                value = function(case["value"])
            if isinstance(value, float) and not math.isfinite(value):
                print(json.dumps({"nonfinite": repr(value)}))
            else:
                print(json.dumps({"value": value}))
        except Exception as error:
            print(json.dumps({"exception": f"{type(error).__name__}: {error}"}))
        continue
    if case["schema"] != current_schema:
        # Point IntelMQ's schema configuration at the file; a changed path forces a reload.
        state.schema_file = case["schema"]
        state.schema_active = case["schema"]
        state.schema_mtime = 0.0
        state.test_mode = False
        state.auto_update = False
        current_schema = case["schema"]
        bots = {}
    key = json.dumps(case["params"], sort_keys=True)
    bot = bots.get(key)
    if bot is None:
        params = {"logging_level": "CRITICAL", "default_fields": {}, **case["params"]}
        module = importlib.import_module("intelmq.bots.parsers.shadowserver.parser")
        try:
            bot = module.BOT("oracle-bot", settings=BotLibSettings | params)
        except BaseException as error:
            # IntelMQ refuses to start, e.g. without its schema file.
            print(json.dumps({"exception": f"at start: {type(error).__name__}: {error}"}))
            continue
        bots[key] = bot
    try:
        queues = bot.process_message(case["report"])
    except Exception as error:
        print(json.dumps({"exception": f"{type(error).__name__}: {error}"}))
        continue
    print(json.dumps({
        "events": [dict(m) for m in queues.get("output", [])],
        "errors": [dict(m) for m in queues.get("error", [])],
    }))

# Leave without the bots' exit handlers: they try to flush statistics to a Redis that is not there.
sys.stdout.flush()
os._exit(0)
