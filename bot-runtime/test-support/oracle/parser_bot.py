# Oracle driver for parser bots: for each JSON line {module, params, report} run IntelMQ's parser in
# library mode and print one JSON line {events, errors} (the _default and _on_error queues), or
# {exception} when the bot raised. Bots are built once per (module, params) and reused.
import importlib
import json
import os
import sys

from intelmq.lib.bot import BotLibSettings

bots = {}

for line in sys.stdin:
    case = json.loads(line)
    key = json.dumps([case["module"], case["params"]], sort_keys=True)
    bot = bots.get(key)
    if bot is None:
        # A fresh default_fields dict: IntelMQ's parsers may write into it, and the class-level default
        # would carry that into every later bot of this process.
        params = {"logging_level": "CRITICAL", "default_fields": {}, **case["params"]}
        bot = importlib.import_module(case["module"]).BOT("oracle-bot", settings=BotLibSettings | params)
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
