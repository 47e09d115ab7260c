// The operator's and petrelctl's KubeConfig. client-node 2.0 gives every API request and watch a new
// undici Agent, so a new TLS connection and secure context each time: with 1,000 Bots that was a third
// of the operator's CPU, and the API server paid for every handshake too. This one keeps one Agent,
// with its pooled keep-alive connections, per TLS identity (the server, its CA, the client certificate
// and key) and makes a new one only when that identity changes (a rotated certificate). Everything
// else, tokens and headers included, is still applied to every request by client-node.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { KubeConfig, type RequestContext } from "@kubernetes/client-node";
import type { Dispatcher } from "undici";

function fileOrData(file: string | undefined, data: string | undefined): string {
  if (data) return data;
  if (!file) return "";
  try {
    return readFileSync(file, "base64");
  } catch {
    // client-node reports an unreadable file itself.
    return "";
  }
}

export class PooledKubeConfig extends KubeConfig {
  #pooled: { identity: string; dispatcher: Dispatcher } | undefined;

  /** What a TLS connection to the current cluster as the current user depends on. */
  #tlsIdentity(): string {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    return createHash("sha256")
      .update(
        JSON.stringify([
          cluster?.server,
          cluster?.skipTLSVerify,
          cluster?.tlsServerName,
          cluster?.proxyUrl,
          fileOrData(cluster?.caFile, cluster?.caData),
          fileOrData(user?.certFile, user?.certData),
          fileOrData(user?.keyFile, user?.keyData),
        ]),
      )
      .digest("hex");
  }

  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await super.applySecurityAuthentication(context);
    // The Agent client-node just made has opened no connection yet: it is replaced by the pooled one.
    const made = context.getDispatcher();
    if (made === undefined) return;
    const identity = this.#tlsIdentity();
    if (this.#pooled?.identity !== identity) {
      const previous = this.#pooled?.dispatcher;
      this.#pooled = { identity, dispatcher: made };
      // Requests still running on the old connections finish; then they close.
      previous?.close().catch(() => undefined);
    }
    context.setDispatcher(this.#pooled.dispatcher);
  }
}
