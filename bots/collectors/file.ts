// Reads the files of a directory whose names end in `postfix`, one report per file (or per chunk of
// chunk_size bytes, cut at line ends, the first line repeated in each), as IntelMQ's file collector.
// As IntelMQ, a file is read under an exclusive flock(2), and skipped while another process holds a
// lock on it (taken with util-linux flock(1) on the open file: Node.js has no flock of its own). A
// file is deleted (or moved to move_to) only after every report of it was stored.
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { copyFile, type FileHandle, mkdir, open, readdir, rename, stat, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { chunkReports } from "../../bot-runtime/src/sdk/archives.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";

const parameters = z.object({
  path: z.string().default("/tmp/").describe("The directory to read files from."),
  postfix: z
    .string()
    .default(".csv")
    .describe("Read files whose names end in this (shell wildcards allowed); empty reads every file."),
  delete_file: z.boolean().default(false).describe("Delete each file once all its reports are stored."),
  chunk_size: z
    .number()
    .int()
    .positive()
    .nullable()
    .optional()
    .describe(
      "Split files into reports of about this many bytes, at line ends; unset sends each file whole.",
    ),
  chunk_replicate_header: z
    .boolean()
    .default(true)
    .describe("With chunk_size: repeat the file's first line at the start of every chunk."),
  move_to: z
    .string()
    .nullable()
    .optional()
    .describe(
      "Petrel: move each file into this directory once all its reports are stored (instead of deleting it).",
    ),
});

/** Python's fnmatch pattern as a regular expression (full match, case-sensitive as on POSIX). */
export function fnmatchRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === "*") {
      if (!re.endsWith(".*")) re += ".*";
    } else if (c === "?") {
      re += ".";
    } else if (c === "[") {
      let j = i + 1;
      if (pattern[j] === "!") j++;
      if (pattern[j] === "]") j++;
      while (j < pattern.length && pattern[j] !== "]") j++;
      if (j >= pattern.length) {
        re += "\\[";
        continue;
      }
      let set = pattern.slice(i + 1, j).replaceAll("\\", "\\\\");
      if (set.startsWith("!")) set = `^${set.slice(1)}`;
      else if (set.startsWith("^")) set = `\\${set}`;
      re += `[${set}]`;
      i = j;
    } else {
      re += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    }
  }
  return new RegExp(`^(?:${re})$`, "su");
}

/** Exit code flock(1) is told to use when another process holds a lock. */
const LOCKED_ELSEWHERE = 75;

/**
 * Takes a non-blocking exclusive flock on the open file `handle` (flock(1) on an inherited descriptor:
 * the lock belongs to the open file, so it is held until `handle` is closed). "busy" when another
 * process holds a lock on the file; "unavailable" when flock(1) cannot be run.
 */
function lock(handle: FileHandle): Promise<"locked" | "busy" | "unavailable"> {
  return new Promise((resolve) => {
    const child = spawn(
      "flock",
      ["--nonblock", "--exclusive", "--conflict-exit-code", `${LOCKED_ELSEWHERE}`, "3"],
      {
        stdio: ["ignore", "ignore", "ignore", handle.fd],
      },
    );
    child.once("error", () => resolve("unavailable"));
    child.once("exit", (code) =>
      resolve(code === 0 ? "locked" : code === LOCKED_ELSEWHERE ? "busy" : "unavailable"),
    );
  });
}

/** A whole file as base64, or undefined when it is empty (the bytes are garbage once encoded). */
async function wholeFile(handle: FileHandle): Promise<string | undefined> {
  const data = await handle.readFile();
  return data.length > 0 ? data.toString("base64") : undefined;
}

/**
 * The raw (base64) of each report of a file (IntelMQ's generate_reports), read through `handle`:
 * without chunk_size the file whole, else streaming, at most about two chunks held at a time.
 */
async function* reportData(
  handle: FileHandle,
  chunkSize: number | null | undefined,
  replicateHeader: boolean,
): AsyncGenerator<string> {
  if (!chunkSize) {
    const raw = await wholeFile(handle);
    if (raw !== undefined) yield raw;
    return;
  }
  const stream = handle.createReadStream({ start: 0, autoClose: false, highWaterMark: 1 << 16 });
  try {
    for await (const chunk of chunkReports(stream, chunkSize, replicateHeader))
      yield chunk.toString("base64");
  } finally {
    stream.destroy();
  }
}

async function moveInto(file: string, name: string, directory: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  let target = join(directory, name);
  // Never overwrite an earlier file of the same name.
  if (await stat(target).catch(() => undefined)) target = `${target}.${Date.now()}`;
  try {
    await rename(file, target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EXDEV") throw error;
    await copyFile(file, target, constants.COPYFILE_EXCL);
    await unlink(file);
  }
  return target;
}

export default defineCollector({
  id: "collectors.file",
  intelmqModules: ["intelmq.bots.collectors.file.collector_file"],
  kind: "collector",
  mode: "interval",
  description:
    "Reads files from a directory into reports (feed.url file://localhost<path>, extra.file_name), skipping files another process has locked; optionally deletes or moves them afterwards.",
  parameters,
  async create(params, ctx) {
    const directory = resolve(params.path);
    if (!(await stat(directory).catch(() => undefined))?.isDirectory()) {
      throw new Error(`path ${params.path} is not a directory`);
    }
    if (!params.postfix) {
      if (params.delete_file || params.move_to) {
        throw new Error(
          "an empty postfix with delete_file or move_to would remove every file of the directory",
        );
      }
      ctx.log.warn({ path: directory }, "No postfix set: every file of the directory is read.");
    }
    const matches = fnmatchRegex(`*${params.postfix}`);
    // Files that could not be removed: reading them again would send their data again.
    const stuck = new Set<string>();
    let warnedNoLocking = false;

    /** Sends the reports of one file; false when another process holds a lock on it. */
    const send = async (file: string, name: string, emit: (report: Report) => Promise<void>) => {
      const handle = await open(file, constants.O_RDONLY);
      try {
        const locked = await lock(handle);
        if (locked === "busy") {
          ctx.log.info({ file }, "File is locked by another process, skipping.");
          return false;
        }
        if (locked === "unavailable" && !warnedNoLocking) {
          warnedNoLocking = true;
          ctx.log.warn("flock(1) (util-linux) cannot be run: files are read without locking them.");
        }
        const template = Report.create();
        template.add("feed.url", `file://localhost${file}`);
        template.add("extra.file_name", name);
        let reports = 0;
        for await (const raw of reportData(handle, params.chunk_size, params.chunk_replicate_header)) {
          const report = new Report(template.toDict({ withType: true }));
          report.add("raw", raw, { sanitize: false });
          await emit(report);
          reports++;
        }
        ctx.log.debug({ file, reports }, "File sent.");
        return true;
      } finally {
        // Closing the file releases the lock (before the file is removed, as IntelMQ does).
        await handle.close();
      }
    };

    return {
      async collect(emit) {
        for (const name of (await readdir(directory)).sort()) {
          if (ctx.signal.aborted) return;
          if (!matches.test(name)) continue;
          const file = join(directory, name);
          if (!(await stat(file).catch(() => undefined))?.isFile()) continue;
          if (stuck.has(file)) {
            ctx.log.error({ file }, "Skipping a file already sent that could not be removed.");
            continue;
          }
          ctx.log.info({ file }, "Processing file.");
          let sent: boolean;
          try {
            sent = await send(file, name, emit);
          } catch (error) {
            // Gone between listing and reading (another collector took it): nothing to do.
            if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
            throw error;
          }
          if (!sent || (!params.move_to && !params.delete_file)) continue;
          try {
            if (params.move_to) {
              const target = await moveInto(file, name, resolve(params.move_to));
              ctx.log.debug({ file, target }, "Moved file.");
            } else {
              await unlink(file);
              ctx.log.debug({ file }, "Deleted file.");
            }
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
            stuck.add(file);
            ctx.log.error({ err: error, file }, "Could not remove the file; it will not be read again.");
          }
        }
      },
    };
  },
});
