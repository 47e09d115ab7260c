// Keeps only the listed fields (whitelist) or removes them (blacklist), as IntelMQ's field reducer
// expert. "extra" stands for all extra.* fields. An event left without fields is dropped, as IntelMQ
// never sends an empty message.
import { z } from "zod";
import { pyStrip } from "../../bot-runtime/src/event/compat/pystring.ts";
import { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

export default defineExpert({
  id: "experts.field_reducer",
  intelmqModules: ["intelmq.bots.experts.field_reducer.expert"],
  kind: "expert",
  description: "Keeps only the listed fields (whitelist) or removes them (blacklist).",
  parameters: z.object({
    type: z
      .enum(["whitelist", "blacklist"])
      .describe("whitelist: keep only the fields in keys; blacklist: remove the fields in keys."),
    keys: z
      .union([z.string(), z.array(z.string())])
      .describe(
        'The fields, as a list or comma-separated ("source.ip, source.port"); "extra" means all extra.* fields.',
      ),
  }),
  deviations: [
    {
      id: "broken-keys-rejected",
      summary:
        "Missing keys, or a whitelist naming a field twice, are refused at start; IntelMQ starts and then fails every event (for a duplicate: every event that has the field).",
      reason: "The mistake is in the configuration and is reported there, once, instead of on every event.",
    },
  ],
  create(params) {
    const keys = typeof params.keys === "string" ? params.keys.split(",").map(pyStrip) : [...params.keys];
    if (params.type === "whitelist") {
      const seen = new Set<string>();
      for (const key of keys) {
        if (seen.has(key)) throw new Error(`keys: ${key} is listed twice`);
        seen.add(key);
      }
    }
    const whitelist = params.type === "whitelist";
    // Event.has is IntelMQ's `key in event` ("extra": any extra.* field).
    return {
      process(event) {
        if (whitelist) {
          const kept = new Event();
          for (const key of keys) {
            if (event.has(key)) kept.add(key, event.get(key), { sanitize: false });
          }
          return kept.size === 0 ? undefined : kept;
        }
        for (const key of keys) event.remove(key);
        return event.size === 0 ? undefined : event;
      },
    };
  },
});
