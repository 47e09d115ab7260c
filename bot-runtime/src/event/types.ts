// Validation and sanitization of each harmonization type, with IntelMQ's semantics.
//
// Two operations per type, as in IntelMQ:
// - `isValid(value)`: strict validation of a value as it stands (what reading a message checks);
// - `sanitize(value)`: normalisation of loosely formatted input (what parsers and experts do when
//   they add a field). It returns `undefined` where IntelMQ's sanitizer returns None; the caller
//   then reports the value as invalid. The sanitized value is validated again by `isValid`.
// Behaviour that differs from IntelMQ on purpose is listed in docs/compatibility.md.
import { isValidDateTime, sanitizeDateTime } from "./compat/datetime.ts";
import { isValidFqdnValue, isValidUrlValue, sanitizeFqdn, sanitizeUrl } from "./compat/fqdn-url.ts";
import { genericSanitize, isPyFalsy } from "./compat/generic.ts";
import {
  isValidIpAddressValue,
  isValidIpNetworkValue,
  sanitizeIpAddress,
  sanitizeIpNetwork,
} from "./compat/ipaddress.ts";
import { pyJsonDumps, pyJsonLoads, pyJsonLoadsOk } from "./compat/pyjson.ts";
import { pyFloat, pyInt } from "./compat/pynumber.ts";
import { pyStrip } from "./compat/pystring.ts";
import type { HarmonizationType } from "./harmonization.ts";
import {
  CLASSIFICATION_TYPE_ALIASES,
  CLASSIFICATION_TYPES,
  TAXONOMIES,
  TAXONOMY_ALIASES,
} from "./taxonomy.ts";

export interface FieldType {
  readonly name: HarmonizationType;
  /** What a valid value looks like, for error messages and docs. */
  readonly rule: string;
  /** What sanitizing does, for docs. */
  readonly sanitizes: string;
  isValid(value: unknown): boolean;
  sanitize(value: unknown): unknown;
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.length > 0;
}

// Python lower()/upper() on strings; non-strings have no such method, so sanitizing them yields nothing.
function lowerThenStrip(v: unknown): string | undefined {
  return typeof v === "string" ? genericSanitize(v.toLowerCase()) : undefined;
}
function upperThenStrip(v: unknown): string | undefined {
  return typeof v === "string" ? genericSanitize(v.toUpperCase()) : undefined;
}

const SAFE_INT_RULE = "an integer between -(2^53-1) and 2^53-1";

const string: FieldType = {
  name: "String",
  rule: "a non-empty string",
  sanitizes: "strips surrounding whitespace; numbers and booleans become their text form",
  isValid: nonEmptyString,
  sanitize: genericSanitize,
};

const lowercase: FieldType = {
  name: "LowercaseString",
  rule: "a non-empty string without uppercase letters",
  sanitizes: "lowercases, then strips surrounding whitespace",
  isValid: (v) => nonEmptyString(v) && v === v.toLowerCase(),
  sanitize: lowerThenStrip,
};

const uppercase: FieldType = {
  name: "UppercaseString",
  rule: "a non-empty string without lowercase letters",
  sanitizes: "uppercases, then strips surrounding whitespace",
  isValid: (v) => nonEmptyString(v) && v === v.toUpperCase(),
  sanitize: upperThenStrip,
};

// Base64 as Python's lenient decoder reads it: characters outside the alphabet are skipped, decoding
// stops at a complete pad sequence, and a final partial quantum is an error.
// With a length that is a multiple of four, at most two trailing pads always complete the last quantum.
const B64_CANONICAL = /^[A-Za-z0-9+/]*={0,2}$/;
function isB64Char(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
}
export function pythonBase64Decodes(s: string): boolean {
  if (s.length % 4 === 0 && B64_CANONICAL.test(s)) return true;
  let quad = 0;
  let pads = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 61) {
      if (quad >= 2 && quad + ++pads >= 4) return true;
      continue;
    }
    if (!isB64Char(c)) continue;
    pads = 0;
    quad = (quad + 1) % 4;
  }
  return quad === 0;
}

const LONE_SURROGATE = /\p{Surrogate}/u;
/** UTF-8 bytes of a string, dropping lone surrogates as Python's `encode(errors='ignore')` does. */
export function utf8Bytes(s: string): Buffer {
  return Buffer.from(s.isWellFormed() ? s : s.replace(new RegExp(LONE_SURROGATE, "gu"), ""), "utf8");
}

const base64: FieldType = {
  name: "Base64",
  rule: "a non-empty string of base64 data that decodes (padding complete)",
  sanitizes: "always base64-encodes the given text (UTF-8)",
  isValid: (v) => nonEmptyString(v) && pythonBase64Decodes(v),
  sanitize: (v) => (typeof v === "string" ? utf8Bytes(v).toString("base64") : undefined),
};

const boolean: FieldType = {
  name: "Boolean",
  rule: "true or false",
  sanitizes: 'accepts "true"/"false" in any case and the numbers 1/0',
  isValid: (v) => typeof v === "boolean",
  sanitize: (v) => {
    if (typeof v === "boolean") return v;
    if (typeof v === "string") {
      const s = pyStrip(v).toLowerCase();
      return s === "true" ? true : s === "false" ? false : undefined;
    }
    if (v === 1) return true;
    if (v === 0) return false;
    return undefined;
  },
};

function isSafeInteger(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v);
}

const integer: FieldType = {
  name: "Integer",
  rule: SAFE_INT_RULE,
  sanitizes: 'converts numeric text ("12", " +1_000 ") and truncates fractional numbers',
  isValid: isSafeInteger,
  sanitize: pyInt,
};

const ASN_MAX = 4294967295;
const asn: FieldType = {
  name: "ASN",
  rule: "an autonomous system number, 1 to 4294967295",
  sanitizes: 'strips an "AS" prefix, then converts like Integer',
  isValid: (v) => isSafeInteger(v) && v > 0 && v <= ASN_MAX,
  sanitize: (v) => {
    const n = pyInt(typeof v === "string" && v.toLowerCase().startsWith("as") ? v.slice(2) : v);
    return n !== undefined && n > 0 && n <= ASN_MAX ? n : undefined;
  },
};

const float: FieldType = {
  name: "Float",
  rule: "a finite number",
  sanitizes: 'converts numeric text ("1e3", " 2.5 ")',
  isValid: (v) => typeof v === "number" && Number.isFinite(v),
  sanitize: pyFloat,
};

const accuracy: FieldType = {
  name: "Accuracy",
  rule: "a number from 0 to 100",
  sanitizes: "converts like Float; true/false become 100/0",
  isValid: (v) => typeof v === "number" && v >= 0 && v <= 100,
  sanitize: (v) => {
    if (typeof v === "boolean") return v ? 100 : 0;
    const f = pyFloat(v);
    return f !== undefined && f >= 0 && f <= 100 ? f : undefined;
  },
};

const ipAddress: FieldType = {
  name: "IPAddress",
  rule: "a single IPv4 or IPv6 address, not 0.0.0.0, without a zone id",
  sanitizes:
    "canonicalises the address, drops a %zone suffix, turns integers into addresses and a /32 or /128 network into its address",
  isValid: (v) => nonEmptyString(v) && isValidIpAddressValue(v),
  sanitize: sanitizeIpAddress,
};

const ipNetwork: FieldType = {
  name: "IPNetwork",
  rule: "an IPv4 or IPv6 network in CIDR notation without host bits set (a bare address is a /32 or /128)",
  sanitizes: "clears host bits and canonicalises (10.1.2.3/8 becomes 10.0.0.0/8)",
  isValid: (v) => nonEmptyString(v) && isValidIpNetworkValue(v),
  sanitize: sanitizeIpNetwork,
};

const fqdn: FieldType = {
  name: "FQDN",
  rule: "a lowercase domain name in ASCII (IDN as punycode), no leading or trailing dot, no port, not an IP address or URL",
  sanitizes: "strips dots at either end, encodes IDN labels as punycode and lowercases",
  isValid: (v) => nonEmptyString(v) && isValidFqdnValue(v),
  sanitize: sanitizeFqdn,
};

const url: FieldType = {
  name: "URL",
  rule: "a URL with a network location (host), e.g. http://example.com/path or //example.com",
  sanitizes: "turns hxxp:// and hxxps:// into http:// and https:// and gives file: URLs the host localhost",
  isValid: (v) => nonEmptyString(v) && isValidUrlValue(v),
  sanitize: sanitizeUrl,
};

const dateTime: FieldType = {
  name: "DateTime",
  rule: "a UTC timestamp YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00",
  sanitizes: "parses most date formats (fuzzy); naive times are taken as UTC, others converted to UTC",
  isValid: isValidDateTime,
  sanitize: sanitizeDateTime,
};

const registry: FieldType = {
  name: "Registry",
  rule: "one of AFRINIC, APNIC, ARIN, LACNIC, RIPE",
  sanitizes: "uppercases; RIPE-NCC and RIPENCC become RIPE",
  isValid: (v) => v === "AFRINIC" || v === "APNIC" || v === "ARIN" || v === "LACNIC" || v === "RIPE",
  sanitize: (v) => {
    const s = upperThenStrip(v);
    return s === "RIPENCC" || s === "RIPE-NCC" ? "RIPE" : s;
  },
};

const TLP_PREFIX = /^(TLP:?)?\s*/u;
const tlp: FieldType = {
  name: "TLP",
  rule: "one of WHITE, GREEN, AMBER, RED",
  sanitizes: 'uppercases, removes a "TLP:" prefix, YELLOW becomes AMBER',
  isValid: (v) => v === "WHITE" || v === "GREEN" || v === "AMBER" || v === "RED",
  sanitize: (v) => {
    const s = upperThenStrip(v);
    if (!s) return s;
    const level = s.replace(TLP_PREFIX, "");
    return level === "YELLOW" ? "AMBER" : level;
  },
};

const classificationType: FieldType = {
  name: "ClassificationType",
  rule: "one of the classification types (see the taxonomy table)",
  sanitizes: "lowercases and maps legacy names (e.g. 'botnet drone', 'c&c') to current types",
  isValid: (v) => typeof v === "string" && CLASSIFICATION_TYPES.has(v),
  sanitize: (v) => {
    const s = lowerThenStrip(v);
    if (!s) return undefined;
    return genericSanitize(CLASSIFICATION_TYPE_ALIASES.get(s) ?? s);
  },
};

const classificationTaxonomy: FieldType = {
  name: "ClassificationTaxonomy",
  rule: "one of the taxonomies (see the taxonomy table)",
  sanitizes: "lowercases and maps the old spaced names (e.g. 'malicious code') to hyphenated ones",
  isValid: (v) => typeof v === "string" && TAXONOMIES.has(v),
  sanitize: (v) => {
    const s = lowerThenStrip(v);
    if (!s) return undefined;
    return genericSanitize(TAXONOMY_ALIASES.get(s) ?? s);
  },
};

const json: FieldType = {
  name: "JSON",
  rule: "a string holding valid JSON",
  sanitizes: "keeps valid JSON text; any other value is encoded as JSON (keys sorted)",
  isValid: (v) => typeof v === "string" && pyJsonLoadsOk(v),
  sanitize: (v) => {
    if (v === null || v === undefined) return undefined;
    if (typeof v === "string") {
      const s = genericSanitize(v);
      if (s !== undefined && pyJsonLoadsOk(s)) return s;
    }
    return genericSanitize(pyJsonDumps(v, { sortKeys: true }));
  },
};

function isNonEmptyJsonObjectText(v: unknown): boolean {
  if (typeof v !== "string") return false;
  const parsed = pyJsonLoads(v);
  return (
    typeof parsed === "object" &&
    parsed !== null &&
    !Array.isArray(parsed) &&
    Object.keys(parsed as object).length > 0
  );
}

const jsonDict: FieldType = {
  name: "JSONDict",
  rule: "a string holding a non-empty JSON object (stored as one field per key: extra.<key>)",
  sanitizes: "accepts an object or its JSON text",
  isValid: isNonEmptyJsonObjectText,
  sanitize: (v) => {
    if (isPyFalsy(v)) return undefined;
    if (typeof v === "string") {
      const s = genericSanitize(v);
      if (isNonEmptyJsonObjectText(s)) return s;
    }
    return genericSanitize(pyJsonDumps(v, { sortKeys: true }));
  },
};

export const FIELD_TYPES: Readonly<Record<HarmonizationType, FieldType>> = Object.freeze({
  Accuracy: accuracy,
  ASN: asn,
  Base64: base64,
  Boolean: boolean,
  ClassificationTaxonomy: classificationTaxonomy,
  ClassificationType: classificationType,
  DateTime: dateTime,
  Float: float,
  FQDN: fqdn,
  Integer: integer,
  IPAddress: ipAddress,
  IPNetwork: ipNetwork,
  JSON: json,
  JSONDict: jsonDict,
  LowercaseString: lowercase,
  Registry: registry,
  String: string,
  TLP: tlp,
  UppercaseString: uppercase,
  URL: url,
});
