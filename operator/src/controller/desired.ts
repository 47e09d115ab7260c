// The desired children of one process group (a bot alone, or the bots sharing `spec.process`): its
// rendered config in a ConfigMap, a Deployment running it, and a Service when its bots listen on ports.
// Pure functions of the Pipeline and the group's Bots; the reconciler applies the result.
import { createHash } from "node:crypto";
import type { V1ConfigMap, V1Deployment, V1OwnerReference, V1Service } from "@kubernetes/client-node";
import {
  type ProcessGroup,
  type RuntimeConfig,
  renderProcessConfig,
} from "../../../bot-runtime/src/config/render.ts";
import type { BotResource, PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import {
  API_VERSION,
  CONFIG_FILE,
  CONFIG_HASH_ANNOTATION,
  METRICS_PORT,
  NATS_CREDENTIALS_DIR,
  NATS_CREDENTIALS_FILE,
} from "./constants.ts";
import { childLabels, childName, selectorLabels, selectorString, serviceName } from "./names.ts";
import { podSpec } from "./pod-spec.ts";

export interface DesiredInput {
  namespace: string;
  pipeline: PipelineResource;
  group: ProcessGroup;
  /** The uid of each bot of the group, by name (for owner references). */
  uids: ReadonlyMap<string, string>;
  hasInput(bot: BotResource): boolean;
  /** The image of bots that name none, nor their pipeline's defaults (flag --bot-image). */
  defaultImage: string | undefined;
}

export interface DesiredGroup {
  /** Name of the ConfigMap and the Deployment. */
  name: string;
  serviceName: string;
  /** The pods' label selector in string form (Bot status.selector). */
  selector: string;
  /** SHA-256 of the rendered config; the Deployment's pod template carries it. */
  configHash: string;
  replicas: number;
  configMap: V1ConfigMap;
  deployment: V1Deployment;
  /** Only when a bot of the group listens on ports. */
  service: V1Service | undefined;
}

/** The image of a group: its bots' (they agree), else the pipeline's default, else the operator's. */
export function groupImage(group: ProcessGroup, pipeline: PipelineResource, defaultImage?: string) {
  return group.bots[0]?.spec.image ?? pipeline.spec.defaults.image ?? defaultImage;
}

/** Owner references to each bot of the group; the first is the controller. */
export function ownerReferences(group: ProcessGroup, uids: ReadonlyMap<string, string>): V1OwnerReference[] {
  return group.bots.map((bot, i) => ({
    apiVersion: API_VERSION,
    kind: "Bot",
    name: bot.metadata.name,
    uid: uids.get(bot.metadata.name) ?? "",
    ...(i === 0 ? { controller: true } : {}),
    blockOwnerDeletion: true,
  }));
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The ConfigMap, Deployment and (for listeners) Service of a process group. */
export function desiredGroup(input: DesiredInput): DesiredGroup {
  const { namespace, pipeline, group } = input;
  const p = pipeline.metadata.name;
  const first = group.bots[0] as BotResource;
  const image = groupImage(group, pipeline, input.defaultImage);
  if (image === undefined) throw new Error(`process ${group.name}: no image (set --bot-image or an image)`);
  const credentials = pipeline.spec.nats.credentialsSecret;
  const rendered = renderProcessConfig(group, pipeline, {
    metricsPort: METRICS_PORT,
    hasInput: input.hasInput,
    parametersFromEnv: true,
    ...(credentials ? { credentialsFile: `${NATS_CREDENTIALS_DIR}/${NATS_CREDENTIALS_FILE}` } : {}),
  });
  const configs: RuntimeConfig[] = "bots" in rendered ? rendered.bots : [rendered];
  const configText = `${JSON.stringify(rendered, null, 2)}\n`;
  const configHash = sha256(configText);
  const name = childName(p, group.name);
  const labels = childLabels(p, group.name);
  const metadata = (objectName: string) => ({
    name: objectName,
    namespace,
    labels,
    ownerReferences: ownerReferences(group, input.uids),
  });
  const replicas = first.spec.enabled ? first.spec.replicas : 0;
  const ports = group.bots.flatMap((b) => b.spec.ports);
  const svcName = serviceName(p, group.name);
  return {
    name,
    serviceName: svcName,
    selector: selectorString(selectorLabels(p, group.name)),
    configHash,
    replicas,
    configMap: {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: metadata(name),
      data: { [CONFIG_FILE]: configText },
    },
    deployment: {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: metadata(name),
      spec: {
        replicas,
        revisionHistoryLimit: 3,
        selector: { matchLabels: selectorLabels(p, group.name) },
        template: {
          metadata: {
            labels,
            annotations: {
              [CONFIG_HASH_ANNOTATION]: configHash,
              "prometheus.io/scrape": "true",
              "prometheus.io/port": String(METRICS_PORT),
              "prometheus.io/path": "/metrics",
            },
          },
          spec: podSpec({ group, pipeline, configs, image, configMap: name }),
        },
      },
    },
    service:
      ports.length === 0
        ? undefined
        : {
            apiVersion: "v1",
            kind: "Service",
            metadata: metadata(svcName),
            spec: {
              type: "ClusterIP",
              selector: selectorLabels(p, group.name),
              ports: ports.map((port) => ({
                name: port.name,
                port: port.port,
                targetPort: port.name,
                protocol: port.protocol,
              })),
            },
          },
  };
}
