// Prometheus metrics of one bot process, and the HTTP endpoints /metrics, /healthz and /readyz.
// Every metric carries the labels pipeline and bot; names are listed in docs/metrics.md.
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class BotMetrics {
  readonly registry = new Registry();
  readonly received: Counter;
  readonly sent: Counter<"path">;
  readonly dropped: Counter<"reason">;
  readonly failed: Counter;
  readonly deadLettered: Counter<"reason">;
  readonly redeliveries: Counter;
  readonly publishRetries: Counter<"reason">;
  readonly duration: Histogram;
  readonly backlog: Gauge;
  readonly lastSuccess: Gauge;
  readonly collectorRuns: Counter<"result">;

  constructor(labels: { pipeline: string; bot: string; module: string; kind: string }) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ pipeline: labels.pipeline, bot: labels.bot });
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "petrel_bot_info",
      help: "Bot module and kind (always 1).",
      labelNames: ["module", "kind"],
      registers,
    }).set({ module: labels.module, kind: labels.kind }, 1);
    this.received = new Counter({
      name: "petrel_bot_messages_received_total",
      help: "Messages taken from the bot's input queue (redeliveries included).",
      registers,
    });
    this.sent = new Counter({
      name: "petrel_bot_messages_sent_total",
      help: "Messages stored in destination queues (or written to the sink, for outputs), by path.",
      labelNames: ["path"],
      registers,
    });
    this.dropped = new Counter({
      name: "petrel_bot_messages_dropped_total",
      help: "Inputs that produced no output on purpose (filtered, duplicate, empty), or paths without destinations.",
      labelNames: ["reason"],
      registers,
    });
    this.failed = new Counter({
      name: "petrel_bot_messages_failed_total",
      help: "Processing attempts that failed (each retry counts).",
      registers,
    });
    this.deadLettered = new Counter({
      name: "petrel_bot_messages_dead_lettered_total",
      help: "Messages sent to the dead-letter stream, by reason.",
      labelNames: ["reason"],
      registers,
    });
    this.redeliveries = new Counter({
      name: "petrel_bot_redeliveries_total",
      help: "Input messages received again (after a retry, a crash or an ack timeout).",
      registers,
    });
    this.publishRetries = new Counter({
      name: "petrel_bot_publish_retries_total",
      help: "Publishes JetStream refused or did not confirm in time, retried (e.g. pipeline full).",
      labelNames: ["reason"],
      registers,
    });
    this.duration = new Histogram({
      name: "petrel_bot_processing_duration_seconds",
      help: "Time to process one input message (outputs: one batch), until its outputs are stored.",
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.backlog = new Gauge({
      name: "petrel_bot_input_backlog_messages",
      help: "Messages waiting in the bot's input queue, including those delivered but not yet acknowledged.",
      registers,
    });
    this.lastSuccess = new Gauge({
      name: "petrel_bot_last_success_timestamp_seconds",
      help: "Unix time of the last successfully processed message or collection run.",
      registers,
    });
    this.collectorRuns = new Counter({
      name: "petrel_bot_collector_runs_total",
      help: "Collection runs of a collector, by result (ok, error).",
      labelNames: ["result"],
      registers,
    });
  }
}

export interface HealthState {
  /** Connected and handler initialised: ready to take work. */
  ready(): boolean;
}

/** Serves /metrics, /healthz (the process answers) and /readyz (ready for work). */
export function serveMetrics(metrics: BotMetrics, port: number, health: HealthState): Promise<Server> {
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
