// Writes events to a file, one JSON document (or single_key value) per line, as IntelMQ's file output.
// A batch is written with one call per file and made durable with one fdatasync before write()
// resolves, so an acknowledged event is on disk. A file replaced under the bot (log rotation) is
// reopened instead of written to after it is gone.
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { strptime } from "../../bot-runtime/src/event/compat/datetime.ts";
import type { DateParts } from "../../bot-runtime/src/event/compat/strftime.ts";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import {
  compileEventTemplate,
  ENCODING_ERRORS,
  type ExportOptions,
  encodeUtf8,
  exportEventText,
} from "../../bot-runtime/src/sdk/export.ts";

const parameters = z.object({
  file: z
    .string()
    .default("/opt/intelmq/var/lib/bots/file-output/events.txt")
    .describe(
      "The file to append to; missing directories are created. With format_filename, a template such as /data/{event[time.source]:%Y-%m-%d}/{event[classification.type]}.json.",
    ),
  format_filename: z
    .boolean()
    .default(false)
    .describe(
      "Fill in {event[field]} placeholders of file per event (time.source and time.observation as datetimes, formatted with strftime after ':').",
    ),
  hierarchical_output: z.boolean().default(false).describe("Nest the JSON on the dots of field names."),
  keep_raw_field: z.boolean().default(false).describe("Keep the raw field in the JSON."),
  message_jsondict_as_string: z
    .boolean()
    .default(false)
    .describe("Accepted for compatibility; IntelMQ's file output never applies it, and neither does Petrel."),
  message_with_type: z.boolean().default(false).describe('Add "__type": "Event" to the JSON.'),
  single_key: z
    .union([z.string(), z.literal(false)])
    .nullable()
    .default(false)
    .describe('Write only this field\'s value: "raw" decoded, "output" as the text it holds.'),
  encoding_errors_mode: z
    .enum(ENCODING_ERRORS)
    .default("strict")
    .describe("Python's codec error handler for text that cannot be UTF-8 (lone surrogates): strict fails."),
});

const MAX_OPEN_FILES = 16;

// ---- format_filename: Python's str.format with {event[key]} fields ----

const DATETIME_FIELDS = new Set(["time.observation", "time.source"]);

/** IntelMQ reads these two fields into datetimes with exactly these formats before formatting. */
function parseTime(value: unknown): DateParts {
  const text = String(value);
  try {
    return strptime(text, "%Y-%m-%dT%H:%M:%S+00:00");
  } catch {
    return strptime(text, "%Y-%m-%dT%H:%M:%S.%f+00:00");
  }
}

/** `file` as a Python format string filled from the event as IntelMQ's file output fills it. */
function compileFileName(template: string): (event: Event) => string {
  return compileEventTemplate(template, {
    variable: "event",
    missing: "error",
    parameter: "format_filename",
    flatDict: { datetimes: DATETIME_FIELDS, parse: parseTime },
  });
}

// ---- files ----

interface OpenFile {
  handle: FileHandle;
  inode: number;
}

async function openForAppend(path: string): Promise<OpenFile> {
  const append = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT;
  let handle: FileHandle;
  let created = false;
  try {
    handle = await open(path, append | constants.O_EXCL, 0o666);
    created = true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    else if (code !== "EEXIST") throw error;
    handle = await open(path, append, 0o666);
  }
  if (created) {
    // The new directory entry must survive a crash as well as the data.
    const dir = await open(dirname(path), constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
  return { handle, inode: (await handle.stat()).ino };
}

async function writeAll(handle: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await handle.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

export default defineOutput({
  id: "outputs.file",
  intelmqModules: ["intelmq.bots.outputs.file.output"],
  kind: "output",
  description:
    "Appends events to a file as JSON lines (or one field per line); the file name may depend on the event.",
  parameters,
  async create(params) {
    const exportOptions: ExportOptions = {
      hierarchical: params.hierarchical_output,
      withType: params.message_with_type,
      singleKey: params.single_key,
      keepRawField: params.keep_raw_field,
    };
    const fileName = params.format_filename ? compileFileName(params.file) : () => params.file;
    // Open files, least recently used first.
    const files = new Map<string, OpenFile>();

    async function fileFor(path: string): Promise<OpenFile> {
      let file = files.get(path);
      if (file !== undefined) {
        files.delete(path);
        const current = await stat(path).catch(() => undefined);
        if (current?.ino !== file.inode) {
          await file.handle.close();
          file = undefined;
        }
      }
      file ??= await openForAppend(path);
      files.set(path, file);
      for (const [oldest, open] of files) {
        if (files.size <= MAX_OPEN_FILES) break;
        files.delete(oldest);
        await open.handle.close();
      }
      return file;
    }

    // IntelMQ opens the file when the bot starts; so does Petrel, to fail early.
    if (!params.format_filename) await fileFor(params.file);

    return {
      async write(events) {
        const texts = new Map<string, string[]>();
        for (const event of events) {
          const path = fileName(event);
          const lines = texts.get(path) ?? [];
          texts.set(path, lines);
          lines.push(`${exportEventText(event, exportOptions)}\n`);
        }
        // Everything is encoded before anything is written: an encoding error fails the batch untouched.
        const data = [...texts].map(
          ([path, lines]) => [path, encodeUtf8(lines.join(""), params.encoding_errors_mode)] as const,
        );
        const written: FileHandle[] = [];
        for (const [path, bytes] of data) {
          const { handle } = await fileFor(path);
          await writeAll(handle, bytes);
          written.push(handle);
        }
        await Promise.all(written.map((handle) => handle.datasync()));
      },
      async close() {
        for (const file of files.values()) await file.handle.close();
        files.clear();
      },
    };
  },
});
