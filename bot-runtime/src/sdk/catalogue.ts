// The catalogue of bot modules: every bot with its parameter schema, found by Petrel id or by the
// IntelMQ module path it replaces. The operator, the docs and the console read it.
import { ALL_BOTS } from "../../../bots/index.ts";
import type { BotModule } from "./bot.ts";

const byName = new Map<string, BotModule>();
for (const module of ALL_BOTS) {
  for (const name of [module.id, ...module.intelmqModules]) {
    if (byName.has(name)) throw new Error(`bot catalogue: ${name} is declared twice`);
    byName.set(name, module);
  }
}

/** The module for a catalogue id (e.g. experts.taxonomy) or an IntelMQ module path. */
export function findModule(name: string): BotModule | undefined {
  return byName.get(name);
}

export function listModules(): readonly BotModule[] {
  return ALL_BOTS;
}
