// Reliability against real failures: a real nats-server, bots as real child processes, events counted
// one by one at the end of the pipeline. Each test states the failure it injects and proves that no
// event is lost and none is duplicated.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterEach, describe, expect, it } from "vitest";
import { botSubject } from "../../bot-runtime/src/config/render.ts";
import { listDeadLetters } from "../../bot-runtime/src/runtime/dead-letters.ts";
import { startNatsServer, type TestNatsServer } from "../../bot-runtime/test-support/nats-server.ts";
import { produce, SinkBot, settle, sleep, TestPipeline, testEvent, waitFor } from "./harness.ts";

const CHAIN = [
  { name: "pass", module: "experts.passthrough", to: ["tax"] },
  { name: "tax", module: "experts.taxonomy", to: ["sink"] },
];
const CONSUMERS = ["pass", "tax", "sink"];
// The longest tests take 10–30 s alone; the bound leaves room for CI running other test files alongside.
const LONG_TEST_MS = 120_000;

let server: TestNatsServer | undefined;
let pipeline: TestPipeline | undefined;
afterEach(async () => {
  await pipeline?.dispose();
  await server?.dispose();
  pipeline = undefined;
  server = undefined;
});

/** Random integers in [lo, hi), sorted. */
function randomPoints(count: number, lo: number, hi: number): number[] {
  return Array.from({ length: count }, () => lo + Math.floor(Math.random() * (hi - lo))).sort(
    (a, b) => a - b,
  );
}

describe("reliability", () => {
  it(
    "kill -9 of a middle bot 10 times during 100,000 events: exact count, no duplicates",
    async () => {
      const N = 100_000;
      server = await startNatsServer();
      pipeline = await new TestPipeline(server, "kill").setup(CHAIN, ["sink"]);
      const p = pipeline;
      await Promise.all([p.start("pass"), p.start("tax")]);
      const sink = new SinkBot(p, "sink", N);
      const producing = produce(p.nc, p.name, "pass", 0, N);
      const points = randomPoints(10, N * 0.03, N * 0.95);
      const kills: number[] = [];
      let redeliveries = 0;
      for (const point of points) {
        const reached = await waitFor(() => sink.distinct >= point, 30_000, 5);
        expect(reached, `sink stalled at ${sink.distinct} before kill point ${point}`).toBe(true);
        // A random extra moment so the kill lands anywhere: mid-handler, mid-publish, before the ack.
        await sleep(Math.random() * 50);
        const tax = p.bots.get("tax");
        redeliveries += (await tax?.metric("petrel_bot_redeliveries_total")) ?? 0;
        const exit = await tax?.kill("SIGKILL");
        expect(exit?.signal).toBe("SIGKILL");
        kills.push(sink.distinct);
        await sleep(Math.random() * 300);
        await p.start("tax");
      }
      await producing;
      const ok = await settle(p, sink, N, CONSUMERS, 40_000);
      redeliveries += (await p.bots.get("tax")?.metric("petrel_bot_redeliveries_total")) ?? 0;
      await sink.stop();
      console.log(
        `kill -9: ${N} events, ${kills.length} kills at sink counts ${kills.join(", ")}; ` +
          `written ${sink.received}, distinct ${sink.distinct}, duplicates ${sink.duplicates}, ` +
          `lost ${N - sink.distinct}; tax redeliveries at least ${redeliveries}`,
      );
      expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
      expect(sink.distinct).toBe(N);
      expect(sink.duplicates).toBe(0);
    },
    LONG_TEST_MS,
  );

  it(
    "kill -9 of a process shared by a deduplicator and an expert 10 times during 50,000 events: exact count, no duplicates",
    async () => {
      // Messages between dedup and tax never touch JetStream; a kill loses the hand-overs in memory,
      // and the deduplicator meets hashes its own unfinished inputs stored before they come back.
      const N = 50_000;
      server = await startNatsServer();
      pipeline = await new TestPipeline(server, "killshared").setup(
        [
          { name: "pass", module: "experts.passthrough", to: ["dedup"] },
          { name: "dedup", module: "experts.deduplicator", to: ["tax"] },
          { name: "tax", module: "experts.taxonomy", to: ["sink"] },
        ],
        ["sink"],
      );
      const p = pipeline;
      p.shareProcess("shared", ["dedup", "tax"]);
      await Promise.all([p.start("pass"), p.start("shared")]);
      const sink = new SinkBot(p, "sink", N);
      const producing = produce(p.nc, p.name, "pass", 0, N);
      const kills: number[] = [];
      for (const point of randomPoints(10, N * 0.03, N * 0.95)) {
        const reached = await waitFor(() => sink.distinct >= point, 30_000, 5);
        expect(reached, `sink stalled at ${sink.distinct} before kill point ${point}`).toBe(true);
        await sleep(Math.random() * 50);
        const exit = await p.bots.get("shared")?.kill("SIGKILL");
        expect(exit?.signal).toBe("SIGKILL");
        kills.push(sink.distinct);
        await sleep(Math.random() * 300);
        await p.start("shared");
      }
      await producing;
      const ok = await settle(p, sink, N, ["pass", "dedup", "tax", "sink"], 40_000);
      await sink.stop();
      console.log(
        `kill -9 (shared process): ${N} events, kills at sink counts ${kills.join(", ")}; ` +
          `written ${sink.received}, distinct ${sink.distinct}, duplicates ${sink.duplicates}, lost ${N - sink.distinct}`,
      );
      expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
      expect(sink.distinct).toBe(N);
      expect(sink.duplicates).toBe(0);
    },
    LONG_TEST_MS,
  );

  for (const hard of [false, true]) {
    const how = hard ? "SIGKILL" : "SIGTERM";
    it(
      `nats-server restarted (${how}, same store) twice mid-stream: nothing lost, no duplicates`,
      async () => {
        const N = 50_000;
        server = await startNatsServer();
        pipeline = await new TestPipeline(server, `restart-${how.toLowerCase()}`).setup(CHAIN, ["sink"]);
        const p = pipeline;
        const s = server;
        await Promise.all([p.start("pass"), p.start("tax")]);
        const sink = new SinkBot(p, "sink", N);
        const producing = produce(p.nc, p.name, "pass", 0, N);
        const restarts: number[] = [];
        for (const point of randomPoints(2, N * 0.1, N * 0.8)) {
          const reached = await waitFor(() => sink.distinct >= point, 30_000, 5);
          expect(reached, `sink stalled at ${sink.distinct} before restart point ${point}`).toBe(true);
          await sleep(Math.random() * 50);
          restarts.push(sink.distinct);
          await s.stop(hard);
          await sleep(200 + Math.random() * 800);
          await s.restart();
        }
        await producing;
        const ok = await settle(p, sink, N, CONSUMERS, 45_000);
        await sink.stop();
        const alive = [...p.bots.values()].every((b) => b.alive);
        // Copies that came back after a restart and were recognised (see completed-inputs.ts).
        let copies =
          (await sink.bot.metrics.process.dropped.get()).values.find(
            (v) => v.labels.reason === "already-processed",
          )?.value ?? 0;
        for (const bot of p.bots.values()) {
          copies += await bot.metric("petrel_bot_messages_dropped_total", 'reason="already-processed"');
        }
        console.log(
          `nats-server ${how}: ${N} events, restarts at sink counts ${restarts.join(", ")}; written ${sink.received}, ` +
            `distinct ${sink.distinct}, duplicates ${sink.duplicates}, lost ${N - sink.distinct}; ` +
            `copies recognised and skipped ${copies}; bots alive ${alive}`,
        );
        expect(alive).toBe(true);
        expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
        expect(sink.distinct).toBe(N);
        expect(sink.duplicates).toBe(0);
      },
      LONG_TEST_MS,
    );
  }

  it("a poison message is dead-lettered after its retries while the others flow on", async () => {
    const N = 10_000;
    const POISON = 4_321;
    server = await startNatsServer();
    pipeline = await new TestPipeline(server, "poison", {
      defaults: { errorRetryDelay: "200ms", errorMaxRetries: 3 },
    }).setup(
      [
        { name: "pass", module: "experts.passthrough", to: ["picky"] },
        { name: "picky", module: "test.picky_expert", parameters: { poison: POISON }, to: ["sink"] },
      ],
      ["sink"],
    );
    const p = pipeline;
    const [, picky] = await Promise.all([p.start("pass"), p.start("picky")]);
    const sink = new SinkBot(p, "sink", N);
    const started = Date.now();
    await produce(p.nc, p.name, "pass", 0, N);
    const ok = await settle(p, sink, N - 1, ["pass", "picky", "sink"], 30_000);
    const letters = await listDeadLetters(p.nc, p.name);
    await sink.stop();
    const failed = await picky.metric("petrel_bot_messages_failed_total");
    const deadLettered = await picky.metric(
      "petrel_bot_messages_dead_lettered_total",
      'reason="retries-exhausted"',
    );
    const letter = letters[0]?.letter;
    console.log(
      `poison: ${N} events, sink got ${sink.distinct} distinct (${sink.duplicates} duplicates); ${letters.length} ` +
        `dead letter(s) after ${letter?.attempts} attempts, ${failed} failed attempts counted; ` +
        `dead-lettered ${letter ? Date.parse(letter.time) - started : "-"} ms after the start`,
    );
    expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
    expect(sink.distinct).toBe(N - 1);
    expect(sink.counts[POISON]).toBe(0);
    expect(sink.duplicates).toBe(0);
    expect(letters).toHaveLength(1);
    expect(letters[0]?.bot).toBe("picky");
    expect(letter).toMatchObject({
      bot: "picky",
      pipeline: "poison",
      reason: "retries-exhausted",
      error: `cannot digest event ${POISON}`,
      attempts: 4,
      inputSubject: "petrel.poison.bot.picky",
    });
    expect(JSON.parse(letter?.message ?? "{}")["extra.n"]).toBe(POISON);
    expect(failed).toBe(4);
    expect(deadLettered).toBe(1);
    expect(picky.alive).toBe(true);
  });

  it("a full stream makes producers wait (publish retries); nothing crashes or is lost once it drains", async () => {
    const QUEUED = 500;
    server = await startNatsServer();
    // About 190 bytes per stored event: the stream holds some 1,300 events.
    pipeline = await new TestPipeline(server, "full", { stream: { maxBytes: "256K" } }).setup(
      [{ name: "pass", module: "experts.passthrough", to: ["sink"] }],
      ["sink"],
    );
    const p = pipeline;
    // The sink is down: events for pass wait in its queue, and earlier output fills the sink's queue
    // until the stream refuses more.
    await produce(p.nc, p.name, "pass", 0, QUEUED);
    const js = jetstream(p.nc);
    let total = QUEUED;
    for (;;) {
      const refused = await js
        .publish(botSubject(p.name, "sink"), new TextEncoder().encode(testEvent(total)), {
          msgID: `producer:${total}`,
        })
        .then(
          () => undefined,
          (error: Error) => error,
        );
      if (refused) {
        expect(refused.message).toMatch(/maximum bytes exceeded/);
        break;
      }
      total++;
      expect(total).toBeLessThan(5_000);
    }
    const full = (await (await jetstreamManager(p.nc)).streams.info(p.stream)).state;
    // pass starts, and every output it makes is refused: it must wait, not crash or drop anything.
    const pass = await p.start("pass");
    expect(
      await waitFor(
        async () => (await pass.metric("petrel_bot_publish_retries_total", 'reason="full"')) > 0,
        20_000,
      ),
      "pass never got a refusal",
    ).toBe(true);
    await sleep(3_000);
    const retriesWhileFull = await pass.metric("petrel_bot_publish_retries_total", 'reason="full"');
    const aliveWhileFull = pass.alive;
    const stillQueued = await p.backlog("pass");
    // The sink comes back and drains: space frees up and pass's waiting outputs go through.
    const sink = new SinkBot(p, "sink", total);
    const ok = await settle(p, sink, total, ["pass", "sink"], 30_000);
    await sink.stop();
    console.log(
      `full stream: ${full.messages} messages, ${full.bytes} bytes in a 256K stream; pass retried ${retriesWhileFull} ` +
        `refused publishes in 3 s with ${stillQueued} inputs waiting; after the sink drained: ${sink.distinct} ` +
        `of ${total} events, ${sink.duplicates} duplicates; pass alive ${pass.alive}`,
    );
    expect(aliveWhileFull).toBe(true);
    expect(stillQueued).toBe(QUEUED);
    expect(retriesWhileFull).toBeGreaterThan(0);
    expect(pass.alive).toBe(true);
    expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
    expect(sink.distinct).toBe(total);
    expect(sink.duplicates).toBe(0);
  });

  it("a full queue refuses only its own producers: the bots after it keep room and the pipeline drains", async () => {
    const LIMIT = 300;
    server = await startNatsServer();
    pipeline = await new TestPipeline(server, "quota", { stream: { maxMessagesPerQueue: LIMIT } }).setup(
      [{ name: "pass", module: "experts.passthrough", to: ["sink"] }],
      ["sink"],
    );
    const p = pipeline;
    // Fill pass's queue until JetStream refuses: with one shared limit this was a deadlock (pass could
    // store no output, so it could never acknowledge and free its input).
    const js = jetstream(p.nc);
    let queued = 0;
    for (;;) {
      const refused = await js
        .publish(botSubject(p.name, "pass"), new TextEncoder().encode(testEvent(queued)), {
          msgID: `producer:${queued}`,
        })
        .then(
          () => undefined,
          (error: Error) => error,
        );
      if (refused) {
        expect(refused.message).toMatch(/maximum messages per subject exceeded/);
        break;
      }
      queued++;
      expect(queued).toBeLessThanOrEqual(LIMIT);
    }
    expect(queued).toBe(LIMIT);
    await p.start("pass");
    const sink = new SinkBot(p, "sink", queued);
    const ok = await settle(p, sink, queued, ["pass", "sink"], 30_000);
    await sink.stop();
    expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
    expect(sink.distinct).toBe(queued);
    expect(sink.duplicates).toBe(0);
  });

  it("SIGTERM during a busy stream drains in-flight work and exits 0 within the grace period", async () => {
    const N = 40_000;
    const GRACE_MS = 10_000;
    // The default ack_wait: a message left delivered-but-unacknowledged would hold the rest up this long.
    const ACK_WAIT_MS = 30_000;
    server = await startNatsServer();
    pipeline = await new TestPipeline(server, "sigterm", { ackWaitMs: ACK_WAIT_MS }).setup(CHAIN, ["sink"]);
    const p = pipeline;
    const env = { PETREL_STOP_GRACE_MS: String(GRACE_MS) };
    await Promise.all([p.start("pass", env), p.start("tax", env)]);
    const sink = new SinkBot(p, "sink", N);
    const producing = produce(p.nc, p.name, "pass", 0, N);
    expect(await waitFor(() => sink.distinct >= N / 3, 30_000, 5)).toBe(true);
    const tax = p.bots.get("tax");
    const started = Date.now();
    const exit = await tax?.kill("SIGTERM");
    const took = Date.now() - started;
    const atStop = sink.distinct;
    const restarted = Date.now();
    await p.start("tax", env);
    await producing;
    const ok = await settle(p, sink, N, CONSUMERS, ACK_WAIT_MS - 5_000);
    const rest = Date.now() - restarted;
    await sink.stop();
    console.log(
      `SIGTERM: exit ${JSON.stringify(exit)} after ${took} ms at sink count ${atStop}; the rest took ${rest} ms ` +
        `after the restart; ${N} events, ${sink.distinct} distinct, ${sink.duplicates} duplicates`,
    );
    expect(exit).toEqual({ code: 0, signal: null });
    expect(took).toBeLessThan(GRACE_MS);
    // Everything finished before ack_wait could expire: nothing was left stranded by the stop.
    expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
    expect(sink.distinct).toBe(N);
    expect(sink.duplicates).toBe(0);
  });

  it("SIGHUP reloads a busy bot in place and every event is processed exactly once", async () => {
    const N = 40_000;
    server = await startNatsServer();
    // Log level info: the test reads the reload messages from the bot's log.
    pipeline = await new TestPipeline(server, "sighup", { defaults: { logLevel: "info" } }).setup(CHAIN, [
      "sink",
    ]);
    const p = pipeline;
    const [, tax] = await Promise.all([p.start("pass"), p.start("tax")]);
    const sink = new SinkBot(p, "sink", N);
    const producing = produce(p.nc, p.name, "pass", 0, N);
    const reloads: number[] = [];
    for (const point of randomPoints(3, N * 0.1, N * 0.8)) {
      expect(await waitFor(() => sink.distinct >= point, 30_000, 5)).toBe(true);
      await tax.kill("SIGHUP");
      reloads.push(sink.distinct);
      // The reload is done when the bot is ready again (its metrics server stays up throughout).
      await sleep(100);
      await tax.ready();
    }
    await producing;
    const ok = await settle(p, sink, N, CONSUMERS, 40_000);
    await sink.stop();
    console.log(
      `SIGHUP: ${reloads.length} reloads at sink counts ${reloads.join(", ")}; same process alive ${tax.alive}; ` +
        `${N} events, ${sink.distinct} distinct, ${sink.duplicates} duplicates`,
    );
    expect(tax.alive).toBe(true);
    expect(tax.log().split("Configuration reloaded.").length - 1).toBe(reloads.length);
    expect(ok, `missing e.g. ${sink.missing()}`).toBe(true);
    expect(sink.distinct).toBe(N);
    expect(sink.duplicates).toBe(0);
  });
});
