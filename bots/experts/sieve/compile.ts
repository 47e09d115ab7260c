// Turns a parsed sieve file into closures, once, so that running it on an event is plain function
// calls. First the checks IntelMQ makes when it loads a file (IP addresses compared with IP fields,
// numeric comparisons only on numeric fields, valid IP ranges); then compilation, which also checks
// what IntelMQ would only find out per event (regular expressions, times, time shifts).
//
// Evaluation follows IntelMQ 3.5's SieveExpertBot: statements run in order until `keep` or `drop`;
// the first `if`/`elif` whose expression holds (or the `else`) runs its block; a missing field makes
// every test false except `!=` and `!~`; string operators see non-strings as Python's str() (JSON for
// dicts); `path` only chooses where the event goes once the rules are done.
//
// Tests read a field with one Event.get, which is undefined exactly when Event.has is false.

import { canonicalIp } from "../../../bot-runtime/src/event/compat/ipaddress.ts";
import { pyFloatRepr } from "../../../bot-runtime/src/event/compat/pynumber.ts";
import { EVENT_FIELDS } from "../../../bot-runtime/src/event/harmonization.ts";
import type { Event } from "../../../bot-runtime/src/event/message.ts";
import {
  compilePythonRegex,
  type PythonRegex,
  PythonRegexError,
  pySearch,
} from "../../../bot-runtime/src/sdk/pyregex.ts";
import type {
  Action,
  Clause,
  Condition,
  Expression,
  KeyRef,
  Match,
  NumberRef,
  Program,
  Statement,
  StringRef,
  TypedValue,
} from "./ast.ts";
import {
  compareInstants,
  type DateSpec,
  fromIsoformat,
  isoformatUtc,
  nowInstant,
  parseDateSpec,
  parseRelative,
  shiftInstant,
} from "./dates.ts";
import { contains, type Network, parseAddress, parseNetwork } from "./ipranges.ts";
import { LineIndex, SieveSyntaxError } from "./lexer.ts";
import { assertHashable, aTypeName, pyEquals, pyIn, textOf } from "./values.ts";

/** What a statement tells the evaluation: go on, stop and keep the event, stop and drop it. */
export const CONTINUE = 0;
export const KEEP = 1;
export const DROP = 2;
export type Procedure = typeof CONTINUE | typeof KEEP | typeof DROP;

/** The state of one evaluation. */
export interface Evaluation {
  event: Event;
  /** Paths chosen by `path`; starts as ["_default"]. */
  paths: readonly string[];
  /** `$variables`, valid for one event. */
  readonly variables: Map<string, unknown>;
}

/** Reports values IntelMQ skips with a warning (an address or time in the event that does not parse). */
export type Warn = (message: string) => void;

export interface CompiledSieve {
  run(evaluation: Evaluation): Procedure;
  /** Whether the file uses `$variables` (then they are reset for each event). */
  readonly usesVariables: boolean;
}

/** A rule that failed on an event (what IntelMQ raises as an exception), naming its place in the file. */
export class SieveRuntimeError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = "SieveRuntimeError";
  }
}

type Test = (e: Evaluation) => boolean;
type Run = (e: Evaluation) => Procedure;
type Resolve<T> = (e: Evaluation) => T;

const NUMERIC_TYPES = new Set(["Integer", "Float", "Accuracy", "ASN"]);
const IP_ADDRESS_FIELDS = new Set(
  Object.entries(EVENT_FIELDS)
    .filter(([, spec]) => spec.type === "IPAddress")
    .map(([name]) => name),
);

function isFloatField(key: string): boolean {
  const type = EVENT_FIELDS[key]?.type;
  return type === "Float" || type === "Accuracy";
}

class Compiler {
  readonly file: string;
  readonly warn: Warn;
  readonly lines: LineIndex;
  usesVariables = false;

  constructor(text: string, file: string, warn: Warn) {
    this.file = file;
    this.warn = warn;
    this.lines = new LineIndex(text);
  }

  where(offset: number): string {
    const { line, column } = this.lines.at(offset);
    return `${this.file}:${line}:${column}`;
  }

  reject(offset: number, message: string): SieveSyntaxError {
    const { line, column } = this.lines.at(offset);
    return new SieveSyntaxError(this.file, line, column, message);
  }

  // ---- IntelMQ's load-time checks (its textX object processors), in file order ----

  validate(statements: readonly Statement[]): void {
    for (const statement of statements) {
      if (statement.kind !== "if") continue;
      for (const clause of statement.clauses) {
        if (clause.expression !== undefined) this.validateExpression(clause.expression);
        this.validate(clause.statements);
      }
    }
  }

  validateExpression(expression: Expression): void {
    for (const conjunction of expression)
      for (const condition of conjunction) this.validateMatch(condition.match);
  }

  validateMatch(match: Match): void {
    switch (match.kind) {
      case "group":
        this.validateExpression(match.expression);
        return;
      case "string":
      case "multiString": {
        if (!("name" in match.key) || !IP_ADDRESS_FIELDS.has(match.key.name)) return;
        const field = match.key.name;
        for (const value of match.kind === "string" ? [match.value] : match.values) {
          if (!("string" in value)) {
            throw this.reject(
              value.at,
              `${field} is an IP address field: compare it with a literal address, not ${value.variable}`,
            );
          }
          if (canonicalIp(value.string) === undefined) {
            throw this.reject(
              value.at,
              `${field} is an IP address field, but ${JSON.stringify(value.string)} is not an IP address`,
            );
          }
        }
        return;
      }
      case "numeric":
      case "multiNumeric": {
        const at = match.kind === "numeric" ? match.value.at : match.valuesAt;
        if (!("name" in match.key)) {
          throw this.reject(
            at,
            `numeric comparisons need a field name, not the variable ${match.key.variable}`,
          );
        }
        const spec = EVENT_FIELDS[match.key.name];
        if (spec === undefined) {
          throw this.reject(
            at,
            `${match.key.name} is not a harmonization field; numeric comparisons work on Integer, Float, Accuracy and ASN fields`,
          );
        }
        if (!NUMERIC_TYPES.has(spec.type)) {
          throw this.reject(
            at,
            `${match.key.name} is a ${spec.type} field; numeric comparisons work on Integer, Float, Accuracy and ASN fields`,
          );
        }
        return;
      }
      case "ipRange":
        for (const range of match.ranges) {
          if (parseNetwork(range.text) === undefined) {
            throw this.reject(range.at, `${JSON.stringify(range.text)} is not an IP address or network`);
          }
        }
        return;
    }
  }

  // ---- values ----

  key(ref: KeyRef): Resolve<string> {
    if ("name" in ref) {
      const name = ref.name;
      return () => name;
    }
    this.usesVariables = true;
    const read = this.variable(ref.variable, ref.at);
    const where = this.where(ref.at);
    return (e) => {
      const value = read(e);
      if (typeof value !== "string") {
        throw new SieveRuntimeError(
          where,
          `${ref.variable} holds ${aTypeName(value)}, but a field name (str) is needed`,
        );
      }
      return value;
    };
  }

  variable(name: string, at: number): Resolve<unknown> {
    this.usesVariables = true;
    const where = this.where(at);
    return (e) => {
      if (!e.variables.has(name))
        throw new SieveRuntimeError(where, `variable ${name} used before it was set`);
      return e.variables.get(name);
    };
  }

  string(ref: StringRef): Resolve<string> {
    if ("string" in ref) {
      const value = ref.string;
      return () => value;
    }
    const read = this.variable(ref.variable, ref.at);
    const where = this.where(ref.at);
    return (e) => {
      const value = read(e);
      if (typeof value !== "string") {
        throw new SieveRuntimeError(where, `${ref.variable} holds ${aTypeName(value)}, but a str is needed`);
      }
      return value;
    };
  }

  number(ref: NumberRef): Resolve<number> {
    if ("number" in ref) {
      const value = ref.number;
      return () => value;
    }
    const read = this.variable(ref.variable, ref.at);
    const where = this.where(ref.at);
    return (e) => {
      const value = read(e);
      // Python's bool is an int.
      if (typeof value === "number" || typeof value === "boolean") return Number(value);
      throw new SieveRuntimeError(where, `${ref.variable} holds ${aTypeName(value)}, but a number is needed`);
    };
  }

  typed(value: TypedValue): Resolve<unknown> {
    if ("variable" in value) return this.variable(value.variable, value.at);
    const v = value.value;
    return () => v;
  }

  /**
   * How a regex operand's text becomes a RegExp: a constant is compiled now (a bad pattern rejects the
   * file), a variable's value when the test runs (cached).
   */
  regexCompiler(ref: StringRef): (source: string) => PythonRegex {
    const describe = (source: string, error: unknown) =>
      `regular expression ${JSON.stringify(source)}: ${(error as Error).message}`;
    if ("string" in ref) {
      let compiled: PythonRegex;
      try {
        compiled = compilePythonRegex(ref.string);
      } catch (error) {
        throw this.reject(ref.at, describe(ref.string, error));
      }
      return () => compiled;
    }
    const cache = new Map<string, PythonRegex>();
    const where = this.where(ref.at);
    return (source) => {
      let compiled = cache.get(source);
      if (compiled === undefined) {
        try {
          compiled = compilePythonRegex(source);
        } catch (error) {
          if (error instanceof PythonRegexError) throw new SieveRuntimeError(where, describe(source, error));
          throw error;
        }
        if (cache.size > 1000) cache.clear();
        cache.set(source, compiled);
      }
      return compiled;
    };
  }

  // ---- conditions ----

  expression(expression: Expression): Test {
    const conjunctions = expression.map((conjunction) => this.conjunction(conjunction));
    if (conjunctions.length === 1) return conjunctions[0]!;
    return (e) => {
      for (const test of conjunctions) if (test(e)) return true;
      return false;
    };
  }

  conjunction(conditions: readonly Condition[]): Test {
    const tests = conditions.map((condition) => this.condition(condition));
    if (tests.length === 1) return tests[0]!;
    return (e) => {
      for (const test of tests) if (!test(e)) return false;
      return true;
    };
  }

  condition(condition: Condition): Test {
    const test = this.match(condition.match, condition.at);
    return condition.negated ? (e) => !test(e) : test;
  }

  match(match: Match, at: number): Test {
    switch (match.kind) {
      case "group":
        return this.expression(match.expression);
      case "exists": {
        const key = this.key(match.key);
        return match.op === ":exists" ? (e) => e.event.has(key(e)) : (e) => !e.event.has(key(e));
      }
      case "string":
        return this.stringMatch(match);
      case "multiString":
        return this.multiStringMatch(match, at);
      case "numeric":
        return this.numericMatch(match, at);
      case "multiNumeric": {
        const key = this.key(match.key);
        const values = match.values.map((v) => this.number(v));
        return (e) => {
          const k = key(e);
          const numbers = values.map((v) => v(e));
          const value = e.event.get(k);
          if (value === undefined) return false;
          return pyIn(value, numbers);
        };
      }
      case "ipRange":
        return this.ipRangeMatch(match, at);
      case "date":
        return this.dateMatch(match, at);
      case "list":
        return this.listMatch(match, at);
      case "bool": {
        const key = this.key(match.key);
        const wanted = match.value;
        const equal = match.op === "==";
        return (e) => {
          const k = key(e);
          const value = e.event.get(k);
          if (value === undefined) return false;
          return typeof value === "boolean" && (value === wanted) === equal;
        };
      }
    }
  }

  stringMatch(match: Extract<Match, { kind: "string" }>): Test {
    const key = this.key(match.key);
    const literalKey = "name" in match.key ? match.key.name : undefined;
    const asFloat = literalKey !== undefined && isFloatField(literalKey);
    const text = (value: unknown, k: string) =>
      textOf(value, literalKey === undefined ? isFloatField(k) : asFloat);
    switch (match.op) {
      case "==":
      case "!=": {
        const value = this.string(match.value);
        const equal = match.op === "==";
        return (e) => {
          const k = key(e);
          const v = value(e);
          const actual = e.event.get(k);
          if (actual === undefined) return !equal;
          return (actual === v) === equal;
        };
      }
      case ":contains": {
        const value = this.string(match.value);
        return (e) => {
          const k = key(e);
          const v = value(e);
          const actual = e.event.get(k);
          if (actual === undefined) return false;
          return text(actual, k).includes(v);
        };
      }
      case "=~":
      case "!~": {
        const pattern = this.string(match.value);
        const compile = this.regexCompiler(match.value);
        const wanted = match.op === "=~";
        return (e) => {
          const k = key(e);
          const source = pattern(e);
          const value = e.event.get(k);
          if (value === undefined) return !wanted;
          return (pySearch(compile(source), text(value, k)) !== null) === wanted;
        };
      }
    }
  }

  multiStringMatch(match: Extract<Match, { kind: "multiString" }>, at: number): Test {
    const key = this.key(match.key);
    const values = match.values.map((v) => this.string(v));
    const where = this.where(at);
    // :in is false for a value that is not text; the others refuse it, as IntelMQ does.
    const textField = (k: string, value: unknown): string => {
      if (typeof value === "string") return value;
      throw new SieveRuntimeError(
        where,
        `${match.op} needs a text field, but ${k} holds ${aTypeName(value)}`,
      );
    };
    let matches: (value: unknown, strings: string[], k: string) => boolean;
    switch (match.op) {
      case ":in":
        matches = (value, strings) => typeof value === "string" && strings.includes(value);
        break;
      case ":containsany":
        matches = (value, strings, k) => {
          const field = textField(k, value);
          return strings.some((s) => field.includes(s));
        };
        break;
      case ":regexin": {
        const compilers = match.values.map((v) => this.regexCompiler(v));
        // Python compiles the patterns one by one as it searches.
        matches = (value, sources, k) => {
          const field = textField(k, value);
          return sources.some((source, i) => pySearch(compilers[i]!(source), field) !== null);
        };
        break;
      }
    }
    return (e) => {
      const k = key(e);
      const strings = values.map((v) => v(e));
      const value = e.event.get(k);
      return value !== undefined && matches(value, strings, k);
    };
  }

  numericMatch(match: Extract<Match, { kind: "numeric" }>, at: number): Test {
    const key = this.key(match.key);
    const value = this.number(match.value);
    const where = this.where(at);
    const op = match.op;
    return (e) => {
      const k = key(e);
      const v = value(e);
      const lhs = e.event.get(k);
      if (lhs === undefined) return false;
      if (typeof lhs !== "number" && typeof lhs !== "boolean") {
        if (op === "==") return false;
        if (op === "!=") return true;
        throw new SieveRuntimeError(where, `cannot compare ${k} (${aTypeName(lhs)}) with ${op} to a number`);
      }
      const n = Number(lhs);
      switch (op) {
        case "==":
          return n === v;
        case "!=":
          return n !== v;
        case "<":
          return n < v;
        case "<=":
          return n <= v;
        case ">":
          return n > v;
        case ">=":
          return n >= v;
      }
    };
  }

  ipRangeMatch(match: Extract<Match, { kind: "ipRange" }>, at: number): Test {
    const key = this.key(match.key);
    const networks = match.ranges.map((r) => parseNetwork(r.text) as Network);
    const where = this.where(at);
    const warn = this.warn;
    return (e) => {
      const k = key(e);
      const value = e.event.get(k);
      if (value === undefined) return false;
      const address = parseAddress(value);
      if (address === undefined) {
        warn(`${where}: could not parse IP address ${k}=${JSON.stringify(value)}`);
        return false;
      }
      for (const network of networks) if (contains(network, address)) return true;
      return false;
    };
  }

  dateMatch(match: Extract<Match, { kind: "date" }>, at: number): Test {
    const key = this.key(match.key);
    const where = this.where(at);
    let spec: Resolve<DateSpec>;
    if ("string" in match.value) {
      const parsed = parseDateSpec(match.value.string);
      if (parsed === undefined) throw this.reject(match.value.at, dateProblem(match.value.string));
      spec = () => parsed;
    } else {
      const text = this.string(match.value);
      spec = (e) => {
        const t = text(e);
        const parsed = parseDateSpec(t);
        if (parsed === undefined) throw new SieveRuntimeError(where, dateProblem(t));
        return parsed;
      };
    }
    const before = match.op === ":before";
    const warn = this.warn;
    return (e) => {
      const k = key(e);
      const value = e.event.get(k);
      if (value === undefined) return false;
      const s = spec(e);
      const base = "instant" in s ? s.instant : shiftInstant(nowInstant(), -s.before);
      if (base === undefined) throw new SieveRuntimeError(where, "date value out of range");
      if (typeof value !== "string") {
        throw new SieveRuntimeError(where, `${k} holds ${aTypeName(value)}, not a time`);
      }
      const time = fromIsoformat(value);
      if (time === undefined) {
        warn(`${where}: could not parse ${k}=${JSON.stringify(value)} as a time`);
        return false;
      }
      const order = compareInstants(time, base);
      return before ? order < 0 : order > 0;
    };
  }

  listMatch(match: Extract<Match, { kind: "list" }>, at: number): Test {
    const key = this.key(match.key);
    const values = match.values.map((v) => this.typed(v));
    const where = this.where(at);
    const op = match.op;
    return (e) => {
      const k = key(e);
      const lhs = e.event.get(k);
      if (lhs === undefined) return false;
      if (!Array.isArray(lhs)) return false;
      const rhs = values.map((v) => v(e));
      if (op === ":equals") return pyEquals(lhs, rhs);
      try {
        assertHashable(lhs);
        assertHashable(rhs);
      } catch (error) {
        throw new SieveRuntimeError(where, `${op} on ${k}: ${(error as Error).message}`);
      }
      switch (op) {
        case ":setequals":
          return lhs.every((x) => pyIn(x, rhs)) && rhs.every((x) => pyIn(x, lhs));
        case ":overlaps":
          return lhs.some((x) => pyIn(x, rhs));
        case ":subsetof":
          return lhs.every((x) => pyIn(x, rhs));
        case ":supersetof":
          return rhs.every((x) => pyIn(x, lhs));
      }
    };
  }

  // ---- statements ----

  statements(statements: readonly Statement[]): Run {
    const runs = statements.map((s) => (s.kind === "if" ? this.branching(s.clauses) : this.action(s)));
    if (runs.length === 1) return runs[0]!;
    return (e) => {
      for (const run of runs) {
        const procedure = run(e);
        if (procedure !== CONTINUE) return procedure;
      }
      return CONTINUE;
    };
  }

  branching(clauses: readonly Clause[]): Run {
    const compiled = clauses.map((clause) => ({
      test: clause.expression === undefined ? undefined : this.expression(clause.expression),
      run: this.statements(clause.statements),
    }));
    // Most rules are a lone `if`: one call fewer per rule and event.
    const only = compiled.length === 1 ? compiled[0]! : undefined;
    if (only?.test !== undefined) {
      const { test, run } = only;
      return (e) => (test(e) ? run(e) : CONTINUE);
    }
    return (e) => {
      for (const clause of compiled) {
        if (clause.test === undefined || clause.test(e)) return clause.run(e);
      }
      return CONTINUE;
    };
  }

  action(action: Action): Run {
    const where = this.where(action.at);
    const fail = (error: unknown): never => {
      if (error instanceof SieveRuntimeError) throw error;
      throw new SieveRuntimeError(where, `${action.kind}: ${(error as Error).message}`);
    };
    switch (action.kind) {
      case "drop":
        return () => DROP;
      case "keep":
        return () => KEEP;
      case "path": {
        const paths = action.paths;
        return (e) => {
          e.paths = paths;
          return CONTINUE;
        };
      }
      case "remove": {
        const key = this.key(action.key);
        return (e) => {
          const k = key(e);
          e.event.remove(k);
          return CONTINUE;
        };
      }
      case "set": {
        const name = action.variable;
        const field = action.key;
        this.usesVariables = true;
        return (e) => {
          if (!e.event.has(field)) fail(new Error(`${field} is not set, so ${name} cannot be set from it`));
          e.variables.set(name, e.event.get(field));
          return CONTINUE;
        };
      }
      case "append":
      case "append!": {
        const key = this.key(action.key);
        const value = this.typed(action.value);
        const force = action.kind === "append!";
        return (e) => {
          const k = key(e);
          const v = value(e);
          try {
            if (!e.event.has(k)) {
              e.event.add(k, [v]);
            } else {
              const old = e.event.get(k);
              if (Array.isArray(old)) e.event.add(k, [...old, v], { overwrite: true, sanitize: false });
              else if (force) e.event.add(k, [old, v], { overwrite: true });
            }
          } catch (error) {
            fail(error);
          }
          return CONTINUE;
        };
      }
      case "add":
      case "add!":
      case "update":
        return this.assignAction(action, fail);
    }
  }

  assignAction(
    action: Extract<Action, { kind: "add" | "add!" | "update" }>,
    fail: (e: unknown) => never,
  ): Run {
    const key = this.key(action.key);
    const kind = action.kind;
    let compute: (e: Evaluation, k: string) => unknown;
    if (action.operator === "=") {
      const value = this.typed(action.value);
      const literal = action.value;
      // A float written as 1.0 is "1.0" in a text field, as Python's str() makes it.
      if (
        "type" in literal &&
        literal.type === "float" &&
        Number.isInteger(literal.value) &&
        literal.value !== 0
      ) {
        const float = literal.value;
        const text = pyFloatRepr(float);
        compute = (_e, k) => (EVENT_FIELDS[k]?.type === "String" ? text : float);
      } else {
        compute = (e) => value(e);
      }
    } else {
      compute = this.timeShift(action.value, action.operator === "+=" ? 1 : -1, fail);
    }
    return (e) => {
      const k = key(e);
      try {
        if (kind === "add") {
          if (!e.event.has(k)) e.event.add(k, compute(e, k));
        } else if (kind === "add!") {
          e.event.add(k, compute(e, k), { overwrite: true });
        } else if (e.event.has(k)) {
          e.event.change(k, compute(e, k));
        }
      } catch (error) {
        fail(error);
      }
      return CONTINUE;
    };
  }

  /** `key += '1 hour'`: the field's time moved by a relative amount, as ISO text. */
  timeShift(
    value: TypedValue,
    sign: 1 | -1,
    fail: (e: unknown) => never,
  ): (e: Evaluation, k: string) => string {
    let amount: Resolve<number>;
    if ("variable" in value) {
      const read = this.variable(value.variable, value.at);
      amount = (e) => {
        const text = read(e);
        const micro = typeof text === "string" ? parseRelative(text) : undefined;
        if (micro === undefined)
          fail(new Error(`${JSON.stringify(text)} is not a relative time such as '2 hours'`));
        return micro as number;
      };
    } else {
      const micro = value.type === "string" ? parseRelative(value.value) : undefined;
      if (micro === undefined) {
        throw this.reject(
          value.at,
          `${JSON.stringify(value.value)} is not a relative time such as '2 hours' or '1 day'`,
        );
      }
      amount = () => micro;
    }
    return (e, k) => {
      if (!e.event.has(k)) fail(new Error(`${k} is not set, so there is no time to shift`));
      const current = e.event.get(k);
      const time = typeof current === "string" ? fromIsoformat(current) : undefined;
      if (time === undefined) fail(new Error(`${k}=${JSON.stringify(current)} is not a time in ISO format`));
      const shifted = shiftInstant(time as NonNullable<typeof time>, sign * amount(e));
      if (shifted === undefined) fail(new Error("date value out of range"));
      return isoformatUtc(shifted as NonNullable<typeof shifted>);
    };
  }
}

function dateProblem(text: string): string {
  return `${JSON.stringify(text)} is not a time: use an ISO 8601 date or date-time (2024-05-01, 2024-05-01T10:00:00+02:00), "now", an ISO 8601 duration (P1D) or a relative time such as '2 hours' or '3 days'`;
}

/** Checks a parsed file as IntelMQ does on loading it, then compiles it. */
export function compileSieve(program: Program, text: string, file: string, warn: Warn): CompiledSieve {
  const compiler = new Compiler(text, file, warn);
  compiler.validate(program.statements);
  const run = program.statements.length === 0 ? () => CONTINUE : compiler.statements(program.statements);
  return { run: run as Run, usesVariables: compiler.usesVariables };
}
