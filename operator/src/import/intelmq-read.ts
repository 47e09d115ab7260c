// Reads IntelMQ's configuration files into one model with the file and line of every entry: runtime.yaml
// (IntelMQ ≥ 3: a `global` section plus one entry per bot id) or the older JSON trio runtime.conf,
// pipeline.conf and defaults.conf (IntelMQ 1.x/2.x). JSON is read as YAML, as IntelMQ itself does, so
// every entry keeps its line for the report. Input that cannot be read at all is an ImportInputError.
import { type Document, isMap, isScalar, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";

export interface SourceText {
  path: string;
  text: string;
}

/** A value with the place it was read from. */
export interface Located {
  value: unknown;
  file: string;
  line: number;
}

/** One thing that could not be mapped, for the report on stderr. */
export interface ReportItem {
  file: string;
  line: number;
  /** What it is about: "bot <id>", "global <key>", … */
  subject: string;
  message: string;
}

export interface IntelmqBot {
  id: string;
  file: string;
  line: number;
  /** The bot's top-level keys (module, group, name, description, enabled, run_mode, …). */
  keys: Map<string, Located>;
  /** Its parameters, in file order; pipeline.conf's queues are merged in as source_queue/destination_queues. */
  parameters: Map<string, Located>;
}

export interface IntelmqConfig {
  /** The global section (runtime.yaml) or defaults.conf. */
  global: Map<string, Located>;
  bots: IntelmqBot[];
  /** Problems met while reading that are not fatal. */
  notes: ReportItem[];
  /** The files read, for the YAML's header. */
  files: string[];
}

/** The input cannot be read: exit code 1. The message names the file and line. */
export class ImportInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImportInputError";
  }
}

interface ParsedFile {
  path: string;
  doc: Document;
  lines: LineCounter;
}

function parseFile(source: SourceText): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const line = lines.linePos(error.pos[0]).line;
    throw new ImportInputError(`${source.path}:${line}: cannot be read: ${error.message.split("\n")[0]}`);
  }
  return { path: source.path, doc, lines };
}

function lineOf(file: ParsedFile, node: unknown): number {
  const range = (node as Node | null)?.range;
  return range ? file.lines.linePos(range[0]).line : 1;
}

/** The entries of a mapping node, keys as text, each with its line; throws when it is not a mapping. */
function entries(
  file: ParsedFile,
  node: unknown,
  what: string,
  at: number,
): Array<[string, Located, unknown]> {
  if (node === null || node === undefined || (isScalar(node) && node.value === null)) return [];
  if (!isMap(node)) {
    throw new ImportInputError(`${file.path}:${lineOf(file, node) || at}: ${what}: expected a mapping`);
  }
  return (node as YAMLMap).items.map((pair) => {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const valueNode = pair.value as Node | null;
    const value = valueNode && typeof valueNode.toJS === "function" ? valueNode.toJS(file.doc) : valueNode;
    const located: Located = { value: value ?? null, file: file.path, line: lineOf(file, pair.key) };
    return [key, located, valueNode];
  });
}

function toMap(list: Array<[string, Located, unknown]>): Map<string, Located> {
  return new Map(list.map(([key, located]) => [key, located]));
}

function readRuntime(file: ParsedFile, config: IntelmqConfig): void {
  const root = file.doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    throw new ImportInputError(`${file.path}:1: empty: no bots to import`);
  }
  for (const [id, located, node] of entries(file, root, "the file", 1)) {
    if (id === "global") {
      for (const [key, value] of entries(file, node, "global", located.line)) config.global.set(key, value);
      continue;
    }
    const keys = new Map<string, Located>();
    let parameters = new Map<string, Located>();
    for (const [key, value, valueNode] of entries(file, node, `bot ${id}`, located.line)) {
      if (key === "parameters") {
        parameters = toMap(entries(file, valueNode, `bot ${id}: parameters`, value.line));
      } else keys.set(key, value);
    }
    config.bots.push({ id, file: file.path, line: located.line, keys, parameters });
  }
}

/** pipeline.conf: {bot id: {"source-queue": …, "destination-queues": …}}, merged into the bots' parameters. */
function readPipelineConf(file: ParsedFile, config: IntelmqConfig): void {
  const byId = new Map(config.bots.map((bot) => [bot.id, bot]));
  for (const [id, located, node] of entries(file, file.doc.contents, "the file", 1)) {
    const bot = byId.get(id);
    if (!bot) {
      config.notes.push({
        file: file.path,
        line: located.line,
        subject: `bot ${id}`,
        message: "has queues in pipeline.conf but no entry in the runtime configuration: left out",
      });
      continue;
    }
    for (const [key, value] of entries(file, node, `bot ${id}`, located.line)) {
      const parameter =
        key === "source-queue" ? "source_queue" : key === "destination-queues" ? "destination_queues" : "";
      if (!parameter) {
        config.notes.push({
          file: file.path,
          line: value.line,
          subject: `bot ${id}`,
          message: `unknown pipeline.conf key ${key} (IntelMQ knows source-queue and destination-queues): left out`,
        });
        continue;
      }
      const before = bot.parameters.get(parameter);
      if (before && JSON.stringify(before.value) !== JSON.stringify(value.value)) {
        config.notes.push({
          file: before.file,
          line: before.line,
          subject: `bot ${id}`,
          message: `parameter ${parameter}: ${JSON.stringify(before.value)} is replaced by pipeline.conf's ${key} (${value.file}:${value.line})`,
        });
      }
      bot.parameters.set(parameter, value);
    }
  }
}

export interface IntelmqInput {
  /** runtime.yaml (IntelMQ ≥ 3) or runtime.conf (IntelMQ 1.x/2.x). */
  runtime: SourceText;
  /** pipeline.conf (IntelMQ 1.x/2.x). */
  pipeline?: SourceText;
  /** defaults.conf (IntelMQ 1.x/2.x). */
  defaults?: SourceText;
}

export function readIntelmq(input: IntelmqInput): IntelmqConfig {
  const config: IntelmqConfig = { global: new Map(), bots: [], notes: [], files: [] };
  if (input.defaults) {
    const file = parseFile(input.defaults);
    for (const [key, value] of entries(file, file.doc.contents, "the file", 1)) config.global.set(key, value);
    config.files.push(input.defaults.path);
  }
  readRuntime(parseFile(input.runtime), config);
  config.files.push(input.runtime.path);
  if (input.pipeline) {
    readPipelineConf(parseFile(input.pipeline), config);
    config.files.push(input.pipeline.path);
  }
  return config;
}
