// Text of the local-mode status: the live table (TTY), the progress line (logs, CI) and the summary.
// Pure functions of the rows the monitor computes, so they are easy to test.
import type { BotKind } from "../../../bot-runtime/src/sdk/bot.ts";

export interface StatusRow {
  bot: string;
  pipeline: string;
  kind: BotKind;
  /** running, starting, restart in 4 s, failed, error-stop, disabled, stopped… (with n/m for replicas) */
  state: string;
  /** Messages per second; undefined when not applicable (collectors have no input). */
  inRate: number | undefined;
  outRate: number | undefined;
  /** Messages in the input queue (waiting or being processed); undefined for collectors. */
  backlog: number | undefined;
  received: number;
  sent: number;
  dropped: number;
  errors: number;
  deadLetters: number;
  restarts: number;
}

function rate(n: number | undefined): string {
  if (n === undefined) return "-";
  return n >= 10 || n === 0 ? String(Math.round(n)) : n.toFixed(1);
}

function count(n: number | undefined): string {
  return n === undefined ? "-" : String(n);
}

function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function renderTable(rows: readonly StatusRow[]): string[] {
  return table(
    ["BOT", "KIND", "STATE", "IN/S", "OUT/S", "BACKLOG", "ERRORS", "DEAD LETTERS", "RESTARTS"],
    rows.map((r) => [
      r.bot,
      r.kind,
      r.state,
      rate(r.inRate),
      rate(r.outRate),
      count(r.backlog),
      String(r.errors),
      String(r.deadLetters),
      String(r.restarts),
    ]),
    new Set([3, 4, 5, 6, 7, 8]),
  );
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const mm = String(m).padStart(h > 0 ? 2 : 1, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** One line for non-interactive output. */
export function progressLine(elapsedMs: number, rows: readonly StatusRow[]): string {
  const running = rows.filter((r) => r.state.startsWith("running")).length;
  const active = rows.filter((r) => r.state !== "disabled").length;
  const backlog = rows.reduce((n, r) => n + (r.backlog ?? 0), 0);
  const written = rows.filter((r) => r.kind === "output").reduce((n, r) => n + r.sent, 0);
  const collected = rows.filter((r) => r.kind === "collector").reduce((n, r) => n + r.sent, 0);
  const dead = rows.reduce((n, r) => n + r.deadLetters, 0);
  const restarts = rows.reduce((n, r) => n + r.restarts, 0);
  const trouble = rows
    .filter((r) => /failed|error-stop|restart in/.test(r.state))
    .map((r) => `${r.bot} ${r.state}`);
  return [
    `[${formatElapsed(elapsedMs)}] ${running}/${active} bots running`,
    `reports collected ${collected}`,
    `backlog ${backlog}`,
    `events written ${written}`,
    `dead letters ${dead}`,
    `restarts ${restarts}`,
    ...(trouble.length > 0 ? [trouble.join(", ")] : []),
  ].join(" · ");
}

/** Totals per bot for the end of a run. */
export function renderSummary(rows: readonly StatusRow[]): string[] {
  return table(
    ["BOT", "KIND", "RECEIVED", "SENT", "DROPPED", "FAILED", "DEAD LETTERS", "RESTARTS"],
    rows.map((r) => [
      r.bot,
      r.kind,
      r.kind === "collector" ? "-" : String(r.received),
      String(r.sent),
      String(r.dropped),
      String(r.errors),
      String(r.deadLetters),
      String(r.restarts),
    ]),
    new Set([2, 3, 4, 5, 6, 7]),
  );
}

/** Cuts lines to the terminal width, so redrawing in place moves the cursor by whole lines. */
export function fitWidth(lines: readonly string[], columns: number | undefined): string[] {
  if (!columns || columns < 20) return [...lines];
  return lines.map((l) => (l.length > columns - 1 ? `${l.slice(0, columns - 2)}…` : l));
}
