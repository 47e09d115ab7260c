// Names the operator writes and reads: the API group of its resources, its field manager, finalizer,
// labels and annotations, and the fixed paths and ports of the bot pods.
import { API_VERSION } from "../../../bot-runtime/src/config/resources.ts";

export { API_VERSION };
export const GROUP = API_VERSION.split("/")[0] as string;
export const VERSION = API_VERSION.split("/")[1] as string;

/** The one field manager of every server-side apply (children, finalizers, status). */
export const FIELD_MANAGER = "petrel-operator";
/** On Pipelines and Bots: the operator cleans up JetStream before the resource goes. */
export const FINALIZER = "petrel.dev/cleanup";
/** Pipeline annotation: "true" deletes the pipeline's streams and bot state with it (default: kept). */
export const DELETE_STREAMS_ANNOTATION = "petrel.dev/delete-streams-on-delete";

export const LABELS = {
  name: "app.kubernetes.io/name",
  component: "app.kubernetes.io/component",
  partOf: "app.kubernetes.io/part-of",
  managedBy: "app.kubernetes.io/managed-by",
  pipeline: "petrel.dev/pipeline",
  process: "petrel.dev/process",
} as const;
/** The label selector of everything the operator creates (its informers watch only these). */
export const MANAGED_SELECTOR = `${LABELS.managedBy}=${FIELD_MANAGER}`;

/** Pod template annotation: SHA-256 of the rendered config, so a config change rolls the pods. */
export const CONFIG_HASH_ANNOTATION = "petrel.dev/config-sha256";

export const METRICS_PORT = 9090;
export const METRICS_PORT_NAME = "metrics";
export const CONFIG_DIR = "/etc/petrel";
export const CONFIG_FILE = "config.json";
export const NATS_CREDENTIALS_DIR = "/etc/petrel-nats";
export const NATS_CREDENTIALS_FILE = "nats.creds";
/** The bot runtime's working directory in the image and its entry point, relative to it. */
export const WORKDIR = "/app";
export const BOT_COMMAND = [
  "node",
  "bot-runtime/src/runtime/main.ts",
  "--config",
  `${CONFIG_DIR}/${CONFIG_FILE}`,
];
/** The non-root user and group the bot containers run as. */
export const RUN_AS_USER = 65532;
