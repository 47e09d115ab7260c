// What the operator checks of a Bot beyond the CRD schema (which the API server enforces): its module
// exists in the catalogue, its parameters fit the module's schema, its destinations name bots of its
// pipeline that take input, and bots sharing a process agree. Blocking problems keep the operator from
// changing the bot's Deployment; the others only show in its status.
import { processGroups } from "../../../bot-runtime/src/config/render.ts";
import type { BotResource } from "../../../bot-runtime/src/config/resources.ts";
import type { BotModule } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";

export type ModuleLookup = (name: string) => BotModule | undefined;

export interface BotProblem {
  /** CamelCase, for the Degraded condition's reason. */
  reason:
    | "UnknownModule"
    | "InvalidParameters"
    | "ProcessConflict"
    | "UnknownDestination"
    | "InvalidDestination";
  message: string;
  /** The bot cannot run as specified: its Deployment is left as it is. */
  blocking: boolean;
}

export interface BotValidation {
  module: BotModule | undefined;
  problems: BotProblem[];
}

/** A path in the notation of kubectl explain: spec.parameters.columns[2]. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path)
    out += typeof key === "number" ? `[${key}]` : out === "" ? String(key) : `.${String(key)}`;
  return out;
}

function parameterProblems(bot: BotResource, module: BotModule): BotProblem[] {
  // Parameters from Secrets are only known to the bot's pod; it checks them when it starts.
  const fromSecrets = new Set(bot.spec.parametersFrom.map((p) => p.parameter));
  const result = parameterSchema(module).safeParse(bot.spec.parameters);
  if (result.success) return [];
  const messages = result.error.issues
    .filter((issue) => !fromSecrets.has(String(issue.path[0])))
    .map((issue) => `${formatPath(["spec", "parameters", ...issue.path])}: ${issue.message}`);
  if (messages.length === 0) return [];
  return [
    { reason: "InvalidParameters", message: `${messages.join("; ")} (module ${module.id})`, blocking: true },
  ];
}

function destinationProblems(
  bot: BotResource,
  module: BotModule,
  siblings: readonly BotResource[],
  lookup: ModuleLookup,
): BotProblem[] {
  const problems: BotProblem[] = [];
  const byName = new Map(siblings.map((b) => [b.metadata.name, b]));
  for (const [path, targets] of Object.entries(bot.spec.destinations)) {
    if (module.kind === "output" && targets.length > 0) {
      problems.push({
        reason: "InvalidDestination",
        message: `spec.destinations.${path}: ${bot.metadata.name} is an output; outputs have no destinations`,
        blocking: false,
      });
      continue;
    }
    targets.forEach((target, i) => {
      const at = formatPath(["spec", "destinations", path, i]);
      const dest = byName.get(target);
      if (!dest) {
        problems.push({
          reason: "UnknownDestination",
          message: `${at}: no Bot named ${target} in pipeline ${bot.spec.pipeline}; its messages wait in the queue until it exists`,
          blocking: false,
        });
      } else if (lookup(dest.spec.module)?.kind === "collector") {
        problems.push({
          reason: "InvalidDestination",
          message: `${at}: ${target} is a collector; collectors have no input queue`,
          blocking: false,
        });
      }
    });
  }
  return problems;
}

function processProblems(bot: BotResource, siblings: readonly BotResource[]): BotProblem[] {
  const name = bot.spec.process;
  if (name === undefined) return [];
  const members = siblings.filter((b) => b.spec.process === name);
  const problems = processGroups(members)
    .problems.filter((p) => p.startsWith(`bots sharing process ${name} `))
    .map((message): BotProblem => ({ reason: "ProcessConflict", message, blocking: true }));
  const seen = new Map<string, string>();
  for (const member of members) {
    for (const port of member.spec.ports) {
      for (const key of [`name ${port.name}`, `port ${port.port}/${port.protocol}`]) {
        const other = seen.get(key);
        if (other !== undefined && other !== member.metadata.name) {
          problems.push({
            reason: "ProcessConflict",
            message: `bots sharing process ${name} listen on the same ${key}: ${other} and ${member.metadata.name}`,
            blocking: true,
          });
        }
        seen.set(key, member.metadata.name);
      }
    }
  }
  return problems;
}

/**
 * Checks one bot; `siblings` are the bots of its pipeline (itself included). Its module is undefined
 * when the catalogue does not know it.
 */
export function validateBot(
  bot: BotResource,
  siblings: readonly BotResource[],
  lookup: ModuleLookup = findModule,
): BotValidation {
  const module = lookup(bot.spec.module);
  if (!module) {
    return {
      module,
      problems: [
        {
          reason: "UnknownModule",
          message: `spec.module: unknown module ${JSON.stringify(bot.spec.module)} (neither a catalogue id nor an IntelMQ module path the catalogue knows)`,
          blocking: true,
        },
      ],
    };
  }
  return {
    module,
    problems: [
      ...parameterProblems(bot, module),
      ...processProblems(bot, siblings),
      ...destinationProblems(bot, module, siblings, lookup),
    ],
  };
}
