// One condition of an Exclusion, compiled: a test of an event field (or of the classification) that
// says whether it holds and, for `petrelctl exclusion test`, why.
import type { z } from "zod";
import type { ExclusionCondition } from "../config/resources.ts";
import { EVENT_FIELDS } from "../event/harmonization.ts";
import type { Message } from "../event/message.ts";
import { DomainTrie } from "./domain-trie.ts";
import { IpPrefixTrie } from "./ip-prefix-trie.ts";

export type ConditionSpec = z.infer<typeof ExclusionCondition>;

/** A compiled condition: `test` gives the reason it holds, or undefined. */
export interface CompiledCondition {
  readonly spec: ConditionSpec;
  /** The field an index can find candidates by, with the value(s) to index (non-negated tests only). */
  readonly index?: IndexKey;
  test(event: Message): string | undefined;
}

export type IndexKey =
  | { kind: "cidr"; field: string; networks: readonly string[] }
  | { kind: "domain"; field: string; domains: readonly string[] }
  | { kind: "value"; field: string; values: readonly string[] };

export class ConditionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConditionError";
  }
}

/** The text a value compares as: strings as they are, numbers and booleans (and the rest) as JSON. */
export function textOf(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

const URL_HOST = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/;

/** The host name a domain test looks at: the URL's host for URL fields, else the value itself. */
export function hostOf(field: string, value: unknown): string | undefined {
  if (typeof value !== "string") return undefined;
  if (EVENT_FIELDS[field]?.type !== "URL") return value;
  const m = URL_HOST.exec(value);
  return m?.[1] || undefined;
}

function wildcardRegex(pattern: string): RegExp {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`, "s");
}

function describeValue(value: unknown): string {
  const text = textOf(value);
  return text.length > 80 ? `${JSON.stringify(text.slice(0, 77))}…` : JSON.stringify(text);
}

/** Compiles a condition; `where` names it in errors (e.g. "match.all[2]"). */
export function compileCondition(spec: ConditionSpec, where: string): CompiledCondition {
  const field = spec.field;
  const negated = spec.not === true;
  const wrap = (test: (event: Message) => string | undefined, index?: IndexKey): CompiledCondition => {
    if (!negated) return { spec, ...(index ? { index } : {}), test };
    return {
      spec,
      test: (event) => (test(event) === undefined ? describe(spec) : undefined),
    };
  };
  const value = (event: Message) => (field === undefined ? undefined : event.get(field));

  if (spec.classification) {
    const c = spec.classification;
    const parts: Array<[string, string]> = [];
    if (c.taxonomy !== undefined) parts.push(["classification.taxonomy", c.taxonomy]);
    if (c.type !== undefined) parts.push(["classification.type", c.type]);
    if (c.identifier !== undefined) parts.push(["classification.identifier", c.identifier]);
    const [key, wanted] = (parts.find(([k]) => k === "classification.type") ??
      parts.find(([k]) => k === "classification.identifier") ??
      parts[0]) as [string, string];
    return wrap(
      (event) =>
        parts.every(([k, v]) => event.get(k) === v)
          ? `classification ${parts.map(([k, v]) => `${k.slice(15)}=${v}`).join(", ")}`
          : undefined,
      { kind: "value", field: key, values: [wanted] },
    );
  }
  if (field === undefined) throw new ConditionError(`${where}: the condition names no field`);
  if (spec.equals !== undefined) {
    const wanted = spec.equals;
    return wrap(
      (event) => {
        const v = value(event);
        return v !== undefined && textOf(v) === wanted
          ? `${field} equals ${describeValue(wanted)}`
          : undefined;
      },
      { kind: "value", field, values: [wanted] },
    );
  }
  if (spec.oneOf !== undefined) {
    const set = new Set(spec.oneOf);
    return wrap(
      (event) => {
        const v = value(event);
        return v !== undefined && set.has(textOf(v))
          ? `${field} ${describeValue(v)} is one of the listed values`
          : undefined;
      },
      { kind: "value", field, values: spec.oneOf },
    );
  }
  if (spec.cidr !== undefined) {
    const trie = new IpPrefixTrie<string>();
    for (const network of spec.cidr) {
      if (!trie.insert(network, network))
        throw new ConditionError(`${where}: cidr: not an IP address or network: ${network}`);
    }
    return wrap(
      (event) => {
        const v = value(event);
        if (typeof v !== "string") return undefined;
        let hit: string | undefined;
        trie.lookup(v, (network) => {
          hit ??= network;
        });
        return hit === undefined ? undefined : `${field} ${v} is in ${hit}`;
      },
      { kind: "cidr", field, networks: spec.cidr },
    );
  }
  if (spec.domainSuffix !== undefined) {
    const trie = new DomainTrie<string>();
    for (const domain of spec.domainSuffix) trie.insert(domain, domain);
    return wrap(
      (event) => {
        const host = hostOf(field, value(event));
        if (host === undefined) return undefined;
        let hit: string | undefined;
        trie.lookup(host, (domain) => {
          hit ??= domain;
        });
        return hit === undefined ? undefined : `${field} host ${host} is ${hit} or below it`;
      },
      { kind: "domain", field, domains: spec.domainSuffix },
    );
  }
  if (spec.wildcard !== undefined) {
    const patterns = spec.wildcard.map((p) => ({ p, re: wildcardRegex(p) }));
    return wrap((event) => {
      const v = value(event);
      if (v === undefined) return undefined;
      const text = textOf(v);
      const hit = patterns.find(({ re }) => re.test(text));
      return hit ? `${field} ${describeValue(text)} matches ${hit.p}` : undefined;
    });
  }
  if (spec.regex !== undefined) {
    let re: RegExp;
    try {
      re = new RegExp(spec.regex);
    } catch (error) {
      throw new ConditionError(`${where}: regex: ${(error as Error).message}`);
    }
    return wrap((event) => {
      const v = value(event);
      return v !== undefined && re.test(textOf(v))
        ? `${field} ${describeValue(v)} matches /${spec.regex}/`
        : undefined;
    });
  }
  if (spec.exists !== undefined) {
    const wanted = spec.exists;
    return wrap((event) =>
      event.has(field) === wanted ? (wanted ? `${field} is set` : `${field} is not set`) : undefined,
    );
  }
  if (spec.numeric !== undefined) {
    const { gt, gte, lt, lte } = spec.numeric;
    return wrap((event) => {
      const v = value(event);
      if (typeof v !== "number") return undefined;
      const ok =
        (gt === undefined || v > gt) &&
        (gte === undefined || v >= gte) &&
        (lt === undefined || v < lt) &&
        (lte === undefined || v <= lte);
      return ok ? `${field} ${v} is ${describe(spec).slice(field.length + 1)}` : undefined;
    });
  }
  throw new ConditionError(`${where}: the condition has no test`);
}

/** A condition in words, e.g. `source.ip in 192.0.2.0/24, 198.51.100.0/24`. */
export function describe(spec: ConditionSpec): string {
  const f = spec.field ?? "";
  const list = (items: readonly string[]) =>
    items.length > 3 ? `${items.slice(0, 3).join(", ")} (and ${items.length - 3} more)` : items.join(", ");
  let text: string;
  if (spec.classification) {
    const c = spec.classification;
    text = `classification ${[c.taxonomy && `taxonomy=${c.taxonomy}`, c.type && `type=${c.type}`, c.identifier && `identifier=${c.identifier}`].filter(Boolean).join(", ")}`;
  } else if (spec.equals !== undefined) text = `${f} equals ${JSON.stringify(spec.equals)}`;
  else if (spec.oneOf) text = `${f} one of ${list(spec.oneOf)}`;
  else if (spec.cidr) text = `${f} in ${list(spec.cidr)}`;
  else if (spec.domainSuffix) text = `${f} at or below ${list(spec.domainSuffix)}`;
  else if (spec.wildcard) text = `${f} like ${list(spec.wildcard)}`;
  else if (spec.regex !== undefined) text = `${f} matches /${spec.regex}/`;
  else if (spec.exists !== undefined) text = `${f} ${spec.exists ? "is set" : "is not set"}`;
  else if (spec.numeric) {
    const n = spec.numeric;
    text = `${f} ${[n.gt !== undefined && `> ${n.gt}`, n.gte !== undefined && `>= ${n.gte}`, n.lt !== undefined && `< ${n.lt}`, n.lte !== undefined && `<= ${n.lte}`].filter(Boolean).join(" and ")}`;
  } else text = f;
  return spec.not ? `not (${text})` : text;
}
