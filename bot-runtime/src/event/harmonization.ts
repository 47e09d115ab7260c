// The field catalogue of Petrel's event format: IntelMQ 3.5's harmonization (89 event fields,
// 10 report fields), as data. Validation, generated docs, the console and CRD docs all read this
// table; nothing else in the project lists fields.

/** Names of the value types a field can have; each has a validator and sanitizer in types.ts. */
export const HARMONIZATION_TYPES = [
  "Accuracy",
  "ASN",
  "Base64",
  "Boolean",
  "ClassificationTaxonomy",
  "ClassificationType",
  "DateTime",
  "Float",
  "FQDN",
  "Integer",
  "IPAddress",
  "IPNetwork",
  "JSON",
  "JSONDict",
  "LowercaseString",
  "Registry",
  "String",
  "TLP",
  "UppercaseString",
  "URL",
] as const;
export type HarmonizationType = (typeof HARMONIZATION_TYPES)[number];

export interface FieldSpec {
  readonly type: HarmonizationType;
  readonly description: string;
  /** Maximum length of the value's Python `str()` form, in code points. */
  readonly length?: number;
  /** Must match (search semantics, case-sensitive). */
  readonly regex?: string;
  /** Must match (search semantics, case-insensitive). */
  readonly iregex?: string;
}

const PRINTABLE_ASCII = "^[ -~]+$";
const COUNTRY_CODE = { type: "UppercaseString", length: 2, regex: "^[a-zA-Z0-9]{2}$" } as const;
const NO_TRAILING_DOT = "^.*[^\\.]$";
// IANA protocol keywords accepted for protocol.transport (matched case-insensitively).
const IANA_TRANSPORT =
  "^(ip|icmp|igmp|ggp|ipencap|st2|tcp|cbt|egp|igp|bbn-rcc|nvp(-ii)?|pup|argus|emcon|xnet|chaos|udp|mux|dcn|hmp|prm|xns-idp|trunk-1|trunk-2|leaf-1|leaf-2|rdp|irtp|iso-tp4|netblt|mfe-nsp|merit-inp|sep|3pc|idpr|xtp|ddp|idpr-cmtp|tp\\+\\+|il|ipv6|sdrp|ipv6-route|ipv6-frag|idrp|rsvp|gre|mhrp|bna|esp|ah|i-nlsp|swipe|narp|mobile|tlsp|skip|ipv6-icmp|ipv6-nonxt|ipv6-opts|cftp|sat-expak|kryptolan|rvd|ippc|sat-mon|visa|ipcv|cpnx|cphb|wsn|pvp|br-sat-mon|sun-nd|wb-mon|wb-expak|iso-ip|vmtp|secure-vmtp|vines|ttp|nsfnet-igp|dgp|tcf|eigrp|ospf|sprite-rpc|larp|mtp|ax.25|ipip|micp|scc-sp|etherip|encap|gmtp|ifmp|pnni|pim|aris|scps|qnx|a/n|ipcomp|snp|compaq-peer|ipx-in-ip|vrrp|pgm|l2tp|ddx|iatp|st|srp|uti|smp|sm|ptp|isis|fire|crtp|crdup|sscopmce|iplt|sps|pipe|sctp|fc|divert)$";

/** Fields that exist once for the source and once for the destination side of an event. */
function endpointFields(side: "source" | "destination"): Record<string, FieldSpec> {
  const role = side === "source" ? "the origin of the activity" : "the target of the activity";
  const fields: Record<string, FieldSpec> = {
    [`${side}.abuse_contact`]: {
      type: "LowercaseString",
      description: `Where to report abuse of ${role}: one or more e-mail addresses, comma-separated.`,
    },
    [`${side}.account`]: {
      type: "String",
      description: `Account name or e-mail address involved on the side of ${role}.`,
    },
    [`${side}.allocated`]: {
      type: "DateTime",
      description: `When the BGP prefix of ${role} was allocated.`,
    },
    [`${side}.as_name`]: { type: "String", description: `Name of the autonomous system of ${role}.` },
    [`${side}.asn`]: { type: "ASN", description: `Autonomous system number of ${role}.` },
    [`${side}.domain_suffix`]: {
      type: "FQDN",
      description: `Public suffix (per the public suffix list) of the domain of ${role}.`,
    },
    [`${side}.fqdn`]: {
      type: "FQDN",
      regex: NO_TRAILING_DOT,
      description: `Domain name of ${role}, lowercase, IDN in punycode, without a final dot.`,
    },
    [`${side}.geolocation.cc`]: {
      ...COUNTRY_CODE,
      description: `Two-letter ISO 3166-1 country code of ${role}.`,
    },
    [`${side}.geolocation.city`]: { type: "String", description: `City of ${role}, where known.` },
    [`${side}.geolocation.country`]: {
      type: "String",
      description: `Country name of ${role}, matching the country code.`,
    },
    [`${side}.geolocation.latitude`]: {
      type: "Float",
      description: `Latitude of ${role}, as given by a geolocation database.`,
    },
    [`${side}.geolocation.longitude`]: {
      type: "Float",
      description: `Longitude of ${role}, as given by a geolocation database.`,
    },
    [`${side}.geolocation.region`]: { type: "String", description: `Region of ${role}, where known.` },
    [`${side}.geolocation.state`]: { type: "String", description: `State of ${role}, where known.` },
    [`${side}.ip`]: { type: "IPAddress", description: `IP address of ${role}.` },
    [`${side}.local_hostname`]: {
      type: "String",
      description: `Host name of ${role} inside a private (NATed) network, when a source reports it.`,
    },
    [`${side}.local_ip`]: {
      type: "IPAddress",
      description: `IP address of ${role} inside a private (NATed) network; private ranges are fine here.`,
    },
    [`${side}.network`]: {
      type: "IPNetwork",
      description: `Routed prefix (CIDR) containing the address of ${role}; the most specific one when several apply.`,
    },
    [`${side}.port`]:
      side === "source"
        ? { type: "Integer", length: 5, description: `Port number used by ${role}.` }
        : { type: "Integer", description: `Port number used by ${role}.` },
    [`${side}.registry`]: {
      type: "Registry",
      length: 7,
      description: `Regional Internet registry that allocated the address of ${role}.`,
    },
    [`${side}.reverse_dns`]: {
      type: "FQDN",
      regex: NO_TRAILING_DOT,
      description: `Name found by a reverse (PTR) lookup of the address of ${role}.`,
    },
    [`${side}.tor_node`]: {
      type: "Boolean",
      description: `Whether the address of ${role} is a known Tor node.`,
    },
    [`${side}.url`]: {
      type: "URL",
      description: `URL of ${role}: the malicious resource itself, read according to classification.type.`,
    },
    [`${side}.urlpath`]: {
      type: "String",
      description: `Path part of an HTTP (or similar) request to ${role}.`,
    },
  };
  if (side === "source") {
    fields["source.geolocation.cymru_cc"] = {
      ...COUNTRY_CODE,
      description: "Country code of the source address according to Team Cymru's IP-to-ASN service.",
    };
    fields["source.geolocation.geoip_cc"] = {
      ...COUNTRY_CODE,
      description: "Country code of the source address according to a MaxMind GeoIP database.",
    };
  }
  return fields;
}

const unsorted: Record<string, FieldSpec> = {
  "classification.identifier": {
    type: "String",
    description:
      "Lowercase name of the specific software, service or malware family the event is about (for example an exposed service or a botnet name).",
  },
  "classification.taxonomy": {
    type: "ClassificationTaxonomy",
    length: 100,
    description:
      "Top-level incident category of the Reference Security Incident Taxonomy; the taxonomy expert derives it from classification.type.",
  },
  "classification.type": {
    type: "ClassificationType",
    description:
      "What kind of incident or indicator the event describes (RSIT type, with IntelMQ's extensions).",
  },
  comment: { type: "String", description: "Free-text remark, usually added by an analyst." },
  constituency: {
    type: "String",
    description: "Identifier of the constituency the event belongs to, for multi-constituency setups.",
  },
  ...endpointFields("destination"),
  "event_description.target": {
    type: "String",
    description: "The organisation or sector targeted by the activity, when the source names it.",
  },
  "event_description.text": { type: "String", description: "Free-text description of the event." },
  "event_description.url": { type: "URL", description: "Link to further information about the event." },
  event_hash: {
    type: "UppercaseString",
    length: 40,
    regex: "^[A-F0-9./]+$",
    description: "A hash identifying the event, computed over selected fields.",
  },
  extra: {
    type: "JSONDict",
    description:
      "Everything a feed reports that has no harmonized field, stored as extra.<name> keys with any JSON value.",
  },
  "feed.accuracy": {
    type: "Accuracy",
    description: "How accurate the feed's data is believed to be, from 0 to 100.",
  },
  "feed.code": { type: "String", length: 100, description: "Short code name of the feed." },
  "feed.documentation": { type: "String", description: "Where the feed's documentation can be found." },
  "feed.name": {
    type: "String",
    description: "Name of the feed, usually set by the collector's configuration.",
  },
  "feed.provider": {
    type: "String",
    description: "Organisation providing the feed, usually set by the collector's configuration.",
  },
  "feed.url": { type: "URL", description: "URL the feed was fetched from, where there is one." },
  "malware.hash.md5": {
    type: "String",
    length: 200,
    regex: PRINTABLE_ASCII,
    description: "MD5 checksum of a file, such as a malware sample.",
  },
  "malware.hash.sha1": {
    type: "String",
    length: 200,
    regex: PRINTABLE_ASCII,
    description: "SHA-1 checksum of a file, such as a malware sample.",
  },
  "malware.hash.sha256": {
    type: "String",
    length: 200,
    regex: PRINTABLE_ASCII,
    description: "SHA-256 checksum of a file, such as a malware sample.",
  },
  "malware.name": {
    type: "LowercaseString",
    regex: PRINTABLE_ASCII,
    description: "Name of the malware family, lowercase.",
  },
  "malware.version": {
    type: "String",
    regex: PRINTABLE_ASCII,
    description: "Version of the malware or crimeware kit.",
  },
  "misp.attribute_uuid": {
    type: "LowercaseString",
    length: 36,
    regex: "^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{12}$",
    description: "UUID of the MISP attribute the event came from.",
  },
  "misp.event_uuid": {
    type: "LowercaseString",
    length: 36,
    regex: "^[a-z0-9]{8}-[a-z0-9]{4}-[a-z0-9]{4}-[a-z0-9]{4}-[0-9a-z]{12}$",
    description: "UUID of the MISP event the event came from.",
  },
  output: {
    type: "JSON",
    description: "The event rendered in a foreign format (as JSON text), for an output bot to export.",
  },
  "product.full_name": {
    type: "String",
    description: "Human-readable product name, including version details where no structured form exists.",
  },
  "product.name": {
    type: "LowercaseString",
    description: "Product name, preferably as the product part of a CPE (e.g. openssh).",
  },
  "product.vendor": {
    type: "LowercaseString",
    description: "Vendor name, preferably as the vendor part of a CPE (e.g. openbsd).",
  },
  "product.version": {
    type: "LowercaseString",
    description: "Product version, preferably as the version part of a CPE (e.g. 8.9).",
  },
  "product.vulnerabilities": {
    type: "LowercaseString",
    description: "Vulnerability identifiers that apply, separated by semicolons; CVE ids where they exist.",
  },
  "protocol.application": {
    type: "LowercaseString",
    length: 100,
    regex: PRINTABLE_ASCII,
    description: "Application protocol, e.g. ssh, http, smtp, sip.",
  },
  "protocol.transport": {
    type: "LowercaseString",
    length: 11,
    iregex: IANA_TRANSPORT,
    description: "Transport protocol as an IANA protocol keyword, e.g. tcp, udp, icmp.",
  },
  raw: {
    type: "Base64",
    description:
      "The original data (a feed line, a JSON object, a whole report) the message was made from, base64-encoded.",
  },
  rtir_id: { type: "Integer", description: "Ticket number in Request Tracker for Incident Response." },
  screenshot_url: { type: "URL", description: "Link to a screenshot or rendering of the reported resource." },
  severity: {
    type: "LowercaseString",
    length: 10,
    regex: "^(critical|high|medium|low|info|undefined)$",
    description:
      "Severity as reported by the source or set during processing: critical, high, medium, low, info or undefined.",
  },
  ...endpointFields("source"),
  status: { type: "String", description: "State of the reported resource, e.g. online or offline." },
  "time.observation": {
    type: "DateTime",
    description: "When this installation's collector fetched the data, in UTC.",
  },
  "time.source": {
    type: "DateTime",
    description: "When the event happened, as the feed reports it, in UTC.",
  },
  tlp: { type: "TLP", description: "Traffic Light Protocol level: WHITE, GREEN, AMBER or RED." },
};

function sortedRecord<T>(r: Record<string, T>): Readonly<Record<string, T>> {
  return Object.freeze(
    Object.fromEntries(
      Object.keys(r)
        .sort()
        .map((k) => [k, r[k] as T]),
    ),
  );
}

/** Every field an Event may carry, by name. */
export const EVENT_FIELDS: Readonly<Record<string, FieldSpec>> = sortedRecord(unsorted);

/** Fields a Report may carry: a subset of the event fields with the same types. */
export const REPORT_FIELDS: Readonly<Record<string, FieldSpec>> = sortedRecord(
  Object.fromEntries(
    [
      "extra",
      "feed.accuracy",
      "feed.code",
      "feed.documentation",
      "feed.name",
      "feed.provider",
      "feed.url",
      "raw",
      "rtir_id",
      "time.observation",
    ].map((k) => [k, EVENT_FIELDS[k] as FieldSpec]),
  ),
);

/** Fields copied from a Report into each Event a parser makes from it. */
export const REPORT_FIELDS_COPIED_TO_EVENTS = [
  "feed.accuracy",
  "feed.code",
  "feed.documentation",
  "feed.name",
  "feed.provider",
  "feed.url",
  "rtir_id",
  "time.observation",
] as const;

/** Key syntax for every field, including extra.* sub-keys. */
export const FIELD_NAME_PATTERN = /^[a-z_][a-z_0-9]+(\.[a-z_0-9]+)*$/;

export type MessageKind = "Event" | "Report";

export function fieldsOf(kind: MessageKind): Readonly<Record<string, FieldSpec>> {
  return kind === "Event" ? EVENT_FIELDS : REPORT_FIELDS;
}
