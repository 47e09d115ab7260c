// Throughput and CPU of a workload between 5 % and 95 % of its outputs (start-up and the drain tail
// excluded), from polled output counts and /proc CPU times of every process involved.
import { cpuMicros } from "./proc.ts";

export interface RunMeasurement {
  /** Outputs between the two marks. */
  events: number;
  seconds: number;
  eventsPerSecond: number;
  /** CPU µs per output, by process role. */
  cpuPerEvent: Record<string, number>;
  /** CPU µs per output summed over all processes. */
  totalCpuPerEvent: number;
}

interface Sample {
  t: number;
  count: number;
  cpu: Record<string, number>;
}

export interface MeasureOptions {
  /** Outputs the workload produces in total. */
  total: number;
  count: () => Promise<number> | number;
  /** Processes to account CPU for, by role (e.g. bot, nats-server). */
  pids: Record<string, number>;
  pollMs?: number;
  /** Give up when the count has not moved for this long. */
  stallMs?: number;
  /** Called after each poll with the output count (e.g. to sample memory). */
  onSample?: (count: number) => void;
}

function cpuOf(pids: Record<string, number>, last: Record<string, number> | undefined) {
  const cpu: Record<string, number> = {};
  for (const [role, pid] of Object.entries(pids)) cpu[role] = cpuMicros(pid) ?? last?.[role] ?? 0;
  return cpu;
}

export async function measureThroughput(options: MeasureOptions): Promise<RunMeasurement> {
  const { total, pids, pollMs = 50, stallMs = 60_000 } = options;
  const low = Math.ceil(total * 0.05);
  const high = Math.floor(total * 0.95);
  let first: Sample | undefined;
  let last: Sample | undefined;
  let moved = performance.now();
  let previous = -1;
  for (;;) {
    const before = performance.now();
    const count = await options.count();
    const t = (before + performance.now()) / 2;
    const sample = { t, count, cpu: cpuOf(pids, last?.cpu) };
    last = sample;
    options.onSample?.(count);
    if (!first && count >= low) first = sample;
    if (count >= high) break;
    if (count !== previous) {
      previous = count;
      moved = t;
    } else if (t - moved > stallMs) {
      throw new Error(`workload stalled at ${count} of ${total} outputs`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
  const start = first as Sample;
  const events = last.count - start.count;
  const seconds = (last.t - start.t) / 1000;
  const cpuPerEvent: Record<string, number> = {};
  let totalCpu = 0;
  for (const role of Object.keys(pids)) {
    const used = (last.cpu[role] ?? 0) - (start.cpu[role] ?? 0);
    cpuPerEvent[role] = used / events;
    totalCpu += used;
  }
  return {
    events,
    seconds,
    eventsPerSecond: events / seconds,
    cpuPerEvent,
    totalCpuPerEvent: totalCpu / events,
  };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The median over repetitions of each figure of a workload. */
export function summarise(runs: readonly RunMeasurement[]) {
  const roles = Object.keys(runs[0]?.cpuPerEvent ?? {});
  return {
    eventsPerSecond: median(runs.map((r) => r.eventsPerSecond)),
    minEventsPerSecond: Math.min(...runs.map((r) => r.eventsPerSecond)),
    maxEventsPerSecond: Math.max(...runs.map((r) => r.eventsPerSecond)),
    cpuPerEvent: Object.fromEntries(
      roles.map((role) => [role, median(runs.map((r) => r.cpuPerEvent[role] ?? 0))]),
    ),
    totalCpuPerEvent: median(runs.map((r) => r.totalCpuPerEvent)),
    runs: runs.length,
  };
}
export type Summary = ReturnType<typeof summarise>;
