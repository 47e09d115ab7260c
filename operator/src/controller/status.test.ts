import { describe, expect, it } from "vitest";
import { type BotObservation, botStatus, type DeploymentView } from "./bot-status.ts";
import { kubeTime, withConditions } from "./conditions.ts";
import { type BotSummary, type PipelineObservation, pipelineStatus } from "./pipeline-status.ts";

const T0 = new Date("2026-01-01T10:00:00.123Z");
const T1 = new Date("2026-01-01T10:05:00Z");

const ready: DeploymentView = {
  generation: 2,
  observedGeneration: 2,
  specReplicas: 2,
  configHash: "abc",
  replicas: 2,
  readyReplicas: 2,
  updatedReplicas: 2,
};

function observe(over: Partial<BotObservation> = {}): BotObservation {
  return {
    generation: 3,
    enabled: true,
    desiredReplicas: 2,
    module: "experts.taxonomy",
    blockers: [],
    warnings: [],
    desiredHash: "abc",
    selector: "petrel.dev/pipeline=p,petrel.dev/process=b",
    deployment: ready,
    backlog: 7,
    ...over,
  };
}

const byType = (status: { conditions?: Array<{ type: string }> }) =>
  Object.fromEntries((status.conditions ?? []).map((c) => [c.type, c]));

describe("conditions", () => {
  it("keep lastTransitionTime while their status stays, and set it when it changes", () => {
    const first = withConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "A", message: "" }],
      1,
      T0,
    );
    expect(first).toEqual([
      {
        type: "Ready",
        status: "False",
        observedGeneration: 1,
        lastTransitionTime: "2026-01-01T10:00:00Z",
        reason: "A",
        message: "",
      },
    ]);
    const same = withConditions(
      first,
      [{ type: "Ready", status: "False", reason: "B", message: "x" }],
      2,
      T1,
    );
    expect(same[0]).toMatchObject({ lastTransitionTime: kubeTime(T0), reason: "B", observedGeneration: 2 });
    const flipped = withConditions(
      same,
      [{ type: "Ready", status: "True", reason: "C", message: "" }],
      2,
      T1,
    );
    expect(flipped[0]?.lastTransitionTime).toBe("2026-01-01T10:05:00Z");
  });
});

describe("botStatus", () => {
  it("is Running and Ready when every replica runs the current config", () => {
    const status = botStatus(observe(), undefined, T0);
    expect(status).toMatchObject({
      observedGeneration: 3,
      state: "Running",
      module: "experts.taxonomy",
      replicas: 2,
      readyReplicas: 2,
      selector: "petrel.dev/pipeline=p,petrel.dev/process=b",
      backlog: 7,
    });
    expect(byType(status)).toMatchObject({
      Ready: { status: "True", reason: "Running", message: "2 of 2 replicas ready" },
      Progressing: { status: "False", reason: "RolloutComplete" },
      Degraded: { status: "False", reason: "NoProblems" },
    });
  });

  it("is Progressing while the Deployment has not caught up", () => {
    const cases: Array<[Partial<BotObservation>, string]> = [
      [{ deployment: undefined }, "Creating"],
      [{ desiredHash: "new" }, "Updating"],
      [{ desiredReplicas: 3 }, "Scaling"],
      [{ deployment: { ...ready, observedGeneration: 1 } }, "RollingOut"],
      [{ deployment: { ...ready, readyReplicas: 1 } }, "RollingOut"],
      [{ deployment: { ...ready, replicas: 3 } }, "RollingOut"],
    ];
    for (const [over, reason] of cases) {
      const status = botStatus(observe(over), undefined, T0);
      expect(byType(status), reason).toMatchObject({
        Ready: { status: "False", reason },
        Progressing: { status: "True", reason },
      });
    }
    expect(botStatus(observe({ deployment: { ...ready, readyReplicas: 1 } }), undefined, T0).state).toBe(
      "Degraded",
    );
    expect(botStatus(observe({ deployment: { ...ready, readyReplicas: 0 } }), undefined, T0).state).toBe(
      "Pending",
    );
  });

  it("is Stopped, and Ready once its pods are gone, when disabled", () => {
    const gone = { ...ready, specReplicas: 0, replicas: 0, readyReplicas: 0, updatedReplicas: 0 };
    const status = botStatus(
      observe({ enabled: false, desiredReplicas: 0, deployment: gone }),
      undefined,
      T0,
    );
    expect(status.state).toBe("Stopped");
    expect(byType(status).Ready).toMatchObject({ status: "True", reason: "Stopped" });
  });

  it("is Failed and Degraded, naming the problem, while the spec is invalid", () => {
    const status = botStatus(
      observe({
        blockers: [{ reason: "InvalidParameters", message: "spec.parameters.x: bad" }],
        module: undefined,
        backlog: undefined,
      }),
      undefined,
      T0,
    );
    expect(status.state).toBe("Failed");
    expect(status.module).toBeUndefined();
    expect(status.backlog).toBeUndefined();
    expect(byType(status)).toMatchObject({
      Ready: { status: "False", reason: "InvalidParameters", message: "spec.parameters.x: bad" },
      Degraded: { status: "True", reason: "InvalidParameters", message: "spec.parameters.x: bad" },
      Progressing: { status: "False", reason: "InvalidParameters" },
    });
    const waiting = botStatus(
      observe({ blockers: [{ reason: "PipelineNotFound", message: "no Pipeline p" }] }),
      undefined,
      T0,
    );
    expect(waiting.state).toBe("Pending");
  });

  it("is Degraded but still Ready with a problem that does not stop it", () => {
    const status = botStatus(
      observe({ warnings: [{ reason: "UnknownDestination", message: "no Bot named x" }] }),
      undefined,
      T0,
    );
    expect(status.state).toBe("Degraded");
    expect(byType(status)).toMatchObject({
      Ready: { status: "True" },
      Degraded: { status: "True", reason: "UnknownDestination", message: "no Bot named x" },
    });
  });
});

describe("pipelineStatus", () => {
  const readyConditions = (gen: number) =>
    withConditions(undefined, [{ type: "Ready", status: "True", reason: "Running", message: "" }], gen, T0);
  const bot = (name: string, over: Partial<BotSummary> = {}): BotSummary => ({
    name,
    active: true,
    generation: 1,
    observedGeneration: 1,
    conditions: readyConditions(1),
    ...over,
  });
  const observe = (over: Partial<PipelineObservation> = {}): PipelineObservation => ({
    generation: 4,
    problem: undefined,
    stream: "PETREL_P",
    deadLetterStream: "PETREL_P_DLQ",
    deadLetters: 2,
    deleteStreams: false,
    bots: [bot("a"), bot("b")],
    ...over,
  });

  it("is Ready when every enabled bot is Ready for its current generation", () => {
    const status = pipelineStatus(
      observe({ bots: [bot("a"), bot("off", { active: false, conditions: [] })] }),
      undefined,
      T0,
    );
    expect(status).toMatchObject({
      observedGeneration: 4,
      bots: { total: 2, ready: 1 },
      stream: "PETREL_P",
      deadLetterStream: "PETREL_P_DLQ",
      deadLetters: 2,
    });
    expect(byType(status)).toMatchObject({
      Ready: { status: "True", reason: "AllBotsReady", message: "streams ready, 1 enabled bots ready" },
      Progressing: { status: "False" },
      Degraded: { status: "False" },
      StreamsRetainedOnDelete: { status: "True", reason: "KeepByDefault" },
    });
  });

  it("is not Ready while a bot is not, or has not caught up with its spec", () => {
    const status = pipelineStatus(
      observe({ bots: [bot("a", { generation: 2 }), bot("b", { conditions: [] }), bot("c")] }),
      undefined,
      T0,
    );
    expect(byType(status)).toMatchObject({
      Ready: {
        status: "False",
        reason: "BotsNotReady",
        message: "1 of 3 enabled bots ready; not ready: a, b",
      },
      Progressing: { status: "True", reason: "BotsProgressing", message: "a" },
    });
  });

  it("is Degraded when a bot is, or when its streams cannot be had", () => {
    const degraded = withConditions(
      undefined,
      [
        { type: "Ready", status: "True", reason: "Running", message: "" },
        { type: "Degraded", status: "True", reason: "UnknownDestination", message: "" },
      ],
      1,
      T0,
    );
    expect(
      byType(pipelineStatus(observe({ bots: [bot("a", { conditions: degraded })] }), undefined, T0)).Degraded,
    ).toMatchObject({
      status: "True",
      reason: "BotsDegraded",
      message: "a",
    });
    const broken = pipelineStatus(
      observe({
        problem: { reason: "StreamsUnavailable", message: "no responders" },
        deadLetters: undefined,
        deleteStreams: true,
      }),
      undefined,
      T0,
    );
    expect(broken.deadLetters).toBeUndefined();
    expect(byType(broken)).toMatchObject({
      Ready: { status: "False", reason: "StreamsUnavailable", message: "no responders" },
      Degraded: { status: "True", reason: "StreamsUnavailable" },
      StreamsRetainedOnDelete: { status: "False", reason: "DeleteRequested" },
    });
  });
});
