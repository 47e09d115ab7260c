// Work queue keys: one per Pipeline and per Bot.
import type { Kind } from "./kube.ts";

export function botKey(namespace: string, name: string): string {
  return `Bot/${namespace}/${name}`;
}

export function pipelineKey(namespace: string, name: string): string {
  return `Pipeline/${namespace}/${name}`;
}

export function parseKey(key: string): { kind: Kind; namespace: string; name: string } {
  const [kind, namespace, name] = key.split("/") as [string, string, string];
  if ((kind !== "Bot" && kind !== "Pipeline") || !namespace || !name) throw new Error(`bad key ${key}`);
  return { kind, namespace, name };
}
