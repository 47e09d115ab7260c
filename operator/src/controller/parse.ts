// Pipelines, Bots and Exclusions as the API server returns them, read with the same zod schemas as local mode: the
// schema's output (defaults applied) next to the raw object, whose metadata (uid, generation, deletion,
// finalizers) the schema does not keep.
import {
  Bot,
  type BotResource,
  type ConditionT,
  Exclusion,
  type ExclusionResource,
  Pipeline,
  type PipelineResource,
} from "../../../bot-runtime/src/config/resources.ts";
import { formatPath } from "./validate.ts";

/** The parts of an object's metadata the operator reads. */
export interface RawMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  deletionTimestamp?: unknown;
  finalizers?: string[];
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion: string; kind: string; name: string; uid: string }>;
}

export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: RawMeta;
  spec?: Record<string, unknown>;
  status?: { conditions?: ConditionT[]; observedGeneration?: number } & Record<string, unknown>;
}

export type Parsed<T> =
  | { raw: RawObject; ok: true; resource: T }
  | { raw: RawObject; ok: false; error: string };

function parseWith<T>(
  schema: {
    safeParse(
      v: unknown,
    ):
      | { success: true; data: T }
      | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string }> } };
  },
  raw: RawObject,
): Parsed<T> {
  const { status: _status, ...rest } = raw;
  const result = schema.safeParse(rest);
  if (result.success) return { raw, ok: true, resource: result.data };
  return {
    raw,
    ok: false,
    error: result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join("; "),
  };
}

// The informers replace an object when it changes, so a parse is kept for as long as its object lives:
// a pipeline's bots are read by every reconcile of one of them.
const bots = new WeakMap<RawObject, Parsed<BotResource>>();
const pipelines = new WeakMap<RawObject, Parsed<PipelineResource>>();
const exclusions = new WeakMap<RawObject, Parsed<ExclusionResource>>();

function memo<T>(cache: WeakMap<RawObject, Parsed<T>>, parse: (raw: RawObject) => Parsed<T>, raw: RawObject) {
  let parsed = cache.get(raw);
  if (!parsed) {
    parsed = parse(raw);
    cache.set(raw, parsed);
  }
  return parsed;
}

export const parseBot = (raw: RawObject): Parsed<BotResource> => memo(bots, (r) => parseWith(Bot, r), raw);
export const parsePipeline = (raw: RawObject): Parsed<PipelineResource> =>
  memo(pipelines, (r) => parseWith(Pipeline, r), raw);

export const parseExclusion = (raw: RawObject): Parsed<ExclusionResource> =>
  memo(exclusions, (r) => parseWith(Exclusion, r), raw);

export function isDeleting(raw: RawObject): boolean {
  return raw.metadata?.deletionTimestamp !== undefined && raw.metadata?.deletionTimestamp !== null;
}

export function hasFinalizer(raw: RawObject, finalizer: string): boolean {
  return raw.metadata?.finalizers?.includes(finalizer) === true;
}

export function generationOf(raw: RawObject): number {
  return raw.metadata?.generation ?? 0;
}
