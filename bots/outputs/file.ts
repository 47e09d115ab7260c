// Writes events to a file, one JSON document (or single_key value) per line, as IntelMQ's file output.
// A batch is written with one call per file and made durable with one fdatasync before write()
// resolves, so an acknowledged event is on disk. A file replaced under the bot (log rotation) is
// reopened instead of written to after it is gone.
import { constants } from "node:fs";
import { type FileHandle, mkdir, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { strptime } from "../../bot-runtime/src/event/compat/datetime.ts";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import { type Event, fieldDefinition } from "../../bot-runtime/src/event/message.ts";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import {
  ENCODING_ERRORS,
  type ExportOptions,
  encodeUtf8,
  exportEventText,
  isFloatField,
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

interface Wall {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  microsecond: number;
}

const DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];
const pad = (n: number, width = 2, fill = "0") => String(n).padStart(width, fill);

function dayOfYear(w: Wall): number {
  return (Date.UTC(w.year, w.month - 1, w.day) - Date.UTC(w.year, 0, 1)) / 86_400_000 + 1;
}
/** 0 = Monday … 6 = Sunday. */
function weekday(w: Wall): number {
  return (new Date(Date.UTC(w.year, w.month - 1, w.day)).getUTCDay() + 6) % 7;
}
function isoWeek(w: Wall): { year: number; week: number } {
  const date = new Date(Date.UTC(w.year, w.month - 1, w.day));
  date.setUTCDate(date.getUTCDate() + 3 - weekday(w)); // the Thursday of this ISO week
  const year = date.getUTCFullYear();
  return { year, week: Math.floor((date.getTime() - Date.UTC(year, 0, 1)) / 604_800_000) + 1 };
}

/** strftime in the C locale for a UTC datetime, the directives glibc and Python provide. */
function strftime(w: Wall, format: string): string {
  return format.replace(/%(.)/gs, (_, d: string) => {
    const wd = weekday(w);
    const h12 = w.hour % 12 === 0 ? 12 : w.hour % 12;
    switch (d) {
      case "a":
        return (DAYS[wd] as string).slice(0, 3);
      case "A":
        return DAYS[wd] as string;
      case "b":
      case "h":
        return (MONTHS[w.month - 1] as string).slice(0, 3);
      case "B":
        return MONTHS[w.month - 1] as string;
      case "c":
        return strftime(w, "%a %b %e %H:%M:%S %Y");
      case "C":
        return pad(Math.floor(w.year / 100));
      case "d":
        return pad(w.day);
      case "D":
        return strftime(w, "%m/%d/%y");
      case "e":
        return pad(w.day, 2, " ");
      case "f":
        return pad(w.microsecond, 6);
      case "F":
        return strftime(w, "%Y-%m-%d");
      case "g":
        return pad(isoWeek(w).year % 100);
      case "G":
        return String(isoWeek(w).year);
      case "H":
        return pad(w.hour);
      case "I":
        return pad(h12);
      case "j":
        return pad(dayOfYear(w), 3);
      case "k":
        return pad(w.hour, 2, " ");
      case "l":
        return pad(h12, 2, " ");
      case "m":
        return pad(w.month);
      case "M":
        return pad(w.minute);
      case "n":
        return "\n";
      case "p":
        return w.hour < 12 ? "AM" : "PM";
      case "R":
        return strftime(w, "%H:%M");
      case "s":
        return String(Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) / 1000);
      case "S":
        return pad(w.second);
      case "t":
        return "\t";
      case "T":
      case "X":
        return strftime(w, "%H:%M:%S");
      case "u":
        return String(wd + 1);
      case "U":
        return pad(Math.floor((dayOfYear(w) + 6 - ((wd + 1) % 7)) / 7));
      case "V":
        return pad(isoWeek(w).week);
      case "w":
        return String((wd + 1) % 7);
      case "W":
        return pad(Math.floor((dayOfYear(w) + 6 - wd) / 7));
      case "x":
        return strftime(w, "%m/%d/%y");
      case "y":
        return pad(w.year % 100);
      case "Y":
        return String(w.year);
      case "z":
      case "Z":
        return ""; // IntelMQ's datetimes here are naive (it matches "+00:00" as literal text)
      case "%":
        return "%";
      default:
        throw new Error(`format_filename: unsupported strftime directive %${d}`);
    }
  });
}

/** str() of a naive datetime: "2024-05-01 10:00:00" (microseconds only when set). */
function datetimeStr(w: Wall): string {
  const fraction = w.microsecond ? `.${pad(w.microsecond, 6)}` : "";
  return `${strftime(w, "%Y-%m-%d %H:%M:%S")}${fraction}`;
}

const DATETIME_FIELDS = new Set(["time.observation", "time.source"]);

/** IntelMQ reads these two fields into datetimes with exactly these formats before formatting. */
function parseTime(value: unknown): Wall {
  const text = String(value);
  try {
    return strptime(text, "%Y-%m-%dT%H:%M:%S+00:00");
  } catch {
    return strptime(text, "%Y-%m-%dT%H:%M:%S.%f+00:00");
  }
}

type Part = string | { key: string; spec: string };

/** Compiles `file` as a Python format string whose fields are all `event[<field>]`. */
function compileFileName(template: string): (event: Event) => string {
  const parts: Part[] = [];
  let literal = "";
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    const next = template[i + 1];
    if ((c === "{" && next === "{") || (c === "}" && next === "}")) {
      literal += c;
      i++;
      continue;
    }
    if (c === "}") throw new Error(`format_filename: single '}' in ${template}`);
    if (c !== "{") {
      literal += c;
      continue;
    }
    const close = template.indexOf("}", i);
    const field = /^event\[([^\]]+)\](?::(.*))?$/s.exec(close < 0 ? "" : template.slice(i + 1, close));
    if (!field) {
      throw new Error(`format_filename: placeholders must look like {event[field]} or {event[field]:format}`);
    }
    const [, key, spec = ""] = field as unknown as [string, string, string | undefined];
    const def = fieldDefinition("Event", key);
    if (def?.spec.type === "JSONDict" && !def.subKey) {
      throw new Error(`format_filename: ${key} is not a single field (IntelMQ fails with KeyError)`);
    }
    if (spec.includes("{")) throw new Error("format_filename: nested placeholders are not supported");
    if (spec !== "" && !DATETIME_FIELDS.has(key)) {
      throw new Error(
        `format_filename: a format after ':' is only supported for ${[...DATETIME_FIELDS].join(", ")}`,
      );
    }
    if (spec !== "")
      strftime({ year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0 }, spec);
    parts.push(literal, { key, spec });
    literal = "";
    i = close;
  }
  parts.push(literal);
  return (event) => {
    let out = "";
    for (const part of parts) {
      if (typeof part === "string") {
        out += part;
        continue;
      }
      if (!event.has(part.key)) throw new Error(`format_filename: the event has no ${part.key}`);
      const value = event.get(part.key);
      if (DATETIME_FIELDS.has(part.key)) {
        const wall = parseTime(value);
        out += part.spec === "" ? datetimeStr(wall) : strftime(wall, part.spec);
      } else {
        out += pyStr(value, isFloatField(part.key));
      }
    }
    return out;
  };
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
