// `petrelctl feed list` and `petrelctl feed add PROVIDER/FEED`: the feed catalogue (bots/feeds/) as a
// table, and one feed rendered as ready-to-apply Bot resources — its collector, wired to its parser,
// wired to the bots given with --to. Exit 0: printed; 1: a problem with the command (unknown feed, a
// missing or unknown --param, a parameter the module refuses); 2: Petrel has no bot yet for one of the
// feed's modules (nothing is printed to stdout then).
import type { Command } from "commander";
import { API_VERSION } from "../../../bot-runtime/src/config/resources.ts";
import type { BotModule } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import {
  type Catalogue,
  CatalogueError,
  type CatalogueModuleUse,
  type FeedRef,
  feedStatus,
  findFeed,
  loadCatalogue,
  type ModuleLookup,
  moduleParameters,
  parameterProblems,
} from "../../../bots/feeds/catalogue.ts";
import { type OutputDocument, toMultiDocumentYaml } from "../import/intelmq-yaml.ts";
import { collectKeyValue } from "./key-value.ts";
import { table } from "./table.ts";

export const DEFAULT_FEED_PIPELINE = "petrel";
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A problem with the command; `exitCode` 1 (usage, parameters) or 2 (a module Petrel lacks). */
export class FeedCommandError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "FeedCommandError";
    this.exitCode = exitCode;
  }
}

export interface RenderOptions {
  pipeline?: string;
  /** Prefix of the bot names (default provider-feed). */
  name?: string;
  /** Bots the parser sends its events to. */
  to?: readonly string[];
  /** Values of the feed's inputs. */
  params?: Readonly<Record<string, unknown>>;
  /** Also print a Pipeline resource, so the output runs on its own. */
  withPipeline?: boolean;
  lookup?: ModuleLookup;
}

export interface RenderedFeed {
  yaml: string;
  /** Lines for stderr: Secrets to create, destinations to add. */
  hints: string[];
  collector: string;
  parser: string;
}

function checkInputs(ref: FeedRef, params: Readonly<Record<string, unknown>>): void {
  const { provider, feed } = ref;
  const inputs = [...feed.collector.inputs, ...feed.parser.inputs];
  const names = new Set(inputs.map((i) => i.parameter));
  const unknown = Object.keys(params).filter((k) => !names.has(k));
  const spec = `${provider.slug}/${feed.slug}`;
  if (unknown.length > 0) {
    const known = names.size > 0 ? `its inputs: ${[...names].join(", ")}` : "it takes no --param";
    throw new FeedCommandError(`${spec}: no input ${unknown.join(", ")}; ${known}`);
  }
  const missing = inputs.filter((i) => i.required && !Object.hasOwn(params, i.parameter));
  if (missing.length > 0) {
    const lines = missing.map((i) => {
      const forms = i.choices ? ` (${i.choices.join(" or ")})` : "";
      return `  --param ${i.parameter}=${i.example ?? "…"}   ${i.description}${forms}`;
    });
    throw new FeedCommandError(`${spec} needs:\n${lines.join("\n")}`);
  }
}

function validated(
  role: "collector" | "parser",
  module: BotModule,
  use: CatalogueModuleUse,
  parameters: Record<string, unknown>,
): void {
  const problems = parameterProblems(
    module,
    parameters,
    use.secrets.map((s) => s.parameter),
  );
  if (problems.length > 0) {
    throw new FeedCommandError(
      `the ${role}'s parameters do not fit module ${module.id}:\n  ${problems.join("\n  ")}`,
    );
  }
}

function secretRefs(use: CatalogueModuleUse, secret: string) {
  return use.secrets.map((s) => ({
    parameter: s.parameter,
    secretKeyRef: { name: secret, key: s.parameter },
  }));
}

/** One catalogue feed as Bot resources (and optionally a Pipeline). */
export function renderFeed(ref: FeedRef, options: RenderOptions = {}): RenderedFeed {
  const { provider, feed } = ref;
  const spec = `${provider.slug}/${feed.slug}`;
  const status = feedStatus(feed, options.lookup ?? findModule);
  if (!status.runnable) {
    const roles = status.missing.map((m) => `${m} (${m === feed.collector.module ? "collector" : "parser"})`);
    throw new FeedCommandError(
      `${spec} cannot run yet: Petrel has no bot for ${roles.join(" and ")}. Nothing was rendered.`,
      2,
    );
  }
  const pipeline = options.pipeline ?? DEFAULT_FEED_PIPELINE;
  const prefix = options.name ?? `${provider.slug}-${feed.slug}`;
  const collector = `${prefix}-collector`;
  const parser = `${prefix}-parser`;
  for (const name of [pipeline, collector, parser, ...(options.to ?? [])]) {
    if (!DNS_LABEL.test(name) || name.length > 63) {
      throw new FeedCommandError(
        `${JSON.stringify(name)} is not a valid name: lowercase letters, digits and '-', at most 63 characters`,
      );
    }
  }
  const params = options.params ?? {};
  checkInputs(ref, params);

  const collectorModule = status.collector as BotModule;
  const parserModule = status.parser as BotModule;
  const collectorParameters: Record<string, unknown> = {
    ...moduleParameters(feed.collector, params),
    name: feed.name,
    provider: provider.name,
    ...(feed.documentation ? { documentation: feed.documentation } : {}),
  };
  const parserParameters = moduleParameters(feed.parser, params);
  validated("collector", collectorModule, feed.collector, collectorParameters);
  validated("parser", parserModule, feed.parser, parserParameters);

  const secret = `${prefix}-credentials`;
  const hints: string[] = [];
  const secrets = [...feed.collector.secrets, ...feed.parser.secrets];
  if (secrets.length > 0) {
    const literals = secrets.map((s) => `--from-literal=${s.parameter}='…'`).join(" ");
    hints.push(
      `Create the Secret ${secret} before applying (${secrets.map((s) => `${s.parameter}: ${s.description}`).join("; ")}):`,
    );
    hints.push(`  kubectl create secret generic ${secret} ${literals}`);
    hints.push(
      `  locally (petrelctl up): mkdir -p .petrel/secrets/${secret} and write each value to .petrel/secrets/${secret}/<key>`,
    );
  }
  if (!options.to || options.to.length === 0) {
    hints.push(
      `${parser} has no destinations: add --to BOT for the bot its events go to (e.g. a deduplicator).`,
    );
  }

  const labels = { "petrel.dev/feed-provider": provider.slug, "petrel.dev/feed": feed.slug };
  const title = `${provider.name} / ${feed.name} (petrelctl feed add ${spec})`;
  const docs: OutputDocument[] = [];
  if (options.withPipeline) {
    docs.push({
      comment: [`The pipeline of ${spec}.`],
      resource: { apiVersion: API_VERSION, kind: "Pipeline", metadata: { name: pipeline }, spec: {} },
    });
  }
  docs.push({
    comment: [
      `${title}: collector`,
      feed.description,
      ...(feed.documentation ? [`Documentation: ${feed.documentation}`] : []),
    ],
    resource: {
      apiVersion: API_VERSION,
      kind: "Bot",
      metadata: { name: collector, labels },
      spec: {
        pipeline,
        module: collectorModule.id,
        interval: feed.collector.interval,
        parameters: collectorParameters,
        ...(feed.collector.secrets.length > 0 ? { parametersFrom: secretRefs(feed.collector, secret) } : {}),
        destinations: { _default: [parser] },
      },
    },
  });
  docs.push({
    comment: [`${title}: parser`],
    resource: {
      apiVersion: API_VERSION,
      kind: "Bot",
      metadata: { name: parser, labels },
      spec: {
        pipeline,
        module: parserModule.id,
        ...(Object.keys(parserParameters).length > 0 ? { parameters: parserParameters } : {}),
        ...(feed.parser.secrets.length > 0 ? { parametersFrom: secretRefs(feed.parser, secret) } : {}),
        ...(options.to && options.to.length > 0 ? { destinations: { _default: [...options.to] } } : {}),
      },
    },
  });
  return { yaml: toMultiDocumentYaml(docs), hints, collector, parser };
}

export interface FeedListing {
  feed: string;
  provider: string;
  name: string;
  public: boolean;
  collector: string;
  parser: string;
  runnable: boolean;
  missing: string[];
  inputs: string[];
  secrets: string[];
}

export function listFeeds(catalogue: Catalogue, lookup: ModuleLookup = findModule): FeedListing[] {
  return catalogue.providers.flatMap((provider) =>
    provider.feeds.map((feed) => {
      const status = feedStatus(feed, lookup);
      return {
        feed: `${provider.slug}/${feed.slug}`,
        provider: provider.name,
        name: feed.name,
        public: feed.public,
        collector: status.collector?.id ?? feed.collector.module,
        parser: status.parser?.id ?? feed.parser.module,
        runnable: status.runnable,
        missing: status.missing,
        inputs: [...feed.collector.inputs, ...feed.parser.inputs]
          .filter((i) => i.required)
          .map((i) => i.parameter),
        secrets: [...feed.collector.secrets, ...feed.parser.secrets].map((s) => s.parameter),
      };
    }),
  );
}

function shortModule(name: string): string {
  return name.replace(/^intelmq\.bots\./, "intelmq:");
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

interface AddFlags {
  pipeline: string;
  name?: string;
  to?: string[];
  param?: Record<string, unknown>;
  withPipeline?: boolean;
  catalogue?: string;
}

function fail(error: unknown): void {
  if (error instanceof FeedCommandError) {
    console.error(`petrelctl feed: ${error.message}`);
    process.exitCode = error.exitCode;
    return;
  }
  if (error instanceof CatalogueError) {
    console.error(`petrelctl feed: ${error.message}`);
    process.exitCode = 1;
    return;
  }
  throw error;
}

export function registerFeedCommands(program: Command): void {
  const feed = program
    .command("feed")
    .description("The feed catalogue: which collector and parser read each provider's feeds (docs/feeds.md)");
  feed
    .command("list")
    .description(
      "List the catalogue's feeds, their modules, what they need and whether Petrel can run them yet",
    )
    .option("--json", "JSON for scripts")
    .option("--catalogue <file>", "a catalogue file instead of the one Petrel ships")
    .action((flags: { json?: boolean; catalogue?: string }) => {
      try {
        const feeds = listFeeds(loadCatalogue(flags.catalogue));
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(feeds, null, 2)}\n`);
          return;
        }
        const rows = feeds.map((f) => [
          f.feed,
          f.runnable ? "yes" : "no",
          shortModule(f.collector),
          shortModule(f.parser),
          [...f.inputs.map((i) => `--param ${i}`), ...f.secrets.map((s) => `secret ${s}`)].join(", ") || "-",
        ]);
        for (const line of table(["FEED", "RUNNABLE", "COLLECTOR", "PARSER", "NEEDS"], rows)) {
          console.log(line);
        }
        const runnable = feeds.filter((f) => f.runnable).length;
        console.log(
          `\n${feeds.length} feeds, ${runnable} runnable now (modules shown as intelmq:… have no Petrel bot yet); render one with petrelctl feed add FEED`,
        );
      } catch (error) {
        fail(error);
      }
    });
  feed
    .command("add")
    .description(
      "Print a catalogue feed as Bot resources: its collector, wired to its parser (and the parser to --to bots)",
    )
    .argument("<feed>", "PROVIDER/FEED, e.g. abusech/feodotracker (see petrelctl feed list)")
    .option("-p, --pipeline <name>", "the Pipeline the bots belong to", DEFAULT_FEED_PIPELINE)
    .option("--name <prefix>", "prefix of the bot names (default: PROVIDER-FEED)")
    .option("--to <bot>", "a bot the parser sends its events to (repeatable)", collect)
    .option(
      "--param <name=value>",
      "a value the feed needs (repeatable; JSON values are parsed)",
      (v, prev) => collectKeyValue(v, prev as Record<string, unknown> | undefined),
    )
    .option("--with-pipeline", "also print the Pipeline resource, so the output runs on its own")
    .option("--catalogue <file>", "a catalogue file instead of the one Petrel ships")
    .action((spec: string, flags: AddFlags) => {
      try {
        const catalogue = loadCatalogue(flags.catalogue);
        const rendered = renderFeed(findFeed(catalogue, spec), {
          pipeline: flags.pipeline,
          ...(flags.name ? { name: flags.name } : {}),
          to: flags.to ?? [],
          params: flags.param ?? {},
          withPipeline: flags.withPipeline === true,
        });
        process.stdout.write(rendered.yaml);
        for (const line of rendered.hints) console.error(line);
      } catch (error) {
        fail(error);
      }
    });
}
