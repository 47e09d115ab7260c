import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { EVENT_FIELDS, HARMONIZATION_TYPES, REPORT_FIELDS } from "./harmonization.ts";
import {
  CLASSIFICATION_TYPE_ALIASES,
  CLASSIFICATION_TYPES,
  TAXONOMIES,
  TAXONOMY_OF_TYPE,
} from "./taxonomy.ts";
import { FIELD_TYPES } from "./types.ts";

interface OracleCatalogue {
  harmonization: Record<"event" | "report", Record<string, Record<string, unknown>>>;
  types: string[];
  taxonomies: string[];
  taxonomyOfType: Record<string, string>;
  sanitizedAliases: Record<string, string | null>;
}

const script = `
import json, sys
from intelmq.lib import harmonization as h
from intelmq.lib.utils import load_configuration
from intelmq import HARMONIZATION_CONF_FILE
from intelmq.bots.experts.taxonomy.expert import TAXONOMY
try:
    conf = load_configuration(HARMONIZATION_CONF_FILE)
except ValueError:
    from pkg_resources import resource_filename
    conf = load_configuration(resource_filename("intelmq", "etc/harmonization.conf"))
for line in sys.stdin:
    aliases = json.loads(line)
    print(json.dumps({
        "harmonization": conf,
        "types": list(h.ClassificationType.allowed_values),
        "taxonomies": list(h.ClassificationTaxonomy.allowed_values),
        "taxonomyOfType": TAXONOMY,
        "sanitizedAliases": {a: h.ClassificationType.sanitize(a) for a in aliases},
    }))
`;

describe("field catalogue", () => {
  it("has exactly IntelMQ 3.5's fields, types and constraints, and its taxonomy", async () => {
    const [oracle] = await runOracle<string[], OracleCatalogue>(script, [
      [...CLASSIFICATION_TYPE_ALIASES.keys()],
    ]);
    if (!oracle) throw new Error("no oracle answer");
    for (const [section, ours] of [
      ["event", EVENT_FIELDS],
      ["report", REPORT_FIELDS],
    ] as const) {
      const theirs = oracle.harmonization[section];
      expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
      for (const [name, spec] of Object.entries(ours)) {
        const t = theirs[name] as Record<string, unknown>;
        expect({
          name,
          type: spec.type,
          length: spec.length,
          regex: spec.regex,
          iregex: spec.iregex,
        }).toEqual({
          name,
          type: t.type,
          length: t.length,
          regex: t.regex,
          iregex: t.iregex,
        });
        expect(spec.description.length, name).toBeGreaterThan(10);
      }
    }
    expect(Object.keys(EVENT_FIELDS)).toHaveLength(89);
    expect(Object.keys(REPORT_FIELDS)).toHaveLength(10);
    expect([...CLASSIFICATION_TYPES].sort()).toEqual([...oracle.types].sort());
    expect([...TAXONOMIES].sort()).toEqual([...oracle.taxonomies].sort());
    expect(Object.fromEntries(TAXONOMY_OF_TYPE)).toEqual(oracle.taxonomyOfType);
    expect(Object.fromEntries(CLASSIFICATION_TYPE_ALIASES)).toEqual(oracle.sanitizedAliases);
  });

  it("has a validator for every type it uses", () => {
    for (const t of HARMONIZATION_TYPES) expect(FIELD_TYPES[t].name).toBe(t);
  });

  it("keeps the generated docs up to date", async () => {
    const { generatedDocs } = await import("../../../scripts/generate-docs.ts");
    for (const [path, content] of generatedDocs()) {
      expect(readFileSync(path, "utf8"), `${path} is stale: run npm run docs`).toBe(content);
    }
  });
});
