// pyasn's IP-ASN data file ("ipasn.dat", what IntelMQ's asn_lookup expert reads): a text file of
// `NETWORK/LENGTH<TAB>ASN` lines, comment lines starting with ';' or '#'. Read as pyasn reads it — host
// bits cleared, the last of repeated prefixes wins, ASN 0 and prefix length 0 are errors — but a bad line
// is named by its number and what is wrong with it.
import { setImmediate } from "node:timers/promises";
import { ipBytes } from "../../../bot-runtime/src/exclusions/ip-prefix-trie.ts";
import { type PrefixTable, PrefixTableBuilder } from "./prefix-table.ts";

export class IpasnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IpasnError";
  }
}

const LINES_PER_TURN = 100_000;
const ASN = /^\s*(\d{1,10})\s*$/;
const PREFIX_LENGTH = /^\d{1,3}$/;

/** Parses the text of an ipasn file (`name` for errors); gives the event loop a turn now and then. */
export async function parseIpasn(text: string, name: string): Promise<PrefixTable> {
  const builder = new PrefixTableBuilder();
  let lineNumber = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    lineNumber++;
    if (lineNumber % LINES_PER_TURN === 0) await setImmediate();
    const first = line.charCodeAt(0);
    // ';' and '#' start comments; blank lines are skipped (pyasn skips only truly empty ones).
    if (first === 0x3b || first === 0x23 || line.trim() === "") continue;
    const tab = line.indexOf("\t");
    const slash = line.indexOf("/");
    if (tab < 0 || slash < 0 || slash > tab) {
      throw new IpasnError(
        `${name} line ${lineNumber}: expected NETWORK/LENGTH<TAB>ASN, got ${JSON.stringify(line)}`,
      );
    }
    const bytes = ipBytes(line.slice(0, slash));
    if (bytes === undefined) {
      throw new IpasnError(
        `${name} line ${lineNumber}: ${JSON.stringify(line.slice(0, slash))} is no IP address`,
      );
    }
    const lengthText = line.slice(slash + 1, tab).trim();
    const length = Number(lengthText);
    if (!PREFIX_LENGTH.test(lengthText) || length < 1 || length > bytes.length * 8) {
      throw new IpasnError(
        `${name} line ${lineNumber}: prefix length ${JSON.stringify(lengthText)} is not within 1..${bytes.length * 8}`,
      );
    }
    const asn = ASN.exec(line.slice(tab + 1));
    const number = asn ? Number(asn[1]) : 0;
    if (number < 1 || number > 0xffffffff) {
      throw new IpasnError(
        `${name} line ${lineNumber}: ${JSON.stringify(line.slice(tab + 1))} is no AS number (1 to 4294967295)`,
      );
    }
    builder.add(bytes, length, number);
  }
  return builder.build();
}

/** Python's time.asctime(): "Thu Dec  5 02:19:00 2024" (local time). */
function asctime(date: Date): string {
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][date.getDay()];
  const month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
    date.getMonth()
  ];
  const two = (n: number) => String(n).padStart(2, "0");
  const time = `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${day} ${month} ${String(date.getDate()).padStart(2, " ")} ${time} ${date.getFullYear()}`;
}

/** The comment lines pyasn's converter starts an ipasn file with. */
export function ipasnHeader(source: string, ipv4: number, ipv6: number, converted: Date): string {
  return (
    "; IP-ASN32-DAT file\n" +
    `; Original source: ${source}\n` +
    `; Converted on  : ${asctime(converted)}\n` +
    `; Prefixes-v4   : ${ipv4}\n` +
    `; Prefixes-v6   : ${ipv6}\n` +
    "; \n"
  );
}
