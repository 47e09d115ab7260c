// The Helm chart (charts/petrel), with the helm that scripts/ensure-helm.sh builds from Go modules:
// lint, rendering with default and other values, values.schema.json, and an install into a real
// kube-apiserver (operator/test-support/control-plane.ts): CRDs established, every object accepted, the
// RBAC granting what the operator needs and nothing more (asked of the API server's own authorizer),
// the operator pod admitted under the restricted Pod Security Standard, and the demo pipeline's
// Pipeline and Bots accepted by the CRDs.
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type {
  V1ConfigMap,
  V1Deployment,
  V1PodSpec,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { RUN_AS_USER } from "../../operator/src/controller/constants.ts";
import { parseFlags } from "../../operator/src/controller/flags.ts";
import { generatedChartCrds, generatedCrds, leftoverCrds } from "../../operator/src/crds/generate.ts";
import { type ControlPlane, startControlPlane } from "../../operator/test-support/control-plane.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const chart = join(root, "charts/petrel");
const RELEASE = "petrel";
const NAMESPACE = "petrel-system";

function helmBinary(): string {
  process.env.PETREL_HELM ??= execFileSync("bash", [join(root, "scripts/ensure-helm.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  return process.env.PETREL_HELM;
}

/** Runs helm (isolated from the user's helm config); rejects with its stderr. */
function helm(args: string[]): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "petrel-helm-"));
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
  return new Promise((resolve, reject) => {
    execFile(
      helmBinary(),
      args,
      { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        rmSync(home, { recursive: true, force: true });
        if (error) reject(new Error(`helm ${args.join(" ")} failed: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

interface Obj {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

const docs = (yaml: string): Obj[] =>
  parseAllDocuments(yaml)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

/** Writes values to a temporary file for `-f`: as JSON, which helm's YAML 1.1 parser reads unambiguously. */
function valuesFile(values: object): string {
  const dir = mkdtempSync(join(tmpdir(), "petrel-values-"));
  const file = join(dir, "values.yaml");
  writeFileSync(file, JSON.stringify(values));
  return file;
}

async function render(values: object = {}, extra: string[] = []): Promise<Obj[]> {
  const file = valuesFile(values);
  try {
    return docs(await helm(["template", RELEASE, chart, "--namespace", NAMESPACE, "-f", file, ...extra]));
  } finally {
    rmSync(join(file, ".."), { recursive: true, force: true });
  }
}

function find<T = Obj>(objects: Obj[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  expect(
    found.map((o) => `${o.kind}/${o.metadata.name}`),
    `one ${kind} ${name ?? ""}`,
  ).toHaveLength(1);
  return found[0] as T;
}

const kinds = (objects: Obj[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();

/** Rule sets compared regardless of order. */
const normalRules = (rules: V1PolicyRule[] | undefined) =>
  (rules ?? [])
    .map((r) => ({
      apiGroups: [...(r.apiGroups ?? [])].sort(),
      resources: [...(r.resources ?? [])].sort(),
      ...(r.resourceNames ? { resourceNames: [...r.resourceNames].sort() } : {}),
      verbs: [...r.verbs].sort(),
    }))
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

const OPERATOR_RULES = normalRules([
  {
    apiGroups: ["petrel.dev"],
    resources: ["pipelines", "bots", "exclusions"],
    verbs: ["get", "list", "watch", "patch"],
  },
  {
    apiGroups: ["petrel.dev"],
    resources: ["pipelines/status", "bots/status", "exclusions/status"],
    verbs: ["get", "patch"],
  },
  {
    apiGroups: ["petrel.dev"],
    resources: ["pipelines/finalizers", "bots/finalizers", "exclusions/finalizers"],
    verbs: ["update"],
  },
  {
    apiGroups: ["apps"],
    resources: ["deployments"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
  },
  {
    apiGroups: [""],
    resources: ["configmaps", "services"],
    verbs: ["get", "list", "watch", "create", "patch", "delete"],
  },
  { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create"] },
]);
const LEASE_RULES = normalRules([
  { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    resourceNames: ["petrel-operator"],
    verbs: ["get", "update"],
  },
]);

const containerOf = (deployment: V1Deployment) => deployment.spec?.template.spec?.containers[0];
const argsOf = (deployment: V1Deployment) => containerOf(deployment)?.args ?? [];

/** The operator's settings from the rendered container, read by its own flag parser (flags.ts). */
function operatorSettings(deployment: V1Deployment, namespace = NAMESPACE) {
  const [script, ...flags] = argsOf(deployment);
  expect(script).toBe("operator/src/controller/main.ts");
  // The downward API gives the pod's namespace as POD_NAMESPACE.
  const env = containerOf(deployment)?.env ?? [];
  expect(env).toContainEqual({
    name: "POD_NAMESPACE",
    valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
  });
  const settings = parseFlags(flags, { POD_NAMESPACE: namespace });
  expect(settings).toBeDefined();
  return settings as NonNullable<typeof settings>;
}

describe("Helm chart charts/petrel", () => {
  it("lints cleanly (strict, schema included) and matches package.json's version", async () => {
    const out = await helm(["lint", "--strict", chart]);
    expect(out).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    const meta = parse(readFileSync(join(chart, "Chart.yaml"), "utf8")) as {
      appVersion: string;
      version: string;
    };
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    expect(meta.appVersion).toBe(pkg.version);
  });

  it("ships the generated CRDs in crds/, identical to crds/ at the root (npm run crds writes both)", () => {
    const top = generatedCrds();
    const copies = generatedChartCrds();
    expect(copies.size).toBe(top.size);
    for (const [path, content] of copies) {
      expect(readFileSync(path, "utf8"), `${path} is stale: run npm run crds`).toBe(content);
      expect(content).toMatch(/^# Generated by `npm run crds`/);
    }
    expect([...copies.values()]).toEqual([...top.values()]);
    expect(leftoverCrds(copies, join(chart, "crds/")), "files in the chart's crds/ not generated").toEqual(
      [],
    );
  });

  it("renders by default: service account, cluster-wide least-privilege RBAC, a restricted operator and its metrics Service", async () => {
    const objects = await render();
    expect(kinds(objects)).toEqual(
      [
        "ClusterRole/petrel-operator",
        "ClusterRoleBinding/petrel-operator",
        "Deployment/petrel-operator",
        "Role/petrel-operator-leader-election",
        "RoleBinding/petrel-operator-leader-election",
        "Service/petrel-operator-metrics",
        "ServiceAccount/petrel-operator",
      ].sort(),
    );
    const clusterRole = find<V1Role>(objects, "ClusterRole");
    expect(normalRules(clusterRole.rules)).toEqual(OPERATOR_RULES);
    const everything = JSON.stringify(objects.filter((o) => o.kind.endsWith("Role")));
    expect(everything).not.toMatch(/secrets|"\*"/);
    const leaseRole = find<V1Role>(objects, "Role");
    expect(leaseRole.metadata?.namespace).toBe(NAMESPACE);
    expect(normalRules(leaseRole.rules)).toEqual(LEASE_RULES);
    const binding = find<V1RoleBinding>(objects, "ClusterRoleBinding");
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: "petrel-operator", namespace: NAMESPACE },
    ]);

    const deployment = find<V1Deployment>(objects, "Deployment");
    const pod = deployment.spec?.template.spec as V1PodSpec;
    expect(deployment.spec?.replicas).toBe(1);
    expect(pod.serviceAccountName).toBe("petrel-operator");
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: RUN_AS_USER,
      runAsGroup: RUN_AS_USER,
      fsGroup: RUN_AS_USER,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const container = containerOf(deployment);
    expect(container?.image).toBe("petrel:0.1.0");
    expect(container?.command).toBeUndefined();
    expect(container?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(operatorSettings(deployment)).toMatchObject({
      namespace: undefined,
      natsUrl: undefined,
      natsCredentialsFile: undefined,
      botImage: "petrel:0.1.0",
      metricsPort: 8080,
      leaderElection: { name: "petrel-operator", namespace: NAMESPACE },
      logLevel: "info",
    });
    expect(container?.ports).toEqual([{ name: "metrics", containerPort: 8080, protocol: "TCP" }]);
    expect(container?.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(container?.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
    expect(container?.resources?.limits?.memory).toBeDefined();
    expect(container?.volumeMounts).toEqual([{ name: "tmp", mountPath: "/tmp" }]);

    const service = find<V1Service>(objects, "Service");
    expect(service.spec?.selector).toEqual(deployment.spec?.selector.matchLabels);
    expect(service.spec?.ports).toEqual([
      { name: "metrics", port: 8080, targetPort: "metrics", protocol: "TCP" },
    ]);
  });

  it("renders other values: one namespace, pinned image, bot image, NATS override, monitoring, dashboard", async () => {
    const digest = `sha256:${"ab".repeat(32)}`;
    const objects = await render({
      image: { repository: "registry.example/petrel", digest },
      imagePullSecrets: [{ name: "pull" }],
      bots: { image: "registry.example/petrel-bots:1.2.3" },
      nats: {
        url: "nats://nats.messaging:4222",
        credentialsSecret: { name: "operator-nats", key: "op.creds" },
      },
      operator: {
        replicas: 2,
        watchNamespace: "team-a",
        logLevel: "debug",
        extraArgs: ["--workers=8"],
        extraEnv: [{ name: "PETREL_EXTRA", value: "1" }],
      },
      serviceAccount: { annotations: { "example.org/role": "petrel" } },
      metrics: {
        port: 9443,
        serviceMonitor: { enabled: true, interval: "15s", labels: { release: "prom" } },
        botPodMonitor: { enabled: true },
      },
      grafana: { dashboard: { enabled: true, namespace: "monitoring", folder: "CSIRT" } },
    });
    expect(objects.some((o) => o.kind.startsWith("Cluster"))).toBe(false);
    const role = find<V1Role>(objects, "Role", "petrel-operator");
    expect(role.metadata?.namespace).toBe("team-a");
    expect(normalRules(role.rules)).toEqual(OPERATOR_RULES);
    const roleBinding = find<V1RoleBinding>(objects, "RoleBinding", "petrel-operator");
    expect(roleBinding.metadata?.namespace).toBe("team-a");
    expect(roleBinding.subjects?.[0]?.namespace).toBe(NAMESPACE);
    expect(find<V1Role>(objects, "Role", "petrel-operator-leader-election").metadata?.namespace).toBe(
      NAMESPACE,
    );

    const deployment = find<V1Deployment>(objects, "Deployment");
    expect(deployment.spec?.replicas).toBe(2);
    expect(containerOf(deployment)?.image).toBe(`registry.example/petrel@${digest}`);
    expect(deployment.spec?.template.spec?.imagePullSecrets).toEqual([{ name: "pull" }]);
    expect(operatorSettings(deployment)).toMatchObject({
      namespace: "team-a",
      metricsPort: 9443,
      botImage: "registry.example/petrel-bots:1.2.3",
      natsUrl: "nats://nats.messaging:4222",
      natsCredentialsFile: "/etc/petrel-nats/nats.creds",
      logLevel: "debug",
      workers: 8,
      leaderElection: { name: "petrel-operator", namespace: NAMESPACE },
    });
    expect(containerOf(deployment)?.env).toContainEqual({ name: "PETREL_EXTRA", value: "1" });
    expect(deployment.spec?.template.spec?.volumes).toContainEqual({
      name: "nats-credentials",
      secret: {
        secretName: "operator-nats",
        items: [{ key: "op.creds", path: "nats.creds" }],
        defaultMode: 0o440,
      },
    });
    expect(containerOf(deployment)?.ports?.[0]?.containerPort).toBe(9443);

    const serviceMonitor = find(objects, "ServiceMonitor");
    expect(serviceMonitor.metadata.labels?.release).toBe("prom");
    expect(serviceMonitor.spec).toMatchObject({
      endpoints: [{ port: "metrics", path: "/metrics", interval: "15s" }],
    });
    const podMonitor = find(objects, "PodMonitor");
    // The labels the operator puts on bot pods (operator/src/controller/names.ts).
    expect(podMonitor.spec).toMatchObject({
      selector: {
        matchLabels: {
          "app.kubernetes.io/component": "bot",
          "app.kubernetes.io/managed-by": "petrel-operator",
        },
      },
      namespaceSelector: { matchNames: ["team-a"] },
      podMetricsEndpoints: [{ port: "metrics", path: "/metrics" }],
    });

    const dashboard = find<V1ConfigMap>(objects, "ConfigMap", "petrel-dashboard");
    expect(dashboard.metadata?.namespace).toBe("monitoring");
    expect(dashboard.metadata?.labels?.grafana_dashboard).toBe("1");
    expect(dashboard.metadata?.annotations?.grafana_folder).toBe("CSIRT");
    const json = readFileSync(join(chart, "dashboards/petrel.json"), "utf8");
    expect(JSON.parse(dashboard.data?.["petrel.json"] ?? "")).toEqual(JSON.parse(json));
  });

  it("renders without RBAC or its own service account when told so", async () => {
    const objects = await render({
      rbac: { create: false },
      serviceAccount: { create: false, name: "existing" },
    });
    expect(kinds(objects)).toEqual(["Deployment/petrel-operator", "Service/petrel-operator-metrics"]);
    expect(find<V1Deployment>(objects, "Deployment").spec?.template.spec?.serviceAccountName).toBe(
      "existing",
    );
  });

  it("rejects bad values (values.schema.json and the templates' own checks)", async () => {
    const rejected: Array<[object, RegExp]> = [
      [{ operator: { replica: 2 } }, /additional properties 'replica' not allowed/],
      [{ image: { pullPolicy: "Sometimes" } }, /pullPolicy/],
      [{ image: { digest: "latest" } }, /digest/],
      [{ operator: { logLevel: "verbose" } }, /logLevel/],
      [{ operator: { watchNamespace: "Team_A" } }, /watchNamespace/],
      [{ nats: { url: "http://nats:4222" } }, /url/],
      [{ metrics: { port: 80 } }, /port/],
      [{ metrics: { serviceMonitor: { enabled: "yes" } } }, /enabled/],
      [
        { operator: { replicas: 2, leaderElection: { enabled: false } } },
        /needs operator.leaderElection.enabled/,
      ],
      [{ serviceAccount: { create: false } }, /serviceAccount.name is required/],
      [
        { metrics: { service: { enabled: false }, serviceMonitor: { enabled: true } } },
        /needs metrics.service.enabled/,
      ],
    ];
    for (const [values, message] of rejected) {
      await expect(render(values), JSON.stringify(values)).rejects.toThrow(message);
    }
  });

  describe("installed into a real kube-apiserver", () => {
    let plane: ControlPlane;
    let installed: Obj[];
    beforeAll(async () => {
      plane = await startControlPlane();
      const values = valuesFile({
        grafana: { dashboard: { enabled: true } },
        nats: { credentialsSecret: { name: "operator-nats" } },
      });
      await helm([
        "install",
        RELEASE,
        chart,
        "--namespace",
        NAMESPACE,
        "--create-namespace",
        "--kubeconfig",
        plane.kubeconfigPath,
        "-f",
        values,
      ]);
      rmSync(join(values, ".."), { recursive: true, force: true });
      installed = docs(
        await helm([
          "get",
          "manifest",
          RELEASE,
          "--namespace",
          NAMESPACE,
          "--kubeconfig",
          plane.kubeconfigPath,
        ]),
      );
    }, 120_000);
    afterAll(async () => {
      await plane?.stop();
    });

    /** Whether a subject may do something, asked of the API server's authorizer (SubjectAccessReview). */
    async function allowed(
      serviceAccount: string,
      verb: string,
      resource: string,
      namespace: string | undefined,
      group = "",
      subresource = "",
      name = "",
    ): Promise<boolean> {
      const [sa, ns] = serviceAccount.split("@") as [string, string];
      const review = {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: `system:serviceaccount:${ns}:${sa}`,
          groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
          resourceAttributes: {
            verb,
            group,
            resource,
            ...(subresource ? { subresource } : {}),
            ...(name ? { name } : {}),
            ...(namespace ? { namespace } : {}),
          },
        },
      };
      const out = await plane.kubectl(["create", "-o", "json", "-f", "-"], { input: JSON.stringify(review) });
      return (JSON.parse(out) as { status: { allowed: boolean } }).status.allowed;
    }

    /** The authorizer learns new (Cluster)Roles through its informers: wait for the first grant to show. */
    async function settle(check: () => Promise<boolean>): Promise<void> {
      const deadline = Date.now() + 20_000;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error("RBAC grant did not take effect within 20 s");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }

    it("establishes the three CRDs", async () => {
      const out = await plane.kubectl([
        "wait",
        "--for=condition=Established",
        "--timeout=30s",
        "crd/pipelines.petrel.dev",
        "crd/bots.petrel.dev",
        "crd/exclusions.petrel.dev",
      ]);
      expect(out.trim().split("\n")).toHaveLength(3);
      const resources = await plane.kubectl(["api-resources", "--api-group=petrel.dev", "-o", "name"]);
      expect(resources.trim().split("\n").sort()).toEqual([
        "bots.petrel.dev",
        "exclusions.petrel.dev",
        "pipelines.petrel.dev",
      ]);
    });

    it("stores every object of the release as rendered", async () => {
      expect(kinds(installed)).toEqual(
        [
          "ClusterRole/petrel-operator",
          "ClusterRoleBinding/petrel-operator",
          "ConfigMap/petrel-dashboard",
          "Deployment/petrel-operator",
          "Role/petrel-operator-leader-election",
          "RoleBinding/petrel-operator-leader-election",
          "Service/petrel-operator-metrics",
          "ServiceAccount/petrel-operator",
        ].sort(),
      );
      for (const object of installed) {
        const args = ["get", object.kind, object.metadata.name, "-o", "json"];
        if (!object.kind.startsWith("Cluster")) args.push("-n", object.metadata.namespace ?? NAMESPACE);
        const live = JSON.parse(await plane.kubectl(args)) as Obj;
        expect(
          live.metadata.labels?.["app.kubernetes.io/managed-by"],
          `${object.kind}/${object.metadata.name}`,
        ).toBe("Helm");
      }
      const deployment = JSON.parse(
        await plane.kubectl(["get", "deployment", "petrel-operator", "-n", NAMESPACE, "-o", "json"]),
      ) as V1Deployment;
      expect(containerOf(deployment)?.securityContext?.readOnlyRootFilesystem).toBe(true);
      expect(argsOf(deployment)).toContain("--nats-credentials=/etc/petrel-nats/nats.creds");
    });

    it("lets the operator's service account do its work in any namespace, and nothing more", async () => {
      const sa = `petrel-operator@${NAMESPACE}`;
      await settle(() => allowed(sa, "watch", "bots", "demo", "petrel.dev"));
      // verb, resource, namespace (none: cluster-wide), API group, subresource, object name
      const grants: Array<[string, string, string | undefined, string?, string?, string?]> = [
        ["list", "pipelines", undefined, "petrel.dev"],
        ["watch", "bots", undefined, "petrel.dev"],
        ["get", "exclusions", "demo", "petrel.dev"],
        ["watch", "exclusions", undefined, "petrel.dev"],
        ["patch", "exclusions", "demo", "petrel.dev"],
        ["patch", "exclusions", "demo", "petrel.dev", "status"],
        ["patch", "bots", "demo", "petrel.dev"],
        ["patch", "pipelines", "demo", "petrel.dev", "status"],
        ["patch", "bots", "demo", "petrel.dev", "status"],
        ["update", "bots", "demo", "petrel.dev", "finalizers"],
        ["list", "deployments", undefined, "apps"],
        ["create", "deployments", "demo", "apps"],
        ["patch", "deployments", "demo", "apps"],
        ["delete", "deployments", "demo", "apps"],
        ["create", "configmaps", "demo"],
        ["delete", "services", "demo"],
        ["create", "events", "demo"],
        ["get", "leases", NAMESPACE, "coordination.k8s.io", "", "petrel-operator"],
        ["create", "leases", NAMESPACE, "coordination.k8s.io"],
        ["update", "leases", NAMESPACE, "coordination.k8s.io", "", "petrel-operator"],
      ];
      const denials: typeof grants = [
        ["get", "secrets", "demo"],
        ["list", "secrets", undefined],
        ["create", "bots", "demo", "petrel.dev"],
        ["update", "bots", "demo", "petrel.dev"],
        ["delete", "pipelines", "demo", "petrel.dev"],
        ["create", "exclusions", "demo", "petrel.dev"],
        ["delete", "exclusions", "demo", "petrel.dev"],
        ["update", "bots", "demo", "petrel.dev", "status"],
        ["update", "deployments", "demo", "apps"],
        ["list", "pods", "demo"],
        ["create", "pods", "demo"],
        ["patch", "customresourcedefinitions", undefined, "apiextensions.k8s.io"],
        ["create", "leases", "demo", "coordination.k8s.io"],
        ["delete", "leases", NAMESPACE, "coordination.k8s.io", "", "petrel-operator"],
        ["update", "leases", NAMESPACE, "coordination.k8s.io", "", "kube-scheduler"],
        ["create", "rolebindings", NAMESPACE, "rbac.authorization.k8s.io"],
      ];
      for (const [verb, resource, ns, group, sub, name] of grants) {
        expect(
          await allowed(sa, verb, resource, ns, group, sub, name),
          `may ${verb} ${resource}/${sub ?? ""} ${name ?? ""} in ${ns}`,
        ).toBe(true);
      }
      for (const [verb, resource, ns, group, sub, name] of denials) {
        expect(
          await allowed(sa, verb, resource, ns, group, sub, name),
          `may not ${verb} ${resource}/${sub ?? ""} ${name ?? ""} in ${ns}`,
        ).toBe(false);
      }
    });

    it("confines a release that watches one namespace to that namespace", async () => {
      await plane.kubectl(["create", "namespace", "team-a"]);
      await helm([
        "install",
        "petrel-team",
        chart,
        "--namespace",
        "team-a",
        "--skip-crds",
        "--kubeconfig",
        plane.kubeconfigPath,
        "--set",
        "operator.watchNamespace=team-a",
      ]);
      const sa = "petrel-team-operator@team-a";
      await settle(() => allowed(sa, "patch", "bots", "team-a", "petrel.dev"));
      expect(await allowed(sa, "create", "deployments", "team-a", "apps")).toBe(true);
      expect(
        await allowed(sa, "update", "leases", "team-a", "coordination.k8s.io", "", "petrel-team-operator"),
      ).toBe(true);
      expect(await allowed(sa, "patch", "bots", "demo", "petrel.dev")).toBe(false);
      expect(await allowed(sa, "list", "bots", undefined, "petrel.dev")).toBe(false);
      expect(await allowed(sa, "create", "deployments", "demo", "apps")).toBe(false);
    });

    it("runs the operator pod under the restricted Pod Security Standard", async () => {
      const deployment = installed.find((o) => o.kind === "Deployment") as V1Deployment;
      await plane.kubectl(["create", "namespace", "restricted"]);
      await plane.kubectl([
        "label",
        "namespace",
        "restricted",
        "pod-security.kubernetes.io/enforce=restricted",
      ]);
      const pod = (name: string, spec: V1PodSpec) =>
        JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: "restricted" }, spec });
      const spec = deployment.spec?.template.spec as V1PodSpec;
      await plane.kubectl(["create", "--dry-run=server", "-f", "-"], { input: pod("operator", spec) });
      // The check is real: the same pod without its security contexts is refused.
      const loose: V1PodSpec = {
        ...spec,
        securityContext: {},
        containers: spec.containers.map((c) => ({ ...c, securityContext: {} })),
      };
      await expect(
        plane.kubectl(["create", "--dry-run=server", "-f", "-"], { input: pod("loose", loose) }),
      ).rejects.toThrow(/violates PodSecurity "restricted/);
    });

    it("accepts the demo pipeline's Pipeline and Bots (examples/demo.yaml) through the CRDs", async () => {
      await plane.kubectl(["create", "namespace", "demo"]);
      const demo = readFileSync(join(root, "examples/demo.yaml"), "utf8");
      const resources = docs(demo);
      expect(resources.length).toBe(10);
      await plane.kubectl(
        ["apply", "--server-side", "--field-manager=petrel-test", "-n", "demo", "-f", "-"],
        {
          input: demo,
        },
      );
      const names = await plane.kubectl(["get", "pipelines,bots", "-n", "demo", "-o", "name"]);
      expect(names.trim().split("\n").sort()).toEqual(
        resources.map((r) => `${r.kind.toLowerCase()}.petrel.dev/${r.metadata.name}`).sort(),
      );
      // The CRD's schema defaults apply: the pipeline names NATS although the YAML does not.
      const pipeline = JSON.parse(
        await plane.kubectl(["get", "pipeline", "demo", "-n", "demo", "-o", "json"]),
      ) as {
        spec: { nats: { url: string } };
      };
      expect(pipeline.spec.nats.url).toBe("nats://nats:4222");
      // And they validate: a Bot without a pipeline is refused.
      await expect(
        plane.kubectl(["apply", "--server-side", "-n", "demo", "-f", "-"], {
          input: stringify({
            apiVersion: "petrel.dev/v1alpha1",
            kind: "Bot",
            metadata: { name: "x" },
            spec: { module: "experts.taxonomy" },
          }),
        }),
      ).rejects.toThrow(/pipeline/);
    });

    it("upgrades in place and leaves the CRDs (and the resources) behind on uninstall", async () => {
      const kubeconfig = ["--kubeconfig", plane.kubeconfigPath, "--namespace", NAMESPACE];
      await helm([
        "upgrade",
        RELEASE,
        chart,
        ...kubeconfig,
        "--reuse-values",
        "--set",
        "operator.logLevel=debug",
      ]);
      const deployment = JSON.parse(
        await plane.kubectl(["get", "deployment", "petrel-operator", "-n", NAMESPACE, "-o", "json"]),
      ) as V1Deployment;
      expect(argsOf(deployment)).toContain("--log-level=debug");
      const history = JSON.parse(await helm(["history", RELEASE, ...kubeconfig, "-o", "json"])) as unknown[];
      expect(history).toHaveLength(2);
      await helm(["uninstall", RELEASE, ...kubeconfig]);
      await expect(plane.kubectl(["get", "deployment", "petrel-operator", "-n", NAMESPACE])).rejects.toThrow(
        /NotFound|not found/,
      );
      await plane.kubectl(["get", "crd", "bots.petrel.dev"]);
      expect(
        (await plane.kubectl(["get", "bots", "-n", "demo", "-o", "name"])).trim().split("\n"),
      ).toHaveLength(9);
    });
  });
});
