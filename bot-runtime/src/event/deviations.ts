// Deliberate differences between Petrel's event model and IntelMQ 3.5's. Each entry is asserted by
// name in the differential test against IntelMQ and listed in docs/compatibility.md (generated).

export interface Deviation {
  readonly id: string;
  /** What differs, in one sentence. */
  readonly summary: string;
  /** Why Petrel differs. */
  readonly reason: string;
}

export const EVENT_MODEL_DEVIATIONS: readonly Deviation[] = [
  {
    id: "integers-beyond-2^53",
    summary:
      "Integer, ASN and IP-from-integer values outside ±(2^53−1) are rejected; IntelMQ accepts arbitrarily large Python integers.",
    reason:
      "JSON numbers beyond 2^53 lose precision in JavaScript and in many JSON consumers; a port or ticket number that large is a data error.",
  },
  {
    id: "non-finite-floats",
    summary: 'Float and Accuracy reject NaN and ±Infinity ("nan", "inf"); IntelMQ accepts them.',
    reason:
      "NaN and Infinity are not valid JSON: IntelMQ would write messages that strict JSON readers reject.",
  },
  {
    id: "accuracy-strict-boolean",
    summary:
      "Strict validation of Accuracy (feed.accuracy) rejects true/false; IntelMQ's check accepts booleans as valid accuracies.",
    reason:
      "A boolean is not an accuracy; IntelMQ's acceptance is a side effect of Python booleans being integers. Sanitizing still maps true/false to 100/0 as IntelMQ does.",
  },
  {
    id: "strict-read-without-sanitize-fallback",
    summary:
      "Reading a message in strict mode reports a field that is not already valid; IntelMQ's deserialisation silently sanitizes such a field instead.",
    reason:
      "Messages inside a Petrel pipeline are written by Petrel and always normalised, so a non-normalised field reveals a faulty producer; sanitizing is explicit (petrelctl event check --sanitize, parsers, the API collector).",
  },
  {
    id: "integral-floats-serialise-without-fraction",
    summary:
      "Float fields whose value is integral serialise as e.g. 52 where IntelMQ writes 52.0; the event hash still treats them as floats.",
    reason:
      "JSON has one number type and JavaScript one numeric type; readers of the JSON (databases, Elasticsearch, IntelMQ itself) get the same number.",
  },
  {
    id: "wire-format-compact-type-first",
    summary:
      'Serialised messages are compact JSON with "__type" first; IntelMQ writes ", "/": " separators, "__type" last and escapes non-ASCII characters.',
    reason: "Same keys and values; smaller messages and one serialisation pass. Both forms read identically.",
  },
  {
    id: "nested-integral-floats",
    summary:
      "Inside extra.* values (lists, objects), a float with an integral value such as 2.0 is treated as the integer 2 (JSON output and event hash).",
    reason:
      "JavaScript's JSON parser keeps no int/float distinction; harmonized Float fields are exact, only free-form extra values are affected.",
  },
  {
    id: "integer-like-key-order",
    summary:
      'In extra.* object values, keys that look like array indices ("2", "10") come first, in numeric order, in the event hash input; IntelMQ keeps insertion order.',
    reason:
      "JavaScript objects order such keys first; JSON output with sorted keys (JSONDict sanitizing) is identical.",
  },
  {
    id: "unicode-version",
    summary:
      "Characters assigned after Unicode 14.0 (Python 3.11's version) are printable for Petrel and escaped by IntelMQ's repr(); this only changes the event hash of values that contain them.",
    reason: "Node.js 26 ships Unicode 17; Petrel does not carry a second, older character database.",
  },
  {
    id: "deep-json-nesting",
    summary:
      "JSON values nested deeper than Python's recursion limit (about 1,000 levels) are accepted; IntelMQ fails with a RecursionError.",
    reason: "The limit is an accident of Python's stack, not a rule of the data format.",
  },
];
