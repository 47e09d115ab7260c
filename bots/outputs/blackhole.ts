// Discards every event, as IntelMQ's blackhole output: for pipelines under test and for measuring
// what comes before it. It counts what it discarded (the runtime's sent/written metrics count it too).
import { z } from "zod";
import { defineOutput } from "../../bot-runtime/src/sdk/bot.ts";

export default defineOutput({
  id: "outputs.blackhole",
  intelmqModules: ["intelmq.bots.outputs.blackhole.output"],
  kind: "output",
  description: "Discards every event (acknowledged at once); counts them.",
  parameters: z.object({}),
  create(_params, ctx) {
    let discarded = 0;
    return {
      write(events) {
        discarded += events.length;
        return Promise.resolve();
      },
      close() {
        ctx.log.info({ discarded }, "Discarded events.");
        return Promise.resolve();
      },
    };
  },
});
