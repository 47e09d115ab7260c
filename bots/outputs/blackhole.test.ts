// The blackhole output: every batch is taken at once and nothing is kept; the count is logged at the end.
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import blackhole from "./blackhole.ts";

describe("outputs.blackhole", () => {
  it("discards every event and counts them", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const output = await blackhole.create(parameterSchema(blackhole).parse({}) as never, {
      ...testContext(),
      log,
    });
    const event = new Event();
    event.add("source.ip", "192.0.2.1");
    const batch = Array.from({ length: 1000 }, () => event);
    const started = performance.now();
    for (let i = 0; i < 100; i++) await output.write(batch);
    const perSecond = 100_000 / ((performance.now() - started) / 1000);
    await output.close?.();
    expect(lines.map((l) => l.discarded)).toEqual([100_000]);
    expect(perSecond).toBeGreaterThan(100_000);
    expect(() => parameterSchema(blackhole).parse({ anything: 1 })).not.toThrow();
  });
});
