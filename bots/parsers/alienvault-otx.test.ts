// The AlienVault OTX parser against IntelMQ's own.
import { beforeAll, describe, expect, it } from "vitest";
import {
  declaredDeviation,
  intelmqParse,
  type ParseOutcome,
  petrelParse,
  testReport,
} from "../../bot-runtime/test-support/parser-oracle.ts";
import otx from "./alienvault-otx.ts";

const MODULE = "intelmq.bots.parsers.alienvault.parser_otx";

let n = 0;
const indicator = (type: string, value: unknown, fields: Record<string, unknown> = {}) => ({
  id: 3000 + ++n,
  indicator: value,
  type,
  created: "2024-05-01T09:00:00.000",
  title: "",
  description: "",
  content: "",
  ...fields,
});

const pulse = (fields: Record<string, unknown>) => ({
  id: "66321a0b5c2e0000aa000001",
  name: "Sample pulse written for Petrel's tests",
  description: "Infrastructure of an example campaign",
  author_name: "example-analyst",
  modified: "2024-05-01T10:11:12.345000",
  created: "2024-05-01T08:00:00.000000",
  tags: ["phishing", "example"],
  references: [],
  TLP: "green",
  adversary: "Example Group",
  targeted_countries: ["Germany", "Austria"],
  industries: ["finance"],
  indicators: [
    indicator("IPv4", "192.0.2.60"),
    indicator("IPv6", "2001:DB8::60", { created: "2024-05-01T09:00:00" }),
    indicator("domain", "evil.example.com"),
    indicator("hostname", "login.evil.example.com/path/x.php"),
    indicator("hostname", "https://evil.example.net/"),
    indicator("URL", "http://evil.example.com/dropper.exe"),
    indicator("URL", "evil.example.org/no-scheme"),
    indicator("URI", "/only/a/path?x=1"),
    indicator("email", "Phisher@Example.com"),
    indicator("CIDR", "198.51.100.0/24"),
    indicator("CVE", "CVE-2024-0001"),
    indicator("FileHash-MD5", "d41d8cd98f00b204e9800998ecf8427e", { pulse_key: "own-key" }),
    indicator("FileHash-SHA1", "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
    indicator("FileHash-SHA256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    indicator("Mutex", "Global\\example"),
    indicator("FilePath", "C:\\temp\\x.exe"),
    indicator("YARA", "rule x {}"),
  ],
  ...fields,
});

const PULSES: unknown[] = [
  pulse({}),
  pulse({
    id: "66321a0b5c2e0000aa000002",
    modified: "2024-05-01T10:11:12",
    TLP: undefined,
    adversary: undefined,
    industries: undefined,
    targeted_countries: [],
    tags: [],
    description: "",
    indicators: [indicator("IPv4", "192.0.2.61"), indicator("Mutex", "x")],
  }),
  pulse({ id: "66321a0b5c2e0000aa000003", indicators: [] }),
  pulse({ id: "66321a0b5c2e0000aa000004", indicators: [indicator("IPv4", "192.0.2.300")] }),
  pulse({ id: "66321a0b5c2e0000aa000005", indicators: [indicator("URL", "http://[invalid")] }),
  pulse({ id: "66321a0b5c2e0000aa000006", TLP: "purple" }),
  pulse({ id: "66321a0b5c2e0000aa000007", author_name: undefined }),
  pulse({
    id: "66321a0b5c2e0000aa000008",
    TLP: "TLP:AMBER",
    indicators: [indicator("domain", "bücher.example")],
  }),
  {},
  pulse({
    id: "66321a0b5c2e0000aa000009",
    indicators: [indicator("IPv4", "192.0.2.62", { created: 1714554000 })],
  }),
];

describe("parsers.alienvault.otx against IntelMQ", () => {
  const report = (raw: string) => testReport(raw, { "feed.url": "https://otx.alienvault.com" });
  let intelmq: ParseOutcome[] = [];
  beforeAll(async () => {
    intelmq = await intelmqParse(MODULE, [{ params: {}, report: report(JSON.stringify(PULSES)) }]);
  });

  it("gives IntelMQ's events for every indicator type", async () => {
    const [petrel] = await petrelParse(otx, {}, [report(JSON.stringify(PULSES))]);
    expect(petrel?.events).toEqual(intelmq[0]?.events);
    expect(petrel?.events).toHaveLength(16);
    expect(petrel?.errors).toHaveLength(intelmq[0]?.errors.length ?? -1);
  });

  it(`${declaredDeviation(otx, "dead-letter-keeps-element")}: a failed pulse is dead-lettered as itself`, async () => {
    const [petrel] = await petrelParse(otx, {}, [report(JSON.stringify(PULSES))]);
    expect(intelmq[0]?.errors.every((e) => e === "[null]")).toBe(true);
    expect(petrel?.errors.map((e) => JSON.parse(e)[0].id)).toEqual([
      "66321a0b5c2e0000aa000004",
      "66321a0b5c2e0000aa000005",
      "66321a0b5c2e0000aa000006",
      "66321a0b5c2e0000aa000007",
      "66321a0b5c2e0000aa000009",
    ]);
  });
});
