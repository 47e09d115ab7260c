import { describe, expect, it } from "vitest";
import { processGroups } from "../../../bot-runtime/src/config/render.ts";
import { Bot, type BotResource, Pipeline } from "../../../bot-runtime/src/config/resources.ts";
import { type DesiredInput, desiredGroup, groupImage, sha256 } from "./desired.ts";
import { childName, serviceName } from "./names.ts";
import { groupResources, quantityValue } from "./quantity.ts";

function pipeline(spec: Record<string, unknown> = {}) {
  return Pipeline.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Pipeline",
    metadata: { name: "feeds" },
    spec,
  });
}

function bot(name: string, spec: Record<string, unknown>): BotResource {
  return Bot.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Bot",
    metadata: { name },
    spec: { pipeline: "feeds", module: "experts.taxonomy", ...spec },
  });
}

function input(
  bots: BotResource[],
  p = pipeline(),
  defaultImage: string | undefined = "op/image:1",
): DesiredInput {
  const [group] = processGroups(bots).groups;
  return {
    namespace: "cert",
    pipeline: p,
    group: group as DesiredInput["group"],
    uids: new Map(bots.map((b) => [b.metadata.name, `uid-${b.metadata.name}`])),
    hasInput: (b) => b.spec.module !== "collectors.file",
    defaultImage,
  };
}

describe("child names", () => {
  it("are <pipeline>-<process>, hash-shortened to a DNS label of at most 63 characters", () => {
    expect(childName("feeds", "dedup")).toBe("feeds-dedup");
    const long = childName("a".repeat(40), "b".repeat(40));
    expect(long).toHaveLength(63);
    expect(long).toMatch(/^a{40}-b{11}-[0-9a-f]{10}$/);
    expect(childName("a".repeat(40), "c".repeat(40))).not.toBe(long);
    // Services need a leading letter.
    expect(serviceName("7feeds", "syslog")).toBe("svc-7feeds-syslog");
    expect(serviceName("feeds", "syslog")).toBe("feeds-syslog");
  });
});

describe("desiredGroup", () => {
  it("renders the ConfigMap and a Deployment running it, owned by the bot", () => {
    const desired = desiredGroup(input([bot("tax", { destinations: { _default: ["out"] } })]));
    expect(desired.name).toBe("feeds-tax");
    const text = desired.configMap.data?.["config.json"] as string;
    const config = JSON.parse(text);
    expect(config).toMatchObject({
      bot: "tax",
      pipeline: "feeds",
      metricsPort: 9090,
      nats: { servers: ["nats://nats:4222"] },
      input: { subject: "petrel.feeds.bot.tax" },
    });
    expect(desired.configHash).toBe(sha256(text));
    const d = desired.deployment;
    expect(d.metadata?.ownerReferences).toEqual([
      {
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Bot",
        name: "tax",
        uid: "uid-tax",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(d.spec?.replicas).toBe(1);
    expect(d.spec?.selector.matchLabels).toEqual({
      "petrel.dev/pipeline": "feeds",
      "petrel.dev/process": "tax",
    });
    expect(d.spec?.template.metadata?.annotations).toEqual({
      "petrel.dev/config-sha256": desired.configHash,
      "prometheus.io/scrape": "true",
      "prometheus.io/port": "9090",
      "prometheus.io/path": "/metrics",
    });
    const pod = d.spec?.template.spec;
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.containers[0]?.image).toBe("op/image:1");
    expect(pod?.containers[0]?.env).toBeUndefined();
    expect(desired.service).toBeUndefined();
    expect(desired.selector).toBe("petrel.dev/pipeline=feeds,petrel.dev/process=tax");
  });

  it("runs no replicas while the bot is disabled", () => {
    const desired = desiredGroup(input([bot("tax", { enabled: false, replicas: 4 })]));
    expect(desired.deployment.spec?.replicas).toBe(0);
    expect(desiredGroup(input([bot("tax", { replicas: 4 })])).deployment.spec?.replicas).toBe(4);
  });

  it("takes the bot's image, else the pipeline's default, else the operator's", () => {
    const withDefault = pipeline({
      defaults: { image: "pipe/image:2", imagePullPolicy: "Always", imagePullSecrets: [{ name: "regcred" }] },
    });
    const image = (bots: BotResource[], p = pipeline(), op?: string) =>
      desiredGroup(input(bots, p, op)).deployment.spec?.template.spec?.containers[0]?.image;
    expect(image([bot("tax", { image: "bot/image:3" })], withDefault)).toBe("bot/image:3");
    expect(image([bot("tax", {})], withDefault)).toBe("pipe/image:2");
    expect(image([bot("tax", {})], pipeline(), "op/image:1")).toBe("op/image:1");
    const [group] = processGroups([bot("tax", {})]).groups;
    expect(group && groupImage(group, pipeline(), undefined)).toBeUndefined();
    const pod = desiredGroup(input([bot("tax", {})], withDefault)).deployment.spec?.template.spec;
    expect(pod?.imagePullSecrets).toEqual([{ name: "regcred" }]);
    expect(pod?.containers[0]?.imagePullPolicy).toBe("Always");
  });

  it("puts parameters from Secrets into environment variables the config names", () => {
    const desired = desiredGroup(
      input([
        bot("out", {
          module: "outputs.file",
          parametersFrom: [{ parameter: "file", secretKeyRef: { name: "out-settings", key: "path" } }],
        }),
      ]),
    );
    const config = JSON.parse(desired.configMap.data?.["config.json"] as string);
    expect(config.parametersFromEnv).toEqual({ file: "PETREL_PARAM_OUT_FILE" });
    expect(config.parameters).toEqual({});
    expect(desired.deployment.spec?.template.spec?.containers[0]?.env).toEqual([
      { name: "PETREL_PARAM_OUT_FILE", valueFrom: { secretKeyRef: { name: "out-settings", key: "path" } } },
    ]);
  });

  it("mounts the NATS credentials Secret read-only and points the config at it", () => {
    const p = pipeline({
      nats: { url: "nats://a:4222", credentialsSecret: { name: "nats-creds", key: "bot.creds" } },
    });
    const desired = desiredGroup(input([bot("tax", {})], p));
    const pod = desired.deployment.spec?.template.spec;
    expect(pod?.volumes).toContainEqual({
      name: "nats-credentials",
      secret: {
        secretName: "nats-creds",
        items: [{ key: "bot.creds", path: "nats.creds" }],
        defaultMode: 0o440,
      },
    });
    expect(pod?.containers[0]?.volumeMounts).toContainEqual({
      name: "nats-credentials",
      mountPath: "/etc/petrel-nats",
      readOnly: true,
    });
    expect(JSON.parse(desired.configMap.data?.["config.json"] as string).nats).toEqual({
      servers: ["nats://a:4222"],
      credentialsFile: "/etc/petrel-nats/nats.creds",
    });
  });

  it("puts a Service in front of listening bots and opens their ports on the pod", () => {
    const desired = desiredGroup(
      input([
        bot("syslog", { module: "collectors.file", ports: [{ name: "syslog", port: 514, protocol: "UDP" }] }),
      ]),
    );
    expect(desired.service?.spec).toEqual({
      type: "ClusterIP",
      selector: { "petrel.dev/pipeline": "feeds", "petrel.dev/process": "syslog" },
      ports: [{ name: "syslog", port: 514, targetPort: "syslog", protocol: "UDP" }],
    });
    expect(desired.deployment.spec?.template.spec?.containers[0]?.ports).toEqual([
      { name: "metrics", containerPort: 9090, protocol: "TCP" },
      { name: "syslog", containerPort: 514, protocol: "UDP" },
    ]);
    expect(JSON.parse(desired.configMap.data?.["config.json"] as string).input).toBeUndefined();
  });

  it("runs the bots sharing a process in one Deployment, owned by all of them, the first as controller", () => {
    const p = pipeline({
      defaults: { resources: { requests: { cpu: "100m", memory: "64Mi" }, limits: { memory: "1Gi" } } },
    });
    const desired = desiredGroup(
      input(
        [
          bot("tax", { process: "enrich", resources: { requests: { cpu: "0.5" } } }),
          bot("dedup", {
            module: "experts.deduplicator",
            process: "enrich",
            destinations: { _default: ["tax"] },
            resources: { requests: { memory: "256Mi" }, limits: { memory: "512Mi" } },
          }),
        ],
        p,
      ),
    );
    expect(desired.name).toBe("feeds-enrich");
    expect(desired.deployment.metadata?.ownerReferences?.map((r) => [r.name, r.controller])).toEqual([
      ["dedup", true],
      ["tax", undefined],
    ]);
    const config = JSON.parse(desired.configMap.data?.["config.json"] as string);
    expect(config.bots.map((b: { bot: string }) => b.bot)).toEqual(["dedup", "tax"]);
    // Each quantity: the largest of the bots' own over the defaults.
    expect(desired.deployment.spec?.template.spec?.containers[0]?.resources).toEqual({
      requests: { cpu: "0.5", memory: "256Mi" },
      limits: { memory: "1Gi" },
    });
  });
});

describe("quantities", () => {
  it("compares Kubernetes quantities by value", () => {
    expect(quantityValue("500m")).toBe(0.5);
    expect(quantityValue("1Gi")).toBe(2 ** 30);
    expect(quantityValue("1G")).toBe(1e9);
    expect(quantityValue("1e3")).toBe(1000);
    expect(quantityValue(".5")).toBe(0.5);
    expect(quantityValue(2)).toBe(2);
    expect(() => quantityValue("lots")).toThrow("not a quantity");
    expect(groupResources(undefined, [undefined])).toBeUndefined();
    expect(groupResources({ limits: { cpu: 1 } }, [{ limits: { cpu: "1500m" } }, undefined])).toEqual({
      limits: { cpu: "1500m" },
    });
  });
});
