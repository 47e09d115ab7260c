// Recursive-descent parser for IntelMQ's sieve language, one function per rule of IntelMQ 3.5's
// grammar (intelmq/bots/experts/sieve/sieve.tx), with the same ordered choices and backtracking, so
// that exactly the files IntelMQ accepts are accepted, and a syntax error is reported at the same
// line and column. Values are converted as textX converts them (see lexer.ts for the terminals).

import { toAsciiNumeral } from "../../../bot-runtime/src/event/compat/pynumber.ts";
import type {
  Action,
  AssignOperator,
  Branching,
  Clause,
  Condition,
  Conjunction,
  Expression,
  KeyRef,
  ListOperator,
  Match,
  MultiStringOperator,
  NumberRef,
  NumericOperator,
  Program,
  Statement,
  StringOperator,
  StringRef,
  TypedValue,
  VariableRef,
} from "./ast.ts";
import { Scanner, TERMINALS } from "./lexer.ts";

const STRING_OPERATORS: readonly StringOperator[] = ["==", "!=", ":contains", "=~", "!~"];
const MULTI_STRING_OPERATORS: readonly MultiStringOperator[] = [":in", ":containsany", ":regexin"];
const NUMERIC_OPERATORS: readonly NumericOperator[] = ["==", "!=", "<=", ">=", "<", ">"];
const LIST_OPERATORS: readonly ListOperator[] = [
  ":equals",
  ":setequals",
  ":overlaps",
  ":subsetof",
  ":supersetof",
];
const ASSIGN_OPERATORS: readonly AssignOperator[] = ["=", "+=", "-="];

/** Parses a sieve file; throws SieveSyntaxError at the furthest point the grammar could not go on. */
export function parseSieve(text: string, file: string): Program {
  return new SieveParser(new Scanner(text, file)).program();
}

/** textX's STRING conversion: quotes removed, then `\"` and `\'` unescaped; nothing else. */
function unquote(token: string): string {
  return token.slice(1, -1).replaceAll('\\"', '"').replaceAll("\\'", "'");
}

class SieveParser {
  readonly s: Scanner;
  constructor(scanner: Scanner) {
    this.s = scanner;
  }

  program(): Program {
    const statements = this.statements();
    if (!this.s.atEnd()) throw this.s.syntaxError();
    return { statements };
  }

  statements(): Statement[] {
    const out: Statement[] = [];
    for (;;) {
      const statement = this.action() ?? this.branching();
      if (statement === undefined) return out;
      out.push(statement);
    }
  }

  // ---- helpers ----

  /** Runs `rule`; on failure puts the scanner back where it was. */
  attempt<T>(rule: () => T | undefined): T | undefined {
    const start = this.s.pos;
    const result = rule();
    if (result === undefined) this.s.pos = start;
    return result;
  }

  /** The offset where the next terminal starts (after blanks and comments). */
  here(): number {
    this.s.skip();
    return this.s.pos;
  }

  /** The first of `words` that matches (ordered choice over literals). */
  oneOf<T extends string>(words: readonly T[]): T | undefined {
    for (const word of words) if (this.s.literal(word)) return word;
    return undefined;
  }

  /** `'[' item (',' item)* ']'` (at least one item unless `allowEmpty`). */
  list<T>(item: () => T | undefined, allowEmpty: boolean): { items: T[]; at: number } | undefined {
    return this.attempt(() => {
      const at = this.here();
      if (!this.s.literal("[")) return undefined;
      const items: T[] = [];
      const first = item();
      if (first === undefined) {
        if (!allowEmpty) return undefined;
      } else {
        items.push(first);
        for (;;) {
          const next = this.attempt(() => (this.s.literal(",") ? item() : undefined));
          if (next === undefined) break;
          items.push(next);
        }
      }
      return this.s.literal("]") ? { items, at } : undefined;
    });
  }

  variable(): VariableRef | undefined {
    const at = this.here();
    const text = this.s.terminal(TERMINALS.variable);
    return text === undefined ? undefined : { variable: text, at };
  }

  keyLiteral(): { name: string; at: number } | undefined {
    const at = this.here();
    const name = this.s.terminal(TERMINALS.key);
    return name === undefined ? undefined : { name, at };
  }

  key(): KeyRef | undefined {
    return this.keyLiteral() ?? this.variable();
  }

  stringValue(): StringRef | undefined {
    const at = this.here();
    const token = this.s.terminal(TERMINALS.string);
    if (token !== undefined) return { string: unquote(token), at };
    return this.variable();
  }

  /** NUMBER (STRICTFLOAT, else INT) or a variable. */
  numberValue(): NumberRef | undefined {
    const at = this.here();
    const float = this.s.terminal(TERMINALS.float);
    if (float !== undefined) return { number: pythonFloat(float), isFloat: true, at };
    const int = this.s.terminal(TERMINALS.int);
    if (int !== undefined) return { number: Number(int), isFloat: false, at };
    return this.variable();
  }

  /** TypedValue: STRICTFLOAT | INT | BOOL | STRING | Variable. */
  typedValue(): TypedValue | undefined {
    const at = this.here();
    const float = this.s.terminal(TERMINALS.float);
    if (float !== undefined) return { type: "float", value: pythonFloat(float), at };
    const int = this.s.terminal(TERMINALS.int);
    if (int !== undefined) return { type: "int", value: Number(int), at };
    const bool = this.s.terminal(TERMINALS.bool);
    if (bool !== undefined) return { type: "bool", value: bool === "1" || bool.toLowerCase() === "true", at };
    const token = this.s.terminal(TERMINALS.string);
    if (token !== undefined) return { type: "string", value: unquote(token), at };
    return this.variable();
  }

  // ---- statements ----

  branching(): Branching | undefined {
    return this.attempt(() => {
      const at = this.here();
      const first = this.clause("if");
      if (first === undefined) return undefined;
      const clauses: Clause[] = [first];
      for (let elif = this.clause("elif"); elif !== undefined; elif = this.clause("elif")) clauses.push(elif);
      const otherwise = this.clause("else");
      if (otherwise !== undefined) clauses.push(otherwise);
      return { kind: "if", clauses, at };
    });
  }

  clause(keyword: "if" | "elif" | "else"): Clause | undefined {
    return this.attempt(() => {
      const at = this.here();
      if (!this.s.literal(keyword)) return undefined;
      let expression: Expression | undefined;
      if (keyword !== "else") {
        expression = this.expression();
        if (expression === undefined) return undefined;
      }
      if (!this.s.literal("{")) return undefined;
      const statements = this.statements();
      if (!this.s.literal("}")) return undefined;
      return { expression, statements, at };
    });
  }

  action(): Action | undefined {
    const at = this.here();
    if (this.s.literal("drop")) return { kind: "drop", at };
    if (this.s.literal("keep")) return { kind: "keep", at };
    return (
      this.attempt(() => this.pathAction(at)) ??
      this.attempt(() => this.assignAction("add", at)) ??
      this.attempt(() => this.assignAction("add!", at)) ??
      this.attempt(() => this.assignAction("update", at)) ??
      this.attempt(() => this.removeAction(at)) ??
      this.attempt(() => this.appendAction("append", at)) ??
      this.attempt(() => this.appendAction("append!", at)) ??
      this.attempt(() => this.setAction(at))
    );
  }

  pathAction(at: number): Action | undefined {
    if (!this.s.literal("path")) return undefined;
    const single = this.attempt(() => {
      const token = this.s.terminal(TERMINALS.string);
      return token === undefined ? undefined : [unquote(token)];
    });
    const paths =
      single ??
      this.list(() => {
        const token = this.s.terminal(TERMINALS.string);
        return token === undefined ? undefined : unquote(token);
      }, false)?.items;
    return paths === undefined ? undefined : { kind: "path", paths, at };
  }

  assignAction(kind: "add" | "add!" | "update", at: number): Action | undefined {
    if (!this.s.literal(kind)) return undefined;
    const key = this.key();
    if (key === undefined) return undefined;
    const operator = this.oneOf(ASSIGN_OPERATORS);
    if (operator === undefined) return undefined;
    const value = this.typedValue();
    return value === undefined ? undefined : { kind, key, operator, value, at };
  }

  removeAction(at: number): Action | undefined {
    if (!this.s.literal("remove")) return undefined;
    const key = this.key();
    return key === undefined ? undefined : { kind: "remove", key, at };
  }

  appendAction(kind: "append" | "append!", at: number): Action | undefined {
    if (!this.s.literal(kind)) return undefined;
    const key = this.key();
    if (key === undefined) return undefined;
    const value = this.typedValue();
    return value === undefined ? undefined : { kind, key, value, at };
  }

  setAction(at: number): Action | undefined {
    const variable = this.variable();
    if (variable === undefined || !this.s.literal("=")) return undefined;
    const key = this.keyLiteral();
    return key === undefined ? undefined : { kind: "set", variable: variable.variable, key: key.name, at };
  }

  // ---- expressions ----

  expression(): Expression | undefined {
    return this.attempt(() => {
      const first = this.conjunction();
      if (first === undefined) return undefined;
      const out: Conjunction[] = [first];
      for (;;) {
        const next = this.attempt(() => (this.s.literal("||") ? this.conjunction() : undefined));
        if (next === undefined) return out;
        out.push(next);
      }
    });
  }

  conjunction(): Conjunction | undefined {
    return this.attempt(() => {
      const first = this.condition();
      if (first === undefined) return undefined;
      const out: Condition[] = [first];
      for (;;) {
        const next = this.attempt(() => (this.s.literal("&&") ? this.condition() : undefined));
        if (next === undefined) return out;
        out.push(next);
      }
    });
  }

  condition(): Condition | undefined {
    return this.attempt(() => {
      const at = this.here();
      const negated = this.s.literal("!");
      const match =
        this.attempt(() => this.singleStringMatch()) ??
        this.attempt(() => this.multiStringMatch()) ??
        this.attempt(() => this.singleNumericMatch()) ??
        this.attempt(() => this.multiNumericMatch()) ??
        this.attempt(() => this.ipRangeMatch()) ??
        this.attempt(() => this.dateMatch()) ??
        this.attempt(() => this.existMatch()) ??
        this.attempt(() => this.listMatch()) ??
        this.attempt(() => this.boolMatch()) ??
        this.attempt(() => this.group());
      return match === undefined ? undefined : { negated, match, at };
    });
  }

  singleStringMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined) return undefined;
    const op = this.oneOf(STRING_OPERATORS);
    if (op === undefined) return undefined;
    const value = this.stringValue();
    return value === undefined ? undefined : { kind: "string", key, op, value };
  }

  multiStringMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined) return undefined;
    const op = this.oneOf(MULTI_STRING_OPERATORS);
    if (op === undefined) return undefined;
    const values = this.list(() => this.stringValue(), false);
    return values === undefined ? undefined : { kind: "multiString", key, op, values: values.items };
  }

  singleNumericMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined) return undefined;
    const op = this.oneOf(NUMERIC_OPERATORS);
    if (op === undefined) return undefined;
    const value = this.numberValue();
    return value === undefined ? undefined : { kind: "numeric", key, op, value };
  }

  multiNumericMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined || !this.s.literal(":in")) return undefined;
    const values = this.list(() => this.numberValue(), false);
    return values === undefined
      ? undefined
      : { kind: "multiNumeric", key, op: ":in", values: values.items, valuesAt: values.at };
  }

  ipRangeMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined || !this.s.literal("<<")) return undefined;
    const range = () => {
      const at = this.here();
      const token = this.s.terminal(TERMINALS.string);
      return token === undefined ? undefined : { text: unquote(token), at };
    };
    const single = this.attempt(range);
    const ranges = single === undefined ? this.list(range, false)?.items : [single];
    return ranges === undefined ? undefined : { kind: "ipRange", key, ranges };
  }

  dateMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined) return undefined;
    const op = this.oneOf([":before", ":after"] as const);
    if (op === undefined) return undefined;
    const value = this.stringValue();
    return value === undefined ? undefined : { kind: "date", key, op, value };
  }

  existMatch(): Match | undefined {
    const op = this.oneOf([":exists", ":notexists"] as const);
    if (op === undefined) return undefined;
    const key = this.key();
    return key === undefined ? undefined : { kind: "exists", key, op };
  }

  listMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined) return undefined;
    const op = this.oneOf(LIST_OPERATORS);
    if (op === undefined) return undefined;
    const values = this.list(() => this.typedValue(), true);
    return values === undefined ? undefined : { kind: "list", key, op, values: values.items };
  }

  boolMatch(): Match | undefined {
    const key = this.key();
    if (key === undefined) return undefined;
    const op = this.oneOf(["==", "!="] as const);
    if (op === undefined) return undefined;
    const bool = this.s.terminal(TERMINALS.bool);
    if (bool !== undefined)
      return { kind: "bool", key, op, value: bool === "1" || bool.toLowerCase() === "true" };
    // The grammar allows a variable here, but `key == $x` always parses as a string match first: the
    // attempt only adds to what a syntax error says was expected.
    this.variable();
    return undefined;
  }

  group(): Match | undefined {
    if (!this.s.literal("(")) return undefined;
    const expression = this.expression();
    if (expression === undefined || !this.s.literal(")")) return undefined;
    return { kind: "group", expression };
  }
}

/** Python's float() of a STRICTFLOAT token (which may use any Unicode decimal digits). */
function pythonFloat(token: string): number {
  return Number(toAsciiNumeral(token) ?? token);
}
