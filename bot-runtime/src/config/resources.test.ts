import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Bot, BotStatus, Exclusion, isEventField, isIpOrCidr, Pipeline } from "./resources.ts";

const meta = { name: "x" };
const bot = (spec: Record<string, unknown>) =>
  Bot.safeParse({ apiVersion: "petrel.dev/v1alpha1", kind: "Bot", metadata: meta, spec });
const exclusion = (spec: Record<string, unknown>) =>
  Exclusion.safeParse({ apiVersion: "petrel.dev/v1alpha1", kind: "Exclusion", metadata: meta, spec });
const messages = (result: { error?: z.ZodError }) =>
  result.error?.issues.map((i) => i.message).join("; ") ?? "";

const base = { pipeline: "demo", module: "collectors.tcp" };
const valid = {
  scope: { pipelines: ["demo"] },
  match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/24"] }] },
  reason: "test",
};

describe("Bot", () => {
  it("takes resources, ports and Secret references, with defaults", () => {
    const result = bot({
      ...base,
      resources: {
        requests: { cpu: "250m", memory: "128Mi" },
        limits: { cpu: 2, "ephemeral-storage": "1Gi" },
      },
      ports: [
        { name: "syslog", port: 514, protocol: "UDP" },
        { name: "tcp-in", port: 5000 },
      ],
      parametersFrom: [{ parameter: "password", secretKeyRef: { name: "feed.creds", key: "pass.txt" } }],
    });
    expect(result.error?.issues ?? []).toEqual([]);
    expect(result.data?.spec.ports[1]).toEqual({ name: "tcp-in", port: 5000, protocol: "TCP" });
    expect(result.data?.spec).toMatchObject({ replicas: 1, enabled: true, parameters: {}, destinations: {} });
  });

  it.each([
    [{ interval: "5m", schedule: "0 * * * *" }, /schedule or interval, not both/],
    [{ schedule: "every 5m" }, /cron expression/],
    [{ schedule: "61 * * * *" }, /not a valid cron expression/],
    [{ resources: { limits: { memory: "1 GB" } } }, /quantity/],
    [{ resources: { limits: { cpu: -1 } } }, /Too small|>=0/],
    [
      {
        ports: [
          { name: "a", port: 1 },
          { name: "a", port: 2 },
        ],
      },
      /same name/,
    ],
    [
      {
        ports: [
          { name: "a", port: 514 },
          { name: "b", port: 514 },
        ],
      },
      /same number and protocol/,
    ],
    [{ ports: [{ name: "1a", port: 1 }] }, /starting with a letter/],
    [
      { parametersFrom: [{ parameter: "p", secretKeyRef: { name: "s", key: ".." } }] },
      /cannot be \. or \.\./,
    ],
    [
      {
        parametersFrom: [
          { parameter: "p", secretKeyRef: { name: "s", key: "a" } },
          { parameter: "p", secretKeyRef: { name: "s", key: "b" } },
        ],
      },
      /same parameter/,
    ],
  ])("refuses %j", (spec, message) => {
    expect(messages(bot({ ...base, ...spec }))).toMatch(message);
  });

  it("accepts cron nicknames and six-field expressions", () => {
    for (const schedule of ["@hourly", "*/10 * * * * *", "0 3 * * 1-5"]) {
      expect(bot({ ...base, schedule }).success, schedule).toBe(true);
    }
  });

  it("has a status in metav1.Condition shape", () => {
    const condition = {
      type: "Ready",
      status: "True",
      lastTransitionTime: "2025-01-01T00:00:00Z",
      reason: "AllReplicasReady",
      message: "",
    };
    expect(BotStatus.safeParse({ state: "Running", conditions: [condition] }).success).toBe(true);
    expect(BotStatus.safeParse({ conditions: [{ ...condition, status: "Yes" }] }).success).toBe(false);
    expect(
      BotStatus.safeParse({ conditions: [{ ...condition, lastTransitionTime: "yesterday" }] }).success,
    ).toBe(false);
    expect(BotStatus.safeParse({ conditions: [condition, condition] }).success).toBe(false);
  });
});

describe("Pipeline", () => {
  it("takes image pull settings and default resources for its bots", () => {
    const result = Pipeline.safeParse({
      apiVersion: "petrel.dev/v1alpha1",
      kind: "Pipeline",
      metadata: meta,
      spec: {
        defaults: {
          imagePullPolicy: "Always",
          imagePullSecrets: [{ name: "registry" }],
          resources: { limits: { memory: "512Mi" } },
        },
      },
    });
    expect(result.error?.issues ?? []).toEqual([]);
    expect(result.data?.spec.stream.maxAge).toBe("7d");
  });
});

describe("Exclusion", () => {
  it("parses a full exclusion and defaults to dropping, enabled", () => {
    const result = exclusion({
      scope: {
        pipelineSelector: {},
        botSelector: { matchExpressions: [{ key: "tier", operator: "Exists" }] },
      },
      match: {
        all: [
          { field: "source.ip", cidr: ["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"] },
          { classification: { taxonomy: "vulnerable", type: "vulnerable-system" } },
        ],
        any: [
          { field: "source.fqdn", domainSuffix: ["example.org"] },
          { field: "source.url", wildcard: ["https://example.org/*"] },
          { field: "destination.port", numeric: { gte: 1024 } },
          { field: "feed.name", regex: "^Shadow(server)?$", not: true },
          { field: "extra.tag", exists: true },
          { field: "source.asn", oneOf: ["64496"] },
        ],
      },
      reason: "protected constituent",
      owner: "cert@example.org",
      ticket: "RT#1",
      expiresAt: "2030-01-01T00:00:00+01:00",
    });
    expect(result.error?.issues ?? []).toEqual([]);
    expect(result.data?.spec).toMatchObject({ action: { type: "drop" }, enabled: true });
  });

  it.each([
    [{ action: { type: "route" } }, /route needs a path/],
    [{ action: { type: "mark" } }, /mark needs the fields to set/],
    [{ action: { type: "drop", path: "x" } }, /path only applies to route/],
    [{ action: { type: "drop", set: [{ field: "extra.by", value: "x" }] } }, /set only applies to mark/],
    [{ action: { type: "mark", set: [{ field: "extra.x", value: "x" }] } }, /not an event field/],
    [{ scope: {} }, /by name \(pipelines\) or by label/],
    [{ scope: { pipelines: ["a"], pipelineSelector: {} } }, /one of the two/],
    [{ match: {} }, /at least one condition/],
    [{ match: { all: [{ field: "source.ip" }] } }, /exactly one test/],
    [{ match: { all: [{ field: "source.ip", equals: "a", exists: true }] } }, /exactly one test/],
    [{ match: { all: [{ equals: "a" }] } }, /set field/],
    [{ match: { all: [{ field: "source.ip", classification: { type: "scanner" } }] } }, /set field/],
    [{ match: { all: [{ field: "source.ipp", exists: true }] } }, /not an event field/],
    [{ match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/33"] }] } }, /not an IP address or CIDR/],
    [{ match: { all: [{ field: "source.ip", cidr: ["nonsense"] }] } }, /not an IP address or CIDR/],
    [{ match: { all: [{ field: "feed.name", regex: "(" }] } }, /not a valid regular expression/],
    [{ match: { all: [{ field: "source.port", numeric: {} }] } }, /numeric needs/],
    [{ match: { all: [{ classification: {} }] } }, /needs taxonomy, type or identifier/],
    [{ match: { all: [{ classification: { taxonomy: "fraud", type: "scanner" } }] } }, /another taxonomy/],
    [{ match: { all: [{ field: "source.fqdn", domainSuffix: ["exa mple.org"] }] } }, /domain name/],
    [{ expiresAt: "2030-01-01" }, /datetime|date/i],
    [{ reason: "" }, /Too small|>=1/],
    [
      { scope: { pipelineSelector: { matchExpressions: [{ key: "a", operator: "In" }] } } },
      /In and NotIn need values/,
    ],
  ])("refuses %j", (change, message) => {
    expect(messages(exclusion({ ...valid, ...change }))).toMatch(message);
  });
});

describe("helpers", () => {
  it("tells IP addresses and CIDR networks from other text", () => {
    for (const ok of ["192.0.2.1", "192.0.2.0/24", "0.0.0.0/0", "2001:db8::1", "2001:db8::/32", "::/0"]) {
      expect(isIpOrCidr(ok), ok).toBe(true);
    }
    for (const bad of [
      "192.0.2.0/33",
      "2001:db8::/129",
      "192.0.2",
      "a.b.c.d",
      "192.0.2.0/24/1",
      "fe80::1%eth0",
    ]) {
      expect(isIpOrCidr(bad), bad).toBe(false);
    }
  });

  it("knows the event fields exclusions may name", () => {
    for (const ok of ["source.ip", "classification.type", "extra", "extra.excluded_by", "extra.a_b.c"]) {
      expect(isEventField(ok), ok).toBe(true);
    }
    for (const bad of ["source.ipp", "extra.", "extra.x", "Source.ip", "constructor", "__type"]) {
      expect(isEventField(bad), bad).toBe(false);
    }
  });
});

describe("the resource schemas", () => {
  it.each([
    ["Pipeline", Pipeline],
    ["Bot", Bot],
    ["Exclusion", Exclusion],
  ])("describe every field of %s", (_, schema) => {
    const missing: string[] = [];
    type Node = {
      description?: string;
      properties?: Record<string, Node>;
      anyOf?: Node[];
      items?: Node;
      additionalProperties?: Node | boolean;
    };
    const visit = (node: Node, path: string) => {
      for (const [name, sub] of Object.entries(node.properties ?? {})) {
        if (!sub.description) missing.push(`${path}${name}`);
        visit(sub, `${path}${name}.`);
      }
      for (const branch of node.anyOf ?? []) visit(branch, path);
      if (node.items) visit(node.items, `${path}[].`);
      if (typeof node.additionalProperties === "object") visit(node.additionalProperties, `${path}*.`);
    };
    visit(z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" }) as Node, "");
    expect(missing).toEqual([]);
  });
});
