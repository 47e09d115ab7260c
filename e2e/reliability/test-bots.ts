// Test-only bot modules for the reliability tests, loaded into bot processes by register-test-bots.ts.
import { z } from "zod";
import { type BotModule, defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

/** Forwards events, but throws on the one whose extra.n is `poison` (every time: it never recovers). */
export const pickyExpert = defineExpert({
  id: "test.picky_expert",
  intelmqModules: [],
  kind: "expert",
  description: "test: fails on one event",
  parameters: z.object({ poison: z.number().int().describe("extra.n of the event to fail on.") }),
  create: (params) => ({
    process(event) {
      if (event.get("extra.n") === params.poison) throw new Error(`cannot digest event ${params.poison}`);
      return event;
    },
  }),
});

export const TEST_BOTS: readonly BotModule[] = [pickyExpert];
