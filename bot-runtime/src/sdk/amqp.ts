// Connecting to an AMQP 0-9-1 broker (RabbitMQ) with IntelMQ's connection parameters: declared once for
// the AMQP collector and the AMQP output, with retries and TLS verified against an optional CA file.
import { readFileSync } from "node:fs";
import { type ChannelModel, connect } from "amqplib";
import type { Logger } from "pino";
import { z } from "zod";
import { sleep } from "./sleep.ts";
import { untrustedCertificateError } from "./tls.ts";

export const AMQP_RETRY_MS = 2_000;

/** The connection parameters, IntelMQ's names; spread into a bot's parameter schema. */
export const amqpConnectionParameters = {
  connection_host: z.string().min(1).default("127.0.0.1").describe("Host name or address of the broker."),
  connection_port: z.number().int().min(1).max(65535).default(5672).describe("Port of the broker."),
  connection_vhost: z.string().nullable().optional().describe("Virtual host; unset: the default (/)."),
  connection_attempts: z
    .number()
    .int()
    .min(1)
    .default(3)
    .describe(
      "Attempts to connect (2 seconds apart) before the collector's run or the output's batch fails.",
    ),
  connection_heartbeat: z
    .number()
    .int()
    .min(0)
    .default(3600)
    .describe("AMQP heartbeat interval in seconds (0: none)."),
  username: z.string().nullable().optional().describe("User name (with password); unset: guest."),
  password: z.string().nullable().optional().describe("Password."),
  use_ssl: z.boolean().default(false).describe("Connect with TLS (AMQPS); the certificate is verified."),
  ssl_ca_certificate: z
    .string()
    .nullable()
    .optional()
    .describe("Petrel: CA certificate file (PEM) to verify the broker with; unset: the system's CAs."),
};

const connectionSchema = z.object(amqpConnectionParameters);
export type AmqpConnectionParameters = z.output<typeof connectionSchema>;

/** "amqp(s)://host:port", for messages. */
export function amqpEndpoint(params: AmqpConnectionParameters): string {
  return `${params.use_ssl ? "amqps" : "amqp"}://${params.connection_host}:${params.connection_port}`;
}

/**
 * Connects, trying connection_attempts times 2 seconds apart (fewer when `signal` aborts). Fails with
 * the endpoint in the message, and says so plainly when the broker's certificate is not trusted.
 */
export async function connectAmqp(
  params: AmqpConnectionParameters,
  log: Logger,
  signal: AbortSignal,
): Promise<ChannelModel> {
  const endpoint = amqpEndpoint(params);
  const ca = params.ssl_ca_certificate ? readFileSync(params.ssl_ca_certificate) : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await connect(
        {
          protocol: params.use_ssl ? "amqps" : "amqp",
          hostname: params.connection_host,
          port: params.connection_port,
          heartbeat: params.connection_heartbeat,
          ...(params.connection_vhost ? { vhost: params.connection_vhost } : {}),
          ...(params.username && params.password
            ? { username: params.username, password: params.password }
            : {}),
        },
        params.use_ssl ? { servername: params.connection_host, ...(ca ? { ca: [ca] } : {}) } : {},
      );
    } catch (error) {
      const failure =
        untrustedCertificateError(error, endpoint) ??
        new Error(`cannot connect to ${endpoint}: ${(error as Error).message}`, { cause: error });
      if (attempt >= params.connection_attempts || signal.aborted) throw failure;
      log.warn({ err: failure, attempt }, "Connecting to the AMQP broker failed; trying again.");
      await sleep(AMQP_RETRY_MS, signal);
    }
  }
}
