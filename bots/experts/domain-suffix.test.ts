// The domain suffix expert against IntelMQ's (library mode, on the same list file): thousands of names
// from the shipped list (plain, wildcard and exception rules, IDN in punycode, private-section names,
// unknown TLDs), reverse_dns, a hand-made list, and the declared deviations.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { type Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { runBot } from "../../operator/src/cli/run.ts";
import domainSuffix, { SHIPPED_SUFFIX_FILE } from "./domain-suffix.ts";
import {
  type CaseOutcome,
  eventOf,
  type InputOutcome,
  intelmqExpertOutcomes,
  measureThroughput,
  petrelExpert,
  petrelOutcomes,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.domain_suffix.expert";
const SHIPPED_PATH = fileURLToPath(SHIPPED_SUFFIX_FILE);
// IntelMQ 3.5.0 prefers the publicsuffixlist library and falls back to its own list reader; the oracle
// pins the fallback so that the comparison does not depend on what else is installed.
const BLOCK = ["publicsuffixlist"];

const event = (fields: Record<string, unknown>): Event =>
  eventOf(fields, { "time.observation": "2024-05-01T10:00:00+00:00" });

/** Names built from the shipped list's rules: each kind of rule, with labels in front. */
function sampleNames(): string[] {
  const rules = readFileSync(SHIPPED_PATH, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("//"));
  const names = new Set<string>([
    "foo.unknowntld",
    "a.b.c.example",
    "xn--bcher-kva.invalid",
    "host.internal",
    "x.lan",
  ]);
  rules.forEach((rule, i) => {
    const special = rule.startsWith("*.") || rule.startsWith("!") || /[^\x00-\x7f]/.test(rule);
    if (!special && i % 7 !== 0) return;
    const base = rule.replace(/^!|^\*\./, "");
    for (const prefix of ["", "a.", "www.b.", "x.y.z."]) names.add(prefix + base);
    if (rule.startsWith("!")) names.add(`www.${base}`);
  });
  return [...names];
}

/** The names as events (FQDNs sanitized as IntelMQ does: punycode, lowercase); invalid ones left out. */
function nameEvents(names: readonly string[], field: "fqdn" | "reverse_dns"): Event[] {
  const events: Event[] = [];
  for (const name of names) {
    try {
      events.push(event({ [`source.${field}`]: name, [`destination.${field}`]: `mail.${name}` }));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
    }
  }
  return events;
}

function results(outcome: CaseOutcome | undefined): InputOutcome[] {
  if (outcome === undefined || "init_error" in outcome)
    throw new Error(`IntelMQ: ${JSON.stringify(outcome)}`);
  return outcome.results;
}

const UNKNOWN_TLD = /^(?:[^.]+\.)*(?:unknowntld|example|invalid|internal|lan)$/;

describe("experts.domain_suffix", () => {
  const dir = mkdtempSync(join(tmpdir(), "petrel-domain-suffix-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds the same suffixes as IntelMQ for thousands of names, fqdn and reverse_dns", async () => {
    const names = sampleNames();
    const fqdn = nameEvents(names, "fqdn");
    const reverse = nameEvents(names.slice(0, 400), "reverse_dns");
    expect(fqdn.length).toBeGreaterThan(2500);
    const [a, b] = await intelmqExpertOutcomes([
      { module: MODULE, params: { field: "fqdn", suffix_file: SHIPPED_PATH }, events: fqdn, block: BLOCK },
      {
        module: MODULE,
        params: { field: "reverse_dns", suffix_file: SHIPPED_PATH },
        events: reverse,
        block: BLOCK,
      },
    ]);
    const petrel = await petrelOutcomes(await petrelExpert(domainSuffix, { field: "fqdn" }), fqdn);
    const petrelReverse = await petrelOutcomes(
      await petrelExpert(domainSuffix, { field: "reverse_dns", suffix_file: SHIPPED_PATH }),
      reverse,
    );
    let compared = 0;
    let unknownTld = 0;
    for (const [events, expected, actual] of [
      [fqdn, results(a), petrel],
      [reverse, results(b), petrelReverse],
    ] as const) {
      events.forEach((e, i) => {
        const want = expected[i] as { events: Record<string, unknown>[] };
        const got = actual[i] as { events: Record<string, unknown>[] };
        const name = String(e.get("source.fqdn") ?? e.get("source.reverse_dns"));
        if (UNKNOWN_TLD.test(name)) {
          // Deviation unknown-tld-is-suffix: IntelMQ's fallback sets nothing, Petrel the TLD.
          unknownTld++;
          expect(want.events[0]?.["source.domain_suffix"], name).toBeUndefined();
          expect(got.events[0]?.["source.domain_suffix"], name).toBe(name.split(".").at(-1));
          return;
        }
        expect(got, name).toEqual(want);
        expect(want.events[0]?.["source.domain_suffix"], name).toBeTypeOf("string");
        compared++;
      });
    }
    expect(unknownTld).toBeGreaterThanOrEqual(10);
    expect(compared).toBeGreaterThan(2900);
    console.log(`experts.domain_suffix: ${compared} events identical to IntelMQ's`);
  });

  it("uses suffix_file's rules: wildcards, exceptions, IDN, private section ignored", async () => {
    const file = join(dir, "small.dat");
    writeFileSync(
      file,
      "// small\n// ===BEGIN ICANN DOMAINS===\nnet\ncom\norg\nexample.com\n*.example.net\n!www.example.net\n*.mm\ncom.cn\n中国\n// ===END ICANN DOMAINS===\n// ===BEGIN PRIVATE DOMAINS===\nblogspot.com\n// ===END PRIVATE DOMAINS===\n",
    );
    const events = [
      event({ "source.fqdn": "sub.example.com", "destination.fqdn": "sub.example.net" }),
      event({ "source.fqdn": "www.example.org", "destination.fqdn": "www.example.net" }),
      event({ "source.fqdn": "xn--85x722f.com.cn", "destination.fqdn": "xn--85x722f.xn--fiqs8s" }),
      event({ "source.fqdn": "example.mm", "destination.fqdn": "example.example.mm" }),
      event({ "source.fqdn": "食狮.中国", "destination.fqdn": "foo.blogspot.com" }),
      event({ "source.ip": "192.0.2.1", "destination.fqdn": "example.net" }),
      event({ "source.fqdn": "a.www.example.net" }),
    ];
    const [oracle] = await intelmqExpertOutcomes([
      { module: MODULE, params: { field: "fqdn", suffix_file: file }, events, block: BLOCK },
    ]);
    const petrel = await petrelOutcomes(
      await petrelExpert(domainSuffix, { field: "fqdn", suffix_file: file }),
      events,
    );
    expect(petrel).toEqual(results(oracle));
    expect(petrel[0]).toEqual({
      events: [
        {
          "time.observation": "2024-05-01T10:00:00+00:00",
          "source.fqdn": "sub.example.com",
          "destination.fqdn": "sub.example.net",
          "source.domain_suffix": "example.com",
          "destination.domain_suffix": "sub.example.net",
        },
      ],
    });
  });

  it("replaces a domain_suffix already set, where IntelMQ fails (deviation existing-suffix-replaced)", async () => {
    expect(domainSuffix.deviations?.map((d) => d.id)).toEqual([
      "unknown-tld-is-suffix",
      "existing-suffix-replaced",
      "shipped-suffix-list",
    ]);
    const events = [event({ "source.fqdn": "www.example.co.uk", "source.domain_suffix": "wrong.example" })];
    const [oracle] = await intelmqExpertOutcomes([
      { module: MODULE, params: { field: "fqdn", suffix_file: SHIPPED_PATH }, events, block: BLOCK },
    ]);
    expect(results(oracle)[0]).toEqual({ error: expect.stringMatching(/^KeyExists/) });
    const [petrel] = await petrelOutcomes(await petrelExpert(domainSuffix, { field: "fqdn" }), events);
    expect(petrel).toEqual({
      events: [
        expect.objectContaining({ "source.fqdn": "www.example.co.uk", "source.domain_suffix": "co.uk" }),
      ],
    });
  });

  it("needs no suffix_file, where IntelMQ cannot start (deviation shipped-suffix-list)", async () => {
    const [oracle] = await intelmqExpertOutcomes([
      { module: MODULE, params: { field: "fqdn" }, events: [], block: BLOCK },
    ]);
    expect(oracle).toEqual({ init_error: expect.stringMatching(/^ValueError: Bot shutdown/) });
    const expert = await petrelExpert(domainSuffix, { field: "fqdn" });
    const [out] = await petrelOutcomes(expert, [event({ "source.fqdn": "a.b.example.co.uk" })]);
    expect(out).toEqual({ events: [expect.objectContaining({ "source.domain_suffix": "co.uk" })] });
  });

  it("rejects a bad field or an unreadable suffix_file naming the problem", async () => {
    await expect(petrelExpert(domainSuffix, { field: "url" })).rejects.toThrow(/field/);
    await expect(petrelExpert(domainSuffix, {})).rejects.toThrow(/field/);
    await expect(
      petrelExpert(domainSuffix, { field: "fqdn", suffix_file: join(dir, "missing.dat") }),
    ).rejects.toThrow(/suffix_file .*missing\.dat: cannot read/);
    const empty = join(dir, "empty.dat");
    writeFileSync(empty, "com\nnet\n");
    await expect(petrelExpert(domainSuffix, { field: "fqdn", suffix_file: empty })).rejects.toThrow(
      /no ICANN rules/,
    );
  });

  it("runs through petrelctl run", async () => {
    const input = join(dir, "events.jsonl");
    writeFileSync(input, `${event({ "source.fqdn": "www.example.com.au" }).serialize()}\n`);
    const stdout = new PassThrough();
    const chunks: string[] = [];
    stdout.on("data", (c: Buffer) => chunks.push(c.toString()));
    const summary = await runBot("intelmq.bots.experts.domain_suffix.expert", {
      input,
      params: { field: "fqdn" },
      stdout,
      stderr: new PassThrough(),
    });
    expect(summary.emitted).toEqual({ _default: 1 });
    expect(JSON.parse(chunks.join(""))["source.domain_suffix"]).toBe("com.au");
  });

  it("handles well over 23,500 events/s", async () => {
    const expert = await petrelExpert(domainSuffix, { field: "fqdn" });
    const events = Array.from({ length: 5000 }, (_, i) =>
      event({ "source.fqdn": `host${i}.example${i % 50}.co.uk`, "destination.fqdn": `x${i}.example.com` }),
    );
    const rate = measureThroughput(expert, events);
    console.log(`experts.domain_suffix: ${Math.round(rate)} events/s (process only)`);
    expect(rate).toBeGreaterThan(100_000);
  });
});
