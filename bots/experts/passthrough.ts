// Forwards every event unchanged: measures the runtime's own cost per event (benchmarks) and joins
// pipelines where a bot is needed only for routing.
import { z } from "zod";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

export default defineExpert({
  id: "experts.passthrough",
  intelmqModules: [],
  kind: "expert",
  description: "Forwards every event unchanged to its _default path.",
  parameters: z.object({}),
  create: () => ({
    process: (event) => event,
  }),
});
