// The taxonomy expert against IntelMQ's (library mode): every classification type with and without a
// taxonomy already set, a taxonomy without a type, and neither.
import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { CLASSIFICATION_TYPES, TAXONOMIES } from "../../bot-runtime/src/event/taxonomy.ts";
import taxonomy from "./taxonomy.ts";
import {
  type ExpertCase,
  expectSameOutcomes,
  type Fields,
  intelmqExpert,
  petrelCases,
  petrelExpert,
} from "./test-support/expert-differential.ts";

const MODULE = "intelmq.bots.experts.taxonomy.expert";

const BASE: Fields = {
  "feed.name": "Example",
  "time.observation": "2024-05-01T10:00:00+00:00",
  "source.ip": "192.0.2.1",
};

const EVENTS: Fields[] = [
  ...[...CLASSIFICATION_TYPES].map((type) => ({ ...BASE, "classification.type": type })),
  ...[...CLASSIFICATION_TYPES].map((type, i) => ({
    ...BASE,
    "classification.type": type,
    "classification.taxonomy": [...TAXONOMIES][i % TAXONOMIES.size],
  })),
  ...[...TAXONOMIES].map((t) => ({ ...BASE, "classification.taxonomy": t })),
  { ...BASE, "classification.identifier": "x" },
  { ...BASE },
];

describe("experts.taxonomy", () => {
  it("classifies like IntelMQ's taxonomy expert", async () => {
    const cases: ExpertCase[] = [{ name: "taxonomy", params: {}, events: EVENTS }];
    const [intelmq, petrel] = await Promise.all([intelmqExpert(MODULE, cases), petrelCases(taxonomy, cases)]);
    expect(expectSameOutcomes(cases, intelmq, petrel)).toBe(EVENTS.length);
    expect(EVENTS.length).toBeGreaterThan(100);
  });

  it("costs little per event", async () => {
    const expert = await petrelExpert(taxonomy, {});
    const rounds = 1000;
    const start = performance.now();
    for (let i = 0; i < rounds; i++) {
      for (const f of EVENTS) expert.process(new Event({ __type: "Event", ...f }), { id: "x" });
    }
    const perSecond = (rounds * EVENTS.length) / ((performance.now() - start) / 1000);
    // A floor for a loaded machine: it catches gross regressions (work per event that belongs in
    // create()), not the real figure, which is a few µs per event.
    expect(perSecond).toBeGreaterThan(10_000);
  });
});
