// The real catalogue plus the reliability tests' bots; register-test-bots.ts puts it in place of
// bots/index.ts inside the bot processes the tests start.
import type { BotModule } from "../../bot-runtime/src/sdk/bot.ts";
import { ALL_BOTS as REAL_BOTS } from "../../bots/index.ts";
import { TEST_BOTS } from "./test-bots.ts";

export const ALL_BOTS: readonly BotModule[] = [...REAL_BOTS, ...TEST_BOTS];
