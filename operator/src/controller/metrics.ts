// The operator's own metrics (prom-client, a registry per operator) and its HTTP endpoints: /metrics,
// /healthz (the process answers) and /readyz (the caches hold their first full lists).
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "petrel_operator_reconcile_total",
    help: "Reconciles by kind (Pipeline, Bot, Exclusion) and result (success, requeue, error).",
    labelNames: ["kind", "result"] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: "petrel_operator_reconcile_duration_seconds",
    help: "Time one reconcile took, by kind.",
    labelNames: ["kind"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "petrel_operator_leader",
    help: "1 while this operator instance holds the leader lease and reconciles, else 0.",
    registers: [this.registry],
  });

  constructor(queueDepth: () => number) {
    new Gauge({
      name: "petrel_operator_workqueue_depth",
      help: "Keys waiting in the work queue.",
      registers: [this.registry],
      collect() {
        this.set(queueDepth());
      },
    });
    collectDefaultMetrics({ register: this.registry, prefix: "petrel_operator_" });
  }
}

/** Serves the endpoints on `port` (0: any free port). */
export function serveOperatorHttp(
  metrics: OperatorMetrics,
  port: number,
  ready: () => boolean,
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = req.url?.split("?")[0];
    if (path === "/metrics") {
      metrics.registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(body);
        },
        (error: Error) => {
          res.writeHead(500);
          res.end(error.message);
        },
      );
      return;
    }
    if (path === "/healthz") {
      res.writeHead(200);
      res.end("ok\n");
      return;
    }
    if (path === "/readyz") {
      const ok = ready();
      res.writeHead(ok ? 200 : 503);
      res.end(ok ? "ready\n" : "caches not synced\n");
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
