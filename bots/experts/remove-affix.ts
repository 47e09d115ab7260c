// Removes a fixed prefix (or suffix) from a field's text, as IntelMQ's remove affix expert: "www." from
// source.fqdn by default. A value that becomes empty removes the field.
import { z } from "zod";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

export default defineExpert({
  id: "experts.remove_affix",
  intelmqModules: ["intelmq.bots.experts.remove_affix.expert"],
  kind: "expert",
  description: "Removes a prefix (or, with remove_prefix false, a suffix) such as www. from a field's text.",
  parameters: z.object({
    remove_prefix: z
      .boolean()
      .default(true)
      .describe("true: remove affix from the start of the value; false: from its end."),
    affix: z
      .string()
      .default("www.")
      .describe("The text to remove, when the value starts (or ends) with it."),
    field: z.string().min(1).default("source.fqdn").describe("The field to change."),
  }),
  create(params) {
    const { affix, field } = params;
    const cut = params.remove_prefix
      ? (value: string) => (value.startsWith(affix) ? value.slice(affix.length) : value)
      : (value: string) => (affix !== "" && value.endsWith(affix) ? value.slice(0, -affix.length) : value);
    return {
      process(event) {
        if (!event.has(field)) return event;
        const value = event.get(field);
        if (typeof value !== "string") {
          throw new Error(`field ${field} holds ${JSON.stringify(value)}, not text: no affix to remove`);
        }
        event.change(field, cut(value));
        return event;
      },
    };
  },
});
