// `petrelctl dlq …`: a pipeline's dead letters — list, show, replay (optionally edited) and delete. The
// counterpart of IntelMQ's intelmqdump, on the pipeline's dead-letter stream instead of dump files.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Command } from "commander";
import { FieldError, parseMessage } from "../../../bot-runtime/src/event/message.ts";
import {
  countDeadLetters,
  type DeadLetterEntry,
  DeadLetterError,
  deleteDeadLetter,
  getDeadLetter,
  listDeadLetters,
  purgeDeadLetters,
  type ReplayResult,
  readableMessage,
  replayDeadLetter,
  resolvePipeline,
} from "../../../bot-runtime/src/runtime/dead-letters.ts";
import { connectNats } from "../../../bot-runtime/src/runtime/jetstream.ts";
import { table } from "./table.ts";

const DEFAULT_NATS = "nats://127.0.0.1:4222";
/** intelmqdump's default for -t/--truncate. */
const DEFAULT_TRUNCATE = 1000;

interface CommonFlags {
  nats?: string;
  pipeline?: string;
  json?: boolean;
}

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

async function withPipeline<T>(
  flags: CommonFlags,
  work: (nc: NatsConnection, pipeline: string) => Promise<T>,
): Promise<T> {
  const url = flags.nats ?? process.env.NATS_URL ?? DEFAULT_NATS;
  let nc: NatsConnection;
  try {
    nc = await connectNats({ servers: url.split(",").map((s) => s.trim()), name: "petrelctl-dlq" });
  } catch (error) {
    throw new DeadLetterError(`cannot reach NATS at ${url}: ${(error as Error).message}`);
  }
  try {
    return await work(nc, await resolvePipeline(nc, flags.pipeline));
  } finally {
    await nc.close();
  }
}

function parseIds(ids: string[]): number[] {
  return ids.map((text) => {
    const id = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(id) || id < 1) {
      throw new DeadLetterError(
        `not a dead-letter id: ${JSON.stringify(text)} (ids are the numbers dlq list shows)`,
      );
    }
    return id;
  });
}

/** The entries an action applies to: the given ids (all must exist), or all (of one bot) with --all. */
async function selectEntries(
  nc: NatsConnection,
  pipeline: string,
  ids: string[],
  flags: { all?: boolean; bot?: string },
): Promise<DeadLetterEntry[]> {
  if (flags.all && ids.length > 0) throw new DeadLetterError("give ids or --all, not both");
  if (flags.all) return listDeadLetters(nc, pipeline, flags.bot ? { bot: flags.bot } : {});
  if (ids.length === 0) throw new DeadLetterError("give the ids of the dead letters, or --all");
  if (flags.bot) throw new DeadLetterError("--bot selects entries together with --all");
  const entries: DeadLetterEntry[] = [];
  for (const id of parseIds(ids)) entries.push(await getDeadLetter(nc, pipeline, id));
  return entries;
}

function firstLine(text: string | undefined, max = 100): string {
  const line = (text ?? "").split("\n", 1)[0] ?? "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

function timeOf(entry: DeadLetterEntry): string {
  return entry.letter?.time ?? entry.storedAt.toISOString();
}

function summary(entry: DeadLetterEntry) {
  return {
    id: entry.id,
    time: timeOf(entry),
    bot: entry.bot,
    reason: entry.letter?.reason ?? "unreadable",
    attempts: entry.letter?.attempts ?? null,
    error: firstLine(entry.letter?.error ?? "the stored data is not a dead letter", Number.POSITIVE_INFINITY),
  };
}

async function list(flags: CommonFlags & { bot?: string }): Promise<void> {
  await withPipeline(flags, async (nc, pipeline) => {
    const counts = await countDeadLetters(nc, pipeline, flags.bot);
    const entries = await listDeadLetters(nc, pipeline, flags.bot ? { bot: flags.bot } : {});
    if (flags.json) {
      print(
        JSON.stringify(
          { pipeline, counts: Object.fromEntries(counts), entries: entries.map(summary) },
          null,
          2,
        ),
      );
      return;
    }
    const scope = flags.bot ? `bot ${flags.bot} of pipeline ${pipeline}` : `pipeline ${pipeline}`;
    if (entries.length === 0) {
      print(`No dead letters in ${scope}.`);
      return;
    }
    print(`${entries.length} dead letter${entries.length === 1 ? "" : "s"} in ${scope}`);
    print();
    for (const line of table(
      ["BOT", "COUNT"],
      [...counts].map(([bot, n]) => [bot, String(n)]),
    ))
      print(line);
    print();
    const rows = entries.map((e) => {
      const s = summary(e);
      return [String(s.id), s.time, s.bot, s.reason, firstLine(s.error)];
    });
    for (const line of table(["ID", "TIME", "BOT", "REASON", "ERROR"], rows)) print(line);
  });
}

async function show(idText: string, flags: CommonFlags & { truncate: string }): Promise<void> {
  const truncate = Number(flags.truncate);
  if (!Number.isSafeInteger(truncate) || truncate < 0) {
    throw new DeadLetterError(
      `--truncate must be a number of characters (0: no limit), not ${flags.truncate}`,
    );
  }
  const [id] = parseIds([idText]);
  await withPipeline(flags, async (nc, pipeline) => {
    const entry = await getDeadLetter(nc, pipeline, id as number);
    if (flags.json) {
      print(
        JSON.stringify(
          {
            id: entry.id,
            subject: entry.subject,
            storedAt: entry.storedAt.toISOString(),
            ...(entry.letter ?? { data: entry.data }),
          },
          null,
          2,
        ),
      );
      return;
    }
    const letter = entry.letter;
    const fields: Array<[string, string]> = [
      ["id", String(entry.id)],
      ["pipeline", pipeline],
      ["bot", entry.bot],
      ["time", timeOf(entry)],
      ["stored", entry.storedAt.toISOString()],
    ];
    if (letter) {
      fields.push(
        ["reason", letter.reason],
        ["attempts", String(letter.attempts)],
        ["input queue", letter.inputSubject || "(none)"],
        ["error", letter.error],
      );
    } else {
      fields.push(["reason", "unreadable: the stored data is not a dead letter"]);
    }
    for (const [name, value] of fields) print(`${`${name}:`.padEnd(13)}${value}`);
    if (letter?.stack) {
      print("stack:");
      for (const line of letter.stack.split("\n")) print(`  ${line}`);
    }
    print(letter ? "message:" : "data:");
    print(readableMessage(letter ? letter.message : entry.data, truncate));
  });
}

/** Opens $VISUAL/$EDITOR (vi by default) on the message; returns the validated, normalised message. */
export function editMessage(entry: DeadLetterEntry, message: string): string {
  const dir = mkdtempSync(join(tmpdir(), "petrel-dlq-"));
  const file = join(dir, `dead-letter-${entry.id}.json`);
  try {
    let text = message;
    try {
      text = `${JSON.stringify(JSON.parse(message), null, 2)}\n`;
    } catch {
      // Not JSON (an invalid message was dead-lettered): edit the text as it is.
    }
    writeFileSync(file, text);
    const editor = process.env.VISUAL || process.env.EDITOR || "vi";
    // Through a shell, as git does: EDITOR may carry arguments ("code --wait").
    const result = spawnSync(`${editor} "${file}"`, { shell: true, stdio: "inherit" });
    if (result.error || result.status !== 0) {
      throw new DeadLetterError(
        `the editor (${editor}) failed${result.status ? ` with status ${result.status}` : ""}; dead letter ${entry.id} is left as it is`,
      );
    }
    const edited = readFileSync(file, "utf8");
    try {
      return parseMessage(edited).serialize();
    } catch (error) {
      const why = error instanceof FieldError ? error.message : String(error);
      throw new DeadLetterError(
        `the edited message is not valid: ${why}; dead letter ${entry.id} is left as it is`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function replay(
  ids: string[],
  flags: CommonFlags & { all?: boolean; bot?: string; to?: string; edit?: boolean },
): Promise<void> {
  await withPipeline(flags, async (nc, pipeline) => {
    const entries = await selectEntries(nc, pipeline, ids, flags);
    const results: ReplayResult[] = [];
    try {
      for (const entry of entries) {
        const message = flags.edit ? editMessage(entry, entry.letter?.message ?? entry.data) : undefined;
        const result = await replayDeadLetter(nc, pipeline, entry, {
          ...(flags.to ? { to: flags.to } : {}),
          ...(message !== undefined ? { message } : {}),
        });
        results.push(result);
        if (!flags.json) {
          const note = result.duplicate
            ? " (it was already there: an earlier replay stopped before deleting it)"
            : "";
          print(`replayed ${result.id} -> ${result.subject}${note}`);
        }
      }
    } finally {
      // Also when a replay fails part-way: scripts learn which entries are done.
      if (flags.json) print(JSON.stringify({ pipeline, replayed: results }, null, 2));
    }
    if (!flags.json && results.length === 0) print("Nothing to replay.");
  });
}

async function remove(ids: string[], flags: CommonFlags & { all?: boolean; bot?: string }): Promise<void> {
  await withPipeline(flags, async (nc, pipeline) => {
    let deleted: number[] | number;
    if (flags.all) {
      if (ids.length > 0) throw new DeadLetterError("give ids or --all, not both");
      deleted = await purgeDeadLetters(nc, pipeline, flags.bot);
    } else {
      const entries = await selectEntries(nc, pipeline, ids, flags);
      for (const entry of entries) await deleteDeadLetter(nc, pipeline, entry.id);
      deleted = entries.map((e) => e.id);
    }
    const count = typeof deleted === "number" ? deleted : deleted.length;
    if (flags.json)
      print(
        JSON.stringify({ pipeline, deleted: count, ...(Array.isArray(deleted) ? { ids: deleted } : {}) }),
      );
    else print(`deleted ${count} dead letter${count === 1 ? "" : "s"}`);
  });
}

function common(command: Command): Command {
  return command
    .option("--nats <url>", `NATS server URL (default: $NATS_URL or ${DEFAULT_NATS})`)
    .option("--pipeline <name>", "the pipeline (default: the only one on the server)")
    .option("--json", "machine-readable output");
}

export function registerDlqCommands(program: Command): void {
  const dlq = program
    .command("dlq")
    .description("Inspect, replay and delete a pipeline's dead letters (IntelMQ's intelmqdump)");
  common(dlq.command("list"))
    .description("Dead letters per bot, then every entry: id, time, bot, reason, first line of the error")
    .option("--bot <bot>", "only this bot's dead letters")
    .action((flags: CommonFlags & { bot?: string }) => list(flags));
  common(dlq.command("show"))
    .description("One dead letter in full: error, stack, and the message with raw decoded")
    .argument("<id>", "the entry's id (from dlq list)")
    .option(
      "-t, --truncate <chars>",
      "cut the decoded raw after this many characters (0: never)",
      String(DEFAULT_TRUNCATE),
    )
    .action((id: string, flags: CommonFlags & { truncate: string }) => show(id, flags));
  common(dlq.command("replay"))
    .description(
      "Re-inject messages into their bot's queue (or another bot's), then delete the entries; an entry is deleted only once its message is stored",
    )
    .argument("[ids...]", "the entries' ids")
    .option("--all", "every entry (of --bot, if given)")
    .option("--bot <bot>", "with --all: only this bot's entries")
    .option("--to <bot>", "re-inject into this bot's queue instead of the original one")
    .option("--edit", "edit each message in $VISUAL/$EDITOR first; it must be a valid event or report")
    .action((ids: string[], flags) => replay(ids, flags));
  common(dlq.command("delete"))
    .description("Delete dead letters")
    .argument("[ids...]", "the entries' ids")
    .option("--all", "every entry (of --bot, if given)")
    .option("--bot <bot>", "with --all: only this bot's entries")
    .action((ids: string[], flags) => remove(ids, flags));
}
