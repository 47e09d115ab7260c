// Sets classification.taxonomy from classification.type (and fills in what is missing), as IntelMQ's
// taxonomy expert does.
import { z } from "zod";
import { TAXONOMY_OF_TYPE } from "../../bot-runtime/src/event/taxonomy.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

export default defineExpert({
  id: "experts.taxonomy",
  intelmqModules: ["intelmq.bots.experts.taxonomy.expert"],
  kind: "expert",
  description:
    "Derives classification.taxonomy from classification.type; missing values become other/undetermined.",
  parameters: z.object({}),
  create: () => ({
    process(event) {
      const hasType = event.has("classification.type");
      const hasTaxonomy = event.has("classification.taxonomy");
      if (!hasTaxonomy && hasType) {
        const type = event.get("classification.type") as string;
        event.add("classification.taxonomy", TAXONOMY_OF_TYPE.get(type) ?? "other", { sanitize: false });
      } else if (!hasTaxonomy) {
        event.add("classification.taxonomy", "other", { sanitize: false });
        event.add("classification.type", "undetermined", { sanitize: false });
      } else if (!hasType) {
        event.add("classification.type", "undetermined", { sanitize: false });
      }
      return event;
    },
  }),
});
