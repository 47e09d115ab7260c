import { describe, expect, it } from "vitest";
import { parseFlags } from "./flags.ts";

describe("operator flags", () => {
  it("has defaults for everything but what it cannot guess", () => {
    expect(parseFlags([], {})).toEqual({
      namespace: undefined,
      kubeconfig: undefined,
      natsUrl: undefined,
      natsCredentialsFile: undefined,
      botImage: undefined,
      metricsPort: 8080,
      resyncMs: 60_000,
      workers: 4,
      leaderElection: { name: "petrel-operator", namespace: "default" },
      logLevel: "info",
    });
    expect(parseFlags(["--help"], {})).toBeUndefined();
  });

  it("reads flags first, then environment variables", () => {
    const settings = parseFlags(
      ["--namespace=cert", "--bot-image", "reg/petrel:1", "--resync=2m", "--leader-election-id=x"],
      {
        PETREL_WATCH_NAMESPACE: "ignored",
        PETREL_NATS_URL: "nats://nats:4222",
        PETREL_METRICS_PORT: "9000",
        PETREL_WORKERS: "8",
        POD_NAMESPACE: "petrel-system",
        PETREL_LOG_LEVEL: "debug",
      },
    );
    expect(settings).toMatchObject({
      namespace: "cert",
      botImage: "reg/petrel:1",
      natsUrl: "nats://nats:4222",
      metricsPort: 9000,
      workers: 8,
      resyncMs: 120_000,
      leaderElection: { name: "x", namespace: "petrel-system" },
      logLevel: "debug",
    });
    expect(parseFlags(["--leader-elect=false"], {})?.leaderElection).toBe(false);
    expect(parseFlags([], { PETREL_WATCH_NAMESPACE: "cert" })?.leaderElection).toMatchObject({
      namespace: "cert",
    });
  });

  it("names the flag that is wrong", () => {
    expect(() => parseFlags(["--workers=0"], {})).toThrow(
      '--workers: expected a whole number from 1 to 64, got "0"',
    );
    expect(() => parseFlags(["--resync=soon"], {})).toThrow("--resync: expected a duration");
    expect(() => parseFlags(["--leader-elect=maybe"], {})).toThrow("--leader-elect: expected true or false");
    expect(() => parseFlags(["--log-level=loud"], {})).toThrow("--log-level: unknown level loud");
    expect(() => parseFlags(["--nope"], {})).toThrow(/Unknown option '--nope'/);
  });
});
