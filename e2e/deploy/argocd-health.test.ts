// The Argo CD health check of Bot and Pipeline (charts/petrel/argocd/health.lua), run by a real Lua 5.1
// interpreter (Argo CD runs gopher-lua, a Lua 5.1) in a sandbox like Argo CD's without open libraries:
// base functions and `table` only, no `string`/`math`/`os`/`io`, no string methods. The objects are
// built with the operator's own status functions where possible, so the check reads what it writes.
// docs/argocd.md carries the script for argocd-cm: the test keeps that copy identical.
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type BotObservation, botStatus } from "../../operator/src/controller/bot-status.ts";
import { type PipelineObservation, pipelineStatus } from "../../operator/src/controller/pipeline-status.ts";

const script = readFileSync(new URL("../../charts/petrel/argocd/health.lua", import.meta.url), "utf8");
const LUA = process.env.PETREL_LUA ?? "lua5.1";

/** A JSON value as a Lua table constructor. */
function lua(value: unknown): string {
  if (value === null || value === undefined) return "nil";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `{${value.map(lua).join(", ")}}`;
  const entries = Object.entries(value as Record<string, unknown>).map(
    ([k, v]) => `[${JSON.stringify(k)}] = ${lua(v)}`,
  );
  return `{${entries.join(", ")}}`;
}

interface Health {
  status: string;
  message: string;
}

/** Runs the health script on `obj` in an Argo-CD-like sandbox; resolves to its result. */
function health(obj: object): Promise<Health> {
  const program = `
local source = ${JSON.stringify(script)}
local chunk = assert(loadstring(source, "health.lua"))
-- Argo CD without open libraries: base functions and table, nothing else; strings have no methods.
getmetatable("").__index = nil
local sandbox = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
  rawequal = rawequal, rawget = rawget, rawset = rawset, select = select, tonumber = tonumber,
  tostring = tostring, type = type, unpack = unpack, table = table,
  obj = ${lua(obj)},
}
setfenv(chunk, sandbox)
local result = chunk()
assert(type(result) == "table", "health.lua must return a table")
io.write(tostring(result.status), "\\t", tostring(result.message))
`;
  return new Promise((resolve, reject) => {
    const child = execFile(LUA, ["-"], { encoding: "utf8" }, (error, stdout, stderr) => {
      if (error) {
        const hint =
          (error as NodeJS.ErrnoException).code === "ENOENT"
            ? ` (install Lua 5.1: apt-get install lua5.1, as .ci/run does, or set PETREL_LUA)`
            : "";
        reject(new Error(`${LUA} failed${hint}: ${stderr.trim() || error.message}`));
        return;
      }
      const [status = "", message = ""] = stdout.split("\t");
      resolve({ status, message });
    });
    child.stdin?.end(program);
  });
}

const NOW = new Date("2026-01-01T00:00:00Z");

function bot(generation: number, change: Partial<BotObservation> = {}): object {
  const observation: BotObservation = {
    generation,
    enabled: true,
    desiredReplicas: 2,
    module: "experts.taxonomy",
    blockers: [],
    warnings: [],
    desiredHash: "h1",
    selector: "petrel.dev/pipeline=demo,petrel.dev/process=taxonomy",
    deployment: {
      generation: 1,
      observedGeneration: 1,
      specReplicas: 2,
      configHash: "h1",
      replicas: 2,
      readyReplicas: 2,
      updatedReplicas: 2,
    },
    backlog: 0,
    ...change,
  };
  return {
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Bot",
    metadata: { name: "taxonomy", namespace: "demo", generation },
    status: botStatus(observation, undefined, NOW),
  };
}

function pipeline(generation: number, change: Partial<PipelineObservation> = {}): object {
  const observation: PipelineObservation = {
    generation,
    problem: undefined,
    stream: "petrel-demo",
    deadLetterStream: "petrel-demo-dlq",
    deadLetters: 0,
    deleteStreams: false,
    bots: [],
    ...change,
  };
  return {
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Pipeline",
    metadata: { name: "demo", namespace: "demo", generation },
    status: pipelineStatus(observation, undefined, NOW),
  };
}

const readyCondition = (generation: number, status: "True" | "False") => ({
  type: "Ready",
  status,
  observedGeneration: generation,
  lastTransitionTime: "2026-01-01T00:00:00Z",
  reason: status === "True" ? "Running" : "RollingOut",
  message: "",
});

describe("Argo CD health check for petrel.dev Bot and Pipeline", () => {
  it("is Progressing until the operator has written a status for the current generation", async () => {
    expect(await health({ kind: "Bot", metadata: { name: "b", generation: 1 } })).toEqual({
      status: "Progressing",
      message: "Waiting for the Petrel operator",
    });
    const stale = bot(1) as { metadata: { generation: number } };
    stale.metadata.generation = 2;
    expect(await health(stale)).toEqual({
      status: "Progressing",
      message: "The Petrel operator has not seen generation 2 yet",
    });
  });

  it("reads a running bot as Healthy and a stopped one too", async () => {
    expect(await health(bot(3))).toEqual({ status: "Healthy", message: "Running: 2 of 2 replicas ready" });
    expect(await health(bot(3, { enabled: false, desiredReplicas: 0, deployment: undefined }))).toMatchObject(
      {
        status: "Progressing",
      },
    );
    const stopped = bot(3, {
      enabled: false,
      desiredReplicas: 0,
      deployment: {
        generation: 2,
        observedGeneration: 2,
        specReplicas: 0,
        configHash: "h1",
        replicas: 0,
        readyReplicas: 0,
        updatedReplicas: 0,
      },
    });
    expect(await health(stopped)).toEqual({
      status: "Healthy",
      message: "Stopped: the bot is stopped (0 replicas)",
    });
  });

  it("reads a rollout in progress as Progressing and a blocked bot as Degraded", async () => {
    const rolling = bot(2, {
      deployment: {
        generation: 2,
        observedGeneration: 2,
        specReplicas: 2,
        configHash: "h1",
        replicas: 2,
        readyReplicas: 1,
        updatedReplicas: 1,
      },
    });
    expect(await health(rolling)).toEqual({
      status: "Progressing",
      message: "RollingOut: 1 of 2 replicas ready, 1 updated",
    });
    const blocked = bot(2, {
      blockers: [{ reason: "UnknownModule", message: 'no bot module "experts.nope"' }],
    });
    expect(await health(blocked)).toEqual({
      status: "Degraded",
      message: 'UnknownModule: no bot module "experts.nope"',
    });
  });

  it("reads a pipeline by its own summary: ready, degraded bots, bots not ready", async () => {
    const summary = (name: string, ready: boolean, degraded = false) => ({
      name,
      active: true,
      generation: 1,
      observedGeneration: 1,
      conditions: [
        readyCondition(1, ready ? "True" : "False"),
        { ...readyCondition(1, degraded ? "True" : "False"), type: "Degraded" },
      ],
    });
    expect(await health(pipeline(1, { bots: [summary("a", true), summary("b", true)] }))).toEqual({
      status: "Healthy",
      message: "AllBotsReady: streams ready, 2 enabled bots ready",
    });
    expect(await health(pipeline(1, { bots: [summary("a", true), summary("b", true, true)] }))).toEqual({
      status: "Degraded",
      message: "BotsDegraded: b",
    });
    expect(await health(pipeline(4, { bots: [summary("a", true), summary("b", false)] }))).toEqual({
      status: "Progressing",
      message: "BotsNotReady: 1 of 2 enabled bots ready; not ready: b",
    });
    expect(
      await health(pipeline(1, { problem: { reason: "StreamError", message: "JetStream is not enabled" } })),
    ).toEqual({ status: "Degraded", message: "StreamError: JetStream is not enabled" });
  });

  it("ignores conditions written for an older generation, and takes numbers given as strings", async () => {
    const obj = {
      metadata: { generation: 5 },
      status: {
        observedGeneration: 5,
        conditions: [
          { type: "Degraded", status: "True", observedGeneration: 4, reason: "Old", message: "gone" },
          { type: "Ready", status: "True", observedGeneration: 5, reason: "Running", message: "ok" },
        ],
      },
    };
    expect(await health(obj)).toEqual({ status: "Healthy", message: "Running: ok" });
    // Argo CD can pass integers as strings (json.Number); 5 and "5" are the same generation.
    const asStrings = { metadata: { generation: "5" }, status: { ...obj.status, observedGeneration: 5 } };
    expect(await health(asStrings)).toEqual({ status: "Healthy", message: "Running: ok" });
    const onlyReadyFalse = {
      metadata: { generation: 1 },
      status: { observedGeneration: 1, conditions: [{ type: "Ready", status: "False", reason: "Waiting" }] },
    };
    expect(await health(onlyReadyFalse)).toEqual({ status: "Progressing", message: "Waiting" });
  });

  it("is the script docs/argocd.md gives for argocd-cm, for both kinds", () => {
    const doc = readFileSync(new URL("../../docs/argocd.md", import.meta.url), "utf8");
    const indented = script
      .trimEnd()
      .split("\n")
      .map((line) => (line === "" ? "" : `    ${line}`))
      .join("\n");
    for (const kind of ["Bot", "Pipeline"]) {
      expect(doc).toContain(`  resource.customizations.health.petrel.dev_${kind}: |\n${indented}\n`);
    }
  });
});
