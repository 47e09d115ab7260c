// Scrapes a bot process's /metrics (Prometheus text) into the few counters the status table needs,
// and keeps totals across restarts (a restarted process starts its counters at zero).
import { get } from "node:http";

export interface BotCounters {
  received: number;
  sent: number;
  dropped: number;
  failed: number;
  deadLettered: number;
  collectorOk: number;
  collectorError: number;
}

export const ZERO: BotCounters = Object.freeze({
  received: 0,
  sent: 0,
  dropped: 0,
  failed: 0,
  deadLettered: 0,
  collectorOk: 0,
  collectorError: 0,
});

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus text exposition (comments skipped). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    }
    const value = Number(m[3]);
    if (!Number.isNaN(value)) samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

function sum(samples: readonly Sample[], name: string, where: Record<string, string> = {}): number {
  let total = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).every(([k, v]) => s.labels[k] === v)) total += s.value;
  }
  return total;
}

/** The counters of `bot` (a process shared by several bots serves all of theirs), or of all series. */
export function countersOf(samples: readonly Sample[], bot?: string): BotCounters {
  const of: Record<string, string> = bot === undefined ? {} : { bot };
  return {
    received: sum(samples, "petrel_bot_messages_received_total", of),
    sent: sum(samples, "petrel_bot_messages_sent_total", of),
    dropped: sum(samples, "petrel_bot_messages_dropped_total", of),
    failed: sum(samples, "petrel_bot_messages_failed_total", of),
    deadLettered: sum(samples, "petrel_bot_messages_dead_lettered_total", of),
    collectorOk: sum(samples, "petrel_bot_collector_runs_total", { ...of, result: "ok" }),
    collectorError: sum(samples, "petrel_bot_collector_runs_total", { ...of, result: "error" }),
  };
}

export function addCounters(a: BotCounters, b: BotCounters): BotCounters {
  return {
    received: a.received + b.received,
    sent: a.sent + b.sent,
    dropped: a.dropped + b.dropped,
    failed: a.failed + b.failed,
    deadLettered: a.deadLettered + b.deadLettered,
    collectorOk: a.collectorOk + b.collectorOk,
    collectorError: a.collectorError + b.collectorError,
  };
}

function httpGet(
  port: number,
  path: string,
  timeoutMs: number,
): Promise<{ status: number; body: string } | undefined> {
  return new Promise((resolve) => {
    // No keep-alive agent: idle sockets would keep petrelctl alive for seconds after the bots stop.
    const req = get({ host: "127.0.0.1", port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", () => resolve(undefined));
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(undefined));
  });
}

export interface Scrape {
  counters: BotCounters;
  /** /readyz: connected, handler initialised, taking work. */
  ready: boolean;
}

/**
 * Reads /metrics (the series of `bot`) and /readyz of a bot process on 127.0.0.1; undefined when it does
 * not answer (starting, stopped).
 */
export async function scrape(port: number, bot?: string, timeoutMs = 1000): Promise<Scrape | undefined> {
  const [metrics, ready] = await Promise.all([
    httpGet(port, "/metrics", timeoutMs),
    httpGet(port, "/readyz", timeoutMs),
  ]);
  if (metrics?.status !== 200) return undefined;
  return { counters: countersOf(parsePrometheus(metrics.body), bot), ready: ready?.status === 200 };
}

/**
 * Totals of one replica across its process restarts: the counts of earlier processes are kept when a
 * new process (a new pid) starts again from zero.
 */
export class ReplicaTotals {
  #pid: number | undefined;
  #base: BotCounters = ZERO;
  #last: BotCounters = ZERO;

  update(pid: number, counters: BotCounters): void {
    if (this.#pid !== undefined && pid !== this.#pid) this.#base = addCounters(this.#base, this.#last);
    this.#pid = pid;
    this.#last = counters;
  }

  get total(): BotCounters {
    return addCounters(this.#base, this.#last);
  }
}
