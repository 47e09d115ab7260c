// The sieve expert against IntelMQ 3.5's own SieveExpertBot (library mode, textX): every rule file
// under sieve/testdata/rules runs on the same events in both, and each event must leave on the same
// paths with the same fields, or fail in both. Every file under sieve/testdata/invalid must be refused
// by both, at the same line and column. Deliberate differences are asserted by name at the end.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import type { Expert, ExpertResult } from "../../bot-runtime/src/sdk/bot.ts";
import { routedOf } from "../../bot-runtime/src/sdk/processor.ts";
import { testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { SieveSyntaxError } from "./sieve/lexer.ts";
import sieve from "./sieve.ts";
import { eventOf } from "./test-support/expert-differential.ts";

const TESTDATA = fileURLToPath(new URL("./sieve/testdata/", import.meta.url));

// Runs IntelMQ's sieve bot: per case, either why the file is refused (with textX's line and column)
// or, per event, the (path, event) pairs it sends or the exception it raises. Times are read by
// pendulum, as in IntelMQ (pinned in the oracle venv).
const ORACLE = `
import datetime, json, os, re, sys, types
import pendulum
PENDULUM = "pendulum"

from intelmq.bots.experts.sieve.expert import SieveExpertBot
from intelmq.lib.bot import BotLibSettings
from intelmq.lib.message import MessageFactory
from intelmq.lib.utils import load_configuration
from pkg_resources import resource_filename

HARMONIZATION = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))
SieveExpertBot._harmonization = HARMONIZATION["event"]
FLOATS = {k for k, v in HARMONIZATION["event"].items() if v["type"] in ("Float", "Accuracy")}

for line in sys.stdin:
    case = json.loads(line)
    try:
        SieveExpertBot.read_sieve_file(case["file"], SieveExpertBot.init_metamodel())
    except Exception as error:
        where = re.search(r"error in \\((\\d+), (\\d+)\\)", str(error))
        print(json.dumps({"rejected": str(error), "line": int(where[1]) if where else None,
                          "column": int(where[2]) if where else None, "pendulum": PENDULUM}))
        continue
    bot = SieveExpertBot("oracle-sieve", settings=BotLibSettings | {"logging_level": "CRITICAL", "file": case["file"]})
    outcomes = []
    for fields in case["events"]:
        message = MessageFactory.unserialize(
            json.dumps({k: (float(v) if k in FLOATS else v) for k, v in fields.items()}), harmonization=HARMONIZATION)
        sent = []
        bot.receive_message = lambda message=message: message
        bot.acknowledge_message = lambda: None
        bot.send_message = lambda *messages, path="_default", sent=sent, **kw: sent.extend(
            [path, json.loads(m.serialize())] for m in messages)
        try:
            bot.process()
            outcomes.append({"routed": sent})
        except Exception as error:
            outcomes.append({"error": "%s: %s" % (type(error).__name__, error)})
    print(json.dumps({"outcomes": outcomes, "pendulum": PENDULUM}))
sys.stdout.flush()
os._exit(0)
`;

// textX's verdict on many files: accepted, or refused at a line and column (one metamodel for all).
const PARSE_ORACLE = `
import json, os, re, sys
from intelmq.bots.experts.sieve.expert import SieveExpertBot
from intelmq.lib.utils import load_configuration
from pkg_resources import resource_filename
SieveExpertBot._harmonization = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))["event"]
metamodel = SieveExpertBot.init_metamodel()
for line in sys.stdin:
    text = json.loads(line)
    try:
        metamodel.model_from_str(text)
        print(json.dumps({"accepted": True}))
    except Exception as error:
        print(json.dumps({"accepted": False, "line": getattr(error, "line", None), "column": getattr(error, "col", None),
                          "message": str(error)}))
sys.stdout.flush()
os._exit(0)
`;

type Outcome = { routed: [string, Record<string, unknown>][] } | { error: string };
type OracleResult =
  | { rejected: string; line: number | null; column: number | null; pendulum: string }
  | { outcomes: Outcome[]; pendulum: string };

/** A time `hours` from now in IntelMQ's canonical form. */
function hoursFromNow(hours: number): string {
  return `${new Date(Date.now() + hours * 3_600_000).toISOString().slice(0, 19)}+00:00`;
}

const event = (fields: Record<string, unknown>): Event => eventOf(fields);

/** Events chosen so that each rule file's tests go both ways. */
function corpus(): Event[] {
  return [
    event({
      "feed.name": "Example Feed",
      "feed.accuracy": 90,
      "time.observation": "2024-05-01T10:05:00+00:00",
      "time.source": "2024-05-01T10:00:00+00:00",
      "classification.type": "scanner",
      "source.ip": "192.0.2.1",
      "source.port": 22,
      "source.asn": 64496,
      "source.geolocation.latitude": 52.5,
      "source.geolocation.longitude": 13,
      "destination.ip": "10.1.2.3",
      "destination.port": 80,
      "protocol.transport": "tcp",
      comment: "Hello World",
      "event_description.text": "Port scan",
      "extra.tags": ["ssh", "scan"],
      "extra.flag": true,
      "extra.count": 3,
      "extra.score": 2.5,
      "extra.field_name": "comment",
      "extra.when": "2024-05-01T10:00:00+00:00",
      "extra.text": "abc\n",
      "source.network": "192.0.2.0/24",
    }),
    event({
      "feed.name": "Phish Feed",
      "feed.accuracy": 100,
      "time.source": "2023-12-31T23:59:59.500000+00:00",
      "classification.type": "phishing",
      "source.url": "http://phish.example.com/login",
      "source.fqdn": "phish.example.com",
      "source.ip": "10.1.2.3",
      "source.port": 443,
      comment: "it's",
      "extra.tags": ["phish"],
      "extra.flag": false,
      "extra.ip": "10.0.0.5",
      "extra.str": "80",
      "extra.bool_str": "true",
      "extra.when": "not a time",
    }),
    event({
      "feed.name": "Example Feed",
      "time.source": "2019-06-01T00:00:00+00:00",
      "classification.type": "malware-distribution",
      "source.ip": "2001:db8::1",
      "source.port": 443,
      "destination.ip": "fe80::1",
      "destination.port": 443,
      "extra.nested": { a: 1, b: [1, 2] },
      "extra.tags": [1, 2, true],
      "extra.list_of_dicts": [{ a: 1 }],
      "extra.field_name": "source.fqdn",
    }),
    event({ "feed.name": "Minimal", "classification.type": "other" }),
    event({
      "feed.name": "Example Feed",
      "time.source": "2024-05-02T00:00:00+00:00",
      "classification.type": "spam",
      "source.ip": "172.16.5.4",
      "source.port": 2222,
      "source.asn": 64511,
      "event_description.text": "Ünïcödé straße",
      comment: "line1\nline2",
      "extra.tags": ["ß", "b"],
      "extra.text": "Ünïcödé_wörd straße\t",
      "extra.count": 0,
    }),
    event({
      "feed.name": "Recent",
      "feed.accuracy": 40,
      "time.source": hoursFromNow(-1),
      "time.observation": hoursFromNow(-0.5),
      "classification.type": "scanner",
      "source.ip": "198.51.100.7",
      "source.port": 23,
      comment: "x 5 y",
      "extra.tags": [],
    }),
    event({
      "feed.name": "Example Feed",
      "time.source": hoursFromNow(48),
      "classification.type": "brute-force",
      "source.ip": "203.0.113.9",
      "source.fqdn": "host.test",
      "source.url": "https://host.test/account/verify",
      "destination.port": 8080,
      "extra.tags": ["ssh", "scan", "brute"],
    }),
    event({
      "feed.name": "Odd",
      "feed.accuracy": 10,
      "time.source": "1999-12-31T23:00:00+00:00",
      "classification.type": "scanner",
      "source.ip": "192.0.2.200",
      "source.port": 1024,
      "extra.tags": ["ssh", "whitelisted"],
      "extra.flag": "True",
      "extra.count": 3.5,
      "extra.ip": "2001:db8::5",
      "extra.str": "not an ip",
    }),
  ];
}

// Why an event failed: the Python exception IntelMQ raised, and the words of Petrel's error for it.
const FAILURE_REASONS: Readonly<Record<string, RegExp>> = {
  KeyError: /is not set/,
  NameError: /used before it was set/,
  ValueError: /holds (?:an? \w+|None), but|is not a time/,
  AttributeError: /needs a text field/,
  TypeError: /needs a text field|unhashable|cannot compare/,
  InvalidValue: /cannot be made a valid|is not a valid|is too long|does not match/,
  InvalidKey: /no such field|invalid key/,
};

async function petrelExpert(file: string): Promise<Expert> {
  return sieve.create({ file }, testContext("sieve"));
}

/** What Petrel does with an event, in the oracle's shape. */
function petrelOutcome(expert: Expert, e: Event): Outcome {
  let result: ExpertResult;
  try {
    result = expert.process(e, { id: "input" }) as ExpertResult;
  } catch (error) {
    return { error: (error as Error).message };
  }
  return { routed: routedOf(result).map(({ path, message }) => [path, message.toDict({ withType: true })]) };
}

function ruleFiles(dir: string): string[] {
  return readdirSync(join(TESTDATA, dir))
    .filter((name) => name.endsWith(".sieve"))
    .sort()
    .map((name) => join(TESTDATA, dir, name));
}

const scratch = mkdtempSync(join(tmpdir(), "petrel-sieve-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("experts.sieve against IntelMQ's sieve expert", () => {
  it("routes and changes every event of every rule file as IntelMQ does", async () => {
    const files = ruleFiles("rules");
    expect(files.length).toBeGreaterThanOrEqual(40);
    const events = corpus();
    const results = await runOracle<unknown, OracleResult>(
      ORACLE,
      files.map((file) => ({ file, events: events.map((e) => e.toDict({ withType: true })) })),
    );
    let compared = 0;
    let errors = 0;
    let dropped = 0;
    const routedPaths = new Set<string>();
    for (const [i, file] of files.entries()) {
      const oracle = results[i]!;
      if (!("outcomes" in oracle)) throw new Error(`IntelMQ refused ${file}: ${oracle.rejected}`);
      const expert = await petrelExpert(file);
      for (const [j, e] of events.entries()) {
        const expected = oracle.outcomes[j]!;
        const actual = petrelOutcome(expert, e.copy());
        const label = `${file.slice(TESTDATA.length)} event ${j}`;
        if ("error" in expected) {
          expect(actual, `${label}: IntelMQ failed with ${expected.error}`).toHaveProperty("error");
          const reason = FAILURE_REASONS[expected.error.slice(0, expected.error.indexOf(":"))];
          expect(reason, `${label}: ${expected.error}`).toBeDefined();
          expect((actual as { error: string }).error, `${label}: ${expected.error}`).toMatch(reason!);
          errors++;
        } else {
          expect(actual, label).toEqual(expected);
          for (const [path] of expected.routed) routedPaths.add(path);
          if (expected.routed.length === 0) dropped++;
        }
        compared++;
      }
    }
    expect(compared).toBe(files.length * events.length);
    // The corpus exercises failures, drops and named paths, not only the default path.
    expect(errors).toBeGreaterThan(5);
    expect(dropped).toBeGreaterThan(5);
    expect(routedPaths.size).toBeGreaterThan(10);
  }, 60_000);

  it("refuses every file IntelMQ refuses, at the same line and column", async () => {
    const files = ruleFiles("invalid");
    expect(files.length).toBeGreaterThanOrEqual(30);
    const results = await runOracle<unknown, OracleResult>(
      ORACLE,
      files.map((file) => ({ file, events: [] })),
    );
    for (const [i, file] of files.entries()) {
      const oracle = results[i]!;
      expect(oracle, `IntelMQ accepts ${file}`).toHaveProperty("rejected");
      if (!("rejected" in oracle)) continue;
      const refusal = await petrelExpert(file).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refusal, `Petrel accepts ${file}`).toBeInstanceOf(SieveSyntaxError);
      const { line, column } = refusal as SieveSyntaxError;
      expect(
        { line, column },
        `${file}: ${(refusal as Error).message} / IntelMQ: ${oracle.rejected}`,
      ).toEqual({
        line: oracle.line,
        column: oracle.column,
      });
    }
  }, 60_000);
});

describe("experts.sieve parser against textX", () => {
  /** A small deterministic pseudo-random generator (mulberry32), so failures can be replayed. */
  function random(seed: number): () => number {
    let a = seed;
    return () => {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), 1 | a);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const TOKENS = [
    " ",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "'",
    '"',
    "!",
    "&&",
    "||",
    "==",
    "<",
    "<<",
    ":in",
    ":exists ",
    "if ",
    "elif",
    "else",
    "drop",
    "keep",
    "path",
    "add!",
    "$x",
    "1",
    "1.5",
    "true",
    "#",
    "//",
    "\n",
    "\\",
    ".",
    "a",
    "-",
    "=",
    "+=",
  ];

  it("accepts and refuses the same mutated files as IntelMQ, at the same line and column", async () => {
    const next = random(20240501);
    const sources = ruleFiles("rules")
      .map((file) => readFileSync(file, "utf8"))
      .filter((t) => t.length > 0);
    const texts: string[] = [];
    for (let i = 0; i < 400; i++) {
      const source = sources[Math.floor(next() * sources.length)]!;
      const at = Math.floor(next() * source.length);
      const kind = next();
      const token = TOKENS[Math.floor(next() * TOKENS.length)]!;
      texts.push(
        kind < 0.4
          ? source.slice(0, at) + source.slice(at + 1)
          : kind < 0.8
            ? source.slice(0, at) + token + source.slice(at)
            : source.slice(0, at) +
              source.slice(at + 1, at + 2) +
              source.slice(at, at + 1) +
              source.slice(at + 2),
      );
    }
    const verdicts = await runOracle<
      string,
      { accepted: boolean; line?: number; column?: number; message?: string }
    >(PARSE_ORACLE, texts);
    let refused = 0;
    let checkedAtLoad = 0;
    for (const [i, text] of texts.entries()) {
      const file = join(scratch, `mutated-${i}.sieve`);
      writeFileSync(file, text);
      const verdict = verdicts[i]!;
      const refusal = await petrelExpert(file).then(
        () => undefined,
        (error: unknown) => error as SieveSyntaxError,
      );
      const label = `mutation ${i}: ${JSON.stringify(text)}`;
      if (verdict.accepted) {
        // Petrel also checks regexes and times when loading (deviation sieve-checked-at-load).
        if (
          refusal !== undefined &&
          /regular expression|is not a time|not a relative time/.test(refusal.message)
        ) {
          checkedAtLoad++;
          continue;
        }
        expect(refusal?.message, label).toBeUndefined();
      } else {
        refused++;
        expect(refusal, `${label}: IntelMQ refuses it (${verdict.message})`).toBeInstanceOf(SieveSyntaxError);
        expect(
          { line: refusal?.line, column: refusal?.column },
          `${label}: ${refusal?.message} / ${verdict.message}`,
        ).toEqual({
          line: verdict.line,
          column: verdict.column,
        });
      }
    }
    expect(refused).toBeGreaterThan(100);
    expect(checkedAtLoad).toBeLessThan(20);
  }, 60_000);
});

describe("experts.sieve in Petrel", () => {
  it("gives every path after the first its own copy of the event", async () => {
    const file = join(scratch, "copies.sieve");
    writeFileSync(file, "path ['a', 'b', 'a']\n");
    const expert = await petrelExpert(file);
    const e = event({ "feed.name": "F" });
    const routed = routedOf(expert.process(e, { id: "x" }) as ExpertResult);
    expect(routed.map((r) => r.path)).toEqual(["a", "b", "a"]);
    expect(routed[0]!.message).toBe(e);
    routed[1]!.message.add("comment", "only on b");
    expect(routed[0]!.message.has("comment") || routed[2]!.message.has("comment")).toBe(false);
  });

  it("fails an event naming the rule's file, line and column", async () => {
    const file = join(scratch, "runtime-error.sieve");
    writeFileSync(file, "# comment\nif :exists comment {\n  $v = source.fqdn\n}\n");
    const expert = await petrelExpert(file);
    expect(() => expert.process(event({ "feed.name": "F", comment: "c" }), { id: "x" })).toThrow(
      `${file}:3:3: set: source.fqdn is not set, so $v cannot be set from it`,
    );
  });

  it("runs a realistic 20-rule file in well under 10 µs per event", async () => {
    const expert = await petrelExpert(join(TESTDATA, "benchmark-20-rules.sieve"));
    const shapes = corpus();
    const count = 40_000;
    const inputs = Array.from({ length: count }, (_, i) => shapes[i % shapes.length]!.copy());
    for (const input of inputs.slice(0, 2000)) expert.process(input.copy(), { id: "warm-up" });
    const started = process.hrtime.bigint();
    for (const input of inputs) expert.process(input, { id: "x" });
    const microsPerEvent = Number(process.hrtime.bigint() - started) / 1000 / count;
    expect(microsPerEvent).toBeLessThan(10);
  });
});

describe("experts.sieve deviations from IntelMQ", () => {
  const deviations = new Set(sieve.deviations?.map((d) => d.id));

  async function both(name: string, rules: string, events: Event[]) {
    const file = join(scratch, `${name}.sieve`);
    writeFileSync(file, rules);
    const [oracle] = await runOracle<unknown, OracleResult>(ORACLE, [
      { file, events: events.map((e) => e.toDict({ withType: true })) },
    ]);
    const petrel = await petrelExpert(file).then(
      (expert) => ({ expert }),
      (error: unknown) => ({ error: error as Error }),
    );
    return { oracle: oracle!, petrel };
  }

  it("sieve-checked-at-load: a bad regex, time or time shift refuses the file instead of failing events", async () => {
    expect(deviations).toContain("sieve-checked-at-load");
    const e = event({ "feed.name": "F", comment: "x", "time.source": "2024-01-01T00:00:00+00:00" });
    for (const [name, rules, line] of [
      ["bad-regex", "if :exists feed.name { add! extra.x = 1 }\nif comment =~ '(unclosed' { drop }\n", 2],
      ["bad-time", "\n\nif time.source :before 'yesterday' { drop }\n", 3],
      ["bad-shift", "update time.source += 'a while'\n", 1],
    ] as const) {
      const { oracle, petrel } = await both(name, rules, [e]);
      expect(oracle, name).toHaveProperty("outcomes");
      expect((oracle as { outcomes: Outcome[] }).outcomes[0], name).toHaveProperty("error");
      expect("error" in petrel && petrel.error, name).toBeInstanceOf(SieveSyntaxError);
      expect((petrel as { error: SieveSyntaxError }).error.line, name).toBe(line);
    }
  }, 30_000);

  it("sieve-variables-everywhere: variables work in add values, where IntelMQ fails", async () => {
    expect(deviations).toContain("sieve-variables-everywhere");
    const e = event({ "feed.name": "F", "classification.type": "scanner" });
    const { oracle, petrel } = await both(
      "variables",
      "$name = feed.name\nadd comment = $name\nif extra.tags :equals [] {}\nappend! extra.names $name\n",
      [e],
    );
    expect((oracle as { outcomes: Outcome[] }).outcomes[0]).toHaveProperty("error");
    const outcome = petrelOutcome((petrel as { expert: Expert }).expert, e);
    expect(outcome).toEqual({
      routed: [["_default", { ...e.toDict({ withType: true }), comment: "F", "extra.names": ["F"] }]],
    });
  }, 30_000);

  it("sieve-time-formats: rare pendulum formats are refused when the file loads", async () => {
    expect(deviations).toContain("sieve-time-formats");
    const e = event({ "feed.name": "F", "time.source": "2024-01-01T00:00:00+00:00" });
    for (const value of ["2024-W01", "2024-001", "10:00", "P1.5D"]) {
      const { oracle, petrel } = await both("time-format", `if time.source :after '${value}' { drop }\n`, [
        e,
      ]);
      // IntelMQ reads each of them.
      expect((oracle as { outcomes: Outcome[] }).outcomes[0], value).toHaveProperty("routed");
      expect("error" in petrel && petrel.error.message, value).toMatch(/is not a time/);
    }
  }, 30_000);
});
