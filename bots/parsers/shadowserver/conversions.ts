// The value conversions a Shadowserver schema names per column ("convert_int", "validate_ip", …), with
// the semantics IntelMQ 3.5's Shadowserver parser gives them: null means "no value" (the column then
// adds nothing), a thrown error fails the row.
import { sanitizeDateTime } from "../../../bot-runtime/src/event/compat/datetime.ts";
import { pyLower } from "../../../bot-runtime/src/event/compat/idna.ts";
import { pyFloatOrThrow, pyIntOrThrow } from "../../../bot-runtime/src/event/compat/pynumber.ts";
import { PY_SPACE_CLASS } from "../../../bot-runtime/src/event/compat/pystring.ts";
import { FIELD_TYPES, utf8Bytes } from "../../../bot-runtime/src/event/types.ts";

/** A CSV row as Python's csv.DictReader gives it: a value per column name, null for missing cells. */
export type Row = ReadonlyMap<string, string | null>;

export type ConvertedValue = string | number | boolean | null;

/** A conversion: the cell's text (never null) and the whole row. */
export type Conversion = (value: string, row: Row) => ConvertedValue;

/** Deliberate difference: Python ints have no size limit, JSON numbers in JavaScript do. */
export class IntegerRangeError extends RangeError {
  constructor(value: string) {
    super(`${JSON.stringify(value)} is an integer beyond ±(2^53−1), which Petrel cannot carry exactly`);
    this.name = "IntegerRangeError";
  }
}

/** Deliberate difference: IntelMQ keeps nan and inf, which its messages then carry as invalid JSON. */
export class NonFiniteError extends RangeError {
  constructor(value: string) {
    super(`${JSON.stringify(value)} is not a finite number, which JSON cannot carry`);
    this.name = "NonFiniteError";
  }
}

/** Python int(value) as a JavaScript number; throws where Python raises (and beyond 2^53). */
function pyInt(value: string): number {
  const n = pyIntOrThrow(value);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new IntegerRangeError(value);
  }
  return Number(n);
}

/** IntelMQ's Type.is_valid(value, sanitize=True): the sanitized value is valid. */
function validAfterSanitize(type: keyof typeof FIELD_TYPES, value: string): boolean {
  const sanitized = FIELD_TYPES[type].sanitize(value);
  return sanitized !== undefined && sanitized !== null && FIELD_TYPES[type].isValid(sanitized);
}

const TRUE_WORDS = new Set(["y", "yes", "true", "enabled", "1"]);
const FALSE_WORDS = new Set(["n", "no", "false", "disabled", "0"]);

// Python's re.sub(r'\s.*$', '', path): `.` stops at "\n" only, `$` also matches before a final "\n".
const REQUEST_TAIL = new RegExp(`${PY_SPACE_CLASS}[^\\n]*(?=\\n?$)`, "gu");
const BEFORE_PATH = /^[^/]*/;

/** scheme://host/path from the host and path columns that differ between reports (IntelMQ's order). */
function httpHostAndUrl(value: string, row: Row): ConvertedValue {
  let hostname: string | null | undefined = "";
  if (row.has("cc_dns")) hostname = row.get("cc_dns");
  if (!hostname && row.has("http_host")) hostname = row.get("http_host");
  if (!hostname && row.has("hostname")) hostname = row.get("hostname");
  if (!hostname && row.has("ip")) hostname = row.get("ip");
  let path: string | null | undefined = "";
  if (row.has("url")) path = row.get("url");
  else if (row.has("http_url")) path = row.get("http_url");
  if (hostname && path) {
    path = path.replace(BEFORE_PATH, "").replace(REQUEST_TAIL, "");
    const application = row.get("application");
    const scheme = application === "http" || application === "https" ? application : "http";
    return `${scheme}://${hostname}${path}`;
  }
  return value;
}

const B64_STRICT = /^[A-Za-z0-9+/]*=*$/;

/**
 * Python 3.11's base64.b64decode(value, validate=True) succeeds (binascii's strict mode): only the
 * alphabet, then pads; no leading pad; the pads complete the last quantum exactly (excess pads after a
 * complete quantum are ignored). Non-ASCII text makes Python raise a ValueError that is not a
 * binascii.Error, which IntelMQ does not catch: the row fails.
 */
function isStrictBase64(value: string): boolean {
  if (!/^[\x00-\x7f]*$/.test(value)) throw new Error("string argument should contain only ASCII characters");
  if (!B64_STRICT.test(value) || value.startsWith("=")) return false;
  const data = value.replace(/=+$/, "").length;
  const pads = value.length - data;
  const rest = data % 4;
  return rest === 0 || (rest === 2 && pads === 2) || (rest === 3 && pads === 1);
}

const CVE_TAG = /^cve-[0-9]+-[0-9]+\n?$/;

/** Sorted code point order, as Python sorts str. */
function byCodePoint(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export const CONVERSIONS: Readonly<Record<string, Conversion>> = {
  add_UTC_to_timestamp: (value) => `${value} UTC`,
  convert_bool(value) {
    const word = pyLower(value);
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return null;
  },
  validate_to_none: (value) => (value === "" || value === "0" || value === "unknown" ? null : value),
  convert_int: (value) => (value ? pyInt(value) : null),
  convert_float(value) {
    if (!value) return null;
    const n = pyFloatOrThrow(value);
    if (!Number.isFinite(n)) throw new NonFiniteError(value);
    return n;
  },
  convert_http_host_and_url: httpHostAndUrl,
  invalidate_zero(value) {
    if (!value) return null;
    const n = pyInt(value);
    return n !== 0 ? n : null;
  },
  validate_ip: (value) =>
    value !== "0.0.0.0" && !value.includes("/") && validAfterSanitize("IPAddress", value) ? value : null,
  validate_network: (value) => (value.includes("/") && validAfterSanitize("IPNetwork", value) ? value : null),
  validate_fqdn: (value) => (value && validAfterSanitize("FQDN", value) ? value : null),
  convert_date: (value) => sanitizeDateTime(value) ?? null,
  convert_date_utc: (value) => sanitizeDateTime(`${value}+00:00`) ?? null,
  force_base64(value) {
    if (!value) return null;
    return isStrictBase64(value) ? value : utf8Bytes(value).toString("base64");
  },
  scan_exchange_taxonomy: (value) => (value.includes("webshell") ? "intrusions" : "vulnerable"),
  scan_exchange_type: (value) => (value.includes("webshell") ? "system-compromise" : "vulnerable-system"),
  scan_exchange_identifier: (value) =>
    value.includes("webshell") ? "exchange-server-webshell" : "vulnerable-exchange-server",
  category_or_detail(_value, row) {
    const category = row.has("category") ? row.get("category") : "";
    if (category !== "") return category ?? null;
    return row.has("detail") ? (row.get("detail") ?? null) : "";
  },
  extract_cve_from_tag(tag) {
    const cves = new Set(tag.split(";").filter((t) => CVE_TAG.test(t)));
    return cves.size === 0 ? null : [...cves].sort(byCodePoint).join(";");
  },
};

const ROW_CONVERSIONS = new Set(["convert_http_host_and_url", "category_or_detail"]);

/** Whether a conversion takes the row as its second argument (the others take the value alone). */
export function takesRow(name: string): boolean {
  return ROW_CONVERSIONS.has(name);
}

/** Whether a schema names a conversion this parser knows (IntelMQ skips unknown ones on optional columns). */
export function isKnownConversion(name: string): boolean {
  return Object.hasOwn(CONVERSIONS, name);
}
