// Changes events by rules read from an IntelMQ modify configuration file (JSON or YAML): a list of
// {"rulename", "if": {field: condition}, "then": {field: value}}. A condition is a Python regular
// expression searched in the field's text, "" for "the field is absent", or any other JSON value the
// field must equal. A value in "then" is a Python format string over the event ({msg[field]}) and the
// rule's regex matches ({matches[field][group]}), or any other JSON value; "" deletes the field. Rules
// apply in order to the event as earlier rules left it, as in IntelMQ's modify expert. Everything is
// compiled when the bot starts; a rule that could only ever fail is refused then, naming the rule.
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { pyStr } from "../../bot-runtime/src/event/compat/pyrepr.ts";
import { type Event, fieldDefinition } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import { isFloatField } from "../../bot-runtime/src/sdk/export.ts";
import {
  type FormatPart,
  PyFormatError,
  type PyValue,
  parseFormat,
  pyConvert,
  pyEquals,
  pyFormatValue,
  type ReplacementField,
} from "../../bot-runtime/src/sdk/pyformat.ts";
import {
  compilePythonRegex,
  matchGroup,
  type PythonRegex,
  pySearch,
} from "../../bot-runtime/src/sdk/pyregex.ts";

const parameters = z.object({
  configuration_path: z
    .string()
    .default("/opt/intelmq/var/lib/bots/modify/modify.conf")
    .describe("The rules file (JSON or YAML): a list of {rulename, if, then} objects."),
  case_sensitive: z
    .boolean()
    .default(true)
    .describe("Match the regular expressions of the conditions case-sensitively."),
  maximum_matches: z
    .number()
    .int()
    .nullable()
    .default(null)
    .describe("Stop after this many rules applied to an event; null or 0: apply every matching rule."),
  overwrite: z.boolean().default(true).describe("Let rules replace values that are already set."),
});

/** The regex matches of one rule's conditions, by field. */
type Matches = Map<string, RegExpExecArray>;

interface Condition {
  readonly field: string;
  readonly absent?: true;
  readonly regex?: PythonRegex;
  readonly equals?: unknown;
  readonly asFloat: boolean;
}

interface Action {
  readonly field: string;
  readonly value: (event: Event, matches: Matches) => unknown;
}

interface Rule {
  readonly name: string;
  readonly conditions: readonly Condition[];
  readonly actions: readonly Action[];
  /** Whether a value uses {matches[...]}: only then are the regex matches kept. */
  readonly usesMatches: boolean;
}

class RuleError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = "RuleError";
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function loadRules(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`configuration_path ${path}: cannot read the rules: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: YAML, as IntelMQ reads it.
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw new Error(`configuration_path ${path}: neither JSON nor YAML: ${(error as Error).message}`);
  }
}

/** A "msg[field]" value: the event's field (extra as JSON text), or Python's KeyError. */
function messageValue(field: string): (event: Event) => PyValue {
  const isFloat = isFloatField(field);
  return (event) => {
    if (!event.has(field))
      throw new PyFormatError("KeyError", `the event has no ${field} (for {msg[${field}]})`);
    return { value: event.get(field), isFloat };
  };
}

function compileField(
  where: string,
  field: ReplacementField,
  regexes: ReadonlyMap<string, PythonRegex>,
): (event: Event, matches: Matches) => string {
  const { accessors, text } = field;
  if (typeof field.arg === "number" || field.arg === "") {
    throw new RuleError(where, `${text}: positional fields are never filled (only msg and matches exist)`);
  }
  if (accessors.some((a) => a.kind === "attribute")) {
    throw new RuleError(where, `${text}: attribute access (.name) is not supported, use [key]`);
  }
  if (field.spec.includes("{"))
    throw new RuleError(where, `${text}: nested fields in a format spec are not supported`);
  let value: (event: Event, matches: Matches) => PyValue;
  if (field.arg === "msg") {
    if (accessors.length !== 1 || typeof accessors[0]!.key !== "string") {
      throw new RuleError(where, `${text}: write {msg[field]}`);
    }
    const name = accessors[0]!.key;
    if (fieldDefinition("Event", name) === undefined)
      throw new RuleError(where, `${text}: ${name} is no event field`);
    value = messageValue(name);
  } else if (field.arg === "matches") {
    if (accessors.length !== 2 || typeof accessors[0]!.key !== "string") {
      throw new RuleError(where, `${text}: write {matches[field][group]}`);
    }
    const name = accessors[0]!.key;
    const group = accessors[1]!.key;
    const regex = regexes.get(name);
    if (regex === undefined) {
      throw new RuleError(where, `${text}: ${name} has no regular expression condition in this rule`);
    }
    const known = typeof group === "number" ? group <= regex.groups : regex.groupIndex.has(group);
    if (!known) throw new RuleError(where, `${text}: the expression for ${name} has no group ${group}`);
    value = (_event, matches) => ({ value: matchGroup(regex, matches.get(name)!, group) });
  } else {
    throw new RuleError(where, `${text}: unknown name ${field.arg} (only msg and matches exist)`);
  }
  const { conversion, spec } = field;
  return (event, matches) => {
    let v = value(event, matches);
    if (conversion !== undefined) v = pyConvert(v, conversion);
    return pyFormatValue(v, spec);
  };
}

function compileValue(
  where: string,
  template: unknown,
  regexes: ReadonlyMap<string, PythonRegex>,
): (event: Event, matches: Matches) => unknown {
  if (typeof template !== "string") return () => template;
  let parts: FormatPart[];
  try {
    parts = parseFormat(template);
  } catch (error) {
    throw new RuleError(where, `${JSON.stringify(template)}: ${(error as Error).message}`);
  }
  const compiled = parts.map((part) =>
    typeof part === "string" ? part : compileField(where, part, regexes),
  );
  if (compiled.length === 0) return () => "";
  if (compiled.length === 1 && typeof compiled[0] === "string") {
    const text = compiled[0];
    return () => text;
  }
  // Joined, not concatenated with +=: a concatenation is a rope (V8 ConsString), and a rope in an
  // event takes JSON.stringify off its fast path when the runtime serialises the event.
  return (event, matches) => {
    const out = new Array<string>(compiled.length);
    for (let i = 0; i < compiled.length; i++) {
      const part = compiled[i]!;
      out[i] = typeof part === "string" ? part : part(event, matches);
    }
    return out.join("");
  };
}

function compileRules(config: unknown, ignoreCase: boolean): Rule[] {
  if (!Array.isArray(config)) throw new Error("the rules file must hold a list of rules");
  return config.map((rule, index) => {
    const name =
      isRecord(rule) && typeof rule.rulename === "string" ? ` (${JSON.stringify(rule.rulename)})` : "";
    const where = `rule #${index + 1}${name}`;
    if (!isRecord(rule)) throw new RuleError(where, "must be an object with rulename, if and then");
    for (const key of ["rulename", "if", "then"]) {
      if (!(key in rule)) throw new RuleError(where, `has no "${key}"`);
    }
    if (!isRecord(rule.if)) throw new RuleError(where, '"if" must be an object of field: condition');
    if (!isRecord(rule.then)) throw new RuleError(where, '"then" must be an object of field: value');
    const regexes = new Map<string, PythonRegex>();
    const conditions = Object.entries(rule.if).map(([field, expression]): Condition => {
      const base = { field, asFloat: isFloatField(field) };
      if (expression === "") return { ...base, absent: true };
      if (typeof expression !== "string") return { ...base, equals: expression };
      try {
        const regex = compilePythonRegex(expression, { ignoreCase });
        regexes.set(field, regex);
        return { ...base, regex };
      } catch (error) {
        throw new RuleError(
          where,
          `the condition on ${field}, ${JSON.stringify(expression)}: ${(error as Error).message}`,
        );
      }
    });
    const actions = Object.entries(rule.then).map(([field, template]): Action => {
      if (fieldDefinition("Event", field) === undefined)
        throw new RuleError(where, `${field} is no event field`);
      return { field, value: compileValue(`${where}, ${field}`, template, regexes) };
    });
    const usesMatches = Object.values(rule.then).some(
      (template) =>
        typeof template === "string" &&
        parseFormat(template).some((part) => typeof part !== "string" && part.arg === "matches"),
    );
    return { name: String(rule.rulename), conditions, actions, usesMatches };
  });
}

/** The rule's regex matches when every condition holds, else undefined. */
const NO_MATCHES: Matches = new Map();

function matchRule(rule: Rule, event: Event): Matches | undefined {
  let matches = NO_MATCHES;
  for (const c of rule.conditions) {
    if (c.absent) {
      // Event.has is IntelMQ's `key in event` ("extra": any extra.* field).
      if (event.has(c.field)) return undefined;
      continue;
    }
    // Undefined exactly when the field is absent.
    const value = event.get(c.field);
    if (value === undefined) return undefined;
    if (c.regex !== undefined) {
      let text: string;
      if (typeof value === "string") text = value;
      else if (typeof value === "number" || typeof value === "boolean") text = pyStr(value, c.asFloat);
      else
        throw new TypeError(
          `${c.field}: a regular expression cannot search a ${Array.isArray(value) ? "list" : "dict"} (rule ${rule.name})`,
        );
      const m = pySearch(c.regex, text);
      if (m === null) return undefined;
      if (!rule.usesMatches) continue;
      if (matches === NO_MATCHES) matches = new Map();
      matches.set(c.field, m);
    } else if (!pyEquals(value, c.equals)) {
      return undefined;
    }
  }
  return matches;
}

export default defineExpert({
  id: "experts.modify",
  intelmqModules: ["intelmq.bots.experts.modify.expert"],
  kind: "expert",
  description:
    "Changes events by the rules of an IntelMQ modify configuration file: regex, absence and equality conditions, Python format-string values.",
  parameters,
  deviations: [
    {
      id: "invalid-rules-rejected-at-start",
      summary:
        "A rule that can only ever fail is refused when the bot starts: a missing rulename/if/then, a value for a field that does not exist, a format field other than {msg[field]} or {matches[field][group]} (positional, attribute access, unknown names, a field without a regex condition in the rule, a group the expression lacks, nested fields in a format spec), and Python regex constructs JavaScript cannot express (atomic groups, possessive quantifiers, conditionals, \\N{...}). IntelMQ starts and fails (or, for attribute access, writes the template unchanged) each time such a rule matches.",
      reason:
        "Configuration mistakes are reported once, at start, with the rule's name, instead of on events.",
    },
  ],
  create(params) {
    const rules = compileRules(loadRules(params.configuration_path), !params.case_sensitive);
    const maximum = params.maximum_matches;
    const overwrite = { overwrite: params.overwrite };
    return {
      process(event) {
        let applied = 0;
        for (const rule of rules) {
          const matches = matchRule(rule, event);
          if (matches === undefined) continue;
          applied++;
          for (const action of rule.actions) event.add(action.field, action.value(event, matches), overwrite);
          if (maximum && applied >= maximum) break;
        }
        // IntelMQ does not send an empty event.
        return event.size === 0 ? undefined : event;
      },
    };
  },
});
