// The chart's Grafana dashboard (charts/petrel/dashboards/petrel.json) queries only metrics and labels
// that docs/metrics.md documents, covers the ones an operator of Petrel watches first, filters every
// query by the dashboard's namespace/pipeline/bot variables, and lays its panels out without overlaps.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

interface Target {
  expr: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  uid: string;
  id: unknown;
  title: string;
  editable: boolean;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: unknown; allValue?: string }> };
}

const dashboard = JSON.parse(
  readFileSync(new URL("../../charts/petrel/dashboards/petrel.json", import.meta.url), "utf8"),
) as Dashboard;
const metricsDoc = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");

/** Metric names in the first column of docs/metrics.md's bot metrics table. */
const documented = new Set(
  [...metricsDoc.matchAll(/^\| `(petrel_[a-z_]+)` \|/gm)].map((m) => m[1] as string),
);
const targets = dashboard.panels.flatMap((p) => p.targets ?? []);
const exprs = targets.map((t) => t.expr);
/** The metric a series name belongs to (histogram series end in _bucket, _sum, _count). */
const metricOf = (series: string) =>
  documented.has(series) ? series : series.replace(/_(bucket|sum|count)$/, "");
/** Some query of the dashboard matches `pattern`. */
const has = (pattern: RegExp) =>
  expect(
    exprs.some((e) => pattern.test(e)),
    String(pattern),
  ).toBe(true);

describe("Grafana dashboard", () => {
  it("is a provisioning-ready dashboard with a fixed uid and a Prometheus data source variable", () => {
    expect(dashboard.uid).toBe("petrel-bots");
    expect(dashboard.id).toBeNull();
    expect(dashboard.editable).toBe(false);
    const variables = dashboard.templating.list.map((v) => v.name);
    expect(variables).toEqual(["datasource", "namespace", "pipeline", "bot"]);
    expect(dashboard.templating.list[0]).toMatchObject({ type: "datasource", query: "prometheus" });
    for (const v of dashboard.templating.list.slice(1)) expect(v.allValue, v.name).toBe(".*");
    for (const panel of dashboard.panels.filter((p) => p.type !== "row")) {
      // Grafana's variable syntax, not a template literal: the panel follows the data source variable.
      expect(panel.datasource, panel.title).toEqual({ type: "prometheus", uid: "$" + "{datasource}" });
      for (const t of panel.targets ?? []) expect(t.datasource, panel.title).toEqual(panel.datasource);
    }
  });

  it("queries only metrics docs/metrics.md documents", () => {
    expect(documented.size).toBeGreaterThanOrEqual(10);
    const used = new Set(
      exprs.flatMap((e) => [...e.matchAll(/\b(petrel_[a-z_]+)/g)].map((m) => m[1] as string)),
    );
    expect(used.size).toBeGreaterThan(0);
    for (const series of used) expect(documented, `${series} is documented`).toContain(metricOf(series));
  });

  it("shows rates in and out per bot, backlog, dead letters, p95 processing time and publish retries", () => {
    has(/sum by \(pipeline, bot\) \(rate\(petrel_bot_messages_received_total\{/);
    has(/sum by \(pipeline, bot, path\) \(rate\(petrel_bot_messages_sent_total\{/);
    // Replicas report the same queue: max, never sum, per bot.
    has(/max by \(pipeline, bot\) \(petrel_bot_input_backlog_messages\{/);
    has(/increase\(petrel_bot_messages_dead_lettered_total\{/);
    has(
      /histogram_quantile\(0\.95, sum by \(pipeline, bot, le\) \(rate\(petrel_bot_processing_duration_seconds_bucket\{/,
    );
    has(/sum by \(pipeline, bot, reason\) \(rate\(petrel_bot_publish_retries_total\{/);
    expect(exprs.join("\n")).not.toMatch(/sum by \([^)]*\) \(petrel_bot_input_backlog_messages/);
  });

  it("shows the cache hit rates of the lookup experts and the outputs' batch sizes and write time", () => {
    has(
      /sum by \(pipeline, bot, cache\) \(rate\(petrel_bot_cache_lookups_total\{[^}]*result="hit"\}\[\$__rate_interval\]\)\) \/ sum by \(pipeline, bot, cache\) \(rate\(petrel_bot_cache_lookups_total\{/,
    );
    has(
      /rate\(petrel_output_batch_size_events_sum\{[^}]*\}\[\$__rate_interval\]\)\) \/ sum by \(pipeline, bot\) \(rate\(petrel_output_batch_size_events_count\{/,
    );
    has(
      /histogram_quantile\(0\.95, sum by \(pipeline, bot, le\) \(rate\(petrel_output_write_duration_seconds_bucket\{/,
    );
  });

  it("groups only by documented labels and filters every series by the variables", () => {
    const allowed = new Set(["namespace", "pipeline", "bot", "path", "reason", "result", "cache", "le"]);
    for (const e of exprs) {
      for (const m of e.matchAll(/by \(([^)]*)\)/g)) {
        for (const label of (m[1] as string).split(",").map((l) => l.trim()))
          expect(allowed, e).toContain(label);
      }
      for (const m of e.matchAll(/\bpetrel_[a-z_]+(\{[^}]*\})?/g)) {
        expect(m[1], `${m[0]} in ${e}`).toContain(
          'namespace=~"$namespace", pipeline=~"$pipeline", bot=~"$bot"',
        );
      }
    }
  });

  it("has unique panel ids and a layout without overlaps on Grafana's 24-column grid", () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const cells = new Set<string>();
    for (const { gridPos: g, title } of dashboard.panels) {
      expect(g.x + g.w, title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
