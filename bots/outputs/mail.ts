// What the two SMTP outputs share: Python's csv module's way of writing rows (IntelMQ builds its
// attachments with it) and an SMTP connection made with nodemailer from IntelMQ-style settings.
import { readFileSync } from "node:fs";
import { createTransport, type Transporter } from "nodemailer";

export interface CsvDialect {
  delimiter: string;
  lineTerminator: string;
}

/** Python's csv "excel" dialect. */
export const EXCEL: CsvDialect = { delimiter: ",", lineTerminator: "\r\n" };

/**
 * One row as Python's csv.writer writes it with QUOTE_MINIMAL: a field is quoted when it holds the
 * delimiter, the quote character or a character of the line terminator (Python 3.11), quotes doubled;
 * a row of one empty field is written as "".
 */
export function csvRow(fields: readonly string[], dialect: CsvDialect): string {
  const special = new Set([dialect.delimiter, '"', ...dialect.lineTerminator]);
  const quoted = fields.map((field) =>
    [...field].some((c) => special.has(c)) ? `"${field.replaceAll('"', '""')}"` : field,
  );
  if (fields.length === 1 && fields[0] === "") return `""${dialect.lineTerminator}`;
  return quoted.join(dialect.delimiter) + dialect.lineTerminator;
}

export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the start (SMTPS). */
  tls: boolean;
  /** STARTTLS required (ignored with tls); false: never STARTTLS. */
  starttls: boolean;
  username?: string | null | undefined;
  password?: string | null | undefined;
  verifyCertificate: boolean;
  caFile?: string | null | undefined;
  /** Keep one connection open for several mails. */
  pool?: boolean;
}

export function smtpTransport(settings: SmtpSettings): Transporter {
  const ca = settings.caFile ? readFileSync(settings.caFile) : undefined;
  return createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.tls,
    requireTLS: !settings.tls && settings.starttls,
    ignoreTLS: !settings.tls && !settings.starttls,
    ...(settings.username && settings.password
      ? { auth: { user: settings.username, pass: settings.password } }
      : {}),
    tls: {
      rejectUnauthorized: settings.verifyCertificate,
      ...(ca ? { ca: [ca] } : {}),
    },
    ...(settings.pool ? { pool: true, maxConnections: 1 } : {}),
    connectionTimeout: 30_000,
    greetingTimeout: 30_000,
    socketTimeout: 60_000,
  });
}

/** Addresses in a comma-separated list; refuses what is no address (an empty or "None" recipient). */
export function recipients(list: string, parameter: string): string[] {
  const addresses = list
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  for (const address of addresses) {
    if (!/@/.test(address)) {
      throw new Error(`${parameter} gave ${JSON.stringify(address)}, which is no mail address`);
    }
  }
  if (addresses.length === 0) throw new Error(`${parameter} gave no recipient`);
  return addresses;
}
