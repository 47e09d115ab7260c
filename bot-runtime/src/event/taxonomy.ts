// The classification scheme: RSIT taxonomies, the types within each (with IntelMQ's extensions under
// "other"), and the legacy spellings that sanitizing maps to current types. One table serves the
// ClassificationType/ClassificationTaxonomy validators, the taxonomy expert and the docs.

/** Each taxonomy with its types, in documentation order. */
export const TAXONOMY: Readonly<Record<string, readonly string[]>> = Object.freeze({
  "abusive-content": ["spam", "harmful-speech", "violence"],
  availability: ["ddos", "dos", "outage", "sabotage", "misconfiguration"],
  fraud: ["copyright", "masquerade", "phishing", "unauthorized-use-of-resources"],
  "information-content-security": [
    "unauthorised-information-access",
    "unauthorised-information-modification",
    "data-loss",
    "data-leak",
  ],
  "information-gathering": ["scanner", "sniffing", "social-engineering"],
  "intrusion-attempts": ["brute-force", "exploit", "ids-alert"],
  intrusions: [
    "application-compromise",
    "burglary",
    "privileged-account-compromise",
    "system-compromise",
    "unprivileged-account-compromise",
  ],
  "malicious-code": ["c2-server", "infected-system", "malware-configuration", "malware-distribution"],
  // Types outside RSIT that IntelMQ keeps for feeds which cannot be classified more precisely.
  other: ["blacklist", "dga-domain", "malware", "other", "proxy", "tor", "undetermined"],
  test: ["test"],
  vulnerable: [
    "ddos-amplifier",
    "information-disclosure",
    "potentially-unwanted-accessible",
    "vulnerable-system",
    "weak-crypto",
  ],
});

export const TAXONOMIES: ReadonlySet<string> = new Set(Object.keys(TAXONOMY));

/** classification.type → the taxonomy it belongs to. */
export const TAXONOMY_OF_TYPE: ReadonlyMap<string, string> = new Map(
  Object.entries(TAXONOMY).flatMap(([taxonomy, types]) => types.map((t) => [t, taxonomy] as const)),
);

export const CLASSIFICATION_TYPES: ReadonlySet<string> = new Set(TAXONOMY_OF_TYPE.keys());

/** Old or informal type names (already lowercased) and the current type sanitizing turns them into. */
export const CLASSIFICATION_TYPE_ALIASES: ReadonlyMap<string, string> = new Map([
  ["botnet drone", "infected-system"],
  ["infected system", "infected-system"],
  ["ransomware", "infected-system"],
  ["ids alert", "ids-alert"],
  ["c&c", "c2-server"],
  ["c2server", "c2-server"],
  ["malware configuration", "malware-configuration"],
  ["vulnerable client", "vulnerable-system"],
  ["vulnerable service", "vulnerable-system"],
  ["leak", "data-leak"],
  ["unknown", "undetermined"],
  ["dga domain", "dga-domain"],
  ["unauthorized-login", "system-compromise"],
  ["unauthorized-command", "system-compromise"],
  ["compromised", "system-compromise"],
  ["backdoor", "system-compromise"],
  ["defacement", "unauthorised-information-modification"],
  ["dropzone", "other"],
]);

/** Old spaced taxonomy names (already lowercased) and their current hyphenated form. */
export const TAXONOMY_ALIASES: ReadonlyMap<string, string> = new Map([
  ["abusive content", "abusive-content"],
  ["information gathering", "information-gathering"],
  ["intrusion attempts", "intrusion-attempts"],
  ["malicious code", "malicious-code"],
]);
