// Reading and acting on a pipeline's dead letters: list, show, replay (re-inject into a bot's queue),
// delete. `petrelctl dlq` and the console share these functions. An entry's id is its sequence in the
// pipeline's dead-letter stream (PETREL_<PIPELINE>_DLQ).
import { createHash } from "node:crypto";
import {
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type StoredMsg,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { botSubject, pipelineNames } from "../config/render.ts";
import type { DeadLetter } from "./bot-process.ts";

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const FETCH_BATCH = 1_000;

/** A user-facing failure (unknown id, no such pipeline): the CLI prints its message without a trace. */
export class DeadLetterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeadLetterError";
  }
}

export interface DeadLetterEntry {
  /** The entry's sequence in the dead-letter stream. */
  id: number;
  subject: string;
  /** The bot that dead-lettered it (from the subject petrel.<pipeline>.dlq.<bot>). */
  bot: string;
  /** When the dead-letter stream stored it. */
  storedAt: Date;
  /** The dead letter, or undefined when the stored data is not one (written by something else). */
  letter?: DeadLetter;
  /** The stored data as text. */
  data: string;
}

export interface ReplayOptions {
  /** Re-inject into this bot's queue instead of the entry's original input. */
  to?: string;
  /** The message to re-inject instead of the original (an edited copy). */
  message?: string;
}

export interface ReplayResult {
  id: number;
  subject: string;
  /** The queue already held this re-injection (an earlier replay stored it, then stopped before deleting). */
  duplicate: boolean;
}

function botOfSubject(subject: string): string {
  return subject.slice(subject.lastIndexOf(".") + 1);
}

function entryOf(seq: number, subject: string, time: Date, data: Uint8Array): DeadLetterEntry {
  const text = decoder.decode(data);
  const entry: DeadLetterEntry = { id: seq, subject, bot: botOfSubject(subject), storedAt: time, data: text };
  try {
    const parsed = JSON.parse(text) as DeadLetter;
    if (typeof parsed === "object" && parsed !== null && typeof parsed.message === "string")
      entry.letter = parsed;
  } catch {
    // Not JSON: listed as unreadable, still deletable.
  }
  return entry;
}

/** Pipelines that have a dead-letter stream on this NATS, by name. */
export async function findPipelines(nc: NatsConnection): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const found: string[] = [];
  for await (const info of jsm.streams.list()) {
    for (const subject of info.config.subjects ?? []) {
      const m = /^petrel\.([a-z0-9-]+)\.dlq\.>$/.exec(subject);
      if (m && info.config.name === pipelineNames(m[1] as string).deadLetterStream)
        found.push(m[1] as string);
    }
  }
  return found.sort();
}

/** The pipeline to work on: `requested` if it exists, else the only one found. */
export async function resolvePipeline(nc: NatsConnection, requested?: string): Promise<string> {
  const pipelines = await findPipelines(nc);
  const known = pipelines.length > 0 ? `pipelines found: ${pipelines.join(", ")}` : "no pipelines found";
  if (requested !== undefined) {
    if (pipelines.includes(requested)) return requested;
    throw new DeadLetterError(
      `no such pipeline: ${requested} (no dead-letter stream ${pipelineNames(requested).deadLetterStream}; ${known})`,
    );
  }
  if (pipelines.length === 1) return pipelines[0] as string;
  if (pipelines.length === 0) throw new DeadLetterError("no pipelines found on this NATS server");
  throw new DeadLetterError(`several pipelines; choose one with --pipeline (${known})`);
}

function filterOf(pipeline: string, bot?: string): string {
  return bot ? `petrel.${pipeline}.dlq.${bot}` : `petrel.${pipeline}.dlq.>`;
}

/** Dead letters per bot. */
export async function countDeadLetters(
  nc: NatsConnection,
  pipeline: string,
  bot?: string,
): Promise<Map<string, number>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(pipelineNames(pipeline).deadLetterStream, {
    subjects_filter: filterOf(pipeline, bot),
  });
  const counts = new Map<string, number>();
  for (const [subject, n] of Object.entries(info.state.subjects ?? {})) {
    counts.set(botOfSubject(subject), (counts.get(botOfSubject(subject)) ?? 0) + n);
  }
  return new Map([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/** All dead letters of a pipeline (or one bot), oldest first. */
export async function listDeadLetters(
  nc: NatsConnection,
  pipeline: string,
  options: { bot?: string } = {},
): Promise<DeadLetterEntry[]> {
  const counts = await countDeadLetters(nc, pipeline, options.bot);
  let expected = 0;
  for (const n of counts.values()) expected += n;
  if (expected === 0) return [];
  // An ordered consumer reads the stream without creating anything durable.
  const consumer = await jetstream(nc).consumers.get(pipelineNames(pipeline).deadLetterStream, {
    filter_subjects: filterOf(pipeline, options.bot),
    deliver_policy: DeliverPolicy.All,
  });
  const entries: DeadLetterEntry[] = [];
  // Ask for exactly what is there: a fetch only returns early once it has all it asked for.
  let remaining = expected;
  while (remaining > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(remaining, FETCH_BATCH), expires: 2_000 });
    let got = 0;
    let pending = 0;
    for await (const m of batch) {
      entries.push(entryOf(m.info.streamSequence, m.subject, m.time, m.data));
      got++;
      pending = m.info.pending;
    }
    // Entries deleted meanwhile end the listing early; ones added meanwhile are left for the next.
    if (got === 0) break;
    remaining = Math.min(pending, expected - entries.length);
  }
  return entries;
}

function storedEntry(pipeline: string, id: number, stored: StoredMsg | null): DeadLetterEntry {
  const prefix = `petrel.${pipeline}.dlq.`;
  if (!stored?.subject.startsWith(prefix)) {
    throw new DeadLetterError(`no dead letter with id ${id} in pipeline ${pipeline}`);
  }
  return entryOf(stored.seq, stored.subject, stored.time, stored.data);
}

/** One dead letter by id. */
export async function getDeadLetter(
  nc: NatsConnection,
  pipeline: string,
  id: number,
): Promise<DeadLetterEntry> {
  const jsm = await jetstreamManager(nc);
  return storedEntry(
    pipeline,
    id,
    await jsm.streams.getMessage(pipelineNames(pipeline).deadLetterStream, { seq: id }),
  );
}

/**
 * The Nats-Msg-Id of an entry's re-injection: the same for every replay of that entry, so a replay that
 * stored the message but stopped before deleting the entry cannot inject it twice when run again. The
 * digest keeps ids apart if the dead-letter stream is ever re-created and sequences start over.
 */
export function replayMessageId(pipeline: string, entry: DeadLetterEntry): string {
  const digest = createHash("sha256").update(entry.data).digest("hex").slice(0, 16);
  return `dlq:${pipeline}:${entry.id}:${digest}`;
}

async function requireBot(jsm: JetStreamManager, pipeline: string, bot: string, hint: string): Promise<void> {
  try {
    await jsm.consumers.info(pipelineNames(pipeline).stream, bot);
  } catch {
    throw new DeadLetterError(`no bot ${bot} in pipeline ${pipeline}${hint}`);
  }
}

/** Where a replay of `entry` goes: `to`'s queue, else the entry's original input queue. */
export async function replayTarget(
  nc: NatsConnection,
  pipeline: string,
  entry: DeadLetterEntry,
  to?: string,
): Promise<string> {
  const jsm = await jetstreamManager(nc);
  if (to !== undefined) {
    await requireBot(jsm, pipeline, to, "");
    return botSubject(pipeline, to);
  }
  const subject = entry.letter?.inputSubject ?? "";
  const prefix = `petrel.${pipeline}.bot.`;
  if (!subject.startsWith(prefix)) {
    throw new DeadLetterError(
      `dead letter ${entry.id} names no input queue of pipeline ${pipeline}; use --to BOT`,
    );
  }
  const bot = subject.slice(prefix.length);
  await requireBot(jsm, pipeline, bot, ` (dead letter ${entry.id} came from it); use --to BOT`);
  return subject;
}

/**
 * Re-injects an entry's message (or `options.message`) into a bot's queue, then deletes the entry. The
 * entry is deleted only once the queue stored the message.
 */
export async function replayDeadLetter(
  nc: NatsConnection,
  pipeline: string,
  entry: DeadLetterEntry,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  if (!entry.letter && options.message === undefined) {
    throw new DeadLetterError(`dead letter ${entry.id} is not readable; only delete can handle it`);
  }
  const subject = await replayTarget(nc, pipeline, entry, options.to);
  const data = encoder.encode(options.message ?? entry.letter?.message ?? "");
  let ack: { duplicate: boolean };
  try {
    ack = await jetstream(nc).publish(subject, data, {
      msgID: replayMessageId(pipeline, entry),
      expect: { streamName: pipelineNames(pipeline).stream },
      timeout: 10_000,
    });
  } catch (error) {
    // E.g. the pipeline is full: nothing was stored, so the entry stays for a later replay.
    throw new DeadLetterError(
      `could not re-inject dead letter ${entry.id} into ${subject} (${(error as Error).message}); the entry is kept`,
    );
  }
  await deleteEntry(await jetstreamManager(nc), pipeline, entry.id, true);
  return { id: entry.id, subject, duplicate: ack.duplicate };
}

async function deleteEntry(
  jsm: JetStreamManager,
  pipeline: string,
  id: number,
  gone: boolean,
): Promise<void> {
  try {
    await jsm.streams.deleteMessage(pipelineNames(pipeline).deadLetterStream, id, false);
  } catch (error) {
    // Already deleted (by a concurrent replay, or expired): fine after a replay, an error otherwise.
    if (gone && /no message found/i.test((error as Error).message)) return;
    if (/no message found/i.test((error as Error).message)) {
      throw new DeadLetterError(`no dead letter with id ${id} in pipeline ${pipeline}`);
    }
    throw error;
  }
}

/** Deletes one dead letter. */
export async function deleteDeadLetter(nc: NatsConnection, pipeline: string, id: number): Promise<void> {
  await getDeadLetter(nc, pipeline, id); // an id of another pipeline's stream is unknown here
  await deleteEntry(await jetstreamManager(nc), pipeline, id, false);
}

/** Deletes all dead letters of a pipeline (or of one bot); returns how many. */
export async function purgeDeadLetters(nc: NatsConnection, pipeline: string, bot?: string): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const result = await jsm.streams.purge(pipelineNames(pipeline).deadLetterStream, {
    filter: filterOf(pipeline, bot),
  });
  return result.purged;
}

/**
 * A message for people to read: pretty JSON with `raw` base64-decoded and cut after `truncate`
 * characters (0: never), as intelmqdump shows it. Text that is not JSON is returned as it is.
 */
export function readableMessage(message: string, truncate: number): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return cut(message, truncate);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return message;
  const copy = { ...(parsed as Record<string, unknown>) };
  if (typeof copy.raw === "string")
    copy.raw = cut(Buffer.from(copy.raw, "base64").toString("utf8"), truncate);
  return JSON.stringify(copy, null, 2);
}

function cut(text: string, truncate: number): string {
  if (truncate <= 0 || text.length <= truncate) return text;
  return `${text.slice(0, truncate)}[... ${text.length - truncate} more characters]`;
}
