import { HttpMethod, RequestContext } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { PooledKubeConfig } from "./kube-config.ts";

// The connections themselves are exercised against the real API server by the operator and petrelctl
// tests (e2e/operator/scale.test.ts: 1,000 Bots through one pooled Agent); here, when it is replaced.
function config(cert: string): PooledKubeConfig {
  const kc = new PooledKubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server: "https://127.0.0.1:6443", caData: "Y2E=", skipTLSVerify: false }],
    users: [{ name: "u", certData: cert, keyData: "a2V5" }],
    contexts: [{ name: "ctx", cluster: "c", user: "u" }],
    currentContext: "ctx",
  });
  return kc;
}

async function dispatcherOf(kc: PooledKubeConfig) {
  const context = new RequestContext("https://127.0.0.1:6443/api", HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

describe("PooledKubeConfig", () => {
  it("gives every request the same Agent while the TLS identity stays", async () => {
    const kc = config("Y2VydA==");
    const first = await dispatcherOf(kc);
    expect(first).toBeDefined();
    expect(await dispatcherOf(kc)).toBe(first);
    expect(await dispatcherOf(kc)).toBe(first);
  });

  it("makes a new Agent when the client certificate changes, and closes the old one", async () => {
    const kc = config("Y2VydA==");
    const first = await dispatcherOf(kc);
    const user = kc.getCurrentUser() as { certData?: string };
    user.certData = "cm90YXRlZA==";
    const second = await dispatcherOf(kc);
    expect(second).not.toBe(first);
    expect((first as unknown as { closed: boolean }).closed).toBe(true);
    expect(await dispatcherOf(kc)).toBe(second);
  });
});
