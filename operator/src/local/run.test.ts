// `up` end to end against a real nats-server: YAML → bot processes → events in the output; restarts
// after a crash, no restart after error_procedure stop, dead letters fail --until-drained, and nothing
// is left running afterwards.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsServerBinary } from "../../../bot-runtime/test-support/nats-server.ts";
import { loadLocalConfig } from "./config.ts";
import { type RunOptions, runLocal, type StartedRun } from "./run.ts";
import { alive, capture, pipelineYaml, type TestBot, waitFor } from "./test-support/helpers.ts";
import { TEST_BOT_NODE_ARGS } from "./test-support/node-args.ts";
import { TEST_BOTS } from "./test-support/test-bots.ts";

const FAST = {
  refreshMs: 200,
  progressEveryMs: 60_000,
  drainStableMs: 1000,
  stopGraceMs: 15_000,
  backoffInitialMs: 200,
  backoffMaxMs: 1000,
  maxCrashes: 5,
};

describe("petrelctl up (local mode)", () => {
  let dir: string;
  beforeAll(() => {
    process.env.PETREL_NATS_SERVER ??= natsServerBinary();
    dir = mkdtempSync(join(tmpdir(), "petrel-up-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function config(pipeline: string, bots: TestBot[], yaml: Parameters<typeof pipelineYaml>[2] = {}) {
    return loadLocalConfig([{ path: `${pipeline}.yaml`, text: pipelineYaml(pipeline, bots, yaml) }], {
      extraModules: TEST_BOTS,
    });
  }

  async function run(
    name: string,
    bots: TestBot[],
    options: Partial<RunOptions> = {},
    yaml: Parameters<typeof pipelineYaml>[2] = {},
  ) {
    const out = capture();
    let started: StartedRun | undefined;
    const result = await runLocal(config(name, bots, yaml), {
      dataDir: join(dir, name),
      mode: "until-drained",
      out: out.stream,
      tty: false,
      handleSignals: false,
      botNodeArgs: TEST_BOT_NODE_ARGS,
      timing: FAST,
      timeoutMs: 60_000,
      ...options,
      onStarted: (s) => {
        started = s;
        options.onStarted?.(s);
      },
    });
    return { result, text: out.text(), started: started as StartedRun };
  }

  function expectNothingRunning(started: StartedRun) {
    for (const instance of started.instances) expect(alive(instance.pid), instance.name).toBe(false);
    expect(alive(started.natsPid)).toBe(false);
  }

  const ips = Array.from({ length: 50 }, (_, i) => `198.51.100.${i + 1}`);

  it("runs a pipeline from YAML until drained: every event reaches the output", async () => {
    const file = join(dir, "e2e-out.jsonl");
    const { result, text, started } = await run("e2e", [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ips, name: "Test feed" },
        destinations: { _default: ["parse"] },
      },
      { name: "parse", module: "test.ip_parser", destinations: { _default: ["tax"] } },
      {
        name: "tax",
        module: "experts.taxonomy",
        destinations: { _default: ["out"] },
        extra: "  replicas: 2",
      },
      { name: "out", module: "test.jsonl_output", parameters: { file } },
    ]);
    expect(result.exitCode, text).toBe(0);
    expect(result.outcome).toBe("drained");
    const events = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(events).toHaveLength(50);
    expect(new Set(events.map((e) => e["source.ip"]))).toEqual(new Set(ips));
    expect(events[0]).toMatchObject({ "feed.name": "Test feed", "classification.taxonomy": "other" });
    expect(started.instances.map((i) => i.name).sort()).toEqual(["feed", "out", "parse", "tax", "tax#1"]);
    const rendered = JSON.parse(readFileSync(join(dir, "e2e", "bots", "tax.1.json"), "utf8"));
    expect(rendered).toMatchObject({ bot: "tax", pipeline: "e2e", input: { consumer: "tax" } });
    expect(existsSync(join(dir, "e2e", "logs", "parse.log"))).toBe(true);
    expect(text).toMatch(/Drained after/);
    expect(text).toMatch(/^ {2}out +output +50 +50 /m);
    expectNothingRunning(started);
  });

  it("runs bots that share a process as one process, with counts per bot", async () => {
    const file = join(dir, "shared-out.jsonl");
    const { result, text, started } = await run("shared", [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ips, name: "Test feed" },
        destinations: { _default: ["parse"] },
      },
      {
        name: "parse",
        module: "test.ip_parser",
        destinations: { _default: ["tax"] },
        extra: "  process: chain",
      },
      {
        name: "tax",
        module: "experts.taxonomy",
        destinations: { _default: ["out"] },
        extra: "  process: chain",
      },
      { name: "out", module: "test.jsonl_output", parameters: { file }, extra: "  process: chain" },
    ]);
    expect(result.exitCode, text).toBe(0);
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(50);
    expect(started.instances.map((i) => i.name).sort()).toEqual(["chain", "feed"]);
    const rendered = JSON.parse(readFileSync(join(dir, "shared", "bots", "chain.json"), "utf8"));
    expect(rendered.process).toBe("chain");
    expect(rendered.bots.map((b: { bot: string }) => b.bot)).toEqual(["parse", "tax", "out"]);
    // Each bot's row counts its own messages, read from the shared process's metrics.
    expect(text).toMatch(/^ {2}tax +expert +50 +50 /m);
    expect(text).toMatch(/^ {2}out +output +50 +50 /m);
    expectNothingRunning(started);
  });

  it("refuses bots that share a process but disagree on replicas", () => {
    expect(() =>
      config("disagree", [
        { name: "a", module: "experts.taxonomy", destinations: { _default: ["b"] }, extra: "  process: p" },
        { name: "b", module: "experts.taxonomy", extra: "  process: p\n  replicas: 2" },
      ]),
    ).toThrow(/bots sharing process p must have the same replicas: a=1, b=2/);
  });

  it("restarts a bot that was killed, and stops everything on request", async () => {
    const file = join(dir, "restart-out.jsonl");
    const stop = new AbortController();
    let killed: number | undefined;
    const running = run(
      "restart",
      [
        {
          name: "feed",
          module: "test.lines_collector",
          parameters: { lines: ips },
          destinations: { _default: ["parse"] },
        },
        { name: "parse", module: "test.ip_parser", destinations: { _default: ["out"] } },
        { name: "out", module: "test.jsonl_output", parameters: { file } },
      ],
      {
        mode: "follow",
        signal: stop.signal,
        onStarted: (s) => {
          void (async () => {
            const parse = s.instances.find((i) => i.name === "parse");
            if (!parse) throw new Error("no parse instance");
            killed = await waitFor("parse to run", () => parse.pid);
            await waitFor(
              "the events",
              () => existsSync(file) && readFileSync(file, "utf8").split("\n").length > 50,
            );
            process.kill(killed, "SIGKILL");
            await waitFor(
              "a restart",
              () => parse.restarts === 1 && parse.state === "running" && parse.pid !== killed,
            );
            stop.abort();
          })().catch((error: unknown) => {
            console.error(error);
            stop.abort();
          });
        },
      },
    );
    const { result, text, started } = await running;
    expect(result.outcome, text).toBe("interrupted");
    expect(result.exitCode).toBe(0);
    const parse = started.instances.find((i) => i.name === "parse");
    expect(parse?.restarts).toBe(1);
    expect(text).toMatch(new RegExp(`parse \\(pid ${killed}\\) was killed by SIGKILL; restarting in`));
    expect(alive(killed)).toBe(false);
    expectNothingRunning(started);
  });

  it("does not restart a bot stopped by error_procedure stop (exit code 3) and fails --until-drained", async () => {
    const { result, text, started } = await run("stopper", [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ["192.0.2.1"] },
        destinations: { _default: ["parse"] },
      },
      { name: "parse", module: "test.ip_parser", destinations: { _default: ["fail"] } },
      { name: "fail", module: "test.failing_expert", extra: "  errorProcedure: stop\n  errorMaxRetries: 0" },
    ]);
    expect(result.exitCode).toBe(1);
    expect(result.outcome).toBe("failed");
    const fail = started.instances.find((i) => i.name === "fail");
    expect(fail?.state).toBe("error-stop");
    expect(fail?.lastExit?.code).toBe(3);
    expect(fail?.restarts).toBe(0);
    expect(text).toMatch(/bot fail stopped itself \(error_procedure: stop\)/);
    expectNothingRunning(started);
  });

  it("gives up a bot that keeps crashing and fails --until-drained, naming it", async () => {
    const { result, text, started } = await run(
      "crashloop",
      [{ name: "broken", module: "test.crashing_expert" }],
      { timing: { ...FAST, maxCrashes: 3 } },
    );
    expect(result.outcome, text).toBe("failed");
    expect(result.exitCode).toBe(1);
    const broken = started.instances[0];
    expect(broken?.state).toBe("failed");
    expect(broken?.restarts).toBe(2);
    expect(text.match(/broken \(pid \d+\) exited with code 1; restarting in/g)).toHaveLength(2);
    // Why, from the bot's own log, without opening it.
    expect(text).toMatch(
      /broken \(pid \d+\) exited with code 1; restarting in .*: Bot failed\. .*this expert cannot start/,
    );
    // Each restart listens on a metrics port picked for it, which the configuration file names.
    const config = JSON.parse(readFileSync(join(dir, "crashloop", "bots", "broken.json"), "utf8"));
    expect(config.metricsPort).toBe(broken?.spec.metricsPort);
    const ports = readFileSync(join(dir, "crashloop", "logs", "broken.log"), "utf8").match(
      /"metricsPort":\d+/g,
    );
    expect(new Set(ports).size).toBe(3);
    expect(text).toMatch(/petrelctl up: bot broken crashed 3 times and was given up \(log .*broken\.log\)/);
    expect(readFileSync(join(dir, "crashloop", "logs", "broken.log"), "utf8")).toMatch(
      /this expert cannot start/,
    );
    expectNothingRunning(started);
  });

  it("exits 1 after draining when dead letters appeared, naming the bot and `petrelctl dlq list`", async () => {
    const file = join(dir, "dlq-out.jsonl");
    const { result, text, started } = await run("dlq", [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ["192.0.2.1", "not-an-ip", "192.0.2.2"] },
        destinations: { _default: ["parse"] },
      },
      { name: "parse", module: "test.ip_parser", destinations: { _default: ["out"] } },
      { name: "out", module: "test.jsonl_output", parameters: { file } },
    ]);
    expect(result.outcome, text).toBe("drained");
    expect(result.exitCode).toBe(1);
    expect(text).toMatch(
      /Dead letters appeared: parse 1\. Inspect them with `petrelctl dlq list --pipeline dlq --nats <URL>` while/,
    );
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
    expectNothingRunning(started);
  });

  it("applies the Exclusions of the YAML from the first event: drops and marks exactly the matching events", async () => {
    const exclusion = (name: string, spec: string) =>
      `apiVersion: petrel.dev/v1alpha1\nkind: Exclusion\nmetadata: {name: ${name}}\nspec:\n${spec}`;
    const customers = exclusion(
      "customers",
      "  scope: {pipelines: [excl]}\n  match: {all: [{field: source.ip, cidr: [198.51.100.0/28]}]}\n  reason: protected constituents\n",
    );
    const note = exclusion(
      "note",
      "  scope: {pipelineSelector: {}}\n  match: {any: [{field: source.ip, cidr: [198.51.100.32/28]}]}\n  action: {type: mark, set: [{field: extra.excluded_by, value: note}]}\n  reason: r\n",
    );
    const bots = (file: string): TestBot[] => [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ips },
        destinations: { _default: ["parse"] },
      },
      { name: "parse", module: "test.ip_parser", destinations: { _default: ["tax"] } },
      { name: "tax", module: "experts.taxonomy", destinations: { _default: ["out"] } },
      { name: "out", module: "test.jsonl_output", parameters: { file } },
    ];
    const read = (file: string) =>
      readFileSync(file, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, string>);
    const first = join(dir, "excl-1.jsonl");
    const { result, text, started } = await run("excl", bots(first), {}, { documents: [customers, note] });
    expect(result.exitCode, text).toBe(0);
    expect(text).toContain("Exclusions of pipeline excl: customers, note");
    const events = read(first);
    // .1–.15 dropped (198.51.100.0/28); .32–.47 marked; the other 19 untouched.
    expect(events.map((e) => e["source.ip"]).sort()).toEqual(ips.slice(15).sort());
    const marked = events.filter((e) => e["extra.excluded_by"] === "note").map((e) => e["source.ip"]);
    expect(marked.sort()).toEqual(ips.slice(31, 47).sort());
    expect(text).toMatch(/^ {2}out +output +50 +35 +15 /m);
    expect(text).toContain("Exclusions matched in pipeline excl: customers 15 (drop), note 16 (mark)");
    expectNothingRunning(started);

    // The next run without "customers" removes it from the bucket: nothing is dropped.
    const second = join(dir, "excl-2.jsonl");
    const again = await run("excl", bots(second), {}, { documents: [note] });
    expect(again.result.exitCode, again.text).toBe(0);
    expect(again.text).toContain("Removed exclusions no longer defined from pipeline excl: customers");
    expect(read(second)).toHaveLength(50);
    expect(again.text).toContain("Exclusions matched in pipeline excl: note 16 (mark)");
  });

  it("--reset starts from empty queues, so a re-run gives the same output", async () => {
    const bots = (file: string): TestBot[] => [
      {
        name: "feed",
        module: "test.lines_collector",
        parameters: { lines: ips.slice(0, 5) },
        destinations: { _default: ["parse"] },
      },
      { name: "parse", module: "test.ip_parser", destinations: { _default: ["out"] } },
      // Disabled: its queue fills, and --reset must empty it for the next run.
      { name: "out", module: "test.jsonl_output", parameters: { file }, extra: "  enabled: false" },
    ];
    // File storage: the queues outlive the private nats-server between runs.
    const yaml = { storage: "file" as const };
    const first = await run("rerun", bots(join(dir, "rerun-1.jsonl")), { reset: true }, yaml);
    expect(first.result.exitCode, first.text).toBe(0);
    expect(first.result.rows.find((r) => r.bot === "out")).toMatchObject({ state: "disabled", backlog: 5 });
    const second = await run("rerun", bots(join(dir, "rerun-2.jsonl")), { reset: true }, yaml);
    expect(second.text).toMatch(/Reset pipeline rerun: removed .*PETREL_RERUN\b/);
    expect(second.text).toMatch(/Reset pipeline rerun: removed .*PETREL_RERUN_DLQ/);
    expect(second.result.rows.find((r) => r.bot === "out")).toMatchObject({ backlog: 5 });
  });
});
