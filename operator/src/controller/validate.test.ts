import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Bot, type BotResource } from "../../../bot-runtime/src/config/resources.ts";
import { defineExpert } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { validateBot } from "./validate.ts";

const lookup = (name: string) =>
  name === "test.api"
    ? defineExpert({
        id: "test.api",
        intelmqModules: [],
        kind: "expert",
        description: "needs a token",
        parameters: z.object({ token: z.string(), lists: z.array(z.number()).default([]) }),
        create: () => ({ process: (e) => e }),
      })
    : findModule(name);

function bot(name: string, spec: Record<string, unknown>): BotResource {
  return Bot.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Bot",
    metadata: { name },
    spec: { pipeline: "feeds", ...spec },
  });
}

describe("validateBot", () => {
  it("accepts a bot whose module, parameters and destinations are fine", () => {
    const tax = bot("tax", {
      module: "intelmq.bots.experts.taxonomy.expert",
      destinations: { _default: ["out"] },
    });
    const out = bot("out", { module: "outputs.file" });
    const result = validateBot(tax, [tax, out], lookup);
    expect(result.module?.id).toBe("experts.taxonomy");
    expect(result.problems).toEqual([]);
  });

  it("rejects a module the catalogue does not know", () => {
    const b = bot("x", { module: "experts.nope" });
    expect(validateBot(b, [b], lookup)).toEqual({
      module: undefined,
      problems: [
        {
          reason: "UnknownModule",
          message:
            'spec.module: unknown module "experts.nope" (neither a catalogue id nor an IntelMQ module path the catalogue knows)',
          blocking: true,
        },
      ],
    });
  });

  it("names the exact path of each invalid parameter with zod's message", () => {
    const b = bot("api", { module: "test.api", parameters: { lists: [1, "two"] } });
    expect(validateBot(b, [b], lookup).problems).toEqual([
      {
        reason: "InvalidParameters",
        message:
          "spec.parameters.token: Invalid input: expected string, received undefined; spec.parameters.lists[1]: Invalid input: expected number, received string (module test.api)",
        blocking: true,
      },
    ]);
  });

  it("leaves parameters from Secrets to the bot, which sees their values", () => {
    const b = bot("api", {
      module: "test.api",
      parametersFrom: [{ parameter: "token", secretKeyRef: { name: "api", key: "token" } }],
    });
    expect(validateBot(b, [b], lookup).problems).toEqual([]);
  });

  it("reports destinations naming no bot, collectors, and outputs with destinations, without blocking", () => {
    const feed = bot("feed", { module: "collectors.file" });
    const tax = bot("tax", {
      module: "experts.taxonomy",
      destinations: { _default: ["out", "gone", "feed"] },
    });
    const out = bot("out", { module: "outputs.file", destinations: { _default: ["tax"] } });
    expect(validateBot(tax, [feed, tax, out], lookup).problems).toEqual([
      {
        reason: "UnknownDestination",
        message:
          "spec.destinations._default[1]: no Bot named gone in pipeline feeds; its messages wait in the queue until it exists",
        blocking: false,
      },
      {
        reason: "InvalidDestination",
        message: "spec.destinations._default[2]: feed is a collector; collectors have no input queue",
        blocking: false,
      },
    ]);
    expect(validateBot(out, [feed, tax, out], lookup).problems).toEqual([
      {
        reason: "InvalidDestination",
        message: "spec.destinations._default: out is an output; outputs have no destinations",
        blocking: false,
      },
    ]);
  });

  it("blocks bots sharing a process that disagree on replicas or listen on the same port", () => {
    const a = bot("a", {
      module: "experts.taxonomy",
      process: "p",
      replicas: 2,
      ports: [{ name: "in", port: 514 }],
    });
    const b = bot("b", { module: "experts.taxonomy", process: "p", ports: [{ name: "in2", port: 514 }] });
    const c = bot("c", { module: "experts.taxonomy", process: "other" });
    expect(validateBot(a, [a, b, c], lookup).problems).toEqual([
      {
        reason: "ProcessConflict",
        message: "bots sharing process p must have the same replicas: a=2, b=1",
        blocking: true,
      },
      {
        reason: "ProcessConflict",
        message: "bots sharing process p listen on the same port 514/TCP: a and b",
        blocking: true,
      },
    ]);
    expect(validateBot(c, [a, b, c], lookup).problems).toEqual([]);
  });
});
