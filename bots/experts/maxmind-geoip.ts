// Adds geolocation (country code, city, latitude, longitude) for source.ip and destination.ip from a
// local MaxMind DB file, as IntelMQ's maxmind_geoip expert. The file comes from a mounted volume (kept
// current by MaxMind's geoipupdate, a ConfigMap, a CronJob) and is reloaded when it changes.
import { z } from "zod";
import type { Event } from "../../bot-runtime/src/event/message.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";
import { loadMmdb } from "../../bot-runtime/src/sdk/mmdb.ts";
import { WatchedFile } from "../../bot-runtime/src/sdk/watched-file.ts";

const notDownloaded =
  "Accepted for IntelMQ configurations and ignored: Petrel does not download the database; mount it (e.g. kept current by MaxMind's geoipupdate) and point `database` at it.";

const parameters = z.object({
  database: z
    .string()
    .min(1)
    .default("/opt/intelmq/var/lib/bots/maxmind_geoip/GeoLite2-City.mmdb")
    .describe(
      "Path of the MaxMind DB file (GeoIP2/GeoLite2 City or Country); reloaded whenever the file changes.",
    ),
  overwrite: z.boolean().default(false).describe("Replace geolocation fields that are already set."),
  use_registered: z
    .boolean()
    .default(false)
    .describe("Take the country the network is registered in instead of where it is located."),
  license_key: z.string().default("<insert Maxmind license key>").describe(notDownloaded),
  autoupdate_cached_database: z.boolean().default(true).describe(notDownloaded),
});

/** The fields a record gives, taken out once per record (records are shared by the reader's cache). */
interface Geolocation {
  readonly cc: unknown;
  readonly latitude: unknown;
  readonly longitude: unknown;
  readonly city: unknown;
}

function member(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

const SIDES = ["source", "destination"].map((side) => ({
  ip: `${side}.ip`,
  cc: `${side}.geolocation.cc`,
  latitude: `${side}.geolocation.latitude`,
  longitude: `${side}.geolocation.longitude`,
  city: `${side}.geolocation.city`,
}));

export default defineExpert({
  id: "experts.maxmind_geoip",
  intelmqModules: ["intelmq.bots.experts.maxmind_geoip.expert"],
  kind: "expert",
  description:
    "Sets source/destination.geolocation.cc, .city, .latitude and .longitude from a local MaxMind DB (GeoIP2/GeoLite2 City or Country), reloading it when the file changes.",
  parameters,
  deviations: [
    {
      id: "country-databases",
      summary:
        "Reads Country (and any other GeoIP2-layout) databases too, setting what they hold; IntelMQ's bot fails every event unless the database type contains 'City'.",
      reason: "GeoLite2-Country is smaller and enough where only the country code is wanted.",
    },
    {
      id: "reloads-changed-database",
      summary:
        "Loads the database again when its file changes (written, renamed over, or swapped as Kubernetes updates volumes), keeping the old one when the new file does not load; IntelMQ reads it only at start.",
      reason:
        "Databases on mounted volumes are updated while bots run; restarting every bot for each update would only interrupt processing.",
    },
    {
      id: "no-database-download",
      summary:
        "Has no --update-database: license_key and autoupdate_cached_database are accepted and ignored; the database is mounted.",
      reason:
        "Bots in a cluster do not write to their images; MaxMind's geoipupdate keeps a shared volume current.",
    },
    {
      id: "ipv6-in-ipv4-database",
      summary:
        "An IPv6 address looked up in an IPv4-only database gets no geolocation; IntelMQ's bot fails the event (ValueError).",
      reason: "The database has no answer for the address; that is no fault of the event.",
    },
  ],
  async create(params, ctx) {
    const registered = params.use_registered;
    const overwrite = params.overwrite;
    const file = await WatchedFile.open(params.database, (path) => loadMmdb(path), {
      log: ctx.log,
      what: "GeoIP database",
    });
    const db = file.value;
    ctx.log.info(
      { database: params.database, type: db.databaseType, built: db.buildEpoch.toISOString() },
      "GeoIP database loaded",
    );

    const extracted = new WeakMap<object, Geolocation>();
    const geolocation = (record: object): Geolocation => {
      let found = extracted.get(record);
      if (found === undefined) {
        const location = member(record, "location");
        found = {
          cc: member(member(record, registered ? "registered_country" : "country"), "iso_code"),
          latitude: member(location, "latitude"),
          longitude: member(location, "longitude"),
          // geoip2's `city.name`: the English name.
          city: member(member(member(record, "city"), "names"), "en"),
        };
        extracted.set(record, found);
      }
      return found;
    };
    const options = { overwrite };

    return {
      process(event: Event) {
        const database = file.value;
        for (const side of SIDES) {
          const ip = event.get(side.ip);
          if (ip === undefined) continue;
          const found = database.lookup(ip as string);
          if (found === undefined) continue;
          if (typeof found.record !== "object" || found.record === null) {
            throw new Error(`${params.database}: the record for ${ip} is no map (not a GeoIP2 database?)`);
          }
          const geo = geolocation(found.record);
          // As IntelMQ: only values that are there and not empty, zero or false.
          if (geo.cc) event.add(side.cc, geo.cc, options);
          if (geo.latitude) event.add(side.latitude, geo.latitude, options);
          if (geo.longitude) event.add(side.longitude, geo.longitude, options);
          if (geo.city) event.add(side.city, geo.city, options);
        }
        return event;
      },
      async close() {
        file.close();
      },
    };
  },
});
