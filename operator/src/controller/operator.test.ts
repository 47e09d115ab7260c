// The operator against a real kube-apiserver and a real nats-server: a pipeline like the demo becomes
// ConfigMaps, Deployments and a Service owned by its Bots, streams and consumers; spec changes, invalid
// parameters, stop/scale, readiness, deletion and an operator restart behave as documented.
import { createHash } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectNats } from "../../../bot-runtime/src/runtime/jetstream.ts";
import type { Operator } from "./operator.ts";
import {
  condition,
  type KubeJson,
  markReady,
  startEnv,
  type TestEnv,
  waitFor,
} from "./test-support/harness.ts";

const YAML = `
apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata:
  name: demo
spec:
  nats: {url: "nats://nats.petrel:4222"}
  stream: {storage: file, maxAge: 1d, maxBytes: 256Mi}
  deadLetter: {maxAge: 7d, maxBytes: 64Mi}
  defaults:
    errorRetryDelay: 1s
    resources:
      requests: {cpu: 100m, memory: 128Mi}
      limits: {memory: 256Mi}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: feed
  labels: {team: cert, app.kubernetes.io/instance: argo-app}
spec:
  pipeline: demo
  module: collectors.file
  parameters: {path: /data/feeds, postfix: ssh.txt, delete_file: false, name: SSH, provider: Blocklist.de}
  destinations: {_default: [parse]}
  ports: [{name: syslog, port: 5514, protocol: UDP}]
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: parse
spec:
  pipeline: demo
  module: parsers.blocklistde
  destinations: {_default: [dedup]}
  resources:
    limits: {memory: 512Mi, cpu: "1"}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: taxonomy
spec:
  pipeline: demo
  module: experts.taxonomy
  process: enrich
  destinations: {_default: [out]}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: dedup
spec:
  pipeline: demo
  module: experts.deduplicator
  process: enrich
  parameters: {filter_type: blacklist, filter_keys: "raw,time.observation", redis_cache_ttl: 86400}
  destinations: {_default: [taxonomy]}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata:
  name: out
spec:
  pipeline: demo
  module: outputs.file
  parametersFrom:
    - parameter: file
      secretKeyRef: {name: output-settings, key: path}
`;

const DEPLOYMENTS = ["demo-feed", "demo-parse", "demo-enrich", "demo-out"];
const BOTS = ["feed", "parse", "dedup", "taxonomy", "out"];

describe("operator: reconciling Pipelines and Bots", () => {
  let env: TestEnv;
  let operator: Operator;
  let nc: NatsConnection;

  beforeAll(async () => {
    env = await startEnv();
    operator = await env.operator({ metricsPort: 0 });
    nc = await connectNats({ servers: [env.nats.url] });
  });
  afterAll(async () => {
    await nc?.close();
    await env?.stop();
  });

  const deployment = (name: string) => env.get("deployment", name);
  const bot = (name: string) => env.get("bot", name);
  const configOf = async (name: string) => JSON.parse((await env.get("configmap", name)).data["config.json"]);
  /** The Events recorded about a Bot, oldest first: [type, reason, message]. */
  const botEvents = async (name: string): Promise<string[][]> => {
    const list = JSON.parse(
      await env.kubectl([
        "get",
        "events",
        "-n",
        env.namespace,
        "--field-selector",
        `involvedObject.kind=Bot,involvedObject.name=${name}`,
        "-o",
        "json",
      ]),
    ) as {
      items: Array<{
        type: string;
        reason: string;
        message: string;
        metadata: { creationTimestamp: string };
      }>;
    };
    return list.items.map((e) => [e.type, e.reason, e.message]);
  };

  it("creates a ConfigMap and a Deployment per process and a Service for listeners, owned by the bots", async () => {
    await env.apply(YAML);
    await waitFor("the Deployments", async () => {
      for (const name of DEPLOYMENTS) if (!(await env.exists("deployment", name))) return false;
      return env.exists("service", "demo-feed");
    });
    const uids = Object.fromEntries(
      await Promise.all(BOTS.map(async (b) => [b, (await bot(b)).metadata.uid] as const)),
    );
    const enrich = await deployment("demo-enrich");
    expect(enrich.metadata.ownerReferences).toEqual([
      {
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Bot",
        name: "dedup",
        uid: uids.dedup,
        controller: true,
        blockOwnerDeletion: true,
      },
      {
        apiVersion: "petrel.dev/v1alpha1",
        kind: "Bot",
        name: "taxonomy",
        uid: uids.taxonomy,
        blockOwnerDeletion: true,
      },
    ]);
    for (const kind of ["deployment", "configmap"]) {
      for (const name of DEPLOYMENTS) {
        const child = await env.get(kind, name);
        expect(
          child.metadata.managedFields.map((f: { manager: string; operation: string }) => [
            f.manager,
            f.operation,
          ]),
        ).toEqual([["petrel-operator", "Apply"]]);
        expect(child.metadata.ownerReferences[0].controller).toBe(true);
      }
    }
    // The operator's labels only: never the Bot's (an Argo CD tracking label would make Argo prune it).
    const feed = await deployment("demo-feed");
    expect(feed.metadata.labels).toEqual({
      "app.kubernetes.io/name": "petrel-bot",
      "app.kubernetes.io/component": "bot",
      "app.kubernetes.io/part-of": "petrel",
      "app.kubernetes.io/managed-by": "petrel-operator",
      "petrel.dev/pipeline": "demo",
      "petrel.dev/process": "feed",
    });
    const service = await env.get("service", "demo-feed");
    expect(service.spec).toMatchObject({
      type: "ClusterIP",
      selector: { "petrel.dev/pipeline": "demo", "petrel.dev/process": "feed" },
      ports: [{ name: "syslog", port: 5514, protocol: "UDP", targetPort: "syslog" }],
    });
    expect(service.metadata.ownerReferences[0]).toMatchObject({ name: "feed", uid: uids.feed });
    expect(await env.exists("service", "demo-parse")).toBe(false);
  });

  it("runs the shared image with the rendered config, probes and a restricted security context", async () => {
    const d = await deployment("demo-enrich");
    const pod = d.spec.template.spec;
    const [container] = pod.containers;
    expect(container).toMatchObject({
      image: "registry.example/petrel:test",
      command: ["node", "bot-runtime/src/runtime/main.ts", "--config", "/etc/petrel/config.json"],
      workingDir: "/app",
      ports: [{ name: "metrics", containerPort: 9090, protocol: "TCP" }],
      livenessProbe: { httpGet: { path: "/healthz", port: "metrics" } },
      readinessProbe: { httpGet: { path: "/readyz", port: "metrics" } },
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      },
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    });
    expect(container.volumeMounts).toEqual([
      { name: "config", mountPath: "/etc/petrel", readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
    ]);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.volumes).toContainEqual({ name: "tmp", emptyDir: {} });
    expect(pod.volumes).toContainEqual(
      expect.objectContaining({
        name: "config",
        configMap: expect.objectContaining({ name: "demo-enrich" }),
      }),
    );
    // The bot's resources over the pipeline's defaults, quantity by quantity.
    const parse = (await deployment("demo-parse")).spec.template.spec.containers[0];
    expect(parse.resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { memory: "512Mi", cpu: "1" },
    });

    const text = (await env.get("configmap", "demo-enrich")).data["config.json"];
    expect(d.spec.template.metadata.annotations["petrel.dev/config-sha256"]).toBe(
      createHash("sha256").update(text).digest("hex"),
    );
    const config = JSON.parse(text);
    expect(config).toMatchObject({ process: "enrich", pipeline: "demo", metricsPort: 9090 });
    expect(config.bots.map((b: { bot: string }) => b.bot)).toEqual(["dedup", "taxonomy"]);
    expect(config.bots[0]).toMatchObject({
      module: "experts.deduplicator",
      nats: { servers: ["nats://nats.petrel:4222"] },
      input: { subject: "petrel.demo.bot.dedup", consumer: "dedup" },
      destinations: { _default: ["petrel.demo.bot.taxonomy"] },
    });
    // A parameter from a Secret: an environment variable the config names, filled from the Secret.
    expect((await configOf("demo-out")).parametersFromEnv).toEqual({ file: "PETREL_PARAM_OUT_FILE" });
    expect((await deployment("demo-out")).spec.template.spec.containers[0].env).toEqual([
      {
        name: "PETREL_PARAM_OUT_FILE",
        valueFrom: { secretKeyRef: { name: "output-settings", key: "path" } },
      },
    ]);
    expect((await configOf("demo-feed")).input).toBeUndefined();
  });

  it("creates the pipeline's streams and a durable consumer for every bot with an input", async () => {
    const jsm = await jetstreamManager(nc);
    const consumers = await waitFor("the consumers", async () => {
      const names: string[] = [];
      for await (const c of jsm.consumers.list("PETREL_DEMO")) names.push(c.name);
      return names.length === 4 ? names.sort() : undefined;
    });
    expect(consumers).toEqual(["dedup", "out", "parse", "taxonomy"]);
    const dlq = await jsm.streams.info("PETREL_DEMO_DLQ");
    expect(dlq.config.subjects).toEqual(["petrel.demo.dlq.>"]);
    const pipeline = await waitFor("the pipeline's status", async () => {
      const p = await env.get("pipeline", "demo");
      return p.status?.bots?.total === 5 ? p : undefined;
    });
    expect(pipeline.metadata.finalizers).toEqual(["petrel.dev/cleanup"]);
    expect(pipeline.status).toMatchObject({
      stream: "PETREL_DEMO",
      deadLetterStream: "PETREL_DEMO_DLQ",
      deadLetters: 0,
    });
    expect(condition(pipeline, "Ready")).toMatchObject({ status: "False", reason: "BotsNotReady" });
    expect(condition(pipeline, "StreamsRetainedOnDelete")).toMatchObject({ status: "True" });
    const parse = await bot("parse");
    expect(parse.metadata.finalizers).toEqual(["petrel.dev/cleanup"]);
    expect(parse.status).toMatchObject({
      module: "parsers.blocklistde",
      state: "Pending",
      selector: "petrel.dev/pipeline=demo,petrel.dev/process=parse",
      backlog: 0,
      observedGeneration: 1,
    });
  });
  const patchBot = (name: string, patch: object) =>
    env.kubectl(["patch", "-n", env.namespace, "bot", name, "--type=merge", "-p", JSON.stringify(patch)]);
  const observed = (name: string) =>
    waitFor(`bot ${name} observed`, async () => {
      const b = await bot(name);
      return b.status?.observedGeneration === b.metadata.generation ? b : undefined;
    });
  const hashOf = (d: KubeJson) => d.spec.template.metadata.annotations["petrel.dev/config-sha256"];

  it("a parameter change rewrites the config and rolls the pods; observedGeneration follows generation", async () => {
    const before = await deployment("demo-enrich");
    const generation = (await bot("dedup")).metadata.generation;
    await patchBot("dedup", { spec: { parameters: { redis_cache_ttl: 3600 } } });
    const after = await waitFor("the new pod template", async () => {
      const d = await deployment("demo-enrich");
      return hashOf(d) !== hashOf(before) ? d : undefined;
    });
    expect((await configOf("demo-enrich")).bots[0].parameters.redis_cache_ttl).toBe(3600);
    expect(after.metadata.generation).toBe(before.metadata.generation + 1);
    const dedup = await observed("dedup");
    expect(dedup.metadata.generation).toBe(generation + 1);
    // Only the process the bot runs in changes.
    for (const other of ["demo-feed", "demo-parse", "demo-out"]) {
      expect((await deployment(other)).metadata.generation).toBe(1);
    }
  });

  it("an invalid parameter makes the bot Degraded with the parameter's path and leaves its Deployment alone", async () => {
    const before = await deployment("demo-enrich");
    await patchBot("dedup", { spec: { parameters: { redis_cache_ttl: "soon" } } });
    try {
      const dedup = await waitFor("Degraded", async () => {
        const b = await bot("dedup");
        return condition(b, "Degraded")?.reason === "InvalidParameters" ? b : undefined;
      });
      expect(condition(dedup, "Degraded")).toMatchObject({
        status: "True",
        message:
          "spec.parameters.redis_cache_ttl: Invalid input: expected number, received string (module experts.deduplicator)",
        observedGeneration: dedup.metadata.generation,
      });
      expect(condition(dedup, "Ready")).toMatchObject({ status: "False", reason: "InvalidParameters" });
      expect(dedup.status.state).toBe("Failed");
      // kubectl describe shows why, once.
      // (The Event is written right after the status: wait for it.)
      const warnings = await waitFor("Warning Event", async () => {
        const found = (await botEvents("dedup")).filter(([type]) => type === "Warning");
        return found.length > 0 ? found : undefined;
      });
      expect(warnings).toEqual([
        [
          "Warning",
          "InvalidParameters",
          "spec.parameters.redis_cache_ttl: Invalid input: expected number, received string (module experts.deduplicator)",
        ],
      ]);
      // Its process partner is held back too: the shared Deployment cannot be rendered.
      const taxonomy = await waitFor("taxonomy held", async () => {
        const b = await bot("taxonomy");
        return condition(b, "Degraded")?.reason === "ProcessGroupInvalid" ? b : undefined;
      });
      expect(condition(taxonomy, "Degraded")?.message).toContain(
        "bot dedup sharing process enrich is invalid",
      );
      const pipeline = await waitFor("pipeline Degraded", async () => {
        const p = await env.get("pipeline", "demo");
        return condition(p, "Degraded")?.status === "True" ? p : undefined;
      });
      expect(condition(pipeline, "Degraded")).toMatchObject({
        reason: "BotsDegraded",
        message: "dedup, taxonomy",
      });
      const after = await deployment("demo-enrich");
      expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
      expect(await configOf("demo-enrich")).toMatchObject({
        bots: [{ parameters: { redis_cache_ttl: 3600 } }, {}],
      });
    } finally {
      // Valid again whatever failed above: the tests after this one build on a valid pipeline.
      await patchBot("dedup", { spec: { parameters: { redis_cache_ttl: 7200 } } });
    }
    await waitFor("recovered", async () => {
      const b = await bot("dedup");
      return (
        condition(b, "Degraded")?.status === "False" && b.status.observedGeneration === b.metadata.generation
      );
    });
    expect((await configOf("demo-enrich")).bots[0].parameters.redis_cache_ttl).toBe(7200);
  });

  it("reports a destination naming no bot, and still applies the bot", async () => {
    await patchBot("taxonomy", { spec: { destinations: { _default: ["out", "archive"] } } });
    const taxonomy = await waitFor("UnknownDestination", async () => {
      const b = await bot("taxonomy");
      return condition(b, "Degraded")?.reason === "UnknownDestination" ? b : undefined;
    });
    expect(condition(taxonomy, "Degraded")?.message).toBe(
      "spec.destinations._default[1]: no Bot named archive in pipeline demo; its messages wait in the queue until it exists",
    );
    await waitFor("the destination in the config", async () =>
      (await configOf("demo-enrich")).bots[1].destinations._default.includes("petrel.demo.bot.archive"),
    );
    await patchBot("taxonomy", { spec: { destinations: { _default: ["out"] } } });
    await waitFor("no problem", async () => condition(await bot("taxonomy"), "Degraded")?.status === "False");
  });

  it("a bot leaving a shared process gets its own Deployment; the process it left is rendered without it", async () => {
    await patchBot("taxonomy", { spec: { process: null } });
    await waitFor("its own Deployment", () => env.exists("deployment", "demo-taxonomy"));
    const enrich = await waitFor("the shared one re-rendered", async () => {
      const d = await deployment("demo-enrich");
      return d.metadata.ownerReferences.length === 1 ? d : undefined;
    });
    expect(enrich.metadata.ownerReferences[0]).toMatchObject({ name: "dedup", controller: true });
    expect(await configOf("demo-enrich")).toMatchObject({ bot: "dedup", module: "experts.deduplicator" });
    expect((await deployment("demo-taxonomy")).metadata.ownerReferences).toEqual([
      expect.objectContaining({ name: "taxonomy", controller: true }),
    ]);
    // And back: the Deployment of its own goes, the shared one has both bots again.
    await patchBot("taxonomy", { spec: { process: "enrich" } });
    await waitFor(
      "its own Deployment pruned",
      async () => !(await env.exists("deployment", "demo-taxonomy")),
    );
    await waitFor("both in the shared one", async () => (await configOf("demo-enrich")).bots?.length === 2);
    expect(await env.exists("configmap", "demo-taxonomy")).toBe(false);
  });

  it("enabled: false scales the bot's Deployment to zero and reports it Stopped", async () => {
    await patchBot("parse", { spec: { enabled: false } });
    await waitFor("0 replicas", async () => (await deployment("demo-parse")).spec.replicas === 0);
    expect(
      await waitFor("Stopped", async () => bot("parse").then((b) => b.status?.state === "Stopped" && b)),
    ).toBeTruthy();
    // Ready once the Deployment reports its pods gone.
    await markReady(env, "demo-parse");
    const parse = await waitFor("Ready", async () => {
      const b = await bot("parse");
      return condition(b, "Ready")?.status === "True" ? b : undefined;
    });
    expect(condition(parse, "Ready")).toMatchObject({
      reason: "Stopped",
      message: "the bot is stopped (0 replicas)",
    });
    await patchBot("parse", { spec: { enabled: true } });
    await waitFor("1 replica", async () => (await deployment("demo-parse")).spec.replicas === 1);
  });

  it("kubectl scale on a Bot scales its Deployment (scale subresource)", async () => {
    await env.kubectl(["scale", "-n", env.namespace, "bot/parse", "--replicas=3"]);
    await waitFor("3 replicas", async () => (await deployment("demo-parse")).spec.replicas === 3);
    const scale = JSON.parse(
      await env.kubectl([
        "get",
        "--raw",
        `/apis/petrel.dev/v1alpha1/namespaces/${env.namespace}/bots/parse/scale`,
      ]),
    );
    expect(scale.spec.replicas).toBe(3);
    expect(scale.status.selector).toBe("petrel.dev/pipeline=demo,petrel.dev/process=parse");
    expect((await deployment("demo-parse")).spec.selector.matchLabels).toEqual({
      "petrel.dev/pipeline": "demo",
      "petrel.dev/process": "parse",
    });
  });

  it("undoes edits to its children and re-creates children deleted out of band", async () => {
    await env.kubectl(["scale", "-n", env.namespace, "deployment/demo-parse", "--replicas=5"]);
    await waitFor("the edit undone", async () => (await deployment("demo-parse")).spec.replicas === 3);
    const before = (await env.get("configmap", "demo-feed")).metadata.uid;
    await env.kubectl(["delete", "-n", env.namespace, "configmap/demo-feed", "service/demo-feed"]);
    await waitFor("re-created", async () => {
      const cm = await env.get("configmap", "demo-feed").catch(() => undefined);
      return cm !== undefined && cm.metadata.uid !== before && (await env.exists("service", "demo-feed"));
    });
  });

  it("Deployments reporting ready replicas make the Bots and then the Pipeline Ready", async () => {
    for (const name of DEPLOYMENTS) await markReady(env, name);
    for (const name of BOTS) {
      const b = await waitFor(`${name} Ready`, async () => {
        const x = await bot(name);
        return condition(x, "Ready")?.status === "True" ? x : undefined;
      });
      expect(b.status.state).toBe("Running");
      expect(b.status.readyReplicas).toBe(name === "parse" ? 3 : 1);
      expect(condition(b, "Progressing")).toMatchObject({ status: "False", reason: "RolloutComplete" });
      const running = ["Normal", "Running", condition(b, "Ready")?.message];
      const events = await waitFor(`${name} Running Event`, async () => {
        const all = await botEvents(name);
        return all.some((e) => e.join() === running.join()) ? all : undefined;
      });
      expect(events).toContainEqual(running);
    }
    await env.kubectl([
      "wait",
      "-n",
      env.namespace,
      "--for=condition=Ready",
      "pipeline/demo",
      "--timeout=20s",
    ]);
    const pipeline = await env.get("pipeline", "demo");
    expect(pipeline.status.bots).toEqual({ total: 5, ready: 5 });
    expect(condition(pipeline, "Ready")).toMatchObject({ reason: "AllBotsReady", observedGeneration: 1 });
  });

  it("restarting the operator changes nothing", async () => {
    const versions = async () => {
      const out: Record<string, string> = {};
      for (const kind of ["deployment", "configmap", "service", "bot", "pipeline"]) {
        const list = JSON.parse(await env.kubectl(["get", "-n", env.namespace, kind, "-o", "json"]));
        for (const item of list.items) out[`${kind}/${item.metadata.name}`] = item.metadata.resourceVersion;
      }
      return out;
    };
    await operator.stop();
    const before = await versions();
    operator = await env.operator({ metricsPort: 0 });
    const reconciles = () =>
      operator.metrics.reconciles.get().then((m) => m.values.reduce((n, v) => n + v.value, 0));
    // Two resync rounds: every Pipeline and Bot reconciled at least twice.
    await waitFor("two rounds of reconciles", async () => (await reconciles()) >= 2 * (BOTS.length + 1) + 6);
    expect(await versions()).toEqual(before);
  });

  it("serves its metrics and probes", async () => {
    const base = `http://127.0.0.1:${operator.port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/petrel_operator_reconcile_total\{kind="Bot",result="success"\} \d+/);
    expect(text).toMatch(/petrel_operator_reconcile_duration_seconds_bucket\{le="0.1",kind="Pipeline"\} \d+/);
    expect(text).toMatch(/petrel_operator_workqueue_depth \d+/);
    expect(text).toMatch(/petrel_operator_leader 1/);
  });

  it("deleting a Bot deletes its consumer, then the Bot, and its children go with it", async () => {
    const jsm = await jetstreamManager(nc);
    await env.kubectl(["delete", "-n", env.namespace, "bot", "out", "--wait=false"]);
    await waitFor("the bot gone", async () => !(await env.exists("bot", "out")));
    await expect(jsm.consumers.info("PETREL_DEMO", "out")).rejects.toThrow(/consumer not found/);
    await waitFor(
      "its Deployment and ConfigMap pruned",
      async () =>
        !(await env.exists("deployment", "demo-out")) && !(await env.exists("configmap", "demo-out")),
    );
    const taxonomy = await waitFor("taxonomy reports the missing destination", async () => {
      const b = await bot("taxonomy");
      return condition(b, "Degraded")?.reason === "UnknownDestination" ? b : undefined;
    });
    expect(condition(taxonomy, "Degraded")?.message).toContain("no Bot named out");
    const pipeline = await waitFor("4 bots", async () => {
      const p = await env.get("pipeline", "demo");
      return p.status.bots.total === 4 ? p : undefined;
    });
    expect(pipeline.status.bots.total).toBe(4);
  });
});
