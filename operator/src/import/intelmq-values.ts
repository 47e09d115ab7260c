// Value rules of the IntelMQ import: which IntelMQ runtime settings Petrel replaces (and why), which
// parameters are credentials, and how values IntelMQ keeps as text become the numbers and booleans a
// Petrel schema wants.
import type { z } from "zod";
import type { LogLevel } from "../../../bot-runtime/src/config/resources.ts";

/** IntelMQ settings that Petrel replaces by its own machinery: the reason given when one is dropped. */
export function replacedSetting(key: string): string | undefined {
  if (key.startsWith("source_pipeline_") || key.startsWith("destination_pipeline_")) {
    return "Petrel queues messages in NATS JetStream (the Pipeline's spec.nats and spec.stream), not in Redis or AMQP";
  }
  if (key.startsWith("statistics_")) {
    return "Petrel bots export their counters as Prometheus metrics instead of Redis statistics";
  }
  if (/^logging_(handler|path|syslog|max_size|max_copies)$/.test(key)) {
    return "Petrel bots log JSON lines to stdout (kubectl logs, petrelctl up's log files)";
  }
  if (key === "process_manager") return "the operator (or petrelctl up) runs the bots";
  if (key === "log_processed_messages_count" || key === "log_processed_messages_seconds") {
    return "Petrel counts processed messages in Prometheus metrics instead of periodic log lines";
  }
  if (key === "stop_retry_limit") return "the operator (or petrelctl up) stops the bots";
  return undefined;
}

/**
 * IntelMQ error-handling switches: the value Petrel behaves like (dead letters are always kept, errors
 * always logged with their stack), and what is reported when IntelMQ was told otherwise.
 */
export const FIXED_BEHAVIOUR: Record<string, { petrel: unknown; otherwise: string }> = {
  error_dump_message: {
    petrel: true,
    otherwise: "Petrel always keeps a failed message, as a dead letter (petrelctl dlq)",
  },
  error_log_exception: { petrel: true, otherwise: "Petrel always logs the error with its stack" },
  error_log_message: {
    petrel: false,
    otherwise: "Petrel does not log the failed message; it is in the dead letter (petrelctl dlq show)",
  },
};

const SECRET_WORDS = new Set(["password", "passwd", "pass", "passphrase", "secret", "token", "apikey"]);
const SECRET_KEYS = new Set(["api", "access", "private", "secret", "auth", "misp", "client", "license"]);

/** Parameter names that hold credentials: …password, …secret, …token, api_key, apikey, access_key, … */
export function isCredential(name: string): boolean {
  const words = name.toLowerCase().split(/[_\-.]/);
  return words.some(
    (word, i) =>
      SECRET_WORDS.has(word) || (word === "key" && i > 0 && SECRET_KEYS.has(words[i - 1] as string)),
  );
}

/** A value for the report: JSON, on one line. */
export function show(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

export type Conversion = { ok: true; value: unknown; converted: boolean } | { ok: false; problem: string };

const TRUE_TEXT = new Set(["true", "yes", "on", "1"]);
const FALSE_TEXT = new Set(["false", "no", "off", "0", "none", "null"]);

/**
 * Fits an IntelMQ value to a Petrel parameter schema. IntelMQ uses parameter values as they are, so text
 * is converted only where IntelMQ would have read it the same way: whole numbers (IntelMQ's own rule for
 * INTELMQ_* variables), "true"/"yes"/"on"/"1" (any case) as true and "" as false. Text such as "false" is
 * not converted: Python takes every non-empty text as true, so IntelMQ ran with true; the user decides.
 */
export function fitValue(schema: z.ZodType, value: unknown): Conversion {
  const first = schema.safeParse(value);
  if (first.success) return { ok: true, value, converted: false };
  const accepts = (candidate: unknown) => schema.safeParse(candidate).success;
  if (typeof value === "string") {
    const text = value.trim();
    if (/^-?\d+(\.\d+)?$/.test(text) && accepts(Number(text))) {
      return { ok: true, value: Number(text), converted: true };
    }
    const lower = text.toLowerCase();
    if (accepts(true) && accepts(false)) {
      if (text === "") return { ok: true, value: false, converted: true };
      if (TRUE_TEXT.has(lower)) return { ok: true, value: true, converted: true };
      const why = FALSE_TEXT.has(lower)
        ? "means true to IntelMQ (Python takes any non-empty text as true)"
        : "is not a boolean (IntelMQ took it as true)";
      return { ok: false, problem: `the text ${show(value)} ${why}; left out: set true or false` };
    }
  }
  if ((value === 0 || value === 1) && accepts(value === 1)) {
    return { ok: true, value: value === 1, converted: true };
  }
  const issue = first.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return { ok: false, problem: `${show(value)} is not valid: ${where}${issue?.message ?? "rejected"}` };
}

/** A number of seconds (IntelMQ's durations) as a Petrel Duration: the largest unit that fits exactly. */
export function secondsToDuration(seconds: number): string | undefined {
  if (!Number.isFinite(seconds) || seconds < 0) return undefined;
  if (!Number.isInteger(seconds)) {
    const ms = seconds * 1000;
    return Number.isInteger(Math.round(ms * 1e6) / 1e6) ? `${Math.round(ms)}ms` : undefined;
  }
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
  ] as const) {
    if (seconds > 0 && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** IntelMQ's seconds: a number, or text holding one. */
export function secondsOf(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "string" && /^\d+(\.\d+)?$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

const LEVELS: Record<string, z.infer<typeof LogLevel>> = {
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  WARN: "warn",
  ERROR: "error",
  CRITICAL: "fatal",
  FATAL: "fatal",
};

/** Python's logging level names as Petrel's log levels. */
export function logLevelOf(value: unknown): z.infer<typeof LogLevel> | undefined {
  return typeof value === "string" ? LEVELS[value.toUpperCase()] : undefined;
}
