import { describe, expect, it } from "vitest";
import { botSubject, parameterEnvName, parametersWithEnv, pipelineNames, renderBotConfig } from "./render.ts";
import { Bot, Pipeline } from "./resources.ts";

const pipeline = Pipeline.parse({
  apiVersion: "petrel.dev/v1alpha1",
  kind: "Pipeline",
  metadata: { name: "cert-feeds" },
  spec: {
    nats: { url: "nats://a:4222, nats://b:4222" },
    defaults: { errorMaxRetries: 5, logLevel: "debug" },
  },
});

function bot(spec: Record<string, unknown>) {
  return Bot.parse({ apiVersion: "petrel.dev/v1alpha1", kind: "Bot", metadata: { name: "dedup" }, spec });
}

describe("renderBotConfig", () => {
  it("merges the pipeline's defaults with the bot's overrides and names queues by bot", () => {
    const config = renderBotConfig(
      bot({
        pipeline: "cert-feeds",
        module: "experts.deduplicator",
        parameters: { filter_keys: "raw" },
        destinations: { _default: ["taxonomy", "archive"], _on_error: ["errors"] },
        errorRetryDelay: "2s",
      }),
      pipeline,
      { hasInput: true, metricsPort: 9100 },
    );
    expect(config).toMatchObject({
      bot: "dedup",
      pipeline: "cert-feeds",
      nats: { servers: ["nats://a:4222", "nats://b:4222"] },
      stream: "PETREL_CERT_FEEDS",
      input: { subject: "petrel.cert-feeds.bot.dedup", consumer: "dedup" },
      destinations: {
        _default: ["petrel.cert-feeds.bot.taxonomy", "petrel.cert-feeds.bot.archive"],
        _on_error: ["petrel.cert-feeds.bot.errors"],
      },
      deadLetter: { stream: "PETREL_CERT_FEEDS_DLQ", subject: "petrel.cert-feeds.dlq.dedup" },
      errors: { procedure: "pass", maxRetries: 5, retryDelayMs: 2000 },
      logLevel: "debug",
      metricsPort: 9100,
    });
    expect(pipelineNames("cert-feeds").subjects).toBe("petrel.cert-feeds.bot.>");
    expect(botSubject("cert-feeds", "x")).toBe("petrel.cert-feeds.bot.x");
  });

  it("gives collectors no input and takes their interval from interval, schedule or rate_limit", () => {
    const base = { pipeline: "cert-feeds", module: "collectors.file" };
    expect(renderBotConfig(bot({ ...base, interval: "5m" }), pipeline, { hasInput: false })).toMatchObject({
      intervalMs: 300_000,
    });
    const fromRateLimit = renderBotConfig(bot({ ...base, parameters: { rate_limit: 60 } }), pipeline, {
      hasInput: false,
    });
    expect(fromRateLimit.intervalMs).toBe(60_000);
    expect(fromRateLimit.input).toBeUndefined();
    expect(
      renderBotConfig(bot({ ...base, schedule: "0 * * * *" }), pipeline, { hasInput: false }).schedule,
    ).toBe("0 * * * *");
  });

  it("refuses a bot of another pipeline", () => {
    expect(() =>
      renderBotConfig(bot({ pipeline: "other", module: "x" }), pipeline, { hasInput: true }),
    ).toThrow(/belongs to pipeline other/);
  });
});

describe("parameters from the environment (parametersFrom on Kubernetes)", () => {
  const withSecrets = bot({
    pipeline: "cert-feeds",
    module: "collectors.file",
    parameters: { path: "/data" },
    parametersFrom: [
      { parameter: "http_password", secretKeyRef: { name: "feed", key: "password" } },
      { parameter: "http.password", secretKeyRef: { name: "feed", key: "other" } },
    ],
  });

  it("names one environment variable per parameter, only when asked to", () => {
    const config = renderBotConfig(withSecrets, pipeline, { hasInput: false, parametersFromEnv: true });
    expect(config.parametersFromEnv).toEqual({
      http_password: "PETREL_PARAM_DEDUP_HTTP_PASSWORD",
      "http.password": "PETREL_PARAM_DEDUP_HTTP_PASSWORD_2",
    });
    expect(parameterEnvName("feed-a", "x.y")).toBe("PETREL_PARAM_FEED_A_X_Y");
    // Local mode puts the values into parameters itself.
    expect(renderBotConfig(withSecrets, pipeline, { hasInput: false }).parametersFromEnv).toBeUndefined();
  });

  it("fills the parameters from the environment and names a variable that is missing", () => {
    const config = renderBotConfig(withSecrets, pipeline, { hasInput: false, parametersFromEnv: true });
    const env = { PETREL_PARAM_DEDUP_HTTP_PASSWORD: "s3cret", PETREL_PARAM_DEDUP_HTTP_PASSWORD_2: "other" };
    expect(parametersWithEnv(config, env)).toEqual({
      path: "/data",
      http_password: "s3cret",
      "http.password": "other",
    });
    expect(config.parameters).toEqual({ path: "/data" });
    expect(() => parametersWithEnv(config, {})).toThrow(
      "bot dedup: parameter http_password comes from environment variable PETREL_PARAM_DEDUP_HTTP_PASSWORD, which is not set",
    );
    const plain = renderBotConfig(withSecrets, pipeline, { hasInput: false });
    expect(parametersWithEnv(plain, {})).toBe(plain.parameters);
  });
});
