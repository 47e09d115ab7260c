// Sets source/destination.asn and .network from an offline routing table, as IntelMQ's asn_lookup
// expert: pyasn's ipasn file (made with `petrelctl asn convert` from a RouteViews RIB dump), or a
// MaxMind DB ASN database (GeoLite2-ASN). The file is reloaded when it changes.
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import { WatchedFile } from "../../bot-runtime/src/sdk/watched-file.ts";
import { loadAsnDatabase } from "./asn-lookup/database.ts";

const SIDES = ["source", "destination"].map((side) => ({
  ip: `${side}.ip`,
  asn: `${side}.asn`,
  network: `${side}.network`,
}));

const REPLACE = { overwrite: true };

export default defineExpert({
  id: "experts.asn_lookup",
  intelmqModules: ["intelmq.bots.experts.asn_lookup.expert"],
  kind: "expert",
  description:
    "Sets source/destination.asn and .network (the longest matching BGP prefix) from pyasn's ipasn file or a MaxMind DB ASN database, reloading it when the file changes.",
  parameters: z.object({
    database: z
      .string()
      .min(1)
      .default("/opt/intelmq/var/lib/bots/asn_lookup/ipasn.dat")
      .describe(
        "Path of the database: an ipasn file (`petrelctl asn convert` makes one from a BGP RIB dump; may be gzip-compressed) or a MaxMind DB ASN database such as GeoLite2-ASN.mmdb. Reloaded whenever the file changes.",
      ),
    autoupdate_cached_database: z
      .boolean()
      .default(true)
      .describe(
        "Accepted for IntelMQ configurations and ignored: Petrel bots do not download; run `petrelctl asn convert` (e.g. in a CronJob) to update the file.",
      ),
  }),
  deviations: [
    {
      id: "mmdb-databases",
      summary:
        "Also reads MaxMind DB ASN databases (GeoLite2-ASN, ipinfo's layout), the network being the database's network for the address.",
      reason: "Many teams already keep GeoLite2-ASN current for other tools.",
    },
    {
      id: "reloads-changed-database",
      summary:
        "Loads the database again when its file changes, keeping the old one when the new file does not load; IntelMQ reads it at start (and after --update-database, by reloading the bot).",
      reason: "Databases on mounted volumes are updated while bots run.",
    },
    {
      id: "no-database-download",
      summary:
        "Has no --update-database: `petrelctl asn convert` turns a downloaded RIB dump into the file; autoupdate_cached_database is ignored.",
      reason: "Bots in a cluster do not write to their images; a CronJob updates the shared file.",
    },
    {
      id: "lenient-ipasn-files",
      summary:
        "Recognises gzip-compressed ipasn files by their content (pyasn: by a .gz name) and skips whitespace-only lines, which pyasn refuses to load.",
      reason: "Files edited on other systems (CRLF blank lines) or renamed should not stop the bot.",
    },
  ],
  async create(params, ctx) {
    const file = await WatchedFile.open(params.database, (path) => loadAsnDatabase(path), {
      log: ctx.log,
      what: "ASN database",
    });
    ctx.log.info({ database: params.database }, `ASN database loaded: ${file.value.description}`);
    return {
      process(event: Event) {
        const database = file.value;
        for (const side of SIDES) {
          const ip = event.get(side.ip);
          if (ip === undefined) continue;
          const info = database.lookup(ip as string);
          if (info === undefined) continue;
          if (info.asn !== undefined) event.add(side.asn, info.asn, REPLACE);
          event.add(side.network, info.network, REPLACE);
        }
        return event;
      },
      async close() {
        file.close();
      },
    };
  },
});
