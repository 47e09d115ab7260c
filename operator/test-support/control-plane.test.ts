// The test control plane is a real kube-apiserver on a real etcd: version stamped at build time,
// server-side apply works through @kubernetes/client-node and kubectl, and stop() leaves nothing behind.
import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import {
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1ConfigMap,
  VersionApi,
} from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForPort } from "../../bot-runtime/test-support/nats-server.ts";
import { type ControlPlane, startControlPlane } from "./control-plane.ts";

describe("test control plane (etcd + kube-apiserver)", () => {
  let plane: ControlPlane;
  beforeAll(async () => {
    plane = await startControlPlane();
  });
  afterAll(async () => {
    await plane?.stop();
  });

  it("serves the version it was built as (stamped, not v0.0.0-master)", async () => {
    const goMod = readFileSync(
      new URL("../../scripts/kube-control-plane/kubernetes/go.mod", import.meta.url),
      "utf8",
    );
    const wanted = /k8s\.io\/kubernetes (v1\.(\d+)\.\d+)/.exec(goMod);
    expect(wanted).not.toBeNull();
    const version = await plane.kubeConfig.makeApiClient(VersionApi).getCode();
    expect(version).toMatchObject({
      gitVersion: wanted?.[1],
      major: "1",
      minor: wanted?.[2],
      gitTreeState: "clean",
    });
    const client = JSON.parse(await plane.kubectl(["version", "--client", "-o", "json"]));
    expect(client.clientVersion.gitVersion).toBe(wanted?.[1]);
    expect(plane.server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("creates a namespace and server-side-applies a ConfigMap", async () => {
    const core = plane.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: "petrel-cp-test" } } });
    const desired: V1ConfigMap = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "settings", namespace: "petrel-cp-test" },
      data: { feed: "blocklist.de" },
    };
    const apply = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
    const applied = await core.patchNamespacedConfigMap(
      {
        name: "settings",
        namespace: "petrel-cp-test",
        body: desired,
        fieldManager: "petrel-test",
        force: true,
      },
      apply,
    );
    expect(applied.metadata?.managedFields?.map((f) => [f.manager, f.operation])).toEqual([
      ["petrel-test", "Apply"],
    ]);

    const read = await core.readNamespacedConfigMap({ name: "settings", namespace: "petrel-cp-test" });
    expect(read.data).toEqual({ feed: "blocklist.de" });

    // kubectl sees the same object through the written kubeconfig.
    const viaKubectl = await plane.kubectl([
      "get",
      "configmap",
      "settings",
      "-n",
      "petrel-cp-test",
      "-o",
      "jsonpath={.data.feed}",
    ]);
    expect(viaKubectl).toBe("blocklist.de");
  });

  it("authenticates the kubeconfig's admin by client certificate, as envtest does", async () => {
    const whoami = JSON.parse(await plane.kubectl(["auth", "whoami", "-o", "json"])) as {
      status: { userInfo: { username: string; groups: string[] } };
    };
    expect(whoami.status.userInfo.username).toBe("petrel-admin");
    expect(whoami.status.userInfo.groups).toContain("system:masters");
    expect(plane.kubeConfig.getCurrentUser()?.certData).toBeTruthy();
    expect(plane.kubeConfig.getCurrentUser()?.token).toBeUndefined();
  });

  it("authenticates by token and authorizes with RBAC", async () => {
    const stranger = new KubeConfig();
    stranger.loadFromOptions({
      clusters: plane.kubeConfig.clusters,
      users: [{ name: "stranger", token: "not-a-valid-token" }],
      contexts: [{ name: "stranger", cluster: plane.kubeConfig.clusters[0]!.name, user: "stranger" }],
      currentContext: "stranger",
    });
    await expect(stranger.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
    // The admin may impersonate; a user without RoleBindings is forbidden.
    await expect(plane.kubectl(["get", "configmaps", "-n", "petrel-cp-test", "--as=alice"])).rejects.toThrow(
      /forbidden/,
    );
  });

  it("stop() ends both processes and deletes the temporary directory", async () => {
    const { kubeconfigPath } = plane;
    await plane.stop();
    expect(existsSync(dirname(kubeconfigPath))).toBe(false);
    await expect(waitForPort(Number(new URL(plane.server).port), 300)).rejects.toThrow();
    await plane.stop(); // idempotent
  });
});

describe("test control plane failures", () => {
  it("names the binary and quotes its output when a process exits during start", async () => {
    const failed = startControlPlane({ apiServerArgs: ["--no-such-flag"] });
    await expect(failed).rejects.toThrow(/kube-apiserver \(.*kube-apiserver\) exited with code 1 before/);
    await expect(failed).rejects.toThrow(/unknown flag: --no-such-flag/);
  });
});
