// Reads the files of a directory whose names end in `postfix`, one report per file (or per chunk of
// chunk_size bytes, cut at line ends, the first line repeated in each), as IntelMQ's file collector.
// A file is deleted (or moved to move_to) only after every report of it was emitted. Not taken over:
// IntelMQ skips files another process holds an flock on; Node has no flock.
import { constants } from "node:fs";
import {
  copyFile,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";

const parameters = z.object({
  path: z.string().default("/tmp/").describe("The directory to read files from."),
  postfix: z
    .string()
    .default(".csv")
    .describe("Read files whose names end in this (shell wildcards allowed); empty reads every file."),
  delete_file: z.boolean().default(false).describe("Delete each file once all its reports are sent."),
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
      "Petrel: move each file into this directory once all its reports are sent (instead of deleting it).",
    ),
});

/** Python's fnmatch pattern as a regular expression (full match, case-sensitive as on POSIX). */
function fnmatchRegex(pattern: string): RegExp {
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

const READ_BLOCK = 1 << 16;

/** Reads up to `length` bytes at `position` (fewer only at the end of the file). */
async function readAt(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** The first line of the file, through its "\n" (readline()). */
async function firstLine(handle: FileHandle): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let position = 0; ; position += READ_BLOCK) {
    const block = await readAt(handle, position, READ_BLOCK);
    const newline = block.indexOf(0x0a);
    if (newline >= 0) {
      parts.push(block.subarray(0, newline + 1));
      break;
    }
    parts.push(block);
    if (block.length < READ_BLOCK) break;
  }
  return Buffer.concat(parts);
}

/**
 * Cuts `data` into pieces of at most `size` bytes ending in "\n" where possible (IntelMQ's
 * split_chunks); the last piece may lack the "\n" and is carried over by the caller.
 */
function splitChunks(data: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  let rest = data;
  while (rest.length > size) {
    let newline = rest.lastIndexOf(0x0a, size - 1);
    if (newline === -1) newline = rest.indexOf(0x0a, size);
    if (newline === -1) {
      chunks.push(rest);
      rest = Buffer.alloc(0);
    } else {
      chunks.push(rest.subarray(0, newline + 1));
      rest = rest.subarray(newline + 1);
    }
  }
  if (rest.length > 0) chunks.push(rest);
  return chunks;
}

/** The file in chunks of about `size` bytes cut after a "\n" (IntelMQ's read_delimited_chunks). */
async function* delimitedChunks(handle: FileHandle, start: number, size: number): AsyncGenerator<Buffer> {
  let leftover: Buffer = Buffer.alloc(0);
  for (let position = start; ; ) {
    const fresh = await readAt(handle, position, size);
    position += fresh.length;
    const chunks = splitChunks(leftover.length > 0 ? Buffer.concat([leftover, fresh]) : fresh, size);
    leftover = chunks.pop() ?? Buffer.alloc(0);
    yield* chunks;
    if (fresh.length === 0) {
      if (leftover.length > 0) yield leftover;
      return;
    }
  }
}

/** The raw data of each report of a file (IntelMQ's generate_reports). */
async function* reportData(
  file: string,
  chunkSize: number | null | undefined,
  replicateHeader: boolean,
): AsyncGenerator<Buffer> {
  if (!chunkSize) {
    const data = await readFile(file);
    if (data.length > 0) yield data;
    return;
  }
  const handle = await open(file, constants.O_RDONLY);
  try {
    const header = replicateHeader ? await firstLine(handle) : Buffer.alloc(0);
    for await (const chunk of delimitedChunks(handle, header.length, chunkSize)) {
      yield header.length > 0 ? Buffer.concat([header, chunk]) : chunk;
    }
  } finally {
    await handle.close();
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
    "Reads files from a directory into reports (feed.url file://localhost<path>, extra.file_name); optionally deletes or moves them afterwards.",
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
          const template = Report.create();
          template.add("feed.url", `file://localhost${file}`);
          template.add("extra.file_name", name);
          let reports = 0;
          for await (const data of reportData(file, params.chunk_size, params.chunk_replicate_header)) {
            const report = new Report(template.toDict({ withType: true }));
            report.add("raw", data.toString("base64"), { sanitize: false });
            await emit(report);
            reports++;
          }
          ctx.log.debug({ file, reports }, "File sent.");
          if (!params.move_to && !params.delete_file) continue;
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
