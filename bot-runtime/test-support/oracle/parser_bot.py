# Oracle driver for parser bots: for each JSON line {module, params, report} run IntelMQ's parser in
# library mode and print one JSON line {events, errors} (the _default and _on_error queues), or
# {exception, events_before, errors_before} when the bot raised (what it had sent until then). Bots are
# built once per (module, params) and reused, unless the case says "fresh": IntelMQ parsers keep some
# state on the bot between reports, which a fresh bot does not have. "sys_path" entries are put in front
# of Python's module path before the module is imported (optional dependencies of a parser).
import importlib
import json
import os
import sys

from intelmq.lib.bot import BotLibSettings

bots = {}

for line in sys.stdin:
    case = json.loads(line)
    for entry in case.get("sys_path", []):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    key = json.dumps([case["module"], case["params"]], sort_keys=True)
    bot = None if case.get("fresh") else bots.get(key)
    if bot is None:
        # A fresh default_fields dict: IntelMQ's parsers may write into it, and the class-level default
        # would carry that into every later bot of this process.
        params = {"logging_level": "CRITICAL", "default_fields": {}, **case["params"]}
        try:
            bot = importlib.import_module(case["module"]).BOT("oracle-bot", settings=BotLibSettings | params)
        except BaseException as error:  # a parameter the bot refuses (it stops itself: SystemExit)
            print(json.dumps({"exception": f"init: {type(error).__name__}: {error}"}))
            continue
        if not case.get("fresh"):
            bots[key] = bot
    try:
        queues = bot.process_message(case["report"])
    except Exception as error:
        # process_message leaves what the bot sent before it raised in the destination queues: report it
        # and empty them for the next case (only them: the pipelines share one state dict, which also
        # holds the internal queue that the next process_message acknowledges).
        pipeline = bot._Bot__destination_pipeline
        sent = pipeline.state
        print(json.dumps({
            "exception": f"{type(error).__name__}: {error}",
            "events_before": [dict(m) for m in sent.get("output", [])],
            "errors_before": [dict(m) for m in sent.get("error", [])],
        }))
        for queue in ("output", "error"):
            sent[queue] = []
        # Settle the report it failed on now: building another bot resets the shared internal queue,
        # and this bot would then acknowledge a message that is gone when it runs again.
        bot.acknowledge_message()
        continue
    print(json.dumps({
        "events": [dict(m) for m in queues.get("output", [])],
        "errors": [dict(m) for m in queues.get("error", [])],
    }))

# Leave without the bots' exit handlers: they try to flush statistics to a Redis that is not there.
sys.stdout.flush()
os._exit(0)
