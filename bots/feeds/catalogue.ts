// The feed catalogue (catalogue.yaml beside this file): provider/feed → collector and parser modules with
// their parameters, the parameters a user supplies (inputs) and those read from Secrets. Loaded and
// validated here; `petrelctl feed` lists it and renders a feed as Bot resources.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { z } from "zod";
import { Duration } from "../../bot-runtime/src/config/resources.ts";
import type { BotModule } from "../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../bot-runtime/src/sdk/catalogue.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";

export const CATALOGUE_FILE = fileURLToPath(new URL("./catalogue.yaml", import.meta.url));

const Slug = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "lowercase letters, digits and '-'")
  .max(40);

const Input = z
  .object({
    parameter: z.string().min(1).describe("The parameter the user supplies."),
    description: z.string().min(1).describe("What to give."),
    example: z.string().optional().describe("An example value (used to validate the entry)."),
    choices: z.array(z.string()).optional().describe("The forms the value takes."),
    required: z.boolean().default(true).describe("Whether the feed needs it."),
  })
  .strict();

const Secret = z
  .object({
    parameter: z
      .string()
      .regex(/^[-._a-zA-Z0-9]+$/, "a valid Secret key")
      .describe("The parameter."),
    description: z.string().min(1).describe("What the Secret holds."),
  })
  .strict();

const ModuleUse = z
  .object({
    module: z.string().min(1).describe("Petrel id or IntelMQ module path."),
    parameters: z.record(z.string(), z.unknown()).default({}).describe("Fixed parameters."),
    inputs: z.array(Input).default([]),
    secrets: z.array(Secret).default([]),
  })
  .strict();

const Feed = z
  .object({
    slug: Slug,
    name: z.string().min(1).describe("The feed's name (feed.name)."),
    description: z.string().min(1),
    documentation: z.string().url().optional(),
    public: z.boolean().describe("Whether the feed is free to fetch without an account."),
    notes: z.string().optional().describe("Where the entry differs from IntelMQ's catalogue, and why."),
    collector: ModuleUse.extend({
      interval: Duration.describe("Time between collector runs (IntelMQ's rate_limit)."),
    }).strict(),
    parser: ModuleUse,
  })
  .strict();

const Provider = z
  .object({
    slug: Slug,
    name: z.string().min(1).describe("The provider's name (feed.provider)."),
    feeds: z.array(Feed).min(1),
  })
  .strict();

export const CatalogueSchema = z
  .object({ providers: z.array(Provider).min(1) })
  .strict()
  .superRefine((catalogue, ctx) => {
    const providers = new Set<string>();
    for (const [p, provider] of catalogue.providers.entries()) {
      if (providers.has(provider.slug)) {
        ctx.addIssue({
          code: "custom",
          path: ["providers", p, "slug"],
          message: `duplicate ${provider.slug}`,
        });
      }
      providers.add(provider.slug);
      const feeds = new Set<string>();
      for (const [f, feed] of provider.feeds.entries()) {
        if (feeds.has(feed.slug)) {
          ctx.addIssue({
            code: "custom",
            path: ["providers", p, "feeds", f, "slug"],
            message: `duplicate ${provider.slug}/${feed.slug}`,
          });
        }
        feeds.add(feed.slug);
      }
    }
  });

export type Catalogue = z.output<typeof CatalogueSchema>;
export type CatalogueProvider = Catalogue["providers"][number];
export type CatalogueFeed = CatalogueProvider["feeds"][number];
export type CatalogueModuleUse = CatalogueFeed["parser"];
export type CatalogueInput = CatalogueModuleUse["inputs"][number];

export class CatalogueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CatalogueError";
  }
}

/** Reads and validates a catalogue file (by default the shipped one). */
export function loadCatalogue(file: string = CATALOGUE_FILE): Catalogue {
  const result = CatalogueSchema.safeParse(parse(readFileSync(file, "utf8")));
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.map(String).join(".")}: ${i.message}`);
    throw new CatalogueError(`${file}: not a valid feed catalogue:\n  ${problems.join("\n  ")}`);
  }
  return result.data;
}

export interface FeedRef {
  provider: CatalogueProvider;
  feed: CatalogueFeed;
}

/** `slug` or name, case-insensitively. */
function matches(item: { slug: string; name: string }, text: string): boolean {
  const t = text.trim().toLowerCase();
  return item.slug === t || item.name.toLowerCase() === t;
}

/** Finds PROVIDER/FEED (slugs or names, any case); throws CatalogueError naming what exists. */
export function findFeed(catalogue: Catalogue, spec: string): FeedRef {
  const slash = spec.indexOf("/");
  if (slash < 0) {
    throw new CatalogueError(
      `give PROVIDER/FEED, e.g. abusech/feodotracker (petrelctl feed list shows them)`,
    );
  }
  const providerText = spec.slice(0, slash);
  const feedText = spec.slice(slash + 1);
  const provider = catalogue.providers.find((p) => matches(p, providerText));
  if (!provider) {
    throw new CatalogueError(
      `no provider ${JSON.stringify(providerText)}; providers: ${catalogue.providers.map((p) => p.slug).join(", ")}`,
    );
  }
  const feed = provider.feeds.find((f) => matches(f, feedText));
  if (!feed) {
    throw new CatalogueError(
      `${provider.name} has no feed ${JSON.stringify(feedText)}; its feeds: ${provider.feeds.map((f) => `${provider.slug}/${f.slug}`).join(", ")}`,
    );
  }
  return { provider, feed };
}

export type ModuleLookup = (name: string) => BotModule | undefined;

export interface FeedStatus {
  /** Both modules exist in Petrel. */
  runnable: boolean;
  /** Module names Petrel does not have yet. */
  missing: string[];
  collector: BotModule | undefined;
  parser: BotModule | undefined;
}

/** Whether Petrel can run a feed now: both modules exist. */
export function feedStatus(feed: CatalogueFeed, lookup: ModuleLookup = findModule): FeedStatus {
  const collector = lookup(feed.collector.module);
  const parser = lookup(feed.parser.module);
  const missing = [...(collector ? [] : [feed.collector.module]), ...(parser ? [] : [feed.parser.module])];
  return { runnable: missing.length === 0, missing, collector, parser };
}

/** Parameters a module use gets: the fixed ones, the common feed fields (collectors), then the inputs. */
export function moduleParameters(
  use: CatalogueModuleUse,
  inputs: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...use.parameters };
  for (const input of use.inputs)
    if (Object.hasOwn(inputs, input.parameter)) out[input.parameter] = inputs[input.parameter];
  return out;
}

/**
 * Problems of a module's parameters against its zod schema (secrets count as given): invalid values,
 * and parameters the module does not have. Empty when valid.
 */
export function parameterProblems(
  module: BotModule,
  parameters: Readonly<Record<string, unknown>>,
  secrets: readonly string[],
): string[] {
  const schema = parameterSchema(module);
  const problems: string[] = [];
  const unknown = Object.keys(parameters).filter((k) => !Object.hasOwn(schema.shape, k));
  for (const key of [...unknown, ...secrets.filter((s) => !Object.hasOwn(schema.shape, s))]) {
    problems.push(`${key}: module ${module.id} has no such parameter`);
  }
  const withSecrets: Record<string, unknown> = { ...parameters };
  for (const secret of secrets) withSecrets[secret] = "secret-value";
  const checked = schema.safeParse(withSecrets);
  if (!checked.success) {
    for (const issue of checked.error.issues) {
      const path = issue.path.map(String).join(".");
      if (secrets.includes(path)) continue;
      problems.push(`${path || "(parameters)"}: ${issue.message} (module ${module.id})`);
    }
  }
  return problems;
}
