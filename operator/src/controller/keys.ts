// Work queue keys: one per Pipeline, per Bot and per Exclusion.
import type { Kind } from "./kube.ts";

export function botKey(namespace: string, name: string): string {
  return `Bot/${namespace}/${name}`;
}

export function pipelineKey(namespace: string, name: string): string {
  return `Pipeline/${namespace}/${name}`;
}

export function exclusionKey(namespace: string, name: string): string {
  return `Exclusion/${namespace}/${name}`;
}

const KINDS: readonly string[] = ["Pipeline", "Bot", "Exclusion"];

export function parseKey(key: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, name] = key.split("/") as [string, string, string];
  if (!KINDS.includes(kind) || !namespace || !name) throw new Error(`bad key ${key}`);
  return { kind: kind as Kind, namespace, name };
}
