// The id under which the idempotent outputs (Elasticsearch, MongoDB, Redis with dedup) store an event,
// so that an event delivered again after a crash or a failed batch replaces nothing and adds nothing.
import { createHash } from "node:crypto";
import type { Event } from "../../bot-runtime/src/event/message.ts";

export const DOCUMENT_ID_MODES = ["event_hash_and_observation", "event_hash"] as const;
export type DocumentIdMode = (typeof DOCUMENT_ID_MODES)[number];

export const DOCUMENT_ID_DESCRIPTION =
  "Petrel: the id each event is stored under, which makes a redelivered event a no-op. " +
  "event_hash_and_observation (default): IntelMQ's message hash combined with time.observation, so the " +
  "same event observed again later is stored again, as IntelMQ stores it; event_hash: IntelMQ's message " +
  "hash alone (it ignores time.observation), so an event is stored once however often it is observed.";

/** A 64-hex-digit id for the event; the event hash itself in event_hash mode. */
export function eventDocumentId(event: Event, mode: DocumentIdMode): string {
  const hash = event.hash();
  const observation = event.get("time.observation");
  if (mode === "event_hash" || typeof observation !== "string") return hash;
  return createHash("sha256").update(`${hash} ${observation}`).digest("hex");
}
