// The pod of a process group: the shared bot-runtime image running the rendered config, probes on the
// metrics port, a restricted security context (non-root, read-only root filesystem, no privileges, all
// capabilities dropped, RuntimeDefault seccomp), an emptyDir for /tmp, Secrets as environment variables
// (parametersFrom) and as a file (NATS credentials).
import type { V1Container, V1EnvVar, V1PodSpec, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import type { ProcessGroup, RuntimeConfig } from "../../../bot-runtime/src/config/render.ts";
import type { PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import {
  BOT_COMMAND,
  CONFIG_DIR,
  CONFIG_FILE,
  METRICS_PORT,
  METRICS_PORT_NAME,
  NATS_CREDENTIALS_DIR,
  NATS_CREDENTIALS_FILE,
  RUN_AS_USER,
  WORKDIR,
} from "./constants.ts";
import { groupResources } from "./quantity.ts";

export interface PodInput {
  group: ProcessGroup;
  pipeline: PipelineResource;
  /** The rendered configs of the group's bots (for the environment variables of parametersFrom). */
  configs: readonly RuntimeConfig[];
  image: string;
  /** Name of the ConfigMap holding the config. */
  configMap: string;
}

/** parametersFrom: each parameter's Secret key as the environment variable the rendered config names. */
function secretEnv(group: ProcessGroup, configs: readonly RuntimeConfig[]): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  for (const bot of group.bots) {
    const names = configs.find((c) => c.bot === bot.metadata.name)?.parametersFromEnv ?? {};
    for (const from of bot.spec.parametersFrom) {
      const name = names[from.parameter];
      if (name === undefined) continue;
      env.push({
        name,
        valueFrom: { secretKeyRef: { name: from.secretKeyRef.name, key: from.secretKeyRef.key } },
      });
    }
  }
  return env;
}

function volumes(input: PodInput): { volumes: V1Volume[]; mounts: V1VolumeMount[] } {
  const list: V1Volume[] = [
    {
      name: "config",
      configMap: { name: input.configMap, items: [{ key: CONFIG_FILE, path: CONFIG_FILE }] },
    },
    { name: "tmp", emptyDir: {} },
  ];
  const mounts: V1VolumeMount[] = [
    { name: "config", mountPath: CONFIG_DIR, readOnly: true },
    { name: "tmp", mountPath: "/tmp" },
  ];
  const creds = input.pipeline.spec.nats.credentialsSecret;
  if (creds) {
    list.push({
      name: "nats-credentials",
      secret: {
        secretName: creds.name,
        items: [{ key: creds.key, path: NATS_CREDENTIALS_FILE }],
        defaultMode: 0o440,
      },
    });
    mounts.push({ name: "nats-credentials", mountPath: NATS_CREDENTIALS_DIR, readOnly: true });
  }
  return { volumes: list, mounts };
}

function container(input: PodInput, mounts: V1VolumeMount[]): V1Container {
  const { group, pipeline } = input;
  const defaults = pipeline.spec.defaults;
  const resources = groupResources(
    defaults.resources,
    group.bots.map((b) => b.spec.resources),
  );
  const env = secretEnv(group, input.configs);
  const listen = group.bots.flatMap((b) => b.spec.ports);
  return {
    name: "bot",
    image: input.image,
    ...(defaults.imagePullPolicy ? { imagePullPolicy: defaults.imagePullPolicy } : {}),
    command: [...BOT_COMMAND],
    workingDir: WORKDIR,
    ports: [
      { name: METRICS_PORT_NAME, containerPort: METRICS_PORT, protocol: "TCP" },
      ...listen.map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol })),
    ],
    ...(env.length > 0 ? { env } : {}),
    ...(resources ? { resources } : {}),
    livenessProbe: {
      httpGet: { path: "/healthz", port: METRICS_PORT_NAME },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 6,
    },
    readinessProbe: {
      httpGet: { path: "/readyz", port: METRICS_PORT_NAME },
      periodSeconds: 5,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    volumeMounts: mounts,
  };
}

/** The pod spec of a process group. */
export function podSpec(input: PodInput): V1PodSpec {
  const { volumes: list, mounts } = volumes(input);
  const pullSecrets = input.pipeline.spec.defaults.imagePullSecrets;
  return {
    // Bots never talk to the Kubernetes API, and Service variables would only crowd their environment.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // The runtime drains in-flight messages within 25 s of SIGTERM (PETREL_STOP_GRACE_MS).
    terminationGracePeriodSeconds: 30,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      fsGroup: RUN_AS_USER,
      seccompProfile: { type: "RuntimeDefault" },
    },
    ...(pullSecrets && pullSecrets.length > 0
      ? { imagePullSecrets: pullSecrets.map((s) => ({ name: s.name })) }
      : {}),
    containers: [container(input, mounts)],
    volumes: list,
  };
}
