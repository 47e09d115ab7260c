// `petrelctl import intelmq`: an IntelMQ configuration (runtime.yaml, or runtime.conf + pipeline.conf +
// defaults.conf) as Petrel resources — one Pipeline and one Bot per IntelMQ bot — with a report of
// everything that could not be carried over, one line per item. See docs/import.md.
import { basename } from "node:path";
import { API_VERSION } from "../../../bot-runtime/src/config/resources.ts";
import { ERROR_SETTINGS, errorSetting, type ImportedBot, importBot } from "./intelmq-bot.ts";
import {
  type IntelmqBot,
  type IntelmqInput,
  type Located,
  type ReportItem,
  readIntelmq,
} from "./intelmq-read.ts";
import { routeBots } from "./intelmq-routing.ts";
import { FIXED_BEHAVIOUR, isCredential, replacedSetting, show } from "./intelmq-values.ts";
import { type OutputDocument, toMultiDocumentYaml } from "./intelmq-yaml.ts";

export { ImportInputError, type IntelmqInput, type SourceText } from "./intelmq-read.ts";

export interface ImportOptions {
  /** Name of the Pipeline (default: intelmq). */
  pipeline?: string;
}

export interface ImportResult {
  /** The resources, as multi-document YAML. */
  yaml: string;
  /** What could not be carried over, one line per item ("file:line: subject: message"), in file order. */
  report: string[];
  /** Commands creating the Secrets the Bots read their credentials from. */
  hints: string[];
  /** Bots emitted; of them, those with a Petrel bot and those without one yet. */
  counts: { bots: number; mapped: number; unmapped: number };
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DEFAULT_PIPELINE = "intelmq";

/** A bot id as a Kubernetes name: lowercase, other characters than a-z, 0-9 and - become -. */
function dnsLabel(id: string): string {
  const label = id
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .replace(/^-+/, "")
    .slice(0, 63)
    .replace(/-+$/, "");
  return label || "bot";
}

function assignNames(bots: readonly IntelmqBot[], items: ReportItem[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Map<string, string>();
  // Ids that are valid names keep them; the others get what is left.
  for (const bot of bots) {
    if (DNS_LABEL.test(bot.id) && bot.id.length <= 63 && !taken.has(bot.id)) {
      names.set(bot.id, bot.id);
      taken.set(bot.id, bot.id);
    }
  }
  for (const bot of bots) {
    if (names.has(bot.id)) continue;
    const wanted = dnsLabel(bot.id);
    let name = wanted;
    for (let n = 2; taken.has(name); n++) name = `${wanted.slice(0, 62 - String(n).length)}-${n}`;
    names.set(bot.id, name);
    taken.set(name, bot.id);
    const clash = name !== wanted ? ` (${wanted} is bot ${taken.get(wanted)})` : "";
    items.push({
      file: bot.file,
      line: bot.line,
      subject: `bot ${bot.id}`,
      message: `renamed to ${name}${clash}: Petrel names are lowercase DNS labels (a-z, 0-9 and -)`,
    });
  }
  return names;
}

/** The global section: error handling and log level become the Pipeline's defaults. */
function importGlobal(global: Map<string, Located>, items: ReportItem[]) {
  const defaults: Record<string, unknown> = {};
  const inheritable = new Map<string, Located>();
  for (const [key, at] of global) {
    // null is "not set" in IntelMQ's templates (http_proxy: null, statistics_password: null, …).
    if (at.value === null) continue;
    const report = (message: string) =>
      items.push({ file: at.file, line: at.line, subject: "global", message });
    const value = isCredential(key) ? "(value hidden)" : show(at.value);
    if (ERROR_SETTINGS.includes(key)) {
      const mapped = errorSetting(key, at.value);
      if (typeof mapped === "string") report(`${key}: ${mapped}`);
      else defaults[mapped.field] = mapped.value;
    } else if (replacedSetting(key)) {
      report(`${key}: ${value}: dropped: ${replacedSetting(key)}`);
    } else if (key in FIXED_BEHAVIOUR) {
      const rule = FIXED_BEHAVIOUR[key] as { petrel: unknown; otherwise: string };
      if (at.value !== rule.petrel) report(`${key}: ${value}: dropped: ${rule.otherwise}`);
    } else if (key === "source_queue" || key === "destination_queues") {
      report(`${key}: ${value}: a setting of single bots, not of all: left out`);
    } else inheritable.set(key, at);
  }
  return { defaults, inheritable };
}

const SPEC_ORDER = [
  "enabled",
  "replicas",
  "interval",
  "errorProcedure",
  "errorMaxRetries",
  "errorRetryDelay",
  "logLevel",
];

function inOrder(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SPEC_ORDER.filter((f) => f in fields).map((f) => [f, fields[f]]));
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function botDocument(
  bot: ImportedBot,
  pipeline: string,
  destinations: Record<string, string[]>,
): OutputDocument {
  const display = bot.source.keys.get("name")?.value;
  const description = bot.source.keys.get("description")?.value;
  const comment = [
    `IntelMQ bot ${bot.source.id}${typeof display === "string" && display ? ` (${oneLine(display)})` : ""}${
      typeof description === "string" && oneLine(description) ? `: ${oneLine(description)}` : ""
    }`,
  ];
  if (!bot.module) {
    comment.push(
      `No Petrel bot for ${bot.intelmqModule} yet: petrelctl up and the operator refuse this Bot until one exists.`,
    );
  }
  const secret = `${bot.name}-credentials`;
  if (bot.secrets.length > 0) {
    const keys = `${bot.secrets.length === 1 ? "key" : "keys"} ${bot.secrets.join(", ")}`;
    comment.push(`Create Secret ${secret} (${keys}) first: see petrelctl import's hint.`);
  }
  const spec: Record<string, unknown> = { pipeline, module: bot.module?.id ?? bot.intelmqModule };
  if (Object.keys(bot.parameters).length > 0) spec.parameters = bot.parameters;
  if (bot.secrets.length > 0) {
    spec.parametersFrom = bot.secrets.map((key) => ({ parameter: key, secretKeyRef: { name: secret, key } }));
  }
  if (Object.keys(destinations).length > 0) spec.destinations = destinations;
  Object.assign(spec, inOrder(bot.spec));
  return { comment, resource: { apiVersion: API_VERSION, kind: "Bot", metadata: { name: bot.name }, spec } };
}

function secretsOf(bot: ImportedBot, items: ReportItem[], hints: string[]): void {
  if (bot.secrets.length === 0) return;
  const secret = `${bot.name}-credentials`;
  for (const key of bot.secrets) {
    const at = bot.source.parameters.get(key) ?? bot.source;
    items.push({
      file: at.file,
      line: at.line,
      subject: `bot ${bot.source.id}`,
      message: `parameter ${key} looks like a credential: not written to the YAML; the Bot reads it from key ${key} of Secret ${secret}, which you must create`,
    });
  }
  const literals = bot.secrets.map((key) => `--from-literal=${key}='…'`).join(" ");
  hints.push(`kubectl create secret generic ${secret} ${literals}`);
}

export function importIntelmq(input: IntelmqInput, options: ImportOptions = {}): ImportResult {
  const pipeline = options.pipeline ?? DEFAULT_PIPELINE;
  if (!DNS_LABEL.test(pipeline) || pipeline.length > 63) {
    throw new Error(
      `the pipeline name ${JSON.stringify(pipeline)} is not a lowercase DNS label (a-z, 0-9 and -)`,
    );
  }
  const config = readIntelmq(input);
  const items: ReportItem[] = [...config.notes];
  const { defaults, inheritable } = importGlobal(config.global, items);
  const names = assignNames(config.bots, items);
  const bots: ImportedBot[] = [];
  for (const source of config.bots) {
    const bot = importBot(source, names.get(source.id) as string, inheritable, items);
    if (bot) bots.push(bot);
  }
  for (const [key, at] of inheritable) {
    if (bots.some((b) => b.usedGlobals.includes(key))) continue;
    const value = isCredential(key) ? "(value hidden)" : show(at.value);
    items.push({
      file: at.file,
      line: at.line,
      subject: "global",
      message: `${key}: ${value}: no imported Petrel bot takes it: left out`,
    });
  }

  const routes = routeBots(
    bots.map((b) => ({
      id: b.source.id,
      name: b.name,
      kind: b.kind,
      moduleId: b.module?.id,
      paths:
        b.module?.kind === "expert"
          ? b.module.pathsFromParameter === undefined
            ? (b.module.paths ?? [])
            : undefined
          : b.module
            ? []
            : undefined,
      sourceQueue: b.sourceQueue,
      destinationQueues: b.destinationQueues,
      file: b.source.file,
      line: b.source.line,
    })),
    items,
  );
  const hints: string[] = [];
  const docs: OutputDocument[] = [
    {
      comment: [
        `Petrel resources imported from IntelMQ (${config.files.map((f) => basename(f)).join(", ")}) by petrelctl import intelmq.`,
        "Apply them with kubectl apply -f, or run them with petrelctl up -f.",
      ],
      resource: {
        apiVersion: API_VERSION,
        kind: "Pipeline",
        metadata: { name: pipeline },
        spec: Object.keys(defaults).length > 0 ? { defaults: inOrder(defaults) } : {},
      },
    },
  ];
  for (const bot of bots) {
    const destinations = routes.get(bot.source.id) ?? {};
    const balanced = Object.values(destinations).find((list) => list.length > 1);
    if (bot.loadBalance && balanced) {
      items.push({
        file: bot.loadBalance.file,
        line: bot.loadBalance.line,
        subject: `bot ${bot.source.id}`,
        message: `load_balance: true: IntelMQ sends each message to one of ${balanced.join(", ")} in turn, Petrel sends a copy to each: make them one bot with spec.replicas instead`,
      });
    }
    secretsOf(bot, items, hints);
    docs.push(botDocument(bot, pipeline, destinations));
  }
  if (hints.length > 0) {
    hints.push("(petrelctl up reads Secret values from files instead: <data-dir>/secrets/<secret>/<key>)");
  }

  const order = (file: string) => config.files.indexOf(file);
  const report = items
    .map((item, i) => ({ item, i }))
    .sort((a, b) => order(a.item.file) - order(b.item.file) || a.item.line - b.item.line || a.i - b.i)
    .map(({ item }) => `${item.file}:${item.line}: ${item.subject}: ${item.message}`);
  const mapped = bots.filter((b) => b.module).length;
  return {
    yaml: toMultiDocumentYaml(docs),
    report,
    hints,
    counts: { bots: bots.length, mapped, unmapped: bots.length - mapped },
  };
}
