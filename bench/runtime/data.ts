// Benchmark inputs: the 22-field event of the event-model suite, and CSV feed reports for the parser
// workloads. The same bytes go to Petrel and to IntelMQ.
import { SAMPLE_EVENT } from "../event-model.bench.ts";

const encoder = new TextEncoder();

/** SAMPLE_EVENT (22 fields, ~1.2 KB) without its taxonomy (the taxonomy expert sets it), one address each. */
export function sampleEvents(n: number): Uint8Array[] {
  const base = JSON.parse(SAMPLE_EVENT) as Record<string, unknown>;
  delete base["classification.taxonomy"];
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    base["source.ip"] = address(i);
    out.push(encoder.encode(JSON.stringify(base)));
  }
  return out;
}

function address(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

/** The generic CSV parser's parameters for the feed lines below (IntelMQ's names; used by both). */
export const CSV_PARSER_PARAMETERS = {
  columns: [
    "time.source",
    "source.ip",
    "source.port",
    "source.reverse_dns",
    "source.asn",
    "malware.name",
    "status",
    "event_description.text",
  ],
  type: "c2-server",
  skip_header: false,
};

/** One feed line of ~115 bytes; every line differs, so the deduplicator passes them all. */
export function csvLine(i: number): string {
  const ip = address(i);
  const minute = String(i % 60).padStart(2, "0");
  return (
    `2021-05-05 09:${minute}:00,${ip},${443 + (i % 1000)},host-${ip.replaceAll(".", "-")}.example.net,` +
    `${64496 + (i % 16)},zeus,online,c2 server seen by sensor ${i % 97}`
  );
}

/**
 * The line of the memory workload: one address, as in blocklists (~11 bytes). JetStream's file store
 * refuses messages over 32 MiB, so a 1,000,000-line report has to have short lines to be one message.
 */
export function shortCsvLine(i: number): string {
  return address(i);
}

export const SHORT_CSV_PARSER_PARAMETERS = {
  columns: ["source.ip"],
  type: "blacklist",
  skip_header: false,
};

/** A Report as collectors send it: feed fields, time.observation and the lines as base64 raw. */
export function csvReport(lines: Iterable<string>): Uint8Array {
  const raw = Buffer.from(`${[...lines].join("\n")}\n`).toString("base64");
  return encoder.encode(
    JSON.stringify({
      __type: "Report",
      "feed.name": "Benchmark C2 Feed",
      "feed.provider": "Petrel benchmarks",
      "feed.accuracy": 100,
      "time.observation": "2021-05-05T10:00:00+00:00",
      raw,
    }),
  );
}

/** `count` reports of `perReport` distinct lines each. */
export function csvReports(count: number, perReport: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let r = 0; r < count; r++) {
    const lines: string[] = [];
    for (let i = 0; i < perReport; i++) lines.push(csvLine(r * perReport + i));
    out.push(csvReport(lines));
  }
  return out;
}
