// Writes each event into a file of its own, as IntelMQ's files output: written in `tmp`, then renamed
// into `dir`, so a reader of `dir` never sees half a file. The file is named after the event's hash,
// so an event delivered again (after a crash before its acknowledgement) replaces its own file
// instead of adding a second one (see document_id). Files and both directories are synced before write() resolves.
import { constants } from "node:fs";
import { mkdir, open, rename, rm, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";
import { type ExportOptions, encodeUtf8, exportEventText } from "../../bot-runtime/src/sdk/export.ts";
import { DOCUMENT_ID_DESCRIPTION, DOCUMENT_ID_MODES, eventDocumentId } from "./event-id.ts";

const parameters = z.object({
  dir: z
    .string()
    .min(1)
    .default("/opt/intelmq/var/lib/bots/files-output/incoming")
    .describe("Directory the finished files appear in (created if missing)."),
  tmp: z
    .string()
    .min(1)
    .default("/opt/intelmq/var/lib/bots/files-output/tmp")
    .describe("Directory files are written in before they are moved to dir; must be on dir's file system."),
  suffix: z.string().default(".json").describe("Ending of the file names."),
  document_id: z
    .enum(DOCUMENT_ID_MODES)
    .default("event_hash_and_observation")
    .describe(`${DOCUMENT_ID_DESCRIPTION} The file name is this id plus suffix.`),
  hierarchical_output: z.boolean().default(false).describe("Nest the JSON on the dots of field names."),
  keep_raw_field: z.boolean().default(false).describe("Keep the raw field in the JSON."),
  message_jsondict_as_string: z
    .boolean()
    .default(false)
    .describe(
      "Accepted for compatibility; IntelMQ's files output never applies it, and neither does Petrel.",
    ),
  message_with_type: z.boolean().default(false).describe('Add "__type": "Event" to the JSON.'),
  single_key: z
    .union([z.string(), z.literal(false)])
    .nullable()
    .default(false)
    .describe('Write only this field\'s value: "raw" decoded, "output" as the text it holds.'),
});

/** Files handled at once: bounds the open descriptors of a large batch. */
const CHUNK = 256;

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function ensureDirectory(path: string, parameter: string): Promise<string> {
  const absolute = resolve(path);
  await mkdir(absolute, { recursive: true, mode: 0o755 });
  const info = await stat(absolute);
  if (!info.isDirectory()) throw new Error(`${parameter}: ${absolute} is not a directory`);
  return absolute;
}

export default defineOutput({
  id: "outputs.files",
  intelmqModules: ["intelmq.bots.outputs.files.output"],
  kind: "output",
  description:
    "Writes each event into a file of its own in a directory (written aside, then renamed in atomically).",
  parameters,
  deviations: [
    {
      id: "file-named-after-event",
      summary:
        "A file is named after the event (by default IntelMQ's message hash combined with time.observation; with document_id event_hash the message hash alone) plus suffix; IntelMQ names it host.pid.time.device.inode plus suffix. Equal events therefore share one file.",
      reason:
        "An event delivered again after a crash replaces its own file instead of appearing twice; readers can match files to events.",
    },
  ],
  async create(params, ctx) {
    const dir = await ensureDirectory(params.dir, "dir");
    const tmp = await ensureDirectory(params.tmp, "tmp");
    if ((await stat(dir)).dev !== (await stat(tmp)).dev) {
      throw new Error(
        `tmp (${tmp}) and dir (${dir}) must be on the same file system: files are renamed from one to the other`,
      );
    }
    const exportOptions: ExportOptions = {
      hierarchical: params.hierarchical_output,
      withType: params.message_with_type,
      singleKey: params.single_key,
      keepRawField: params.keep_raw_field,
    };
    // Temporary names are unique per process and write, so replicas writing the same event do not clash.
    const tmpPrefix = `.${process.pid}.${Date.now().toString(36)}.`;
    let written = 0;

    async function writeChunk(files: ReadonlyArray<{ name: string; data: Buffer }>): Promise<void> {
      const paths = files.map(({ name }) => join(tmp, `${name}${tmpPrefix}${++written}`));
      const created = new Set<string>();
      try {
        await Promise.all(
          files.map(async ({ data }, i) => {
            const path = paths[i] as string;
            const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
            created.add(path);
            try {
              await handle.writeFile(data);
              await handle.datasync();
            } finally {
              await handle.close();
            }
          }),
        );
        // Renamed in batch order: of two events with the same name, the later one stays.
        for (const [i, { name }] of files.entries()) {
          await rename(paths[i] as string, join(dir, name));
          created.delete(paths[i] as string);
        }
      } finally {
        await Promise.all([...created].map((path) => rm(path, { force: true })));
      }
    }

    return {
      async write(events) {
        // Everything is rendered first: an event that cannot be written fails the batch untouched.
        const files = events.map((event) => ({
          name: `${eventDocumentId(event, params.document_id)}${params.suffix}`,
          data: encodeUtf8(exportEventText(event, exportOptions)),
        }));
        for (let i = 0; i < files.length; i += CHUNK) await writeChunk(files.slice(i, i + CHUNK));
        await syncDirectory(dir);
        if (tmp !== dir) await syncDirectory(tmp);
        ctx.log.debug({ files: files.length }, "Files written.");
      },
    };
  },
});
