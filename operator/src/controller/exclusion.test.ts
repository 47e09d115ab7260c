// The Exclusion reconciler against a real kube-apiserver and a real nats-server: exclusions reach the
// exclusion buckets of exactly the pipelines their scope selects (by name or label, with the bots chosen
// by label), follow label changes, are never distributed while invalid, leave the buckets when disabled
// or deleted (finalizer), report their expiry, and sum what the bots report into status. The API server
// itself rejects bad fields and CIDRs at apply time. No bots run here: the tests write what bots would
// report into the stats buckets.
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exclusionBuckets, statsKey } from "../../../bot-runtime/src/exclusions/distribution.ts";
import { connectNats } from "../../../bot-runtime/src/runtime/jetstream.ts";
import { condition, type KubeJson, startEnv, type TestEnv, waitFor } from "./test-support/harness.ts";

const PIPELINES = `
apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata: {name: alpha, labels: {team: a}}
spec:
  stream: {storage: memory, maxBytes: 16Mi}
  deadLetter: {maxBytes: 8Mi}
---
apiVersion: petrel.dev/v1alpha1
kind: Pipeline
metadata: {name: beta}
spec:
  stream: {storage: memory, maxBytes: 16Mi}
  deadLetter: {maxBytes: 8Mi}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: alpha-tax}
spec: {pipeline: alpha, module: experts.taxonomy, destinations: {_default: [alpha-out]}}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: alpha-out}
spec: {pipeline: alpha, module: outputs.file, parameters: {file: /tmp/alpha.jsonl}}
---
apiVersion: petrel.dev/v1alpha1
kind: Bot
metadata: {name: beta-out}
spec: {pipeline: beta, module: outputs.file, parameters: {file: /tmp/beta.jsonl}}
`;

function exclusion(name: string, spec: string): string {
  return `apiVersion: petrel.dev/v1alpha1
kind: Exclusion
metadata: {name: ${name}}
spec:
${spec
  .trim()
  .split("\n")
  .map((l) => `  ${l}`)
  .join("\n")}
`;
}

describe("operator: reconciling Exclusions", () => {
  let env: TestEnv;
  let nc: NatsConnection;
  const kvs = new Map<string, KV>();

  beforeAll(async () => {
    env = await startEnv();
    await env.operator();
    nc = await connectNats({ servers: [env.nats.url] });
    await env.apply(PIPELINES);
  }, 120_000);
  afterAll(async () => {
    await nc?.close();
    await env?.stop();
  });

  const bucket = async (name: string) => {
    let kv = kvs.get(name);
    if (!kv) {
      kv = await new Kvm(nc).open(name);
      kvs.set(name, kv);
    }
    return kv;
  };
  /** The entry of an exclusion in a pipeline's rules bucket, or undefined. */
  const entry = async (pipeline: string, name: string): Promise<KubeJson | undefined> => {
    try {
      const e = await (await bucket(exclusionBuckets(pipeline).rules)).get(name);
      return e && e.operation === "PUT" ? (e.json() as KubeJson) : undefined;
    } catch {
      return undefined; // the bucket does not exist yet
    }
  };
  const get = (name: string) => env.get("exclusion", name);

  it("writes an exclusion into the rules bucket of each pipeline its scope names, with its finalizer and status", async () => {
    await env.apply(
      exclusion(
        "customers",
        `
scope: {pipelines: [alpha]}
match: {all: [{field: source.ip, cidr: [192.0.2.0/24]}]}
reason: protected constituent
owner: cert@example.org`,
      ),
    );
    const written = await waitFor("the entry in alpha", () => entry("alpha", "customers"));
    expect(written).toMatchObject({ name: "customers", bots: null, revision: "1" });
    expect(written.spec).toMatchObject({
      match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/24"] }] },
      action: { type: "drop" },
      enabled: true,
    });
    expect(await entry("beta", "customers")).toBeUndefined();
    const x = await waitFor("status", async () => {
      const o = await get("customers");
      return o.status?.observedGeneration === 1 ? o : undefined;
    });
    expect(x.metadata.finalizers).toEqual(["petrel.dev/cleanup"]);
    expect(x.status).toMatchObject({ pipelines: ["alpha"], bots: 0, matchedEvents: 0 });
    expect(condition(x, "Invalid")).toMatchObject({ status: "False" });
    expect(condition(x, "Expired")).toMatchObject({ status: "False", message: "no expiry" });
    expect(condition(x, "Active")).toMatchObject({ status: "False", reason: "NotApplied" });
  });

  it("sums what the bots report into status: bots applying it, matched events, last match", async () => {
    const stats = await bucket(exclusionBuckets("alpha").stats);
    const now = Date.now();
    const at = (ms: number) => new Date(now + ms).toISOString();
    const report = (
      bot: string,
      pod: string,
      matched: number,
      lastMatch: string | undefined,
      reportedAt: string,
    ) =>
      stats.put(
        statsKey("customers", bot, pod),
        JSON.stringify({ bot, matched, ...(lastMatch ? { lastMatch } : {}), reportedAt }),
      );
    await report("alpha-out", "alpha-out-7d9f-1", 3, at(-5_000), at(0));
    await report("alpha-out", "alpha-out-7d9f-2", 2, at(-1_000), at(0));
    // A process gone long ago: its matches count, it no longer applies the exclusion.
    await report("alpha-out", "alpha-out-old-1", 10, at(-3_600_000), at(-3_600_000));
    // Not where the exclusion applies (it applies at outputs): counted as matches only.
    await report("alpha-tax", "alpha-tax-1", 0, undefined, at(0));
    const x = await waitFor(
      "the counts in status",
      async () => {
        const o = await get("customers");
        return o.status?.matchedEvents === 15 ? o : undefined;
      },
      15_000,
    );
    expect(x.status).toMatchObject({ bots: 1, matchedEvents: 15, lastMatchTime: at(-1_000) });
    expect(condition(x, "Active")).toMatchObject({
      status: "True",
      reason: "Applied",
      message: "1 bot(s) apply it in alpha",
    });
  });

  it("rejects bad fields, CIDRs and conditions at apply time (CEL in the CRD), naming them", async () => {
    const bad = async (spec: string) => {
      try {
        await env.apply(exclusion("bad", spec));
      } catch (error) {
        return String((error as Error).message);
      }
      throw new Error("applied");
    };
    const field = await bad(`
scope: {pipelines: [alpha]}
match: {all: [{field: source.nope, equals: x}]}
reason: r`);
    expect(field).toContain("spec.match.all[0].field");
    expect(field).toContain("not an event field: source.nope");
    const cidr = await bad(`
scope: {pipelines: [alpha]}
match: {any: [{field: source.ip, cidr: [192.0.2.0/24, 198.51.100.0/33]}]}
reason: r`);
    expect(cidr).toContain("spec.match.any[0].cidr[1]");
    expect(cidr).toContain("not an IP address or CIDR network: 198.51.100.0/33");
    const two = await bad(`
scope: {pipelines: [alpha]}
match: {all: [{field: source.ip, equals: 192.0.2.1, regex: "^192"}]}
reason: r`);
    expect(two).toContain("a condition takes exactly one test");
    const scope = await bad(`
scope: {pipelines: [alpha], pipelineSelector: {}}
match: {all: [{field: source.ip, equals: 192.0.2.1}]}
reason: r`);
    expect(scope).toContain("choose the pipelines by name (pipelines) or by label (pipelineSelector)");
    expect(await env.exists("exclusion", "bad")).toBe(false);
  });

  it("reports what the API server cannot check as Invalid, naming the condition, and never distributes it", async () => {
    await env.apply(
      exclusion(
        "broken",
        `
scope: {pipelines: [alpha, beta]}
match:
  all:
    - {field: feed.name, equals: x}
    - {field: source.fqdn, regex: "(unclosed"}
reason: r`,
      ),
    );
    const x = await waitFor("Invalid", async () => {
      const o = await get("broken");
      return condition(o, "Invalid")?.status === "True" ? o : undefined;
    });
    expect(condition(x, "Invalid")?.message).toMatch(
      /^match\.all\[1\]: regex: Invalid regular expression: \/\(unclosed\/: Unterminated group/,
    );
    expect(condition(x, "Active")).toMatchObject({ status: "False", reason: "Invalid" });
    expect(x.status.pipelines).toEqual(["alpha", "beta"]);
    expect(await entry("alpha", "broken")).toBeUndefined();
    expect(await entry("beta", "broken")).toBeUndefined();

    // Fixed: distributed. Broken again (a value the field cannot take): generation 2 stays in force.
    await env.apply(
      exclusion(
        "broken",
        `
scope: {pipelines: [alpha, beta]}
match:
  all:
    - {field: feed.name, equals: x}
    - {field: source.fqdn, regex: "^unclosed"}
action: {type: mark, set: [{field: extra.excluded_by, value: broken}]}
reason: r`,
      ),
    );
    await waitFor("generation 2 in both pipelines", async () => {
      const [a, b] = await Promise.all([entry("alpha", "broken"), entry("beta", "broken")]);
      return a?.revision === "2" && b?.revision === "2";
    });
    await env.apply(
      exclusion(
        "broken",
        `
scope: {pipelines: [alpha, beta]}
match: {all: [{field: feed.name, equals: x}]}
action: {type: mark, set: [{field: source.asn, value: not-a-number}]}
reason: r`,
      ),
    );
    const y = await waitFor("Invalid again", async () => {
      const o = await get("broken");
      return o.status?.observedGeneration === 3 ? o : undefined;
    });
    expect(condition(y, "Invalid")).toMatchObject({ status: "True", reason: "InvalidSpec" });
    expect(condition(y, "Invalid")?.message).toMatch(/^action\.set\[0\]: .*source\.asn/);
    expect((await entry("alpha", "broken"))?.revision).toBe("2");
    // Switched off, broken or not: it leaves the bots.
    await env.kubectl([
      "patch",
      "-n",
      env.namespace,
      "exclusion",
      "broken",
      "--type=merge",
      "-p",
      '{"spec":{"enabled":false}}',
    ]);
    await waitFor("the entries gone", async () => {
      const [a, b] = await Promise.all([entry("alpha", "broken"), entry("beta", "broken")]);
      return a === undefined && b === undefined;
    });
  });

  it("follows labels: a newly labelled Pipeline and Bot come into scope, an unlabelled one leaves it", async () => {
    await env.apply(
      exclusion(
        "by-label",
        `
scope:
  pipelineSelector: {matchLabels: {team: a}}
  botSelector: {matchExpressions: [{key: stage, operator: In, values: [enrich]}]}
match: {all: [{classification: {type: scanner}}]}
action: {type: route, path: review}
reason: scanners go to review`,
      ),
    );
    const first = await waitFor("the entry in alpha", () => entry("alpha", "by-label"));
    expect(first.bots).toEqual([]);
    expect(await entry("beta", "by-label")).toBeUndefined();
    await waitFor("NoBots", async () => condition(await get("by-label"), "Active")?.reason === "NoBots");

    await env.kubectl(["label", "-n", env.namespace, "bot", "alpha-tax", "stage=enrich"]);
    await waitFor("alpha-tax in the entry", async () =>
      (await entry("alpha", "by-label"))?.bots?.includes("alpha-tax"),
    );
    await env.kubectl(["label", "-n", env.namespace, "pipeline", "beta", "team=a"]);
    const beta = await waitFor("the entry in beta", () => entry("beta", "by-label"));
    expect(beta.bots).toEqual([]);
    await env.kubectl(["label", "-n", env.namespace, "pipeline", "alpha", "team-"]);
    await waitFor("the entry gone from alpha", async () => (await entry("alpha", "by-label")) === undefined);
    await waitFor("status: only beta", async () => {
      const o = await get("by-label");
      return JSON.stringify(o.status?.pipelines) === '["beta"]';
    });
    await env.kubectl(["label", "-n", env.namespace, "pipeline", "alpha", "team=a"]);
    await waitFor("back in alpha", async () =>
      (await entry("alpha", "by-label"))?.bots?.includes("alpha-tax"),
    );
  });

  it("removes a disabled exclusion from the buckets and restores it when enabled", async () => {
    await env.kubectl([
      "patch",
      "-n",
      env.namespace,
      "exclusion",
      "customers",
      "--type=merge",
      "-p",
      '{"spec":{"enabled":false}}',
    ]);
    await waitFor("the entry gone", async () => (await entry("alpha", "customers")) === undefined);
    await waitFor("Disabled", async () => condition(await get("customers"), "Active")?.reason === "Disabled");
    await env.kubectl([
      "patch",
      "-n",
      env.namespace,
      "exclusion",
      "customers",
      "--type=merge",
      "-p",
      '{"spec":{"enabled":true}}',
    ]);
    const back = await waitFor("the entry back", () => entry("alpha", "customers"));
    expect(back.revision).toBe("3");
  });

  it("reports the expiry when it comes, without the operator being told", async () => {
    const expiresAt = new Date(Date.now() + 3_000).toISOString().replace(/\.\d+Z$/, "Z");
    await env.apply(
      exclusion(
        "brief",
        `
scope: {pipelines: [beta]}
match: {all: [{field: source.asn, numeric: {gte: 64496, lte: 64511}}]}
reason: maintenance window
expiresAt: "${expiresAt}"`,
      ),
    );
    const before = await waitFor("status", async () => {
      const o = await get("brief");
      return o.status?.observedGeneration === 1 ? o : undefined;
    });
    expect(condition(before, "Expired")).toMatchObject({
      status: "False",
      message: `expires at ${expiresAt}`,
    });
    const x = await waitFor(
      "Expired",
      async () => {
        const o = await get("brief");
        return condition(o, "Expired")?.status === "True" ? o : undefined;
      },
      10_000,
    );
    const seen = Date.now();
    expect(seen - Date.parse(expiresAt)).toBeLessThan(3_000);
    expect(condition(x, "Active")).toMatchObject({ status: "False", reason: "Expired" });
    // The bots stop applying it at its expiry themselves: the entry stays.
    expect(await entry("beta", "brief")).toBeDefined();
  });

  it("does not write status again at rest", async () => {
    const before = (await get("brief")).metadata.resourceVersion;
    await new Promise((r) => setTimeout(r, 3_000)); // three resyncs of the test operator
    expect((await get("brief")).metadata.resourceVersion).toBe(before);
  });

  it("removes entries no Exclusion accounts for, e.g. left in a kept bucket while its Pipeline was gone", async () => {
    const rules = await bucket(exclusionBuckets("alpha").rules);
    const stray = await entry("alpha", "by-label");
    await rules.put("ghost", JSON.stringify({ ...stray, name: "ghost" }));
    expect(await entry("alpha", "ghost")).toBeDefined();
    await waitFor("the stray entry gone", async () => (await entry("alpha", "ghost")) === undefined);
    expect(await entry("alpha", "by-label")).toBeDefined();
  });

  it("removes a deleted exclusion from every bucket, with what its bots reported, before it goes", async () => {
    await env.kubectl([
      "delete",
      "-n",
      env.namespace,
      "exclusion",
      "customers",
      "--wait=true",
      "--timeout=30s",
    ]);
    expect(await env.exists("exclusion", "customers")).toBe(false);
    expect(await entry("alpha", "customers")).toBeUndefined();
    const stats = await bucket(exclusionBuckets("alpha").stats);
    const keys: string[] = [];
    for await (const k of await stats.keys("customers.>")) keys.push(k);
    expect(keys).toEqual([]);
    await env.kubectl([
      "delete",
      "-n",
      env.namespace,
      "exclusion",
      "by-label",
      "--wait=true",
      "--timeout=30s",
    ]);
    expect(await entry("alpha", "by-label")).toBeUndefined();
    expect(await entry("beta", "by-label")).toBeUndefined();
  });
});
