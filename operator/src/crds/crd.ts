// The CustomResourceDefinitions of Petrel's three resources, built from the zod schemas in
// bot-runtime/src/config/resources.ts: the schemas give spec and status (through z.toJSONSchema and the
// structural conversion); this file adds what only a CRD has — names, printer columns, subresources,
// selectable fields and the rules about the whole object.
import { z } from "zod";
import {
  API_VERSION,
  BotSpec,
  BotStatus,
  type CelRule,
  ExclusionSpec,
  ExclusionStatus,
  PipelineSpec,
  PipelineStatus,
} from "../../../bot-runtime/src/config/resources.ts";
import { type JsonSchema, structuralProblems, toStructural } from "./structural.ts";

export const GROUP = API_VERSION.split("/")[0] as string;
export const VERSION = API_VERSION.split("/")[1] as string;
export const CATEGORY = "petrel";

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description: string;
  /** 0: always shown; 1: only with -o wide. */
  priority?: number;
}

export interface ResourceDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  /** What the kind is, for `kubectl explain <kind>`. */
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath: string };
  /** Fields `kubectl get --field-selector` and watches can filter on. */
  selectableFields?: string[];
  /** Rules on the whole object (they may read metadata.name). */
  rules?: CelRule[];
}

const AGE: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since the resource was created.",
};

/** Pipeline and Bot names become parts of NATS subjects and stream names, where a dot would split them. */
const DNS_LABEL_NAME: CelRule = {
  rule: "size(self.metadata.name) <= 63 && self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
  message:
    "metadata.name must be a DNS label (lowercase letters, digits and '-', at most 63 characters, no dots): it becomes part of NATS subject names",
};

export const RESOURCES: readonly ResourceDefinition[] = [
  {
    kind: "Pipeline",
    plural: "pipelines",
    singular: "pipeline",
    shortNames: ["ppl"],
    description:
      "A Petrel pipeline: the JetStream stream holding its bots' queues, its dead-letter stream and defaults for its bots. Bots name the pipeline they belong to.",
    spec: PipelineSpec,
    status: PipelineStatus,
    printerColumns: [
      {
        name: "Bots",
        type: "integer",
        jsonPath: ".status.bots.total",
        description: "Bots of the pipeline.",
      },
      { name: "Ready", type: "integer", jsonPath: ".status.bots.ready", description: "Bots that are ready." },
      {
        name: "Status",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
        description: "Reason of the Ready condition.",
      },
      {
        name: "Dead-Letters",
        type: "integer",
        jsonPath: ".status.deadLetters",
        description: "Messages in the dead-letter stream.",
        priority: 1,
      },
      {
        name: "Stream",
        type: "string",
        jsonPath: ".status.stream",
        description: "The JetStream stream of the bot queues.",
        priority: 1,
      },
      AGE,
    ],
    rules: [DNS_LABEL_NAME],
  },
  {
    kind: "Bot",
    plural: "bots",
    singular: "bot",
    shortNames: ["pb"],
    description:
      "A Petrel bot: one collector, parser, expert or output module with its parameters, run as a Deployment that reads the bot's queue in its pipeline's JetStream stream.",
    spec: BotSpec,
    status: BotStatus,
    printerColumns: [
      { name: "Module", type: "string", jsonPath: ".spec.module", description: "The bot module." },
      { name: "Pipeline", type: "string", jsonPath: ".spec.pipeline", description: "The bot's pipeline." },
      {
        name: "State",
        type: "string",
        jsonPath: ".status.state",
        description: "Summary of the bot's state.",
      },
      {
        name: "Ready",
        type: "integer",
        jsonPath: ".status.readyReplicas",
        description: "Bot processes that are ready.",
      },
      {
        name: "Replicas",
        type: "integer",
        jsonPath: ".spec.replicas",
        description: "Bot processes wanted.",
        priority: 1,
      },
      {
        name: "Backlog",
        type: "integer",
        jsonPath: ".status.backlog",
        description: "Messages waiting in the bot's queue.",
      },
      AGE,
    ],
    scale: {
      specReplicasPath: ".spec.replicas",
      statusReplicasPath: ".status.replicas",
      labelSelectorPath: ".status.selector",
    },
    selectableFields: [".spec.pipeline", ".spec.module"],
    rules: [DNS_LABEL_NAME],
  },
  {
    kind: "Exclusion",
    plural: "exclusions",
    singular: "exclusion",
    shortNames: ["pex"],
    description:
      "A Petrel exclusion: a rule that drops, marks or reroutes matching events at chosen bots of chosen pipelines, e.g. to keep known false positives and protected constituents out of outputs. Changes reach the bots within seconds, without restarts.",
    spec: ExclusionSpec,
    status: ExclusionStatus,
    printerColumns: [
      { name: "Action", type: "string", jsonPath: ".spec.action.type", description: "drop, mark or route." },
      {
        name: "Active",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Active")].status',
        description: "Whether bots apply it now.",
      },
      {
        name: "Matches",
        type: "integer",
        jsonPath: ".status.matchedEvents",
        description: "Events matched so far.",
      },
      // A string, not a date: kubectl shows future dates as <invalid>.
      {
        name: "Expires",
        type: "string",
        jsonPath: ".spec.expiresAt",
        description: "When it stops applying.",
      },
      {
        name: "Reason",
        type: "string",
        jsonPath: ".spec.reason",
        description: "Why it exists.",
        priority: 1,
      },
      AGE,
    ],
  },
];

/** JSON Schema of a zod schema, with defaults: what users may write (zod's input side). */
function jsonSchemaOf(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, {
    io: "input",
    target: "openapi-3.0",
    unrepresentable: "throw",
  }) as JsonSchema;
}

/** The openAPIV3Schema of a resource: spec and status from zod, the rest left to Kubernetes. */
export function openApiSchema(resource: ResourceDefinition): JsonSchema {
  const spec = toStructural(jsonSchemaOf(resource.spec));
  const status = toStructural(jsonSchemaOf(resource.status));
  const schema: JsonSchema = {
    description: resource.description,
    type: "object",
    properties: {
      apiVersion: {
        description:
          "The versioned schema of this representation of the object; the API server converts it to its own and may reject values it does not know.",
        type: "string",
      },
      kind: {
        description: "The REST resource this object represents, in CamelCase; the API server infers it.",
        type: "string",
      },
      metadata: { type: "object" },
      spec,
      status,
    },
    required: ["spec"],
  };
  if (resource.rules?.length) schema["x-kubernetes-validations"] = resource.rules;
  const problems = structuralProblems(schema);
  if (problems.length > 0) {
    throw new Error(`the ${resource.kind} schema is not structural:\n  ${problems.join("\n  ")}`);
  }
  return schema;
}

/** The CustomResourceDefinition of a resource, as a plain object ready for YAML or the API. */
export function customResourceDefinition(resource: ResourceDefinition): JsonSchema {
  const version: JsonSchema = {
    name: VERSION,
    served: true,
    storage: true,
    schema: { openAPIV3Schema: openApiSchema(resource) },
    subresources: {
      status: {},
      ...(resource.scale ? { scale: resource.scale } : {}),
    },
    additionalPrinterColumns: resource.printerColumns.map((c) => ({
      name: c.name,
      type: c.type,
      jsonPath: c.jsonPath,
      description: c.description,
      ...(c.priority ? { priority: c.priority } : {}),
    })),
  };
  if (resource.selectableFields?.length) {
    version.selectableFields = resource.selectableFields.map((jsonPath) => ({ jsonPath }));
  }
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${resource.plural}.${GROUP}`,
      labels: { "app.kubernetes.io/part-of": "petrel" },
    },
    spec: {
      group: GROUP,
      names: {
        kind: resource.kind,
        listKind: `${resource.kind}List`,
        plural: resource.plural,
        singular: resource.singular,
        shortNames: resource.shortNames,
        categories: [CATEGORY],
      },
      scope: "Namespaced",
      versions: [version],
    },
  };
}

export function customResourceDefinitions(): JsonSchema[] {
  return RESOURCES.map(customResourceDefinition);
}
