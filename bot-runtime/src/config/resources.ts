// The Pipeline, Bot and Exclusion resources (petrel.dev/v1alpha1) as zod schemas: the one source for
// validating YAML in local mode, for the operator, and for the generated CRDs (operator/src/crds/) and
// their reference page (docs/resources.md). A rule the API server should enforce as well carries its CEL
// form as zod metadata right next to the zod check that implements it, so the two cannot drift apart.
import { isIP } from "node:net";
import { Cron } from "croner";
import { z } from "zod";
import { EVENT_FIELDS } from "../event/harmonization.ts";
import { TAXONOMY } from "../event/taxonomy.ts";

export const API_VERSION = "petrel.dev/v1alpha1";

// ---- Kubernetes-only annotations, carried as zod metadata ------------------------------------------

/** A CEL validation rule of the generated CRD (an entry of `x-kubernetes-validations`). */
export interface CelRule {
  rule: string;
  message: string;
  messageExpression?: string;
  reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
  fieldPath?: string;
}
export const CEL_RULES = "x-kubernetes-validations";

function withCel<T extends z.ZodType>(schema: T, cel: CelRule): T {
  const existing = (schema.meta()?.[CEL_RULES] as CelRule[] | undefined) ?? [];
  return schema.meta({ [CEL_RULES]: [...existing, cel] });
}

/**
 * A rule checked in two places from one definition: by zod (local mode, the operator) and, in its CEL
 * form, by the API server at apply time. `check` and `cel.rule` must say the same thing.
 */
function rule<T extends z.ZodType>(schema: T, check: (value: z.output<T>) => boolean, cel: CelRule): T {
  return withCel(schema.refine(check as (value: unknown) => boolean, cel.message) as T, cel);
}

/** A field that cannot change after creation (a CEL transition rule: only the API server can check it). */
function immutable<T extends z.ZodType>(schema: T, message: string): T {
  return withCel(schema, { rule: "self == oldSelf", message });
}

/**
 * A list whose items are identified by `key` (at most one item per key): Kubernetes merges such lists
 * item by item under server-side apply (`x-kubernetes-list-type: map`) and rejects duplicate keys.
 */
function keyedList<T extends z.ZodType>(item: T, key: string, max: number) {
  return z
    .array(item)
    .max(max)
    .refine(
      (items) => new Set(items.map((i) => (i as Record<string, unknown>)[key])).size === items.length,
      `two items have the same ${key}`,
    )
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": [key] });
}

/** A CEL string literal. */
function celString(text: string): string {
  return `'${text.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

// ---- value types ------------------------------------------------------------------------------------

const DURATION_PATTERN = /^\d+(ms|s|m|h|d)$/;
export const Duration = z
  .string()
  .max(32)
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
  .max(32)
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

/** Kubernetes' quantity syntax without a sign (resources cannot be negative). */
const QUANTITY_PATTERN = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)([KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;
export const Quantity = z
  .union([
    z.string().max(64).regex(QUANTITY_PATTERN, "a quantity such as 500m, 2, 256Mi or 1Gi"),
    z.number().int().min(0),
  ])
  .describe(
    "A Kubernetes quantity: a number with an optional suffix, e.g. 500m (milli), 2, 256Mi (powers of 1024) or 1G (powers of 1000).",
  );

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const Name = z.string().regex(DNS_LABEL, "a lowercase DNS label: letters, digits and '-'").max(63);

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Names of other Kubernetes objects (Secrets): DNS subdomains, which may contain dots. */
const ObjectName = z
  .string()
  .max(253)
  .regex(DNS_SUBDOMAIN, "a lowercase DNS subdomain: letters, digits, '-' and '.'");

/** An RFC 3339 timestamp, e.g. 2025-06-30T00:00:00Z. */
const Timestamp = z.iso.datetime({ offset: true });

export const Metadata = z
  .object({
    name: Name.describe(
      "Resource name: a lowercase DNS label (letters, digits and '-', at most 63 characters), because it becomes part of NATS subject and stream names.",
    ),
    namespace: z.string().max(63).optional().describe("Namespace (Kubernetes only)."),
    labels: z.record(z.string(), z.string()).optional().describe("Labels."),
    annotations: z.record(z.string(), z.string()).optional().describe("Annotations."),
  })
  .describe("Standard object metadata; only name, namespace, labels and annotations are read.");

export const SecretKeyRef = z
  .object({
    name: ObjectName.describe("Name of the Secret, in the resource's namespace."),
    key: rule(
      z
        .string()
        .min(1)
        .max(253)
        .regex(/^[-._a-zA-Z0-9]+$/, "letters, digits, '-', '_' and '.'"),
      (key) => key !== "." && key !== "..",
      { rule: "self != '.' && self != '..'", message: "a Secret key cannot be . or .." },
    ).describe("Key within the Secret."),
  })
  .describe("A reference to one key of a Secret.");

export const LogLevel = z
  .enum(["trace", "debug", "info", "warn", "error", "fatal"])
  .describe("A log level, from most to least verbose.");

const Image = z.string().min(1).max(1024);

export const ImagePullPolicy = z
  .enum(["Always", "IfNotPresent", "Never"])
  .describe("When the kubelet pulls the image: Always, IfNotPresent or Never.");

export const ResourceList = z
  .object({
    cpu: Quantity.optional().describe(
      'CPU in cores: 1, 2, or a fraction as 500m (thousandths of a core) or "0.5" (quoted: plain numbers must be whole).',
    ),
    memory: Quantity.optional().describe("Memory in bytes, usually with a unit: 256Mi, 1Gi."),
    "ephemeral-storage": Quantity.optional().describe("Local scratch disk (emptyDir, logs), e.g. 1Gi."),
  })
  .describe("Amounts of CPU, memory and scratch disk.");

export const ResourceRequirements = z
  .object({
    requests: ResourceList.optional().describe(
      "What each bot process is guaranteed: the scheduler reserves this much on the node.",
    ),
    limits: ResourceList.optional().describe(
      "The most each bot process may use: more CPU is throttled, more memory restarts the container.",
    ),
  })
  .describe(
    "Compute resources of each bot process (container requests and limits). Each quantity set on a Bot replaces the same quantity of its Pipeline's defaults; the others are inherited.",
  );

// ---- Pipeline and Bot --------------------------------------------------------------------------------

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
  image: Image.optional().describe("Container image of the bot runtime (Kubernetes only)."),
  imagePullPolicy: ImagePullPolicy.optional().describe(
    "When the image is pulled (Kubernetes only; default: Kubernetes' own, IfNotPresent unless the tag is latest).",
  ),
  imagePullSecrets: keyedList(
    z
      .object({ name: ObjectName.describe("Name of a docker-registry Secret in the pipeline's namespace.") })
      .describe("A Secret with registry credentials."),
    "name",
    16,
  )
    .optional()
    .describe("Secrets with credentials for pulling the image from a private registry (Kubernetes only)."),
  resources: ResourceRequirements.optional().describe(
    "Default compute resources of each bot process (Kubernetes only).",
  ),
});

export const PipelineSpec = z
  .object({
    nats: z
      .object({
        url: z
          .string()
          .min(1)
          .max(2048)
          .default("nats://nats:4222")
          .describe("NATS server URL(s), comma-separated."),
        credentialsSecret: SecretKeyRef.optional().describe("NATS credentials file (.creds) from a Secret."),
      })
      .default({ url: "nats://nats:4222" })
      .describe("How bots reach NATS JetStream."),
    stream: z
      .object({
        storage: z
          .enum(["file", "memory"])
          .default("file")
          .describe("Where JetStream keeps queued messages."),
        replicas: z
          .number()
          .int()
          .min(1)
          .max(5)
          .default(1)
          .describe("JetStream replicas of the pipeline's stream."),
        maxAge: Duration.default("7d").describe("Oldest queued message kept."),
        maxBytes: ByteSize.default("10Gi").describe(
          "Most bytes queued in the pipeline, all queues together.",
        ),
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
    defaults: BotDefaults.default({}).describe("Defaults for the pipeline's bots; a Bot's own settings win."),
  })
  .describe(
    "A pipeline: the JetStream stream that holds its bots' queues, its dead letters and defaults for its bots.",
  );

/** Port names as Kubernetes requires them of Service ports (IANA service names), starting with a letter. */
const PORT_NAME = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const ListenPort = z
  .object({
    name: z
      .string()
      .max(15)
      .regex(PORT_NAME, "lowercase letters, digits and '-', starting with a letter, at most 15 characters")
      .describe("Name of the port (e.g. syslog); the Service port gets the same name."),
    port: z.number().int().min(1).max(65535).describe("Port number the collector listens on."),
    protocol: z.enum(["TCP", "UDP"]).default("TCP").describe("TCP or UDP."),
  })
  .describe("A port a listening collector accepts connections or datagrams on.");

const CRON_PATTERN = /^(@(yearly|annually|monthly|weekly|daily|hourly)|\S+( +\S+){4,6})$/;
function validCron(expression: string): boolean {
  try {
    new Cron(expression, { timezone: "UTC" }).stop();
    return true;
  } catch {
    return false;
  }
}

export const BotSpec = rule(
  ErrorHandling.extend({
    pipeline: immutable(
      Name.describe("The Pipeline this bot belongs to. It cannot be changed; create a new Bot instead."),
      "pipeline cannot be changed: delete the Bot and create it in the other pipeline",
    ),
    module: z
      .string()
      .min(1)
      .max(253)
      .describe(
        "The bot module: a Petrel catalogue id (e.g. experts.taxonomy) or the IntelMQ module path it replaces.",
      ),
    parameters: z
      .record(z.string(), z.unknown())
      .default({})
      .describe(
        "Parameters of the module (IntelMQ's names), validated against the module's schema; problems show in the Bot's status.",
      ),
    parametersFrom: keyedList(
      z
        .object({
          parameter: z.string().min(1).max(253).describe("Parameter to set."),
          secretKeyRef: SecretKeyRef.describe("Where the value comes from."),
        })
        .describe("A parameter whose value is read from a Secret."),
      "parameter",
      32,
    )
      .default([])
      .describe("Parameters taken from Secrets (credentials are never written in parameters)."),
    destinations: z
      .record(z.string(), z.array(Name).max(64))
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
      .describe(
        "Number of bot processes sharing the input queue (kubectl scale and autoscalers change it through the scale subresource).",
      ),
    enabled: z.boolean().default(true).describe("false stops the bot; its queue keeps filling."),
    process: Name.optional().describe(
      "Bots of one pipeline naming the same process run in one process, handing output to each other in memory instead of through JetStream (see docs/runtime.md); they must agree on replicas, enabled and image. Unset: the bot runs in a process of its own.",
    ),
    interval: Duration.optional().describe(
      "Collectors: time between runs (IntelMQ's rate_limit). Not together with schedule.",
    ),
    schedule: z
      .string()
      .max(128)
      .regex(CRON_PATTERN, "a cron expression of 5 or 6 fields, or @hourly, @daily, @weekly, @monthly")
      .refine(validCron, "not a valid cron expression")
      .optional()
      .describe(
        "Collectors: when to run, as a cron expression in UTC: 5 fields (minute hour day month weekday), 6 with seconds first, or @hourly, @daily, @weekly, @monthly, @yearly. Not together with interval.",
      ),
    image: Image.optional().describe("Container image override (Kubernetes only)."),
    resources: ResourceRequirements.optional().describe(
      "Compute resources of each bot process, over the pipeline's defaults (Kubernetes only).",
    ),
    ports: rule(
      keyedList(ListenPort, "name", 16),
      (ports) => new Set(ports.map((p) => `${p.port}/${p.protocol}`)).size === ports.length,
      {
        rule: "self.all(p, self.exists_one(q, q.port == p.port && q.protocol == p.protocol))",
        message: "two ports have the same number and protocol",
      },
    )
      .default([])
      .describe(
        "Listening collectors: the ports they receive on. The operator opens them on the bot's pods and puts a Service in front.",
      ),
  }),
  (spec) => spec.interval === undefined || spec.schedule === undefined,
  { rule: "!has(self.interval) || !has(self.schedule)", message: "set schedule or interval, not both" },
).describe(
  "A bot: one module (collector, parser, expert or output) with its parameters and where its output goes.",
);

const CONDITION_TYPE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/;
const CONDITION_REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/** The shape of Kubernetes' metav1.Condition, so kubectl wait, Argo CD and other tools read it. */
export const Condition = z
  .object({
    type: z
      .string()
      .max(316)
      .regex(CONDITION_TYPE, "a CamelCase condition type such as Ready")
      .describe("Kind of condition in CamelCase, e.g. Ready, Progressing, Degraded."),
    status: z.enum(["True", "False", "Unknown"]).describe("True, False or Unknown."),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe("The metadata.generation the condition was set for; older means outdated."),
    lastTransitionTime: Timestamp.describe("When status last changed."),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(CONDITION_REASON, "a CamelCase reason")
      .describe("Why, as a CamelCase word for programs (e.g. InvalidParameters)."),
    message: z.string().max(32768).describe("Why, for people: details, may be empty."),
  })
  .describe("An observation of one aspect of the resource's state.");

const Conditions = keyedList(Condition, "type", 16).describe(
  "The latest observations of the resource's state, one per type.",
);
const ObservedGeneration = z
  .number()
  .int()
  .min(0)
  .describe("The metadata.generation the operator last acted on; less than it means a change is pending.");
const Count = z.number().int().min(0);

export const BotState = z
  .enum(["Pending", "Running", "Degraded", "Stopped", "Failed"])
  .describe(
    "Pending: not running yet; Running: all replicas ready; Degraded: running with fewer ready replicas than wanted or with errors; Stopped: enabled is false; Failed: cannot run (see the conditions).",
  );

export const BotStatus = z
  .object({
    observedGeneration: ObservedGeneration.optional(),
    conditions: Conditions.optional(),
    state: BotState.optional().describe(
      "Summary of the bot's state for people (see conditions for details).",
    ),
    module: z
      .string()
      .max(253)
      .optional()
      .describe("The catalogue id spec.module resolved to (an IntelMQ module path becomes its Petrel id)."),
    replicas: Count.optional().describe("Bot processes that exist now (the scale subresource reads it)."),
    readyReplicas: Count.optional().describe("Bot processes that are ready."),
    selector: z
      .string()
      .max(4096)
      .optional()
      .describe(
        "Label selector of the bot's pods in string form, for the scale subresource and autoscalers.",
      ),
    backlog: Count.optional().describe("Messages waiting in the bot's input queue."),
  })
  .describe("The state of the bot, as the operator observed it.");

export const PipelineStatus = z
  .object({
    observedGeneration: ObservedGeneration.optional(),
    conditions: Conditions.optional(),
    bots: z
      .object({
        total: Count.describe("Bots of the pipeline."),
        ready: Count.describe("Bots whose Ready condition is True."),
      })
      .optional()
      .describe("How many of the pipeline's bots there are and how many are ready."),
    stream: z.string().max(256).optional().describe("Name of the JetStream stream holding the bot queues."),
    deadLetterStream: z.string().max(256).optional().describe("Name of the dead-letter stream."),
    deadLetters: Count.optional().describe("Messages in the dead-letter stream."),
  })
  .describe("The state of the pipeline and its bots, as the operator observed it.");

const TYPE_META = {
  apiVersion: z.literal(API_VERSION).describe(`The API version: ${API_VERSION}.`),
};

export const Pipeline = z.object({
  ...TYPE_META,
  kind: z.literal("Pipeline").describe("Pipeline."),
  metadata: Metadata,
  spec: PipelineSpec,
  status: PipelineStatus.optional(),
});
export const Bot = z.object({
  ...TYPE_META,
  kind: z.literal("Bot").describe("Bot."),
  metadata: Metadata,
  spec: BotSpec,
  status: BotStatus.optional(),
});

// ---- Exclusion ----------------------------------------------------------------------------------------

const EXTRA_KEY = /^extra\.[a-z_][a-z_0-9]+(\.[a-z_0-9]+)*$/;
/** An event field an exclusion can test or set: a harmonized field (docs/event-format.md) or extra.<name>. */
export function isEventField(name: string): boolean {
  return Object.hasOwn(EVENT_FIELDS, name) || EXTRA_KEY.test(name);
}
const EventField = rule(z.string().min(1).max(128), isEventField, {
  rule: `self in [${Object.keys(EVENT_FIELDS).map(celString).join(", ")}] || self.matches(${celString(EXTRA_KEY.source)})`,
  message: "not an event field: use a field of docs/event-format.md or extra.<name>",
  messageExpression: `'not an event field: ' + self + ' (use a field of docs/event-format.md or extra.<name>)'`,
});

/** An IPv4 or IPv6 address, or a network in CIDR notation. */
export function isIpOrCidr(text: string): boolean {
  if (text.includes("%")) return false;
  const [address, prefix, ...rest] = text.split("/");
  if (rest.length > 0 || address === undefined) return false;
  const version = isIP(address);
  if (version === 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

function compiles(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const DOMAIN = /^[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]*[A-Za-z0-9_])?)*$/;
const Values = z.array(z.string().min(1).max(1024)).min(1).max(10_000);

const taxonomyOf = Object.entries(TAXONOMY)
  .map(([taxonomy, types]) => `${celString(taxonomy)}: [${types.map(celString).join(", ")}]`)
  .join(", ");
const ClassificationMatch = rule(
  rule(
    z.object({
      taxonomy: z
        .enum(Object.keys(TAXONOMY) as [string, ...string[]])
        .optional()
        .describe("classification.taxonomy equals this (e.g. intrusion-attempts)."),
      type: z
        .enum(Object.values(TAXONOMY).flat() as [string, ...string[]])
        .optional()
        .describe("classification.type equals this (e.g. brute-force)."),
      identifier: z.string().min(1).max(256).optional().describe("classification.identifier equals this."),
    }),
    (c) => c.taxonomy !== undefined || c.type !== undefined || c.identifier !== undefined,
    {
      rule: "has(self.taxonomy) || has(self.type) || has(self.identifier)",
      message: "classification needs taxonomy, type or identifier",
    },
  ),
  (c) =>
    c.taxonomy === undefined ||
    c.type === undefined ||
    (TAXONOMY[c.taxonomy as keyof typeof TAXONOMY] as readonly string[]).includes(c.type),
  {
    rule: `!has(self.taxonomy) || !has(self.type) || self.type in {${taxonomyOf}}[self.taxonomy]`,
    message: "this classification type belongs to another taxonomy, so the condition could never match",
  },
);

const OPERATORS = [
  "equals",
  "oneOf",
  "cidr",
  "domainSuffix",
  "wildcard",
  "regex",
  "exists",
  "numeric",
  "classification",
] as const;

export const ExclusionCondition = rule(
  rule(
    z.object({
      field: EventField.optional().describe(
        "The event field tested, e.g. source.ip, feed.name or extra.tag. Every operator but classification needs it.",
      ),
      not: z.boolean().optional().describe("true inverts the condition: it holds when the test fails."),
      equals: z
        .string()
        .max(4096)
        .optional()
        .describe("The field's value equals this text (numbers and booleans compare as their JSON text)."),
      oneOf: Values.optional().describe("The field's value equals one of these texts."),
      cidr: z
        .array(
          rule(z.string().min(1).max(49), isIpOrCidr, {
            rule: "isIP(self) || isCIDR(self)",
            message: "not an IP address or CIDR network",
            messageExpression: "'not an IP address or CIDR network: ' + self",
          }),
        )
        .min(1)
        .max(5000)
        .optional()
        .describe(
          "The field's IP address, or its whole network, lies in one of these networks (IPv4 or IPv6, e.g. 192.0.2.0/24, 2001:db8::/32); a bare address stands for itself. For source.ip, destination.ip, *.network and the like.",
        ),
      domainSuffix: z
        .array(
          z.string().min(1).max(253).regex(DOMAIN, "a domain name such as example.org (IDN as punycode)"),
        )
        .min(1)
        .max(10_000)
        .optional()
        .describe(
          "The field's domain name is one of these domains or below one (example.org matches www.example.org, not badexample.org). On URL fields the URL's host is tested. Case-insensitive; IDNs in punycode (xn--).",
        ),
      wildcard: z
        .array(z.string().min(1).max(1024))
        .min(1)
        .max(1000)
        .optional()
        .describe(
          "The field's text matches one of these patterns in full, where * stands for any characters and ? for one (e.g. *.example.org, https://example.org/downloads/*).",
        ),
      regex: z
        .string()
        .min(1)
        .max(1024)
        .refine(compiles, "not a valid regular expression (JavaScript syntax)")
        .optional()
        .describe(
          "A regular expression in JavaScript syntax the field's text must contain a match of; anchor it with ^ and $ to match the whole value.",
        ),
      exists: z.boolean().optional().describe("true: the event has the field; false: it has not."),
      numeric: rule(
        z.object({
          gt: z.number().optional().describe("Greater than this."),
          gte: z.number().optional().describe("Greater than or equal to this."),
          lt: z.number().optional().describe("Less than this."),
          lte: z.number().optional().describe("Less than or equal to this."),
        }),
        (n) => n.gt !== undefined || n.gte !== undefined || n.lt !== undefined || n.lte !== undefined,
        {
          rule: "has(self.gt) || has(self.gte) || has(self.lt) || has(self.lte)",
          message: "numeric needs gt, gte, lt or lte",
        },
      )
        .optional()
        .describe(
          "The field's number (e.g. source.asn, destination.port) satisfies every bound given; other values do not match.",
        ),
      classification: ClassificationMatch.optional().describe(
        "The event's classification: every part given must equal the event's (no field needed).",
      ),
    }),
    (c) => OPERATORS.filter((op) => c[op] !== undefined).length === 1,
    {
      rule: `[${OPERATORS.map((op) => `has(self.${op})`).join(", ")}].exists_one(x, x)`,
      message: `a condition takes exactly one test: ${OPERATORS.join(", ")}`,
    },
  ),
  (c) => (c.field !== undefined) !== (c.classification !== undefined),
  {
    rule: "has(self.field) != has(self.classification)",
    message: "set field, except in a classification condition, which takes none",
  },
).describe("One test of an event field.");

export const LabelSelectorRequirement = rule(
  z.object({
    key: z.string().min(1).max(317).describe("Label key."),
    operator: z
      .enum(["In", "NotIn", "Exists", "DoesNotExist"])
      .describe("In, NotIn, Exists or DoesNotExist."),
    values: z
      .array(z.string().max(63))
      .max(64)
      .optional()
      .describe("Label values: one or more for In and NotIn, none for Exists and DoesNotExist."),
  }),
  (r) => (r.operator === "In" || r.operator === "NotIn") === (r.values ?? []).length > 0,
  {
    rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
    message: "In and NotIn need values; Exists and DoesNotExist take none",
  },
).describe("A requirement on one label.");

export const LabelSelector = z
  .object({
    matchLabels: z
      .record(z.string(), z.string().max(63))
      .optional()
      .describe("Labels that must all have exactly these values."),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(16)
      .optional()
      .describe("Requirements that must all hold."),
  })
  .describe("A Kubernetes label selector; an empty selector ({}) selects everything.");

export const ExclusionScope = rule(
  z.object({
    pipelines: z
      .array(Name)
      .min(1)
      .max(64)
      .optional()
      .describe("The pipelines, by name, in the exclusion's namespace."),
    pipelineSelector: LabelSelector.optional().describe(
      "The pipelines, by label; {} selects every pipeline in the exclusion's namespace.",
    ),
    botSelector: LabelSelector.optional().describe(
      "Where it applies: at the bots of those pipelines these labels select, to the events they receive. Unset: just before every output bot, so experts still see every event.",
    ),
  }),
  (s) => (s.pipelines !== undefined) !== (s.pipelineSelector !== undefined),
  {
    rule: "has(self.pipelines) != has(self.pipelineSelector)",
    message: "choose the pipelines by name (pipelines) or by label (pipelineSelector): one of the two",
  },
).describe("Which pipelines the exclusion covers and at which of their bots it applies.");

const PATH_NAME = /^[A-Za-z0-9_][-A-Za-z0-9_.]*$/;
export const ExclusionAction = rule(
  rule(
    rule(
      rule(
        z.object({
          type: z
            .enum(["drop", "mark", "route"])
            .default("drop")
            .describe(
              "drop removes matching events; mark sets fields on them and lets them pass; route sends them to a named path instead of the usual destinations.",
            ),
          set: keyedList(
            z
              .object({
                field: EventField.describe("The field to set, e.g. extra.excluded_by."),
                value: z
                  .string()
                  .max(4096)
                  .describe("Its value, sanitized for the field's type the way parsers' values are."),
              })
              .describe("One field to set."),
            "field",
            32,
          )
            .optional()
            .describe("mark: the fields to set on matching events."),
          path: z
            .string()
            .min(1)
            .max(63)
            .regex(PATH_NAME, "a path name: letters, digits, '_', '-' and '.'")
            .optional()
            .describe(
              "route: the path matching events leave on; the bot applying the exclusion needs destinations for it.",
            ),
        }),
        (a) => a.type !== "route" || a.path !== undefined,
        { rule: "self.type != 'route' || has(self.path)", message: "route needs a path" },
      ),
      (a) => a.type !== "mark" || (a.set ?? []).length > 0,
      {
        rule: "self.type != 'mark' || (has(self.set) && size(self.set) > 0)",
        message: "mark needs the fields to set (set)",
      },
    ),
    (a) => a.type === "route" || a.path === undefined,
    { rule: "self.type == 'route' || !has(self.path)", message: "path only applies to route" },
  ),
  (a) => a.type === "mark" || a.set === undefined,
  { rule: "self.type == 'mark' || !has(self.set)", message: "set only applies to mark" },
).describe("What happens to matching events.");

export const ExclusionMatch = rule(
  z.object({
    all: z.array(ExclusionCondition).max(32).optional().describe("Conditions that must all hold."),
    any: z
      .array(ExclusionCondition)
      .max(32)
      .optional()
      .describe("Conditions of which at least one must hold (when given)."),
  }),
  (m) => (m.all ?? []).length + (m.any ?? []).length > 0,
  {
    rule: "(has(self.all) && size(self.all) > 0) || (has(self.any) && size(self.any) > 0)",
    message: "match needs at least one condition, in all or in any",
  },
).describe(
  "Which events the exclusion applies to: those meeting every condition of all and at least one of any.",
);

export const ExclusionSpec = z
  .object({
    scope: ExclusionScope,
    match: ExclusionMatch,
    action: ExclusionAction.default({ type: "drop" }),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .describe("Why the exclusion exists, e.g. a known false positive or a protected constituent."),
    owner: z.string().max(256).optional().describe("Who answers for it: a person, team or mail address."),
    ticket: z.string().max(256).optional().describe("A ticket or case reference, e.g. RT#4711."),
    expiresAt: Timestamp.optional().describe(
      "When it stops applying, as an RFC 3339 time (e.g. 2025-06-30T00:00:00Z); bots stop applying it then by themselves.",
    ),
    enabled: z.boolean().default(true).describe("false switches the exclusion off without deleting it."),
  })
  .describe(
    "An exclusion: a rule that drops, marks or reroutes matching events at chosen bots, e.g. to keep known false positives out of outputs.",
  );

export const ExclusionStatus = z
  .object({
    observedGeneration: ObservedGeneration.optional(),
    conditions: Conditions.optional().describe(
      "Active (True while bots apply it), Expired (expiresAt has passed) and Invalid (the spec cannot be compiled; the message names the condition).",
    ),
    pipelines: z
      .array(z.string().max(63))
      .max(256)
      .optional()
      .describe("The pipelines the scope selects now."),
    bots: Count.optional().describe("Bots applying the exclusion now."),
    matchedEvents: Count.optional().describe("Events it has matched, summed over its bots."),
    lastMatchTime: Timestamp.optional().describe("When it last matched an event."),
  })
  .describe("The state of the exclusion, as the operator observed it.");

export const Exclusion = z.object({
  ...TYPE_META,
  kind: z.literal("Exclusion").describe("Exclusion."),
  metadata: Metadata,
  spec: ExclusionSpec,
  status: ExclusionStatus.optional(),
});

export type PipelineResource = z.infer<typeof Pipeline>;
export type BotResource = z.infer<typeof Bot>;
export type ExclusionResource = z.infer<typeof Exclusion>;
export type PipelineSpecT = z.infer<typeof PipelineSpec>;
export type BotSpecT = z.infer<typeof BotSpec>;
export type ExclusionSpecT = z.infer<typeof ExclusionSpec>;
export type ConditionT = z.infer<typeof Condition>;
