// The feed catalogue against the modules it names: every parameter valid for its module (Petrel's zod
// schema where Petrel has the bot, IntelMQ 3.5's bot class where it does not yet), every module a real
// IntelMQ module or a Petrel bot, and the feeds Petrel cannot run yet listed by name.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { findModule } from "../../bot-runtime/src/sdk/catalogue.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import {
  type CatalogueFeed,
  type CatalogueModuleUse,
  CatalogueSchema,
  feedStatus,
  findFeed,
  loadCatalogue,
  moduleParameters,
  parameterProblems,
} from "./catalogue.ts";

const catalogue = loadCatalogue();
const feeds = catalogue.providers.flatMap((provider) =>
  provider.feeds.map((feed) => ({ spec: `${provider.slug}/${feed.slug}`, provider, feed })),
);
const statuses = feeds.map(({ spec, feed }) => ({ spec, ...feedStatus(feed) }));
const notRunnable = statuses.filter((s) => !s.runnable);

/** Example values of a module use's inputs (what a user would pass with --param). */
function exampleInputs(use: CatalogueModuleUse): Record<string, unknown> {
  return Object.fromEntries(use.inputs.map((i) => [i.parameter, i.example ?? "example"]));
}

function uses(feed: CatalogueFeed): Array<["collector" | "parser", CatalogueModuleUse]> {
  return [
    ["collector", feed.collector],
    ["parser", feed.parser],
  ];
}

// IntelMQ's bots take their parameters as class attributes: a name the class lacks is no parameter.
const PARAMETER_CHECK = `
import importlib, importlib.util, json, sys
for line in sys.stdin:
    case = json.loads(line)
    if importlib.util.find_spec(case["module"]) is None:
        print(json.dumps({"exists": False, "unknown": []}))
        continue
    bot = importlib.import_module(case["module"]).BOT
    print(json.dumps({"exists": True, "unknown": [p for p in case["parameters"] if not hasattr(bot, p)]}))
`;

describe("feed catalogue (bots/feeds/catalogue.yaml)", () => {
  it("is valid and covers the providers of the Bots I issue", () => {
    expect(CatalogueSchema.safeParse(catalogue).success).toBe(true);
    expect(catalogue.providers.map((p) => p.slug)).toEqual(
      expect.arrayContaining([
        "abusech",
        "openphish",
        "phishtank",
        "spamhaus",
        "misp",
        "alienvault",
        "cymru",
        "blocklistde",
        "shadowserver",
      ]),
    );
    expect(feeds.length).toBeGreaterThanOrEqual(30);
    // Every required input has an example, so the entry can be checked with it.
    for (const { spec, feed } of feeds) {
      for (const [role, use] of uses(feed)) {
        for (const input of use.inputs.filter((i) => i.required)) {
          expect(input.example, `${spec} ${role} input ${input.parameter}`).toBeDefined();
        }
        const secrets = new Set(use.secrets.map((s) => s.parameter));
        for (const name of [...Object.keys(use.parameters), ...use.inputs.map((i) => i.parameter)]) {
          expect(secrets.has(name), `${spec}: ${name} is both a secret and a value`).toBe(false);
        }
      }
    }
  });

  it("names only real modules, with parameters those modules have", async () => {
    const checks = feeds.flatMap(({ spec, feed }) =>
      uses(feed).map(([role, use]) => ({ spec, role, use, module: findModule(use.module) })),
    );
    // Where Petrel has the bot: its zod schema accepts the parameters (with the example inputs).
    for (const { spec, role, use, module } of checks) {
      if (!module) continue;
      const parameters = {
        ...moduleParameters(use, exampleInputs(use)),
        ...(role === "collector"
          ? { name: "Feed", provider: "Provider", documentation: "https://x.example/" }
          : {}),
      };
      const problems = parameterProblems(
        module,
        parameters,
        use.secrets.map((s) => s.parameter),
      );
      expect(problems, `${spec} ${role} (${module.id})`).toEqual([]);
    }
    // Every module exists in IntelMQ 3.5 (which the catalogue follows), and takes these parameters there.
    const cases = checks.map(({ use }) => ({
      module: use.module.startsWith("intelmq.")
        ? use.module
        : (findModule(use.module)?.intelmqModules[0] ?? use.module),
      parameters: [
        ...Object.keys(use.parameters),
        ...use.inputs.map((i) => i.parameter),
        ...use.secrets.map((s) => s.parameter),
      ],
    }));
    const answers = await runOracle<(typeof cases)[number], { exists: boolean; unknown: string[] }>(
      PARAMETER_CHECK,
      cases,
    );
    for (const [i, { spec, role }] of checks.entries()) {
      const answer = answers[i] as { exists: boolean; unknown: string[] };
      expect(answer.exists, `${spec} ${role}: ${cases[i]?.module} is no IntelMQ module`).toBe(true);
      expect(answer.unknown, `${spec} ${role}: parameters ${cases[i]?.module} does not have`).toEqual([]);
    }
  });

  // One test per feed, named with whether Petrel can run it now: the report lists the feeds that wait
  // for a collector or parser still being built.
  it.each(
    statuses.map(
      (s) =>
        [
          s.runnable
            ? `${s.spec}: runnable`
            : `${s.spec}: not runnable yet, needs ${s.missing.join(" and ")}`,
          s,
        ] as const,
    ),
  )("%s", (_title, status) => {
    if (status.runnable) {
      expect(status.collector?.kind).toBe("collector");
      expect(status.parser?.kind).toBe("parser");
    } else {
      for (const name of status.missing) expect(findModule(name)).toBeUndefined();
      expect(status.missing.length).toBeGreaterThan(0);
    }
  });

  it("is documented feed by feed in docs/feeds.md", () => {
    const doc = readFileSync(new URL("../../docs/feeds.md", import.meta.url), "utf8");
    for (const { spec, provider, feed } of feeds) {
      const row = doc
        .split("\n")
        .find(
          (line) =>
            (line.startsWith(`| \`${provider.slug}/`) && line.includes(`\`${feed.slug}\``)) ||
            line.startsWith(`| \`${spec}\``),
        );
      expect(row, spec).toBeDefined();
    }
  });

  it("finds feeds by slug or name, in any case, and says what exists otherwise", () => {
    expect(findFeed(catalogue, "abusech/feodotracker").feed.name).toBe("Feodo Tracker");
    expect(findFeed(catalogue, "Abuse.ch/Feodo Tracker").feed.slug).toBe("feodotracker");
    expect(findFeed(catalogue, "SHADOWSERVER/Via API").feed.slug).toBe("reports-api");
    expect(() => findFeed(catalogue, "abusech")).toThrow(/PROVIDER\/FEED/);
    expect(() => findFeed(catalogue, "nobody/x")).toThrow(/providers: abusech, /);
    expect(() => findFeed(catalogue, "abusech/nothing")).toThrow(
      /its feeds: abusech\/feodotracker, abusech\/urlhaus/,
    );
    // The list of feeds Petrel cannot run yet is derived, never stale.
    expect(notRunnable.every((s) => s.missing.length > 0)).toBe(true);
  });
});
