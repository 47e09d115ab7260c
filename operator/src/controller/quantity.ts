// Compute resources of a process group: each bot's quantities over its pipeline's defaults, quantity by
// quantity; bots sharing a process share one container, which gets the largest value of each quantity.
import type { BotSpecT, PipelineSpecT } from "../../../bot-runtime/src/config/resources.ts";

type Requirements = NonNullable<BotSpecT["resources"]>;
type Quantity = string | number;
export interface ContainerResources {
  requests?: Record<string, string>;
  limits?: Record<string, string>;
}

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The value of a Kubernetes quantity (500m → 0.5, 1Gi → 1073741824, 1e3 → 1000), for comparing two. */
export function quantityValue(quantity: Quantity): number {
  if (typeof quantity === "number") return quantity;
  const m = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[numkMGTPE])?$/.exec(quantity);
  if (!m) throw new Error(`not a quantity: ${JSON.stringify(quantity)}`);
  const number = Number(m[1]);
  const suffix = m[2] ?? "";
  if (/^[eE]/.test(suffix)) return number * 10 ** Number(suffix.slice(1));
  return number * (SUFFIX[suffix] as number);
}

function larger(a: Quantity | undefined, b: Quantity | undefined): Quantity | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return quantityValue(b) > quantityValue(a) ? b : a;
}

type List = Record<string, Quantity | undefined>;

function combine(lists: List[]): Record<string, string> | undefined {
  const out: Record<string, Quantity | undefined> = {};
  for (const list of lists) {
    for (const [name, value] of Object.entries(list)) out[name] = larger(out[name], value);
  }
  const entries = Object.entries(out).filter(([, v]) => v !== undefined);
  return entries.length > 0 ? Object.fromEntries(entries.map(([k, v]) => [k, String(v)])) : undefined;
}

/** The container resources of a group of bots: per bot, its own quantities over the defaults; then the largest. */
export function groupResources(
  defaults: PipelineSpecT["defaults"]["resources"],
  bots: ReadonlyArray<Requirements | undefined>,
): ContainerResources | undefined {
  const effective = bots.map((own) => ({
    requests: { ...defaults?.requests, ...own?.requests } as List,
    limits: { ...defaults?.limits, ...own?.limits } as List,
  }));
  const requests = combine(effective.map((e) => e.requests));
  const limits = combine(effective.map((e) => e.limits));
  if (!requests && !limits) return undefined;
  return { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) };
}
