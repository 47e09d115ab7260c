// The syntax tree of a sieve file, as parser.ts builds it. Offsets (`at`) point into the file text.

/** A field name written out, or a `$variable` holding one. */
export type KeyRef = { readonly name: string; readonly at: number } | VariableRef;

export interface VariableRef {
  readonly variable: string;
  readonly at: number;
}

/** A quoted string (quotes removed, `\"` and `\'` unescaped) or a variable. */
export type StringRef = { readonly string: string; readonly at: number } | VariableRef;

/** A number (int or float, as written) or a variable. */
export type NumberRef =
  | { readonly number: number; readonly isFloat: boolean; readonly at: number }
  | VariableRef;

/** A value of the add/update/append actions and of list matches. */
export type TypedValue =
  | { readonly type: "int" | "float"; readonly value: number; readonly at: number }
  | { readonly type: "bool"; readonly value: boolean; readonly at: number }
  | { readonly type: "string"; readonly value: string; readonly at: number }
  | VariableRef;

export type StringOperator = "==" | "!=" | ":contains" | "=~" | "!~";
export type MultiStringOperator = ":in" | ":containsany" | ":regexin";
export type NumericOperator = "==" | "!=" | "<=" | ">=" | "<" | ">";
export type ListOperator = ":equals" | ":setequals" | ":overlaps" | ":subsetof" | ":supersetof";

export type Match =
  | { readonly kind: "string"; readonly key: KeyRef; readonly op: StringOperator; readonly value: StringRef }
  | {
      readonly kind: "multiString";
      readonly key: KeyRef;
      readonly op: MultiStringOperator;
      readonly values: readonly StringRef[];
    }
  | {
      readonly kind: "numeric";
      readonly key: KeyRef;
      readonly op: NumericOperator;
      readonly value: NumberRef;
    }
  | {
      readonly kind: "multiNumeric";
      readonly key: KeyRef;
      readonly op: ":in";
      readonly values: readonly NumberRef[];
      /** Where the list starts (IntelMQ reports a bad key there). */
      readonly valuesAt: number;
    }
  | {
      readonly kind: "ipRange";
      readonly key: KeyRef;
      readonly ranges: readonly { readonly text: string; readonly at: number }[];
    }
  | {
      readonly kind: "date";
      readonly key: KeyRef;
      readonly op: ":before" | ":after";
      readonly value: StringRef;
    }
  | { readonly kind: "exists"; readonly key: KeyRef; readonly op: ":exists" | ":notexists" }
  | {
      readonly kind: "list";
      readonly key: KeyRef;
      readonly op: ListOperator;
      readonly values: readonly TypedValue[];
    }
  | { readonly kind: "bool"; readonly key: KeyRef; readonly op: "==" | "!="; readonly value: boolean }
  | { readonly kind: "group"; readonly expression: Expression };

export interface Condition {
  readonly negated: boolean;
  readonly match: Match;
  readonly at: number;
}

/** Conditions joined by `&&`. */
export type Conjunction = readonly Condition[];
/** Conjunctions joined by `||`. */
export type Expression = readonly Conjunction[];

export type AssignOperator = "=" | "+=" | "-=";

export type Action =
  | { readonly kind: "drop"; readonly at: number }
  | { readonly kind: "keep"; readonly at: number }
  | { readonly kind: "path"; readonly paths: readonly string[]; readonly at: number }
  | {
      readonly kind: "add" | "add!" | "update";
      readonly key: KeyRef;
      readonly operator: AssignOperator;
      readonly value: TypedValue;
      readonly at: number;
    }
  | { readonly kind: "remove"; readonly key: KeyRef; readonly at: number }
  | {
      readonly kind: "append" | "append!";
      readonly key: KeyRef;
      readonly value: TypedValue;
      readonly at: number;
    }
  | { readonly kind: "set"; readonly variable: string; readonly key: string; readonly at: number };

export interface Clause {
  /** undefined for `else`. */
  readonly expression: Expression | undefined;
  readonly statements: readonly Statement[];
  readonly at: number;
}

export interface Branching {
  readonly kind: "if";
  /** The `if` clause, then the `elif` clauses, then the `else` clause if there is one. */
  readonly clauses: readonly Clause[];
  readonly at: number;
}

export type Statement = Action | Branching;

export interface Program {
  readonly statements: readonly Statement[];
}
