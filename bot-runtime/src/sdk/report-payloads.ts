// The reports a collector makes of one downloaded body or file, as IntelMQ's collectors do: with
// chunk_size set, pieces cut after a newline (optionally each with the first line as header); without
// it, the whole body as one report, none when it is empty.
import type { Report } from "../event/message.ts";
import { chunkReports } from "./archives.ts";
import { readBody } from "./http.ts";

/** IntelMQ's chunking parameters, as collectors declare them. */
export interface Chunking {
  chunk_size?: number | null | undefined;
  chunk_replicate_header: boolean;
}

/** The raw data of each report; `expectedLength` (a Content-Length) sizes the buffer of a whole body. */
export async function* reportPayloads(
  content: AsyncIterable<Uint8Array>,
  chunking: Chunking,
  expectedLength?: number,
): AsyncGenerator<Buffer> {
  if (chunking.chunk_size) {
    yield* chunkReports(content, chunking.chunk_size, chunking.chunk_replicate_header);
    return;
  }
  const data = await readBody(content, expectedLength);
  if (data.length > 0) yield data;
}

/**
 * Emits a copy of `template` with each payload of `content` as raw, one after the other (each stored
 * before the next is read); the number of reports.
 */
export async function emitReports(
  template: Report,
  content: AsyncIterable<Uint8Array>,
  chunking: Chunking,
  emit: (report: Report) => Promise<void>,
  expectedLength?: number,
): Promise<number> {
  let reports = 0;
  for await (const data of reportPayloads(content, chunking, expectedLength)) {
    const report = template.copy();
    report.add("raw", data.toString("base64"), { sanitize: false });
    await emit(report);
    reports++;
  }
  return reports;
}
