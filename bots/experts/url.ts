// Splits source.url and destination.url into the side's ip or fqdn, port (the scheme's default port
// when none is given), urlpath and account, and sets protocol.application/transport from the scheme,
// as IntelMQ's url expert. URLs are split exactly as Python's urllib.parse.urlparse splits them.
import { z } from "zod";
import { urlHostname, urlPort, urlparsePath, urlsplit } from "../../bot-runtime/src/event/compat/urlsplit.ts";
import { type Event, FieldError } from "../../bot-runtime/src/event/message.ts";
import { FIELD_TYPES } from "../../bot-runtime/src/event/types.ts";
import { defineExpert } from "../../bot-runtime/src/sdk/bot.ts";

interface Scheme {
  readonly port: number;
  readonly transport?: string;
  readonly application?: string;
}

// Known schemes: default port, transport protocol, and the application protocol where it is not the
// scheme's own name (as IntelMQ's URLSCHEMES; https sets application http and no transport).
const SCHEMES: ReadonlyMap<string, Scheme> = new Map([
  ["ftp", { port: 21, transport: "tcp" }],
  ["http", { port: 80, transport: "tcp" }],
  ["https", { port: 443, application: "http" }],
  ["sftp", { port: 22, transport: "tcp" }],
  ["ssh", { port: 22, transport: "tcp" }],
  ["tftp", { port: 69, transport: "udp" }],
  ["ws", { port: 80, transport: "tcp" }],
  ["wss", { port: 443, transport: "tcp" }],
]);

/** urlparse(...).username: the user part of the netloc's userinfo, undefined without "@". */
function username(netloc: string): string | undefined {
  const at = netloc.lastIndexOf("@");
  if (at < 0) return undefined;
  const info = netloc.slice(0, at);
  const colon = info.indexOf(":");
  return colon < 0 ? info : info.slice(0, colon);
}

const ipType = FIELD_TYPES.IPAddress;
const fqdnType = FIELD_TYPES.FQDN;

/** IntelMQ's Type.is_valid(value, sanitize=True). */
function validAfterSanitizing(type: typeof ipType, value: string): boolean {
  const sanitized = type.sanitize(value);
  return sanitized !== undefined && sanitized !== null && type.isValid(sanitized);
}

const PROTOCOL_FIELDS = ["protocol.application", "protocol.transport"];

export default defineExpert({
  id: "experts.url",
  intelmqModules: ["intelmq.bots.experts.url.expert"],
  kind: "expert",
  description:
    "Fills ip/fqdn, port, urlpath and account of each side from its url, and protocol.application/transport from the scheme.",
  parameters: z.object({
    overwrite: z.boolean().default(false).describe("Replace values that are already set."),
    skip_fields: z
      .array(z.string())
      .nullable()
      .default(null)
      .describe(
        `Fields not to fill, e.g. ["source.port", "protocol.transport"] (of source./destination. ip, fqdn, port, urlpath, account and ${PROTOCOL_FIELDS.join(", ")}).`,
      ),
  }),
  create(params) {
    const skip = new Set(params.skip_fields ?? []);
    const overwrite = { overwrite: params.overwrite };
    const sides = ["source", "destination"].map((base) => ({
      url: `${base}.url`,
      ip: skip.has(`${base}.ip`) ? undefined : `${base}.ip`,
      fqdn: skip.has(`${base}.fqdn`) ? undefined : `${base}.fqdn`,
      port: skip.has(`${base}.port`) ? undefined : `${base}.port`,
      urlpath: skip.has(`${base}.urlpath`) ? undefined : `${base}.urlpath`,
      account: skip.has(`${base}.account`) ? undefined : `${base}.account`,
    }));
    const application = !skip.has("protocol.application");
    const transport = !skip.has("protocol.transport");

    return {
      process(event: Event) {
        // The first side with a scheme sets the protocol fields.
        let protocolsAdded = 0;
        for (const side of sides) {
          const url = event.get(side.url);
          if (typeof url !== "string" || url === "") continue;
          // A split URL (or its port) Python rejects fails the event, as in IntelMQ.
          const split = urlsplit(url);
          const { scheme, netloc } = split;
          const hostname = urlHostname(netloc);
          const port = urlPort(netloc);
          const known = SCHEMES.get(scheme);
          const setProtocols = protocolsAdded === 0;

          if (hostname !== undefined && side.ip !== undefined && validAfterSanitizing(ipType, hostname)) {
            event.add(side.ip, hostname, overwrite);
          } else if (
            hostname !== undefined &&
            side.fqdn !== undefined &&
            validAfterSanitizing(fqdnType, hostname)
          ) {
            event.add(side.fqdn, hostname, overwrite);
          }
          if (side.port !== undefined) {
            if (port) event.add(side.port, String(port), overwrite);
            else if (known !== undefined) event.add(side.port, String(known.port), overwrite);
          }
          const path = urlparsePath(scheme, split.path);
          if (path !== "" && side.urlpath !== undefined) event.add(side.urlpath, path, overwrite);
          const user = username(netloc);
          if (user && side.account !== undefined) {
            try {
              event.add(side.account, user, overwrite);
            } catch (error) {
              // IntelMQ adds the account with raise_failure=False: an invalid one is left out.
              if (!(error instanceof FieldError) || error.code !== "InvalidValue") throw error;
            }
          }
          if (setProtocols && scheme !== "" && application) {
            event.add("protocol.application", known?.application ?? scheme, overwrite);
            protocolsAdded++;
          }
          if (setProtocols && scheme !== "" && transport && known?.transport !== undefined) {
            event.add("protocol.transport", known.transport, overwrite);
            protocolsAdded++;
          }
        }
        return event;
      },
    };
  },
});
