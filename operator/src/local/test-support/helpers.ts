// Shared pieces of the local-mode tests: YAML of small pipelines, captured output, process checks.
import { readdirSync, readFileSync } from "node:fs";
import { PassThrough } from "node:stream";

export interface TestBot {
  name: string;
  module: string;
  parameters?: Record<string, unknown>;
  destinations?: Record<string, string[]>;
  extra?: string;
}

/**
 * Multi-document YAML of one pipeline (memory storage unless said, fast retries) and its bots, and
 * `documents` after them (e.g. Exclusions).
 */
export function pipelineYaml(
  pipeline: string,
  bots: readonly TestBot[],
  options: { storage?: "memory" | "file"; spec?: string; documents?: readonly string[] } = {},
): string {
  const docs = [
    `apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata:
  name: ${pipeline}
spec:
  stream: {storage: ${options.storage ?? "memory"}, maxBytes: 64Mi}
  deadLetter: {maxBytes: 16Mi}
  defaults: {errorRetryDelay: 50ms, errorMaxRetries: 1}
${options.spec ?? ""}`,
    ...bots.map(
      (b) => `apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: ${b.name}
spec:
  pipeline: ${pipeline}
  module: ${b.module}
  parameters: ${JSON.stringify(b.parameters ?? {})}
  destinations: ${JSON.stringify(b.destinations ?? {})}
${b.extra ?? ""}`,
    ),
    ...(options.documents ?? []),
  ];
  return docs.map((d) => (d.endsWith("\n") ? d : `${d}\n`)).join("---\n");
}

export function capture(): { stream: PassThrough & { isTTY?: boolean }; text(): string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => {
    text += chunk.toString("utf8");
  });
  return { stream, text: () => text };
}

export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes.
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `needle` (e.g. a test's data directory). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      if (cmd.includes(needle) && alive(Number(entry))) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
