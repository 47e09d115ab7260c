// Holds a streaming HTTP connection open and makes one report per line received, as IntelMQ's HTTP
// stream collector: lines split as requests' iter_lines does (\n, \r\n, \r), stripped unless
// strip_lines is false, empty lines (keep-alives) skipped. The next line is read only once the report
// of the previous one is stored. When the stream ends or fails, the collector reconnects after
// reconnect_delay seconds (doubling while connections fail without a line, up to ten minutes).
import { z } from "zod";
import { Report } from "../../bot-runtime/src/event/message.ts";
import { defineCollector } from "../../bot-runtime/src/sdk/bot.ts";
import { discardBody, HttpClient, httpParameters } from "../../bot-runtime/src/sdk/http.ts";
import { sleep } from "../../bot-runtime/src/sdk/sleep.ts";

const parameters = httpParameters.extend({
  http_url: z.string().min(1).describe("The URL of the stream."),
  strip_lines: z.boolean().default(true).describe("Strip whitespace from the start and end of each line."),
  reconnect_delay: z
    .number()
    .positive()
    .default(10)
    .describe("Petrel: seconds to wait before connecting again after the stream ended or failed."),
});

const MAX_DELAY_MS = 600_000;
const ASCII_SPACE = new Set([0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d]);

/** Python's bytes.strip(): ASCII whitespace off both ends. */
function strip(line: Buffer): Buffer {
  let start = 0;
  let end = line.length;
  while (start < end && ASCII_SPACE.has(line[start] as number)) start++;
  while (end > start && ASCII_SPACE.has(line[end - 1] as number)) end--;
  return line.subarray(start, end);
}

/** The lines of a byte stream, without their line ends (\n, \r\n or \r), the last one unterminated too. */
async function* lines(body: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let skipLf = false; // a \r ended the previous chunk: a \n starting this one belongs to it
  for await (const piece of body) {
    let chunk = Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    if (skipLf && chunk[0] === 0x0a) chunk = chunk.subarray(1);
    skipLf = false;
    let start = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c !== 0x0a && c !== 0x0d) continue;
      const line = chunk.subarray(start, i);
      yield pending.length > 0 ? Buffer.concat([pending, line]) : line;
      pending = Buffer.alloc(0);
      if (c === 0x0d) {
        if (i + 1 < chunk.length) {
          if (chunk[i + 1] === 0x0a) i++;
        } else skipLf = true;
      }
      start = i + 1;
    }
    if (start < chunk.length) pending = Buffer.concat([pending, chunk.subarray(start)]);
  }
  if (pending.length > 0) yield pending;
}

export default defineCollector({
  id: "collectors.http_stream",
  intelmqModules: ["intelmq.bots.collectors.http.collector_http_stream"],
  kind: "collector",
  mode: "continuous",
  description:
    "Keeps a streaming HTTP connection open and sends each line received as a report (feed.url set); reconnects when the stream ends.",
  parameters,
  deviations: [
    {
      id: "stream-lines-as-bytes",
      summary:
        "A line that is not valid UTF-8 becomes a report with its bytes; IntelMQ fails on it and drops the connection.",
      reason:
        "Parsers decode raw themselves; one odd line should not cost the connection and the lines after it.",
    },
  ],
  create(params, ctx) {
    const client = new HttpClient(params);
    const { signal } = ctx;
    return {
      async collect(emit) {
        let failures = 0;
        while (!signal.aborted) {
          let received = 0;
          try {
            ctx.log.info({ url: params.http_url }, "Connecting to stream.");
            const response = await client.stream(params.http_url, { signal, raiseForStatus: false });
            if (Math.floor(response.status / 100) !== 2) {
              discardBody(response.body);
              throw new Error(`HTTP response status code was ${response.status}.`);
            }
            for await (const raw of lines(response.body)) {
              const line = params.strip_lines ? strip(raw) : raw;
              if (line.length === 0) continue; // keep-alive
              const report = Report.create();
              report.add("feed.url", params.http_url);
              report.add("raw", line.toString("base64"), { sanitize: false });
              await emit(report);
              received++;
            }
            ctx.log.info({ url: params.http_url, lines: received }, "Stream stopped.");
          } catch (error) {
            if (signal.aborted) return;
            ctx.log.error({ err: error, url: params.http_url, lines: received }, "Stream failed.");
          }
          failures = received > 0 ? 0 : failures + 1;
          const delay = Math.min(
            MAX_DELAY_MS,
            params.reconnect_delay * 1000 * 2 ** Math.max(0, failures - 1),
          );
          await sleep(delay, signal);
        }
      },
      close: () => client.close(),
    };
  },
});
