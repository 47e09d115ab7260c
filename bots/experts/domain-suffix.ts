// Sets source/destination.domain_suffix to the public suffix of the fqdn (or reverse_dns) of the same
// side, as IntelMQ's domain suffix expert: ICANN rules of the Public Suffix List only. Petrel ships the
// list (data/public_suffix_list.dat, see data/README.md); suffix_file names another copy.
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import { PublicSuffixList } from "../../bot-runtime/src/sdk/public-suffix.ts";

/** The Public Suffix List shipped with Petrel, used when suffix_file is not set. */
export const SHIPPED_SUFFIX_FILE = new URL("./data/public_suffix_list.dat", import.meta.url);

let shipped: PublicSuffixList | undefined;

/** The shipped list, read once per process. */
function shippedList(): PublicSuffixList {
  shipped ??= load(SHIPPED_SUFFIX_FILE);
  return shipped;
}

function load(file: string | URL): PublicSuffixList {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`suffix_file ${String(file)}: cannot read the suffix list: ${(error as Error).message}`);
  }
  const list = PublicSuffixList.parse(text, { onlyIcann: true });
  if (list.size === 0) {
    throw new Error(
      `suffix_file ${String(file)}: no ICANN rules found (the list must have the "// ===BEGIN ICANN DOMAINS===" section of public_suffix_list.dat)`,
    );
  }
  return list;
}

export default defineExpert({
  id: "experts.domain_suffix",
  intelmqModules: ["intelmq.bots.experts.domain_suffix.expert"],
  kind: "expert",
  description:
    "Adds source/destination.domain_suffix: the public suffix (ICANN section of the Public Suffix List) of the side's fqdn or reverse_dns.",
  parameters: z.object({
    field: z
      .enum(["fqdn", "reverse_dns"])
      .describe("The domain field of each side (source., destination.) whose public suffix is looked up."),
    suffix_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Path of a public_suffix_list.dat to use instead of the list shipped with Petrel (download: https://publicsuffix.org/list/public_suffix_list.dat).",
      ),
    autoupdate_cached_database: z
      .boolean()
      .default(true)
      .describe(
        "IntelMQ's switch for its --update-database command. Accepted and without effect: replace suffix_file's file and restart the bot (see bots/experts/data/README.md).",
      ),
  }),
  deviations: [
    {
      id: "unknown-tld-is-suffix",
      summary:
        "A name under a top-level domain the list does not know gets that label as domain_suffix; IntelMQ's built-in fallback list reader (used without the publicsuffixlist library) leaves the field unset.",
      reason:
        "The Public Suffix List algorithm's implicit '*' rule, as implemented by publicsuffixlist, the library IntelMQ's bot requires.",
    },
    {
      id: "existing-suffix-replaced",
      summary:
        "An event that already has the side's domain_suffix gets it recomputed and replaced; IntelMQ raises KeyExists and the event fails.",
      reason:
        "Running the expert twice (or after a parser that set the field) should not dead-letter events.",
    },
    {
      id: "shipped-suffix-list",
      summary: "suffix_file is optional: without it the Public Suffix List shipped with Petrel is used.",
      reason:
        "Petrel ships the list as data (bots/experts/data), so the expert works without downloading anything first.",
    },
  ],
  create(params) {
    const list = params.suffix_file !== undefined ? load(params.suffix_file) : shippedList();
    const sides = ["source", "destination"].map((side) => ({
      domain: `${side}.${params.field}`,
      suffix: `${side}.domain_suffix`,
    }));
    const setSuffix = (event: Event, domain: string, suffix: string) => {
      const name = event.get(domain);
      if (typeof name !== "string") return;
      event.add(suffix, list.publicSuffix(name), { overwrite: true });
    };
    return {
      process(event) {
        for (const side of sides) setSuffix(event, side.domain, side.suffix);
        return event;
      },
    };
  },
});
