// export_event, Python's UTF-8 encoding with error handlers and lenient decoding, against IntelMQ and
// Python themselves.
import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { Event } from "../event/message.ts";
import {
  decodeUtf8Lenient,
  ENCODING_ERRORS,
  encodeUtf8,
  exportEventText,
  exportEventValue,
} from "./export.ts";

const EXPORT_ORACLE = `
import json, os, sys
from intelmq import HARMONIZATION_CONF_FILE
from intelmq.bots.outputs.file.output import FileOutputBot
from intelmq.lib.bot import BotLibSettings
from intelmq.lib.message import MessageFactory
from intelmq.lib.utils import load_configuration
try:
    harmonization = load_configuration(HARMONIZATION_CONF_FILE)
except ValueError:
    from pkg_resources import resource_filename
    harmonization = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))
floats = {k for k, v in harmonization["event"].items() if v["type"] in ("Float", "Accuracy")}
bots = {}
for line in sys.stdin:
    case = json.loads(line)
    key = json.dumps(case["params"], sort_keys=True)
    if key not in bots:
        bots[key] = FileOutputBot("oracle-output", settings=BotLibSettings | {"logging_level": "CRITICAL", "file": "/dev/null", **case["params"]})
    message = MessageFactory.unserialize(json.dumps({k: (float(v) if k in floats else v) for k, v in case["event"].items()}), harmonization=harmonization)
    try:
        text = bots[key].export_event(message.copy(), return_type=str)
        value = bots[key].export_event(message.copy())
        print(json.dumps({"text": text, "value": value}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__}))
sys.stdout.flush()
os._exit(0)
`;

function event(fields: Record<string, unknown>): Event {
  const e = new Event();
  for (const [key, value] of Object.entries(fields)) e.add(key, value);
  return e;
}

const EVENTS = [
  event({
    "feed.accuracy": 75.5,
    "source.ip": "192.0.2.1",
    "source.asn": 64500,
    "extra.list": [1, "ä"],
    "extra.obj": { y: 2, x: { b: null } },
    "extra.dotted.key": "v",
    raw: Buffer.from("line\n").toString("base64"),
    output: JSON.stringify({ k: "v" }),
  }),
  event({ "feed.accuracy": 100, "source.fqdn": "example.com", output: JSON.stringify("text") }),
];

const PARAMS: Record<string, unknown>[] = [
  {},
  { hierarchical_output: true },
  { hierarchical_output: true, message_with_type: true, keep_raw_field: true },
  { message_jsondict_as_string: true },
  { message_jsondict_as_string: true, hierarchical_output: true, keep_raw_field: true },
  { single_key: "raw" },
  { single_key: "output" },
  { single_key: "source.ip" },
  { single_key: "source.asn" },
  { single_key: "extra" },
];

function options(params: Record<string, unknown>) {
  return {
    hierarchical: params.hierarchical_output === true,
    withType: params.message_with_type === true,
    jsondictAsString: params.message_jsondict_as_string === true,
    singleKey: (params.single_key as string | undefined) ?? null,
    keepRawField: params.keep_raw_field === true,
  };
}

describe("export_event", () => {
  it("exports text and values as IntelMQ's OutputBot.export_event", async () => {
    const cases = PARAMS.flatMap((params) => EVENTS.map((e) => ({ params, event: e })));
    const expected = await runOracle<unknown, { text: unknown; value: unknown }>(
      EXPORT_ORACLE,
      cases.map((c) => ({ params: c.params, event: c.event.toDict({ withType: true }) })),
    );
    for (const [i, c] of cases.entries()) {
      const name = `${JSON.stringify(c.params)} #${i % EVENTS.length}`;
      expect(exportEventText(c.event, options(c.params)), name).toBe(expected[i]?.text);
      expect(exportEventValue(c.event, options(c.params)), name).toEqual(expected[i]?.value);
    }
  });

  it("fails like IntelMQ when single_key output is missing", () => {
    expect(() => exportEventText(event({ "source.ip": "192.0.2.1" }), { singleKey: "output" })).toThrow(
      TypeError,
    );
  });
});

describe("Python text codecs", () => {
  it("encodes lone surrogates as Python's UTF-8 error handlers do", async () => {
    const texts = ["plain ascii", "ünï €", "a\ud800b", "\udc80x\udcff", "pair \ud83d\ude00 ok", "\udfff"];
    const cases = texts.flatMap((text) => ENCODING_ERRORS.map((errors) => ({ text, errors })));
    const expected = await runOracle<unknown, { hex?: string; error?: string }>(
      `import json, sys
for line in sys.stdin:
    case = json.loads(line)
    try:
        print(json.dumps({"hex": case["text"].encode("utf-8", case["errors"]).hex()}))
    except UnicodeEncodeError:
        print(json.dumps({"error": "UnicodeEncodeError"}))`,
      cases,
    );
    for (const [i, c] of cases.entries()) {
      const want = expected[i];
      if (want?.error) expect(() => encodeUtf8(c.text, c.errors), JSON.stringify(c)).toThrow(RangeError);
      else expect(encodeUtf8(c.text, c.errors).toString("hex"), JSON.stringify(c)).toBe(want?.hex);
    }
  });

  it("decodes UTF-8 dropping invalid bytes, as Python's errors='ignore'", async () => {
    const inputs = [
      "61ff62",
      "e282",
      "e28228",
      "f0908080",
      "f4908080",
      "eda080",
      "c0af",
      "e0808061",
      "6162",
      "efbfbd",
      "f09f9880e2",
    ];
    const expected = await runOracle<string, string>(
      `import json, sys
for line in sys.stdin:
    print(json.dumps(bytes.fromhex(json.loads(line)).decode("utf-8", "ignore")))`,
      inputs,
    );
    for (const [i, hex] of inputs.entries()) {
      expect(decodeUtf8Lenient(Buffer.from(hex, "hex")), hex).toBe(expected[i]);
    }
  });
});
