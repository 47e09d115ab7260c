import type { KubernetesObject } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { AppliedMemo } from "./apply.ts";

const desiredDeployment: KubernetesObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "feeds-parser",
    namespace: "ns",
    labels: { "app.kubernetes.io/managed-by": "petrel-operator" },
    annotations: { "petrel.dev/config-hash": "abc" },
  },
};

/** The object as the API server returns it: with a resourceVersion, and a generation for Deployments. */
function live(desired: KubernetesObject, changes: Record<string, unknown> = {}): KubernetesObject {
  return {
    ...desired,
    metadata: { ...desired.metadata, resourceVersion: "100", ...changes },
  } as KubernetesObject;
}

describe("AppliedMemo", () => {
  it("keeps a Deployment up to date through status changes and the controller's revision annotation", () => {
    const memo = new AppliedMemo();
    const applied = live(desiredDeployment, { generation: 1 });
    expect(memo.upToDate(desiredDeployment, applied)).toBe(false);
    memo.remember(desiredDeployment, applied);
    expect(memo.upToDate(desiredDeployment, applied)).toBe(true);
    // Status written by the kubelet's side: a new resourceVersion, the same generation.
    const withStatus = live(desiredDeployment, {
      generation: 1,
      resourceVersion: "105",
      annotations: { ...desiredDeployment.metadata?.annotations, "deployment.kubernetes.io/revision": "1" },
    });
    expect(memo.upToDate(desiredDeployment, withStatus)).toBe(true);
  });

  it("applies again when the Deployment's spec, its labels or annotations of the operator, or the wanted content changed", () => {
    const memo = new AppliedMemo();
    memo.remember(desiredDeployment, live(desiredDeployment, { generation: 1 }));
    expect(memo.upToDate(desiredDeployment, live(desiredDeployment, { generation: 2 }))).toBe(false);
    expect(memo.upToDate(desiredDeployment, live(desiredDeployment, { generation: 1, labels: {} }))).toBe(
      false,
    );
    expect(
      memo.upToDate(
        desiredDeployment,
        live(desiredDeployment, { generation: 1, annotations: { "petrel.dev/config-hash": "edited" } }),
      ),
    ).toBe(false);
    const changed = {
      ...desiredDeployment,
      metadata: { ...desiredDeployment.metadata, annotations: { "petrel.dev/config-hash": "def" } },
    };
    expect(memo.upToDate(changed, live(desiredDeployment, { generation: 1 }))).toBe(false);
    expect(memo.upToDate(desiredDeployment, undefined)).toBe(false);
  });

  it("applies a ConfigMap again whenever its resourceVersion moved", () => {
    const memo = new AppliedMemo();
    const configMap: KubernetesObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", namespace: "ns" },
    };
    memo.remember(configMap, live(configMap));
    expect(memo.upToDate(configMap, live(configMap))).toBe(true);
    expect(memo.upToDate(configMap, live(configMap, { resourceVersion: "101" }))).toBe(false);
  });
});
