// Shortens a field's text from the left, one delimiter-separated piece at a time, until it is at most
// max_length characters long or has no delimiter left, as IntelMQ's truncate by delimiter expert
// (www.a.b.example.com → example.com). Lengths count code points, as Python's len().
import { z } from "zod";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

/** Python len(): code points, not UTF-16 units. */
function codePoints(s: string): number {
  let surrogates = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xdc00 && unit <= 0xdfff && i > 0) {
      const before = s.charCodeAt(i - 1);
      if (before >= 0xd800 && before <= 0xdbff) surrogates++;
    }
  }
  return s.length - surrogates;
}

export default defineExpert({
  id: "experts.truncate_by_delimiter",
  intelmqModules: ["intelmq.bots.experts.truncate_by_delimiter.expert"],
  kind: "expert",
  description:
    "Cuts a field's text after the first delimiter, again and again, until it is no longer than max_length.",
  parameters: z.object({
    delimiter: z
      .string()
      .min(1, "delimiter must not be empty")
      .default(".")
      .describe("The text at which the value is cut; everything up to its first occurrence goes."),
    max_length: z.number().int().default(200).describe("The length (in characters) the value may have."),
    field: z.string().min(1).default("source.fqdn").describe("The field to shorten."),
  }),
  deviations: [
    {
      id: "empty-delimiter-rejected",
      summary:
        "An empty delimiter is refused when the bot starts; IntelMQ starts and fails each event whose value is longer than max_length (ValueError: empty separator).",
      reason: "A configuration that can only fail is reported once, naming the parameter.",
    },
  ],
  create(params) {
    const { delimiter, field } = params;
    const maxLength = params.max_length;
    return {
      process(event) {
        if (!event.has(field)) return event;
        const original = event.get(field);
        if (typeof original !== "string") {
          throw new Error(
            `field ${field} holds ${JSON.stringify(original)}, not text: it cannot be truncated`,
          );
        }
        let value = original;
        // UTF-16 length is never below the code point count: most values need no counting.
        if (value.length > maxLength) {
          let length = codePoints(value);
          while (length > maxLength) {
            const at = value.indexOf(delimiter);
            if (at < 0) break;
            length -= codePoints(value.slice(0, at + delimiter.length));
            value = value.slice(at + delimiter.length);
          }
        }
        event.change(field, value);
        return event;
      },
    };
  },
});
