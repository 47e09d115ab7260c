// One IntelMQ bot as the spec of a Petrel Bot: module, parameters (checked against the Petrel bot's
// schema), credentials as Secret references, error handling, enabled, run_mode and rate_limit.
// Everything it cannot carry over is reported; routing is done afterwards (intelmq-routing.ts).
import type { z } from "zod";
import type { BotKind, BotModule } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { parameterSchema } from "../../../bot-runtime/src/sdk/common-parameters.ts";
import type { IntelmqBot, Located, ReportItem } from "./intelmq-read.ts";
import {
  FIXED_BEHAVIOUR,
  fitValue,
  isCredential,
  logLevelOf,
  replacedSetting,
  secondsOf,
  secondsToDuration,
  show,
} from "./intelmq-values.ts";

const GROUPS: Record<string, BotKind> = {
  Collector: "collector",
  Parser: "parser",
  Expert: "expert",
  Output: "output",
};
/** Top-level keys of a bot entry IntelMQ knows; bot_id and groupname are written by the IntelMQ Manager. */
const BOT_KEYS = new Set([
  "module",
  "group",
  "name",
  "description",
  "enabled",
  "run_mode",
  "bot_id",
  "groupname",
]);
/** IntelMQ runtime settings a bot inherits from the global section when it does not set them. */
export const INHERITED = new Set(["rate_limit", "load_balance", "instances_threads"]);
export const ERROR_SETTINGS = ["error_procedure", "error_max_retries", "error_retry_delay", "logging_level"];

export interface ImportedBot {
  source: IntelmqBot;
  name: string;
  intelmqModule: string;
  module: BotModule | undefined;
  kind: BotKind | undefined;
  /** The Bot's spec without pipeline and destinations. */
  spec: Record<string, unknown>;
  parameters: Record<string, unknown>;
  secrets: string[];
  sourceQueue: Located | undefined;
  destinationQueues: Located | undefined;
  loadBalance: Located | undefined;
  /** Global settings this bot inherited. */
  usedGlobals: string[];
}

type Report = (at: Located | { file: string; line: number }, message: string) => void;

/** error_procedure, error_max_retries, error_retry_delay or logging_level as a Petrel spec field. */
export function errorSetting(key: string, value: unknown): { field: string; value: unknown } | string {
  switch (key) {
    case "error_procedure":
      if (value === "pass" || value === "stop") return { field: "errorProcedure", value };
      return `${show(value)} is not pass or stop: left out`;
    case "error_max_retries": {
      const n = secondsOf(value);
      if (n !== undefined && Number.isInteger(n) && n >= 0 && n <= 100)
        return { field: "errorMaxRetries", value: n };
      return `${show(value)} is not a whole number from 0 to 100: left out`;
    }
    case "error_retry_delay": {
      const seconds = secondsOf(value);
      const duration = seconds === undefined ? undefined : secondsToDuration(seconds);
      if (duration) return { field: "errorRetryDelay", value: duration };
      return `${show(value)} is not a number of seconds: left out`;
    }
    default: {
      const level = logLevelOf(value);
      if (level) return { field: "logLevel", value: level };
      return `${show(value)} is not a logging level (DEBUG, INFO, WARNING, ERROR, CRITICAL): left out`;
    }
  }
}

export function importBot(
  bot: IntelmqBot,
  name: string,
  inherited: Map<string, Located>,
  items: ReportItem[],
): ImportedBot | undefined {
  const report: Report = (at, message) =>
    items.push({ file: at.file, line: at.line, subject: `bot ${bot.id}`, message });
  const key = (k: string) => bot.keys.get(k)?.value;
  const intelmqModule = key("module");
  if (typeof intelmqModule !== "string" || intelmqModule === "") {
    report(bot, "no module: IntelMQ cannot run it either; left out");
    return undefined;
  }
  const module = findModule(intelmqModule);
  const group = key("group");
  const kind = module?.kind ?? (typeof group === "string" ? GROUPS[group] : undefined);
  const out: ImportedBot = {
    source: bot,
    name,
    intelmqModule,
    module,
    kind,
    spec: {},
    parameters: {},
    secrets: [],
    sourceQueue: undefined,
    destinationQueues: undefined,
    loadBalance: undefined,
    usedGlobals: [],
  };
  if (!module) {
    report(
      bot.keys.get("module") as Located,
      `module ${intelmqModule} has no Petrel bot yet: emitted with the IntelMQ module and its parameters as they are; petrelctl up and the operator refuse this Bot until such a bot exists`,
    );
    if (!kind)
      report(bot, `group ${show(group)} is not Collector, Parser, Expert or Output: routes not checked`);
  }
  for (const [k, at] of bot.keys) {
    if (!BOT_KEYS.has(k))
      report(at, `unknown key ${k}: ${show(at.value)} (IntelMQ ignores it as well): left out`);
  }

  const enabled = bot.keys.get("enabled");
  if (enabled && enabled.value !== true) {
    if (enabled.value === false) out.spec.enabled = false;
    else if (enabled.value !== null)
      report(enabled, `enabled: ${show(enabled.value)} is not true or false: left out`);
  }
  const runMode = bot.keys.get("run_mode");
  const scheduled = runMode?.value === "scheduled";
  if (runMode && !scheduled && runMode.value !== "continuous" && runMode.value !== null) {
    report(runMode, `run_mode: ${show(runMode.value)} is not continuous or scheduled: run continuously`);
  }

  const schema: z.ZodObject | undefined = module ? parameterSchema(module) : undefined;
  const shape = schema?.shape as Record<string, z.ZodType> | undefined;
  const entries = new Map(bot.parameters);
  for (const [k, at] of inherited) {
    if (!entries.has(k) && (INHERITED.has(k) || (shape && k in shape))) {
      entries.set(k, at);
      out.usedGlobals.push(k);
    }
  }
  // A collector's display name is its feed name when parameters.name is not set (IntelMQ sets both on
  // the same attribute).
  const displayName = bot.keys.get("name");
  if (
    kind === "collector" &&
    !entries.has("name") &&
    typeof displayName?.value === "string" &&
    displayName.value
  ) {
    if (!shape || "name" in shape) entries.set("name", displayName);
  }

  let rateLimit: Located | undefined;
  for (const [k, at] of entries) {
    const value = at.value;
    if (k === "source_queue") out.sourceQueue = at;
    else if (k === "destination_queues") out.destinationQueues = at;
    else if (ERROR_SETTINGS.includes(k)) {
      const mapped = errorSetting(k, value);
      if (typeof mapped === "string") report(at, `${k}: ${mapped}`);
      else out.spec[mapped.field] = mapped.value;
    } else if (k === "rate_limit") rateLimit = at;
    else if (k === "load_balance") {
      if (value === true) out.loadBalance = at;
      else if (value !== false && value !== null)
        report(at, `load_balance: ${show(value)} is not true or false: left out`);
    } else if (k === "instances_threads") {
      const n = value === null ? 0 : secondsOf(value);
      if (n !== undefined && n <= 1) continue;
      if (kind !== "collector" && n !== undefined && Number.isInteger(n) && n <= 100) out.spec.replicas = n;
      else {
        report(
          at,
          `instances_threads: ${show(value)}: left out (IntelMQ never runs collectors in threads; Petrel runs 1 to 100 replicas)`,
        );
      }
    } else if (replacedSetting(k)) {
      report(at, `${k}: ${isCredential(k) ? "(value hidden)" : show(value)}: dropped: ${replacedSetting(k)}`);
    } else if (k in FIXED_BEHAVIOUR) {
      const rule = FIXED_BEHAVIOUR[k] as { petrel: unknown; otherwise: string };
      if (value !== rule.petrel && value !== null)
        report(at, `${k}: ${show(value)}: dropped: ${rule.otherwise}`);
    } else if (isCredential(k) && value !== null && value !== "" && (!shape || k in shape)) {
      out.secrets.push(k);
    } else if (!shape) {
      out.parameters[k] = value;
    } else if (!(k in shape)) {
      const shown = isCredential(k) && value !== null && value !== "" ? "(value hidden)" : show(value);
      report(at, `parameter ${k}: ${shown}: module ${module?.id} has no such parameter: left out`);
    } else {
      const fitted = fitValue(shape[k] as z.ZodType, value);
      if (fitted.ok) out.parameters[k] = fitted.value;
      else report(at, `parameter ${k}: ${fitted.problem}`);
    }
  }

  if (kind === "collector") collectorTiming(out, rateLimit, scheduled, runMode, report);
  else {
    if (scheduled && runMode) {
      report(
        runMode,
        "run_mode scheduled: IntelMQ processes one message per start; Petrel runs parsers, experts and outputs continuously: imported as continuous",
      );
    }
    const seconds = rateLimit ? secondsOf(rateLimit.value) : 0;
    if (rateLimit && seconds !== 0) {
      report(
        rateLimit,
        `rate_limit: ${show(rateLimit.value)}: dropped: Petrel does not pause between messages`,
      );
    }
  }
  if (schema) checkWhole(out, schema, items);
  return out;
}

/** rate_limit → interval; run_mode scheduled → one collection per start, as in IntelMQ. */
function collectorTiming(
  out: ImportedBot,
  rateLimit: Located | undefined,
  scheduled: boolean,
  runMode: Located | undefined,
  report: Report,
): void {
  const seconds = rateLimit ? secondsOf(rateLimit.value) : undefined;
  if (scheduled && runMode) {
    const unused = rateLimit ? ` (rate_limit ${show(rateLimit.value)} is unused, as in IntelMQ)` : "";
    report(
      runMode,
      `run_mode scheduled: IntelMQ collects once per start, and cron outside IntelMQ starts it; Petrel without an interval collects once per start as well${unused}: set spec.schedule to the crontab's time (UTC) for Petrel to run it on that timetable`,
    );
    return;
  }
  if (rateLimit && (seconds === undefined || (seconds !== 0 && !secondsToDuration(seconds)))) {
    report(rateLimit, `rate_limit: ${show(rateLimit.value)} is not a number of seconds: left out`);
    return;
  }
  const duration = seconds ? secondsToDuration(seconds) : undefined;
  if (duration) {
    out.spec.interval = duration;
    return;
  }
  // Unmapped collectors are reported already; Petrel's listening collectors run without interval.
  if (out.module?.kind !== "collector" || out.module.mode === "continuous") return;
  report(
    rateLimit ?? out.source,
    `${rateLimit ? "rate_limit 0" : "no rate_limit"}: IntelMQ collects again right after each run; Petrel, without an interval, collects once per start: set spec.interval to poll`,
  );
}

/** The parameters as a whole (required parameters, rules across parameters), secrets as placeholders. */
function checkWhole(out: ImportedBot, schema: z.ZodObject, items: ReportItem[]): void {
  const candidate: Record<string, unknown> = { ...out.parameters };
  for (const k of out.secrets) candidate[k] = "secret";
  const result = schema.safeParse(candidate);
  if (result.success) return;
  for (const issue of result.error.issues) {
    const path = issue.path.join(".");
    if (
      path !== "" &&
      !(String(issue.path[0]) in candidate) &&
      out.source.parameters.has(String(issue.path[0]))
    ) {
      continue; // already reported as left out
    }
    const missing = issue.code === "invalid_type" && candidate[String(issue.path[0])] === undefined;
    items.push({
      file: out.source.file,
      line: out.source.line,
      subject: `bot ${out.source.id}`,
      message: `parameter ${path || "(all)"}: ${missing ? `required by module ${out.module?.id}, but not set` : issue.message}`,
    });
  }
}
