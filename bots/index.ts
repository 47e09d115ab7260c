// Every bot module, for the catalogue. Add new bots here.
import type { BotModule } from "../bot-runtime/src/sdk/bot.ts";
import taxonomy from "./experts/taxonomy.ts";

export const ALL_BOTS: readonly BotModule[] = [taxonomy];
