// Events and helpers shared by the output tests: a handful of events that exercise the awkward parts of
// an export (extra.* objects and lists, non-ASCII text, float fields, fractional seconds, raw), a
// generator for bulk runs, the output made from parameters as the runtime validates them, and a run
// through `petrelctl run`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import type { z } from "zod";
import { Event } from "../../../bot-runtime/src/event/message.ts";
import type { Output, OutputModule } from "../../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";
import { testContext } from "../../../bot-runtime/test-support/parser-oracle.ts";
import { type RunSummary, runBot } from "../../../operator/src/cli/run.ts";

export function sampleEvent(fields: Record<string, unknown>): Event {
  const e = new Event();
  e.add("feed.name", "Example Feed");
  e.add("feed.accuracy", 90);
  e.add("time.observation", "2024-05-01T10:00:00+00:00");
  for (const [key, value] of Object.entries(fields)) e.add(key, value);
  return e;
}

export const SAMPLE_EVENTS: readonly Event[] = [
  sampleEvent({
    "time.source": "2024-04-30T22:15:00+00:00",
    "source.ip": "192.0.2.1",
    "source.port": 22,
    "classification.type": "brute-force",
    "extra.tags": ["ssh", "ünïcödé"],
    "extra.nested": { b: 1, a: [true, null], "dotted.key": "x" },
    "event_description.text": 'quote " and tab \t and €',
    raw: "MTkyLjAuMi4xCg==",
  }),
  sampleEvent({
    "time.source": "2024-05-01T01:02:03.250000+00:00",
    "source.url": "http://malware.example.com/x.exe",
    "classification.type": "malware-distribution",
    output: JSON.stringify({ z: 1, a: "ä" }),
    "extra.score": 0.5,
  }),
  sampleEvent({
    "source.fqdn": "c2.example.net",
    "classification.type": "c2-server",
    "destination.asn": 64496,
  }),
];

/** `count` distinct events (source.ip and source.port vary), for bulk and restart runs. */
export function manyEvents(count: number, offset = 0): Event[] {
  const events: Event[] = [];
  for (let i = offset; i < offset + count; i++) {
    events.push(
      sampleEvent({
        "time.source": "2024-04-30T22:15:00+00:00",
        "source.ip": `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        "source.port": 1024 + (i % 60000),
        "classification.type": "scanner",
        "extra.sequence": i,
      }),
    );
  }
  return events;
}

/** The output module instantiated with `params` (validated by its full schema). */
export async function createOutput<S extends z.ZodObject>(
  module: OutputModule<S>,
  params: Record<string, unknown>,
): Promise<Output> {
  const parsed = parameterSchema(module as unknown as OutputModule).parse(params);
  return module.create(parsed as never, testContext());
}

/** Events per second for `count` events written in batches of `batchSize`. */
export async function measureThroughput(
  output: Output,
  events: readonly Event[],
  batchSize: number,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < events.length; i += batchSize) await output.write(events.slice(i, i + batchSize));
  return Math.round(events.length / ((performance.now() - started) / 1000));
}

/** `events` as a JSON-lines file through `petrelctl run <module>` with `params`: its summary. */
export async function petrelctlRun(
  module: string,
  params: Record<string, unknown>,
  events: readonly Event[],
): Promise<RunSummary> {
  const dir = await mkdtemp(join(tmpdir(), "petrel-output-run-"));
  try {
    const input = join(dir, "events.jsonl");
    await writeFile(input, `${events.map((e) => e.serialize()).join("\n")}\n`);
    return await runBot(module, { input, params, stdout: new PassThrough(), stderr: new PassThrough() });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
