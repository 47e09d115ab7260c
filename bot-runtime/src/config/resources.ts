// The Pipeline and Bot resources (petrel.dev/v1alpha1) as zod schemas: the one source for validating
// YAML in local mode, for the operator, and for the generated CRDs and their docs.
import { z } from "zod";

export const API_VERSION = "petrel.dev/v1alpha1";

const DURATION_PATTERN = /^\d+(ms|s|m|h|d)$/;
export const Duration = z
  .string()
  .regex(DURATION_PATTERN, "a duration such as 500ms, 30s, 15m, 12h or 7d")
  .describe("A duration: a whole number followed by ms, s, m, h or d (e.g. 30s, 7d).");

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** Milliseconds of a Duration string. */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!m) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

const BYTES_PATTERN = /^\d+(Ki|Mi|Gi|Ti|K|M|G|T)?$/;
export const ByteSize = z
  .string()
  .regex(BYTES_PATTERN, "a size such as 512Mi, 10Gi or 1000000")
  .describe(
    "A size in bytes, optionally with a unit: K, M, G, T (powers of 1000) or Ki, Mi, Gi, Ti (powers of 1024).",
  );

const UNIT_BYTES: Record<string, number> = {
  "": 1,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};
/** Bytes of a ByteSize string. */
export function byteSize(text: string): number {
  const m = /^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$/.exec(text);
  if (!m) throw new Error(`not a size: ${JSON.stringify(text)}`);
  return Number(m[1]) * (UNIT_BYTES[m[2] ?? ""] as number);
}

const Name = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "a lowercase DNS label: letters, digits and '-'")
  .max(63);

export const Metadata = z.object({
  name: Name.describe("Resource name (a DNS label)."),
  namespace: z.string().optional().describe("Namespace (Kubernetes only)."),
  labels: z.record(z.string(), z.string()).optional().describe("Labels."),
  annotations: z.record(z.string(), z.string()).optional().describe("Annotations."),
});

export const SecretKeyRef = z
  .object({
    name: Name.describe("Name of the Secret."),
    key: z.string().min(1).describe("Key within the Secret."),
  })
  .describe("A reference to one key of a Secret.");

export const LogLevel = z.enum(["trace", "debug", "info", "warn", "error", "fatal"]);

export const ErrorHandling = z.object({
  errorProcedure: z
    .enum(["pass", "stop"])
    .optional()
    .describe(
      "After the retries are used up: pass sends the message to the dead-letter stream and goes on; stop also stops the bot.",
    ),
  errorMaxRetries: z
    .number()
    .int()
    .min(0)
    .max(100)
    .optional()
    .describe("How many times a failing message is retried before it is dead-lettered."),
  errorRetryDelay: Duration.optional().describe(
    "Delay before the first retry; each further retry waits twice as long (capped at 10 minutes).",
  ),
  logLevel: LogLevel.optional().describe("Log level of the bot."),
});

export const BotDefaults = ErrorHandling.extend({
  image: z.string().optional().describe("Container image of the bot runtime (Kubernetes only)."),
});

export const PipelineSpec = z.object({
  nats: z
    .object({
      url: z.string().default("nats://nats:4222").describe("NATS server URL(s), comma-separated."),
      credentialsSecret: SecretKeyRef.optional().describe("NATS credentials file (.creds) from a Secret."),
    })
    .default({ url: "nats://nats:4222" })
    .describe("How bots reach NATS JetStream."),
  stream: z
    .object({
      storage: z.enum(["file", "memory"]).default("file").describe("Where JetStream keeps queued messages."),
      replicas: z
        .number()
        .int()
        .min(1)
        .max(5)
        .default(1)
        .describe("JetStream replicas of the pipeline's stream."),
      maxAge: Duration.default("7d").describe("Oldest queued message kept."),
      maxBytes: ByteSize.default("10Gi").describe("Most bytes queued in the pipeline, all queues together."),
      maxMessagesPerQueue: z
        .number()
        .int()
        .min(1)
        .default(1_000_000)
        .describe(
          "Most messages waiting in one bot's queue. A full queue refuses only its own new messages, so a stalled bot slows down the bots before it without starving the ones after it.",
        ),
      discard: z
        .enum(["new", "old"])
        .default("new")
        .describe(
          "When full: new refuses new messages (producers slow down, nothing lost); old drops the oldest.",
        ),
      duplicateWindow: Duration.default("10m").describe(
        "How long message ids are remembered to drop re-published duplicates (must exceed the longest redelivery delay).",
      ),
    })
    .default({
      storage: "file",
      replicas: 1,
      maxAge: "7d",
      maxBytes: "10Gi",
      maxMessagesPerQueue: 1_000_000,
      discard: "new",
      duplicateWindow: "10m",
    })
    .describe("Settings of the pipeline's JetStream stream (all bot queues)."),
  deadLetter: z
    .object({
      maxAge: Duration.default("30d").describe("How long dead letters are kept."),
      maxBytes: ByteSize.default("1Gi").describe("Most bytes of dead letters kept (oldest dropped first)."),
    })
    .default({ maxAge: "30d", maxBytes: "1Gi" })
    .describe("Retention of the pipeline's dead-letter stream."),
  defaults: BotDefaults.default({}).describe("Defaults for the pipeline's bots."),
});

export const BotSpec = ErrorHandling.extend({
  pipeline: Name.describe("The Pipeline this bot belongs to."),
  module: z
    .string()
    .min(1)
    .describe(
      "The bot module: a Petrel catalogue id (e.g. experts.taxonomy) or the IntelMQ module path it replaces.",
    ),
  parameters: z
    .record(z.string(), z.unknown())
    .default({})
    .describe("Parameters of the module, validated against its schema."),
  parametersFrom: z
    .array(
      z.object({
        parameter: z.string().min(1).describe("Parameter to set."),
        secretKeyRef: SecretKeyRef,
      }),
    )
    .default([])
    .describe("Parameters taken from Secrets (credentials are never written in parameters)."),
  destinations: z
    .record(z.string(), z.array(Name))
    .default({})
    .describe(
      "Where output goes: path name (_default or a named path) → bot names. Each bot gets its own copy.",
    ),
  replicas: z
    .number()
    .int()
    .min(0)
    .max(100)
    .default(1)
    .describe("Number of bot processes sharing the input queue."),
  enabled: z.boolean().default(true).describe("false stops the bot; its queue keeps filling."),
  interval: Duration.optional().describe("Collectors: time between runs (IntelMQ's rate_limit)."),
  schedule: z
    .string()
    .optional()
    .describe(
      "Collectors: a cron expression (5 or 6 fields, UTC) for when to run; takes precedence over interval.",
    ),
  image: z.string().optional().describe("Container image override (Kubernetes only)."),
});

export const Pipeline = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("Pipeline"),
  metadata: Metadata,
  spec: PipelineSpec,
});
export const Bot = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("Bot"),
  metadata: Metadata,
  spec: BotSpec,
});

export type PipelineResource = z.infer<typeof Pipeline>;
export type BotResource = z.infer<typeof Bot>;
export type PipelineSpecT = z.infer<typeof PipelineSpec>;
export type BotSpecT = z.infer<typeof BotSpec>;
