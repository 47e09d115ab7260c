// Every bot module, for the catalogue. Add new bots here.
import type { BotModule } from "../bot-runtime/src/sdk/bot.ts";
import fileCollector from "./collectors/file.ts";
import deduplicator from "./experts/deduplicator.ts";
import passthrough from "./experts/passthrough.ts";
import taxonomy from "./experts/taxonomy.ts";
import fileOutput from "./outputs/file.ts";
import feodotracker from "./parsers/abusech-feodotracker.ts";
import blocklistde from "./parsers/blocklistde.ts";
import genericCsv from "./parsers/generic-csv.ts";

export const ALL_BOTS: readonly BotModule[] = [
  fileCollector,
  blocklistde,
  feodotracker,
  genericCsv,
  deduplicator,
  passthrough,
  taxonomy,
  fileOutput,
];
