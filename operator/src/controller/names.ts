// Names and labels of a process group's children: `<pipeline>-<process>`, a DNS label of at most 63
// characters (longer ones keep a readable prefix and end in a hash of the full name).
import { createHash } from "node:crypto";
import { FIELD_MANAGER, LABELS } from "./constants.ts";

const MAX_NAME = 63;
const HASH_CHARS = 10;

function shorten(name: string): string {
  if (name.length <= MAX_NAME) return name;
  const hash = createHash("sha256").update(name).digest("hex").slice(0, HASH_CHARS);
  const prefix = name.slice(0, MAX_NAME - HASH_CHARS - 1).replace(/-+$/, "");
  return `${prefix}-${hash}`;
}

/** Name of the ConfigMap and Deployment of a process group. */
export function childName(pipeline: string, process: string): string {
  return shorten(`${pipeline}-${process}`);
}

/** Name of the Service of a process group: the child name, made to start with a letter as Services need. */
export function serviceName(pipeline: string, process: string): string {
  const name = childName(pipeline, process);
  return /^[a-z]/.test(name) ? name : shorten(`svc-${name}`);
}

/** Labels that select a process group's pods (the Deployment's immutable selector). */
export function selectorLabels(pipeline: string, process: string): Record<string, string> {
  return { [LABELS.pipeline]: pipeline, [LABELS.process]: process };
}

/** Labels of every child and pod: the operator's own, never copied from the Bot or Pipeline. */
export function childLabels(pipeline: string, process: string): Record<string, string> {
  return {
    [LABELS.name]: "petrel-bot",
    [LABELS.component]: "bot",
    [LABELS.partOf]: "petrel",
    [LABELS.managedBy]: FIELD_MANAGER,
    ...selectorLabels(pipeline, process),
  };
}

/** A label selector in string form (`a=b,c=d`), as the scale subresource and autoscalers read it. */
export function selectorString(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
