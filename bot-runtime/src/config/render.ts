// Renders a Bot plus its Pipeline's defaults into the runtime configuration one bot process reads.
// Local mode and the operator both call renderBotConfig, so a bot behaves the same in both.
import { z } from "zod";
import { type BotResource, durationMs, LogLevel, type PipelineResource } from "./resources.ts";

/** JetStream names derived from a pipeline name (a DNS label). */
export function pipelineNames(pipeline: string) {
  const token = pipeline.replace(/-/g, "_").toUpperCase();
  return {
    stream: `PETREL_${token}`,
    subjects: `petrel.${pipeline}.bot.>`,
    deadLetterStream: `PETREL_${token}_DLQ`,
    deadLetterSubjects: `petrel.${pipeline}.dlq.>`,
    stateBucketPrefix: `petrel_${pipeline.replace(/-/g, "_")}`,
    exclusionBucket: `petrel_${pipeline.replace(/-/g, "_")}_exclusions`,
    exclusionStatsBucket: `petrel_${pipeline.replace(/-/g, "_")}_exclusion_stats`,
  };
}

/** The input subject of a bot (its queue). */
export function botSubject(pipeline: string, bot: string): string {
  return `petrel.${pipeline}.bot.${bot}`;
}

export function deadLetterSubject(pipeline: string, bot: string): string {
  return `petrel.${pipeline}.dlq.${bot}`;
}

export const RuntimeConfig = z.object({
  bot: z.string(),
  pipeline: z.string(),
  /** Catalogue id or IntelMQ module path; resolved by the catalogue. */
  module: z.string(),
  parameters: z.record(z.string(), z.unknown()),
  nats: z.object({ servers: z.array(z.string()).min(1), credentialsFile: z.string().optional() }),
  stream: z.string(),
  input: z.object({ subject: z.string(), consumer: z.string() }).optional(),
  /** path → input subjects of the destination bots. */
  destinations: z.record(z.string(), z.array(z.string())),
  deadLetter: z.object({ stream: z.string(), subject: z.string() }),
  stateBucketPrefix: z.string(),
  errors: z.object({
    procedure: z.enum(["pass", "stop"]),
    maxRetries: z.number().int().min(0),
    retryDelayMs: z.number().int().min(0),
  }),
  logLevel: LogLevel,
  /** Collectors: ms between runs (0: collect once per start, then idle). */
  intervalMs: z.number().int().min(0).optional(),
  /** Collectors: cron expression (UTC) of the runs; wins over intervalMs. */
  schedule: z.string().optional(),
  metricsPort: z.number().int().min(0).max(65535),
  /**
   * Parameters whose values the process takes from environment variables (parameter → variable name):
   * on Kubernetes, a Bot's parametersFrom Secrets reach the pod as environment variables.
   */
  parametersFromEnv: z.record(z.string(), z.string()).optional(),
  /** Messages pulled per batch and the bound on messages in flight (back-pressure). */
  batchSize: z.number().int().min(1).default(256),
  maxInFlight: z.number().int().min(1).default(2048),
});
export type RuntimeConfig = z.infer<typeof RuntimeConfig>;

/**
 * Several bots in one process (Bot spec `process`): messages between them are handed over in memory,
 * JetStream carries only what enters and leaves the group. Listed upstream first.
 */
export const ProcessConfig = z.object({
  /** The process name (shared by its bots' specs); the `bot` label of its Node.js metrics. */
  process: z.string(),
  pipeline: z.string(),
  metricsPort: z.number().int().min(0).max(65535),
  bots: z.array(RuntimeConfig).min(1),
});
export type ProcessConfig = z.infer<typeof ProcessConfig>;

/** The bots of one process: one bot alone, or the bots naming the same `spec.process`. */
export interface ProcessGroup {
  /** The process name: `spec.process`, or the bot's own name. */
  name: string;
  pipeline: string;
  /** Upstream first (by destinations within the group), otherwise in the order given. */
  bots: BotResource[];
}

/**
 * Groups a pipeline's bots into processes. Bots sharing a process must agree on what concerns the
 * process as a whole (replicas, enabled, image); each disagreement is reported naming the bots.
 */
export function processGroups(bots: readonly BotResource[]): { groups: ProcessGroup[]; problems: string[] } {
  const byKey = new Map<string, ProcessGroup>();
  const problems: string[] = [];
  for (const bot of bots) {
    const name = bot.spec.process ?? bot.metadata.name;
    const key = `${bot.spec.pipeline}/${name}`;
    const group = byKey.get(key);
    if (group) group.bots.push(bot);
    else byKey.set(key, { name, pipeline: bot.spec.pipeline, bots: [bot] });
  }
  for (const group of byKey.values()) {
    if (group.bots.length === 1) continue;
    const first = group.bots[0] as BotResource;
    for (const field of ["replicas", "enabled", "image"] as const) {
      const differ = group.bots.filter((b) => b.spec[field] !== first.spec[field]);
      if (differ.length > 0) {
        problems.push(
          `bots sharing process ${group.name} must have the same ${field}: ${group.bots
            .map((b) => `${b.metadata.name}=${JSON.stringify(b.spec[field] ?? null)}`)
            .join(", ")}`,
        );
      }
    }
    group.bots = upstreamFirst(group.bots);
  }
  return { groups: [...byKey.values()], problems };
}

/** Orders bots so that a bot comes after the bots of the group that send to it (when there is no cycle). */
function upstreamFirst(bots: BotResource[]): BotResource[] {
  const names = new Set(bots.map((b) => b.metadata.name));
  const incoming = new Map<string, number>(bots.map((b) => [b.metadata.name, 0]));
  for (const bot of bots) {
    for (const targets of Object.values(bot.spec.destinations)) {
      for (const t of new Set(targets)) if (names.has(t)) incoming.set(t, (incoming.get(t) ?? 0) + 1);
    }
  }
  const ordered: BotResource[] = [];
  const left = [...bots];
  while (left.length > 0) {
    const i = Math.max(
      0,
      left.findIndex((b) => incoming.get(b.metadata.name) === 0),
    );
    const [next] = left.splice(i, 1) as [BotResource];
    ordered.push(next);
    for (const targets of Object.values(next.spec.destinations)) {
      for (const t of new Set(targets)) if (incoming.has(t)) incoming.set(t, (incoming.get(t) ?? 1) - 1);
    }
  }
  return ordered;
}

/** Renders the configuration of one process group (see renderBotConfig for the options). */
export function renderProcessConfig(
  group: ProcessGroup,
  pipeline: PipelineResource,
  options: Omit<RenderOptions, "hasInput"> & { hasInput(bot: BotResource): boolean },
): ProcessConfig | RuntimeConfig {
  const configs = group.bots.map((bot) =>
    renderBotConfig(bot, pipeline, { ...options, hasInput: options.hasInput(bot) }),
  );
  if (configs.length === 1) return configs[0] as RuntimeConfig;
  return {
    process: group.name,
    pipeline: pipeline.metadata.name,
    metricsPort: options.metricsPort ?? 9090,
    bots: configs,
  };
}

/** A bot process's configuration: one bot, or several sharing the process. */
export const AnyProcessConfig = z.union([ProcessConfig, RuntimeConfig]);

/** The bots of a configuration file, as a ProcessConfig (a single bot is a process of one). */
export function asProcessConfig(config: ProcessConfig | RuntimeConfig): ProcessConfig {
  if ("bots" in config) return config;
  return { process: config.bot, pipeline: config.pipeline, metricsPort: config.metricsPort, bots: [config] };
}

export interface RenderOptions {
  /** Port for /metrics, /healthz, /readyz (default 9090). */
  metricsPort?: number;
  /** NATS URL override (local mode: the private server). */
  natsUrl?: string;
  credentialsFile?: string;
  /** Whether the bot has an input queue (collectors do not). */
  hasInput: boolean;
  /**
   * Take the parametersFrom parameters from environment variables (parametersFromEnv; the operator puts
   * the Secrets there). Without it the caller has put their values into spec.parameters (local mode).
   */
  parametersFromEnv?: boolean;
}

/** The environment variable carrying a parameter of a bot from a Secret: PETREL_PARAM_<BOT>_<PARAMETER>. */
export function parameterEnvName(bot: string, parameter: string): string {
  const token = (text: string) => text.toUpperCase().replace(/[^A-Z0-9]/g, "_");
  return `PETREL_PARAM_${token(bot)}_${token(parameter)}`;
}

/** parametersFromEnv of a bot: one variable per parameter, numbered when two names map to the same one. */
function envParameters(bot: BotResource): Record<string, string> {
  const out: Record<string, string> = {};
  const used = new Set<string>();
  for (const { parameter } of bot.spec.parametersFrom) {
    const base = parameterEnvName(bot.metadata.name, parameter);
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    out[parameter] = name;
  }
  return out;
}

/** A bot's parameters with those of parametersFromEnv read from `env`; a variable that is not set is an error. */
export function parametersWithEnv(
  config: RuntimeConfig,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, unknown> {
  const from = config.parametersFromEnv;
  if (!from) return config.parameters;
  const parameters = { ...config.parameters };
  for (const [parameter, variable] of Object.entries(from)) {
    const value = env[variable];
    if (value === undefined) {
      throw new Error(
        `bot ${config.bot}: parameter ${parameter} comes from environment variable ${variable}, which is not set`,
      );
    }
    parameters[parameter] = value;
  }
  return parameters;
}

export function renderBotConfig(
  bot: BotResource,
  pipeline: PipelineResource,
  options: RenderOptions,
): RuntimeConfig {
  const { spec } = bot;
  const defaults = pipeline.spec.defaults;
  const p = pipeline.metadata.name;
  if (spec.pipeline !== p) {
    throw new Error(`bot ${bot.metadata.name} belongs to pipeline ${spec.pipeline}, not ${p}`);
  }
  const names = pipelineNames(p);
  const name = bot.metadata.name;
  const intervalSeconds = spec.parameters.rate_limit;
  const config: RuntimeConfig = {
    bot: name,
    pipeline: p,
    module: spec.module,
    parameters: spec.parameters,
    nats: {
      servers: (options.natsUrl ?? pipeline.spec.nats.url).split(",").map((s) => s.trim()),
      ...(options.credentialsFile ? { credentialsFile: options.credentialsFile } : {}),
    },
    stream: names.stream,
    ...(options.hasInput ? { input: { subject: botSubject(p, name), consumer: name } } : {}),
    destinations: Object.fromEntries(
      Object.entries(spec.destinations).map(([path, bots]) => [path, bots.map((b) => botSubject(p, b))]),
    ),
    deadLetter: { stream: names.deadLetterStream, subject: deadLetterSubject(p, name) },
    stateBucketPrefix: names.stateBucketPrefix,
    errors: {
      procedure: spec.errorProcedure ?? defaults.errorProcedure ?? "pass",
      maxRetries: spec.errorMaxRetries ?? defaults.errorMaxRetries ?? 3,
      retryDelayMs: durationMs(spec.errorRetryDelay ?? defaults.errorRetryDelay ?? "15s"),
    },
    logLevel: spec.logLevel ?? defaults.logLevel ?? "info",
    metricsPort: options.metricsPort ?? 9090,
    batchSize: 256,
    maxInFlight: 2048,
  };
  if (options.parametersFromEnv && spec.parametersFrom.length > 0)
    config.parametersFromEnv = envParameters(bot);
  if (spec.schedule !== undefined) config.schedule = spec.schedule;
  if (spec.interval !== undefined) config.intervalMs = durationMs(spec.interval);
  else if (typeof intervalSeconds === "number") config.intervalMs = intervalSeconds * 1000;
  return config;
}
