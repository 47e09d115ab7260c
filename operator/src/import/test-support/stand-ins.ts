// Stand-in bot modules for IntelMQ modules Petrel has no bot for yet, so tests can load imported YAML
// with loadLocalConfig (its extraModules) and check everything but the missing modules.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import type { BotKind, BotModule } from "../../../../bot-runtime/src/sdk/bot.ts";

export function standIn(intelmqModule: string, kind: BotKind): BotModule {
  const base = {
    id: `stand-in.${intelmqModule}`,
    intelmqModules: [intelmqModule],
    description: "test stand-in",
    parameters: z.looseObject({}),
  };
  switch (kind) {
    case "collector":
      return { ...base, kind, mode: "interval", create: () => ({ collect: async () => {} }) };
    case "parser":
      return { ...base, kind, create: () => ({ records: () => [], parse: () => undefined }) };
    case "expert":
      return { ...base, kind, create: () => ({ process: (event) => event }) };
    case "output":
      return { ...base, kind, create: () => ({ write: async () => {} }) };
  }
}

/** Writes a placeholder value for every Secret key the Bots of `yaml` read, as local mode expects them. */
export function writeSecrets(yaml: string, secretsDir: string): number {
  let count = 0;
  for (const doc of parseAllDocuments(yaml) as ReturnType<typeof parseAllDocuments> & unknown[]) {
    const spec = (
      doc.toJS() as { spec?: { parametersFrom?: Array<{ secretKeyRef: { name: string; key: string } }> } }
    ).spec;
    for (const from of spec?.parametersFrom ?? []) {
      mkdirSync(join(secretsDir, from.secretKeyRef.name), { recursive: true });
      writeFileSync(join(secretsDir, from.secretKeyRef.name, from.secretKeyRef.key), "placeholder\n");
      count++;
    }
  }
  return count;
}
