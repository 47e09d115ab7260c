// Synthetic Shadowserver reports, one per report type, built from the schema's own column lists: valid
// rows, rows of empty values, rows of odd values per column kind (bad IPs, odd timestamps, numbers that
// are not, unknown words), rows where one required column is odd, short and long rows, quoted cells with
// commas, quotes and line breaks, a column the schema does not know, and the three kinds of line ending.
import { EVENT_FIELDS } from "../../../../bot-runtime/src/event/harmonization.ts";
import type { ReportType } from "../schema.ts";

interface Candidates {
  /** Two valid values. */
  readonly valid: readonly [string, string];
  /** Odd values: some the parser accepts after normalising, some it drops, some that fail the row. */
  readonly odd: readonly string[];
}

const TIMESTAMP: Candidates = {
  valid: ["2024-05-01 10:00:00", "2024-05-02 23:59:59"],
  odd: [
    "2024-05-01T10:00:00Z",
    "2024-05-01 10:00:00.123456",
    "2024-05-01T10:00:00+02:00",
    "01/05/2024 10:00",
    "2024-05-01",
    "",
    "not a date",
    "2024-13-45 25:61:00",
    "1714557600",
  ],
};

const IP: Candidates = {
  valid: ["192.0.2.1", "2001:db8::1"],
  odd: [
    "0.0.0.0",
    "192.0.2.0/24",
    "not-an-ip",
    "",
    " 192.0.2.7 ",
    "3232235777",
    "fe80::1%eth0",
    "192.0.2.256",
    "2001:DB8:0:0::AB",
  ],
};

const PORT: Candidates = {
  valid: ["443", "8080"],
  odd: ["", "0", "-1", "abc", " 25 ", "1_000", "65536", "+7", "22.5"],
};

const BY_CONVERSION: Record<string, Candidates> = {
  add_UTC_to_timestamp: TIMESTAMP,
  validate_ip: IP,
  convert_int: PORT,
  invalidate_zero: { valid: ["64512", "3320"], odd: ["0", "", "abc", "-5", "00", " 12 "] },
  convert_bool: { valid: ["Y", "N"], odd: ["yes", "TRUE", "maybe", "", "0", "1", "Enabled", "disabled"] },
  validate_to_none: {
    valid: ["some value", "value-2"],
    odd: ["0", "unknown", "", "UNKNOWN", "  spaced  ", "-", "N/A", "Ünïcödé"],
  },
  convert_float: { valid: ["1.5", "-33.25"], odd: ["", "abc", "1e3", "  2 ", "0", "1_0.5"] },
  validate_fqdn: {
    valid: ["host.example.com", "EXAMPLE.org."],
    odd: ["", "192.0.2.1", "bad host!", "xn--bcher-kva.example", "bücher.example", "a..b"],
  },
  validate_network: {
    valid: ["192.0.2.0/24", "2001:db8::/48"],
    odd: ["192.0.2.1", "192.0.2.1/24", "junk/8", "", "10.0.0.0/33"],
  },
  convert_date: {
    valid: ["2024-05-01 10:00:00", "2024-05-01T10:00:00Z"],
    odd: ["", "garbage", "2024-05-01", "May 1 2024"],
  },
  convert_date_utc: {
    valid: ["2024-05-01 10:00:00", "2024-05-01T10:00:00"],
    odd: ["", "garbage", "2024-05-01 10:00:00Z"],
  },
  force_base64: { valid: ["aGVsbG8=", "plain text"], odd: ["", "YQ", "äöü", "abcd=", "YWJj"] },
  scan_exchange_taxonomy: { valid: ["webshell-detected", "vulnerable"], odd: ["", "WEBSHELL"] },
  scan_exchange_type: { valid: ["webshell-detected", "vulnerable"], odd: ["", "WEBSHELL"] },
  scan_exchange_identifier: { valid: ["webshell-detected", "vulnerable"], odd: ["", "WEBSHELL"] },
  category_or_detail: { valid: ["category-a", "category-b"], odd: [""] },
  extract_cve_from_tag: {
    valid: ["cve-2021-1234;rdp", "exchange;cve-2020-0688;cve-2019-0001;cve-2020-0688"],
    odd: ["", "nocve", "CVE-2021-1", "cve-2021-1234\n", "cve-x-1;cve-1-2-3"],
  },
  convert_http_host_and_url: {
    valid: ["/path/index.php", "GET /login.php HTTP/1.1"],
    odd: ["", "no-slash", "http://full/x y", "/a\tb"],
  },
};

const BY_TYPE: Record<string, Candidates> = {
  IPAddress: IP,
  IPNetwork: BY_CONVERSION.validate_network as Candidates,
  Integer: PORT,
  ASN: { valid: ["64500", "3320"], odd: ["x", "", "-3", "0", "4294967296"] },
  FQDN: {
    valid: ["www.example.com", "Mail.Example.NET."],
    odd: ["...", "192.0.2.1", "", "has space.example"],
  },
  URL: {
    valid: ["http://example.com/a", "https://example.net/b?c=d"],
    odd: ["example.com/b", "not a url", "", "hxxp://x"],
  },
  UppercaseString: { valid: ["DE", "us"], odd: ["Deutschland", "", "x", "-"] },
  LowercaseString: { valid: ["tcp", "UDP"], odd: ["", "Some Thing", "N/A"] },
  DateTime: TIMESTAMP,
  Float: BY_CONVERSION.convert_float as Candidates,
  Boolean: { valid: ["true", "false"], odd: ["maybe", "", "1"] },
  String: { valid: ["some text", "Ünïcödé"], odd: ["", " padded ", "-", "N/A"] },
  ClassificationType: { valid: ["scanner", "vulnerable-system"], odd: ["", "bogus-type"] },
  ClassificationTaxonomy: { valid: ["vulnerable", "other"], odd: ["", "bogus"] },
};

const FIELD_VALUES: Record<string, Candidates> = {
  severity: { valid: ["high", "Medium"], odd: ["severe", "", "INFO", "critical "] },
  "protocol.transport": { valid: ["tcp", "UDP"], odd: ["", "tcp6", "icmp", "nonsense"] },
  "malware.hash.md5": {
    valid: ["d41d8cd98f00b204e9800998ecf8427e", "D41D8CD98F00B204E9800998ECF8427E"],
    odd: ["nothex", ""],
  },
  "malware.hash.sha1": { valid: ["da39a3ee5e6b4b0d3255bfef95601890afd80709", "x"], odd: [""] },
  "malware.hash.sha256": {
    valid: ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "short"],
    odd: [""],
  },
};

const EXTRA: Candidates = {
  valid: ["v1", "value with, comma"],
  odd: ["", "0", 'say "hi"', "multi\nline", " padded ", "-", "Ünïcödé"],
};

function candidatesFor(report: ReportType, column: string): Candidates {
  const mapping = [...report.required, ...report.optional].find((m) => m.column === column);
  if (mapping === undefined) return EXTRA;
  if (mapping.conversionName !== undefined && BY_CONVERSION[mapping.conversionName]) {
    return BY_CONVERSION[mapping.conversionName] as Candidates;
  }
  if (typeof mapping.field !== "string" || mapping.field.startsWith("extra.")) return EXTRA;
  const byField = FIELD_VALUES[mapping.field];
  if (byField) return byField;
  const spec = EVENT_FIELDS[mapping.field];
  return (spec && BY_TYPE[spec.type]) ?? EXTRA;
}

function csvCell(value: string, forceQuotes: boolean): string {
  return forceQuotes || /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export interface SyntheticReport {
  /** The report text. */
  readonly text: string;
  /** The file name IntelMQ detects the report type from. */
  readonly fileName: string;
  /** Data rows in the text (each an event or a rejected row). */
  readonly rows: number;
}

/** The columns of a report type: required and optional ones (each once), then one the schema lacks. */
export function columnsOf(report: ReportType): string[] {
  return [...new Set([...report.required, ...report.optional].map((m) => m.column)), "unmapped_column"];
}

/** A synthetic report for one report type; `index` varies the line endings and framing. */
export function syntheticReport(report: ReportType, index: number): SyntheticReport {
  const columns = columnsOf(report);
  const candidates = columns.map((c) => candidatesFor(report, c));
  const required = new Set(report.required.map((m) => m.column));
  const rows: string[][] = [];
  const valid = (variant: 0 | 1) => candidates.map((c) => c.valid[variant]);
  rows.push(valid(0), valid(1));
  // Optional columns empty.
  rows.push(columns.map((c, i) => (required.has(c) ? (candidates[i] as Candidates).valid[0] : "")));
  // Odd values in the optional columns, a different one per column and row.
  for (let q = 0; q < 4; q++) {
    rows.push(
      columns.map((c, i) => {
        const cand = candidates[i] as Candidates;
        return required.has(c)
          ? cand.valid[q % 2 === 0 ? 0 : 1]
          : (cand.odd[(q + i) % cand.odd.length] as string);
      }),
    );
  }
  // Each odd value of each required column, in an otherwise valid row.
  for (const [i, column] of columns.entries()) {
    if (!required.has(column)) continue;
    for (const odd of (candidates[i] as Candidates).odd) {
      const row = valid(0);
      row[i] = odd;
      rows.push(row);
    }
  }
  const lines = rows.map((row, r) => row.map((v, i) => csvCell(v, (r + i) % 7 === 0)).join(","));
  // A short row (half the columns) and a long one (two more cells than the header).
  lines.push(
    valid(0)
      .slice(0, Math.max(1, Math.ceil(columns.length / 2)))
      .join(","),
  );
  lines.push([...valid(1), "surplus", "cells"].map((v) => csvCell(v, false)).join(","));
  // A blank line between rows (csv.DictReader skips it).
  lines.splice(3, 0, "");
  const header = columns.join(",");
  const all = [header, ...lines];
  let text: string;
  if (index % 3 === 0) text = `${all.join("\n")}\n`;
  else if (index % 3 === 1) text = `${all.join("\r\n")}\r\n`;
  else text = all.map((l, i) => l + (i % 2 === 0 ? "\n" : "\r\n")).join("");
  // Whitespace and a NUL around the text, which IntelMQ strips.
  if (index % 4 === 0) text = ` \n${text}\n\n`;
  if (index % 5 === 0) text = text.replace(",", ",\0");
  return {
    text,
    fileName: `2024-05-01-${report.fileName}-de-geo.csv`,
    rows: lines.filter((l) => l !== "").length,
  };
}

/** Every value the synthetic reports draw from. */
export function allCandidateValues(): string[] {
  const all = [
    ...Object.values(BY_CONVERSION),
    ...Object.values(BY_TYPE),
    ...Object.values(FIELD_VALUES),
    EXTRA,
  ].flatMap((c) => [...c.valid, ...c.odd]);
  return [...new Set(all)];
}
