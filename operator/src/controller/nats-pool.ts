// The operator's NATS connections, one per server URL its pipelines name (or one URL for all, given by
// flag). Connections reconnect forever; each reconnect (a NATS restart, a network cut) is reported, so
// that every pipeline and bot is reconciled again and streams or consumers lost meanwhile come back.
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { PipelineResource } from "../../../bot-runtime/src/config/resources.ts";
import { connectNats, jetstreamManager } from "../../../bot-runtime/src/runtime/jetstream.ts";

export interface NatsPoolOptions {
  /** Connect here instead of the URL in each Pipeline (an operator outside the cluster, tests). */
  url?: string;
  /** The operator's own credentials file (.creds). */
  credentialsFile?: string;
  /** Called after a connection came back. */
  onReconnect: (url: string) => void;
  log: Logger;
}

interface Connection {
  nc: NatsConnection;
  jsm: JetStreamManager;
}

export class NatsPool {
  readonly #options: NatsPoolOptions;
  readonly #connections = new Map<string, Promise<Connection>>();
  #closed = false;

  constructor(options: NatsPoolOptions) {
    this.#options = options;
  }

  urlOf(pipeline: PipelineResource): string {
    return this.#options.url ?? pipeline.spec.nats.url;
  }

  /** The JetStream manager for a pipeline's NATS, connecting on first use. */
  async manager(pipeline: PipelineResource): Promise<JetStreamManager> {
    if (this.#closed) throw new Error("the NATS connections are closed");
    const url = this.urlOf(pipeline);
    let connection = this.#connections.get(url);
    if (!connection) {
      connection = this.#connect(url);
      this.#connections.set(url, connection);
      // A failed first connection is tried again by the next reconcile.
      connection.catch(() => this.#connections.delete(url));
    }
    return (await connection).jsm;
  }

  async #connect(url: string): Promise<Connection> {
    const nc = await connectNats({
      servers: url.split(",").map((s) => s.trim()),
      name: "petrel-operator",
      ...(this.#options.credentialsFile ? { credentialsFile: this.#options.credentialsFile } : {}),
    });
    this.#options.log.info({ url }, "Connected to NATS.");
    void this.#watch(url, nc);
    return { nc, jsm: await jetstreamManager(nc) };
  }

  async #watch(url: string, nc: NatsConnection): Promise<void> {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") this.#options.log.warn({ url }, "Disconnected from NATS.");
      if (status.type === "reconnect") {
        this.#options.log.info({ url }, "Reconnected to NATS; reconciling everything again.");
        this.#options.onReconnect(url);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(
      all.map((c) =>
        c.then(
          ({ nc }) => nc.close(),
          () => undefined,
        ),
      ),
    );
  }
}
