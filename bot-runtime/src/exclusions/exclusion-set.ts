// The exclusions that apply at one bot, compiled into indexes: prefix tries for networks, suffix tries
// for domains and hash maps for values find the few exclusions an event could meet without scanning
// them all; only those (and the few that cannot be indexed) are then evaluated in full.
import type { z } from "zod";
import type { ExclusionAction, ExclusionSpec } from "../config/resources.ts";
import { Event, type Message } from "../event/message.ts";
import { type CompiledCondition, ConditionError, compileCondition, hostOf, textOf } from "./conditions.ts";
import { DomainTrie } from "./domain-trie.ts";
import { IpPrefixTrie } from "./ip-prefix-trie.ts";

export type ExclusionSpecT = z.infer<typeof ExclusionSpec>;
export type ActionT = z.infer<typeof ExclusionAction>;

export interface NamedExclusion {
  name: string;
  spec: ExclusionSpecT;
}

export interface ExclusionHit {
  name: string;
  action: ActionT;
  /** Why it matched: one line per condition that held. */
  reasons: string[];
}

/** What happens to an event: it passes (perhaps marked), is dropped, or leaves on another path. */
export type Verdict =
  | { kind: "pass"; marked: string[] }
  | { kind: "drop"; by: string[] }
  | { kind: "route"; path: string; by: string[] };

export class ExclusionError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "ExclusionError";
    this.problems = problems;
  }
}

interface Compiled {
  name: string;
  action: ActionT;
  all: CompiledCondition[];
  any: CompiledCondition[];
  expiresAtMs: number;
}

interface FieldIndex {
  ip?: IpPrefixTrie<number>;
  domain?: DomainTrie<number>;
  values?: Map<string, number[]>;
}

/** Compiles one exclusion; throws ConditionError naming the exclusion and the condition. */
function compileOne(input: NamedExclusion): Compiled {
  const { spec } = input;
  const all = (spec.match.all ?? []).map((c, i) => compileCondition(c, `${input.name}: match.all[${i}]`));
  const any = (spec.match.any ?? []).map((c, i) => compileCondition(c, `${input.name}: match.any[${i}]`));
  if (all.length + any.length === 0) throw new ConditionError(`${input.name}: match has no condition`);
  // Values to set must be valid for their fields now, not fail on the first matching event.
  for (const [i, s] of (spec.action.set ?? []).entries()) {
    try {
      new Event().add(s.field, s.value);
    } catch (error) {
      throw new ConditionError(`${input.name}: action.set[${i}]: ${(error as Error).message}`);
    }
  }
  const expiresAtMs = spec.expiresAt ? Date.parse(spec.expiresAt) : Number.POSITIVE_INFINITY;
  if (Number.isNaN(expiresAtMs))
    throw new ConditionError(`${input.name}: expiresAt: not a time: ${spec.expiresAt}`);
  return { name: input.name, action: spec.action, all, any, expiresAtMs };
}

/** Indexing preference: the rarest values first (an address in a network list beats a feed name). */
const RANK = { cidr: 0, domain: 1, value: 2 } as const;

export class ExclusionSet {
  readonly #rules: Compiled[];
  readonly #index = new Map<string, FieldIndex>();
  /** Rules no index can find (e.g. only a regex or a negated test): evaluated for every event. */
  readonly #always: number[] = [];
  readonly #stamp: Uint32Array;
  #generation = 0;

  private constructor(rules: Compiled[]) {
    this.#rules = rules;
    this.#stamp = new Uint32Array(rules.length);
    for (const [id, rule] of rules.entries()) this.#place(rule, id);
  }

  /**
   * Compiles the enabled exclusions (disabled ones are left out); every problem of every exclusion is
   * reported at once, naming the exclusion and the condition.
   */
  static compile(inputs: readonly NamedExclusion[]): ExclusionSet {
    const problems: string[] = [];
    const rules: Compiled[] = [];
    for (const input of [...inputs].sort((a, b) => a.name.localeCompare(b.name))) {
      if (input.spec.enabled === false) continue;
      try {
        rules.push(compileOne(input));
      } catch (error) {
        if (!(error instanceof ConditionError)) throw error;
        problems.push(error.message);
      }
    }
    if (problems.length > 0) throw new ExclusionError(problems);
    return new ExclusionSet(rules);
  }

  static readonly EMPTY = new ExclusionSet([]);

  get size(): number {
    return this.#rules.length;
  }

  get names(): string[] {
    return this.#rules.map((r) => r.name);
  }

  /** The earliest expiry after `now`, when the set's behaviour next changes by itself. */
  nextExpiry(now: number): number | undefined {
    let next = Number.POSITIVE_INFINITY;
    for (const r of this.#rules) if (r.expiresAtMs > now && r.expiresAtMs < next) next = r.expiresAtMs;
    return Number.isFinite(next) ? next : undefined;
  }

  #place(rule: Compiled, id: number): void {
    const indexable = (c: CompiledCondition) => c.index !== undefined;
    // All conditions must hold: one indexed condition finds every candidate.
    const anchors = rule.all.filter(indexable).sort((a, b) => RANK[a.index!.kind] - RANK[b.index!.kind]);
    if (anchors.length > 0) {
      this.#addToIndex(anchors[0] as CompiledCondition, id);
      return;
    }
    // Only any-conditions: the rule is a candidate through each of them, if every one can be indexed.
    if (rule.all.length === 0 && rule.any.length > 0 && rule.any.every(indexable)) {
      for (const c of rule.any) this.#addToIndex(c, id);
      return;
    }
    this.#always.push(id);
  }

  #addToIndex(condition: CompiledCondition, id: number): void {
    const key = condition.index!;
    let index = this.#index.get(key.field);
    if (!index) {
      index = {};
      this.#index.set(key.field, index);
    }
    if (key.kind === "cidr") {
      index.ip ??= new IpPrefixTrie();
      for (const n of key.networks) index.ip.insert(n, id);
    } else if (key.kind === "domain") {
      index.domain ??= new DomainTrie();
      for (const d of key.domains) index.domain.insert(d, id);
    } else {
      index.values ??= new Map();
      for (const v of key.values) {
        const ids = index.values.get(v);
        if (ids) ids.push(id);
        else index.values.set(v, [id]);
      }
    }
  }

  /** The exclusions that match `event` at `now` (expired ones never do), with the reasons, by name. */
  matches(event: Message, now = Date.now()): ExclusionHit[] {
    if (this.#rules.length === 0) return [];
    const generation = ++this.#generation;
    if (generation === 0xffffffff) {
      this.#stamp.fill(0);
      this.#generation = 1;
    }
    const candidates: number[] = [];
    const add = (id: number) => {
      if (this.#stamp[id] === this.#generation) return;
      this.#stamp[id] = this.#generation;
      candidates.push(id);
    };
    for (const [field, index] of this.#index) {
      const value = event.get(field);
      if (value === undefined) continue;
      if (index.ip && typeof value === "string") index.ip.lookup(value, add);
      if (index.domain) {
        const host = hostOf(field, value);
        if (host !== undefined) index.domain.lookup(host, add);
      }
      if (index.values) {
        const ids = index.values.get(textOf(value));
        if (ids) for (const id of ids) add(id);
      }
    }
    for (const id of this.#always) add(id);
    const hits: ExclusionHit[] = [];
    for (const id of candidates.sort((a, b) => a - b)) {
      const rule = this.#rules[id] as Compiled;
      if (now >= rule.expiresAtMs) continue;
      const reasons = evaluate(rule, event);
      if (reasons) hits.push({ name: rule.name, action: rule.action, reasons });
    }
    return hits;
  }

  /**
   * Applies the matching exclusions: a drop wins over a route, a route over marks; every matching mark
   * sets its fields (the event passes, changed).
   */
  apply(event: Message, now = Date.now()): { verdict: Verdict; hits: ExclusionHit[] } {
    const hits = this.matches(event, now);
    if (hits.length === 0) return { verdict: PASS, hits };
    const drops = hits.filter((h) => h.action.type === "drop");
    if (drops.length > 0) return { verdict: { kind: "drop", by: drops.map((h) => h.name) }, hits };
    const routes = hits.filter((h) => h.action.type === "route");
    if (routes.length > 0) {
      const first = routes[0] as ExclusionHit;
      return {
        verdict: { kind: "route", path: first.action.path as string, by: routes.map((h) => h.name) },
        hits,
      };
    }
    for (const h of hits)
      for (const s of h.action.set ?? []) event.add(s.field, s.value, { overwrite: true });
    return { verdict: { kind: "pass", marked: hits.map((h) => h.name) }, hits };
  }
}

const PASS: Verdict = { kind: "pass", marked: [] };

function evaluate(rule: Compiled, event: Message): string[] | undefined {
  const reasons: string[] = [];
  for (const c of rule.all) {
    const why = c.test(event);
    if (why === undefined) return undefined;
    reasons.push(why);
  }
  if (rule.any.length > 0) {
    let held = false;
    for (const c of rule.any) {
      const why = c.test(event);
      if (why !== undefined) {
        reasons.push(why);
        held = true;
      }
    }
    if (!held) return undefined;
  }
  return reasons;
}
