// Prometheus metrics of a bot process, and the HTTP endpoints /metrics, /healthz and /readyz.
// Every series carries the labels pipeline and bot; names are listed in docs/metrics.md. A process that
// runs several bots of a chain (Bot spec `process`) serves them all from one registry, told apart by
// `bot`; its Node.js metrics carry the process name as `bot`.
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BotMetricsSink } from "../sdk/bot.ts";

/** The metric families of one process, with `bot` as a label so several bots can share them. */
export class ProcessMetrics {
  readonly registry = new Registry();
  readonly info: Gauge<"bot" | "module" | "kind">;
  readonly received: Counter<"bot">;
  readonly sent: Counter<"bot" | "path">;
  readonly dropped: Counter<"bot" | "reason">;
  readonly failed: Counter<"bot">;
  readonly deadLettered: Counter<"bot" | "reason">;
  readonly redeliveries: Counter<"bot">;
  readonly publishRetries: Counter<"bot" | "reason">;
  readonly duration: Histogram<"bot">;
  readonly backlog: Gauge<"bot">;
  readonly lastSuccess: Gauge<"bot">;
  readonly collectorRuns: Counter<"bot" | "result">;
  readonly exclusionMatches: Counter<"bot" | "exclusion">;
  readonly cacheLookups: Counter<"bot" | "cache" | "result">;
  readonly outputBatchSize: Histogram<"bot">;
  readonly outputWriteDuration: Histogram<"bot">;

  /** `process`: the bot's name, or the name of the process a chain of bots shares. */
  constructor(labels: { pipeline: string; process: string }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pipeline: labels.pipeline, bot: labels.process });
    collectDefaultMetrics({ register: this.registry });
    this.info = new Gauge({
      name: "petrel_bot_info",
      help: "Bot module and kind (always 1).",
      labelNames: ["bot", "module", "kind"],
      registers,
    });
    this.received = new Counter({
      name: "petrel_bot_messages_received_total",
      help: "Messages taken from the bot's input queue (redeliveries included).",
      labelNames: ["bot"],
      registers,
    });
    this.sent = new Counter({
      name: "petrel_bot_messages_sent_total",
      help: "Messages stored in destination queues (or written to the sink, for outputs), by path.",
      labelNames: ["bot", "path"],
      registers,
    });
    this.dropped = new Counter({
      name: "petrel_bot_messages_dropped_total",
      help: "Inputs that produced no output on purpose (filtered, duplicate, empty), or paths without destinations.",
      labelNames: ["bot", "reason"],
      registers,
    });
    this.failed = new Counter({
      name: "petrel_bot_messages_failed_total",
      help: "Processing attempts that failed (each retry counts).",
      labelNames: ["bot"],
      registers,
    });
    this.deadLettered = new Counter({
      name: "petrel_bot_messages_dead_lettered_total",
      help: "Messages sent to the dead-letter stream, by reason.",
      labelNames: ["bot", "reason"],
      registers,
    });
    this.redeliveries = new Counter({
      name: "petrel_bot_redeliveries_total",
      help: "Input messages received again (after a retry, a crash or an ack timeout).",
      labelNames: ["bot"],
      registers,
    });
    this.publishRetries = new Counter({
      name: "petrel_bot_publish_retries_total",
      help: "Publishes JetStream refused or did not confirm in time, retried (e.g. pipeline full).",
      labelNames: ["bot", "reason"],
      registers,
    });
    this.duration = new Histogram({
      name: "petrel_bot_processing_duration_seconds",
      help: "Time to process one input message (outputs: one batch), until its outputs are stored.",
      labelNames: ["bot"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.backlog = new Gauge({
      name: "petrel_bot_input_backlog_messages",
      help: "Messages waiting in the bot's input queue, including those delivered but not yet acknowledged.",
      labelNames: ["bot"],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: "petrel_bot_last_success_timestamp_seconds",
      help: "Unix time of the last successfully processed message or collection run.",
      labelNames: ["bot"],
      registers,
    });
    this.collectorRuns = new Counter({
      name: "petrel_bot_collector_runs_total",
      help: "Collection runs of a collector, by result (ok, error).",
      labelNames: ["bot", "result"],
      registers,
    });
    this.exclusionMatches = new Counter({
      name: "petrel_exclusion_matches_total",
      help: "Events an Exclusion matched at this bot (dropped, marked or rerouted), by exclusion.",
      labelNames: ["bot", "exclusion"],
      registers,
    });
    this.cacheLookups = new Counter({
      name: "petrel_bot_cache_lookups_total",
      help: "Lookups in a bot's cache (DNS answers, whois records, …), by cache and result (hit, miss).",
      labelNames: ["bot", "cache", "result"],
      registers,
    });
    this.outputBatchSize = new Histogram({
      name: "petrel_output_batch_size_events",
      help: "Events an output wrote to its sink in one batch.",
      labelNames: ["bot"],
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
      registers,
    });
    this.outputWriteDuration = new Histogram({
      name: "petrel_output_write_duration_seconds",
      help: "Time an output took to write one batch until the sink confirmed it (failed writes included).",
      labelNames: ["bot"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }
}

/** A counter of one bot: inc(n) or inc(labels, n), as prom-client's, with `bot` filled in. */
export interface BotCounter<L extends string = never> {
  inc(...args: [L] extends [never] ? [value?: number] : [labels: Record<L, string>, value?: number]): void;
}

/** The metrics of one bot, bound to its `bot` label in a (possibly shared) ProcessMetrics. */
export class BotMetrics {
  readonly process: ProcessMetrics;
  readonly registry: Registry;
  readonly received: BotCounter;
  readonly sent: BotCounter<"path">;
  readonly dropped: BotCounter<"reason">;
  readonly failed: BotCounter;
  readonly deadLettered: BotCounter<"reason">;
  readonly redeliveries: BotCounter;
  readonly publishRetries: BotCounter<"reason">;
  readonly duration: { observe(seconds: number): void };
  readonly backlog: { set(value: number): void };
  readonly lastSuccess: { set(value: number): void };
  readonly collectorRuns: BotCounter<"result">;
  readonly exclusionMatches: BotCounter<"exclusion">;
  readonly outputBatchSize: { observe(events: number): void };
  readonly outputWriteDuration: { observe(seconds: number): void };
  /** What the bot's own code reports (BotContext.metrics). */
  readonly sink: BotMetricsSink;

  constructor(
    labels: { pipeline: string; bot: string; module: string; kind: string },
    shared?: ProcessMetrics,
  ) {
    const p = shared ?? new ProcessMetrics({ pipeline: labels.pipeline, process: labels.bot });
    this.process = p;
    this.registry = p.registry;
    const bot = { bot: labels.bot };
    p.info.set({ ...bot, module: labels.module, kind: labels.kind }, 1);
    const plain = (c: Counter<"bot">): BotCounter => ({ inc: (value?: number) => c.inc(bot, value ?? 1) });
    const labelled = <L extends string>(c: Counter<"bot" | L>): BotCounter<L> => ({
      inc: ((extra: Record<L, string>, value?: number) =>
        c.inc({ ...extra, ...bot } as Record<"bot" | L, string>, value ?? 1)) as BotCounter<L>["inc"],
    });
    this.received = plain(p.received);
    this.sent = labelled(p.sent);
    this.dropped = labelled(p.dropped);
    this.failed = plain(p.failed);
    this.deadLettered = labelled(p.deadLettered);
    this.redeliveries = plain(p.redeliveries);
    this.publishRetries = labelled(p.publishRetries);
    this.collectorRuns = labelled(p.collectorRuns);
    this.exclusionMatches = labelled(p.exclusionMatches);
    this.duration = p.duration.labels(bot);
    this.backlog = p.backlog.labels(bot);
    this.lastSuccess = p.lastSuccess.labels(bot);
    this.outputBatchSize = p.outputBatchSize.labels(bot);
    this.outputWriteDuration = p.outputWriteDuration.labels(bot);
    const hit = (cache: string) => p.cacheLookups.labels({ ...bot, cache, result: "hit" });
    const miss = (cache: string) => p.cacheLookups.labels({ ...bot, cache, result: "miss" });
    const caches = new Map<string, { hit: { inc(): void }; miss: { inc(): void } }>();
    this.sink = {
      cacheLookup(cache, isHit) {
        let counters = caches.get(cache);
        if (counters === undefined) {
          counters = { hit: hit(cache), miss: miss(cache) };
          caches.set(cache, counters);
        }
        (isHit ? counters.hit : counters.miss).inc();
      },
    };
  }
}

export interface HealthState {
  /** Connected and handler initialised: ready to take work. */
  ready(): boolean;
}

/** Serves /metrics, /healthz (the process answers) and /readyz (ready for work). */
export function serveMetrics(
  metrics: { registry: Registry },
  port: number,
  health: HealthState,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === "/metrics") {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(body);
        })
        .catch((error: Error) => {
          res.writeHead(500);
          res.end(error.message);
        });
      return;
    }
    if (req.url === "/healthz") {
      res.writeHead(200);
      res.end("ok\n");
      return;
    }
    if (req.url === "/readyz") {
      const ready = health.ready();
      res.writeHead(ready ? 200 : 503);
      res.end(ready ? "ready\n" : "not ready\n");
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => resolve(server));
  });
}
