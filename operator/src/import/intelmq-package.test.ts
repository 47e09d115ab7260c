// Imports the runtime.yaml shipped inside the installed IntelMQ 3.5.0 package (the oracle venv, ensured
// by the global setup) and checks that nothing is lost silently: every bot becomes a Bot, with a Petrel
// module or reported, and each of its parameters is carried over or reported.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import type { BotKind } from "../../../bot-runtime/src/sdk/bot.ts";
import { findModule } from "../../../bot-runtime/src/sdk/catalogue.ts";
import { oraclePython } from "../../../bot-runtime/test-support/python-oracle.ts";
import { testTempDir } from "../../../bot-runtime/test-support/temp-dir.ts";
import { loadLocalConfig } from "../local/config.ts";
import { importIntelmq } from "./intelmq.ts";
import { standIn, writeSecrets } from "./test-support/stand-ins.ts";

interface IntelmqEntry {
  module: string;
  group: string;
  enabled?: boolean;
  run_mode?: string;
  parameters?: Record<string, unknown>;
}
interface BotSpec {
  module: string;
  parameters?: Record<string, unknown>;
  parametersFrom?: Array<{ parameter: string }>;
  destinations?: Record<string, string[]>;
  enabled?: boolean;
  interval?: string;
}

const GROUPS: Record<string, BotKind> = {
  Collector: "collector",
  Parser: "parser",
  Expert: "expert",
  Output: "output",
};
const SPEC_FIELDS: Record<string, string> = {
  error_procedure: "errorProcedure",
  error_max_retries: "errorMaxRetries",
  error_retry_delay: "errorRetryDelay",
  logging_level: "logLevel",
};

function packagedRuntimeYaml(): string {
  const script =
    "import intelmq, os; print(os.path.join(os.path.dirname(intelmq.__file__), 'etc', 'runtime.yaml'))";
  return execFileSync(oraclePython(), ["-c", script], { encoding: "utf8" }).trim();
}

function queuesOf(value: unknown): Array<[string, string]> {
  const list = (v: unknown) => (typeof v === "string" ? v.split(/\s+/).filter(Boolean) : (v as string[]));
  if (typeof value === "string" || Array.isArray(value)) return list(value).map((q) => ["_default", q]);
  return Object.entries((value ?? {}) as Record<string, unknown>).flatMap(([path, v]) =>
    list(v).map((q): [string, string] => [path, q]),
  );
}

describe("petrelctl import intelmq: the runtime.yaml of the IntelMQ 3.5.0 package", () => {
  const path = packagedRuntimeYaml();
  const text = readFileSync(path, "utf8");
  const input = parse(text) as Record<string, IntelmqEntry>;
  const ids = Object.keys(input).filter((id) => id !== "global");
  const result = importIntelmq({ runtime: { path, text } });
  const docs = parseAllDocuments(result.yaml).map(
    (d) => d.toJS() as { kind: string; metadata: { name: string }; spec: BotSpec },
  );
  const bots = new Map(docs.filter((d) => d.kind === "Bot").map((d) => [d.metadata.name, d.spec]));
  const reported = (id: string, ...words: string[]) =>
    result.report.some((line) => line.includes(`: bot ${id}: `) && words.every((w) => line.includes(w)));
  const nameOf = (id: string) => {
    const renamed = result.report.find((line) => line.includes(`: bot ${id}: renamed to `));
    return renamed ? (/renamed to ([-a-z0-9]+)/.exec(renamed)?.[1] as string) : id;
  };
  const sourceQueue = (id: string) => (input[id]?.parameters?.source_queue as string) ?? `${id}-queue`;

  it("emits one Bot per IntelMQ bot, with its Petrel module or reported", () => {
    expect(ids.length).toBeGreaterThan(5);
    expect(bots.size).toBe(ids.length);
    expect(result.counts.mapped + result.counts.unmapped).toBe(ids.length);
    for (const id of ids) {
      const entry = input[id] as IntelmqEntry;
      const spec = bots.get(nameOf(id));
      expect(spec, id).toBeDefined();
      const module = findModule(entry.module);
      if (module) expect(spec?.module, id).toBe(module.id);
      else {
        expect(spec?.module, id).toBe(entry.module);
        expect(reported(id, `module ${entry.module} has no Petrel bot yet`), id).toBe(true);
      }
      if (entry.enabled === false) expect(spec?.enabled, id).toBe(false);
    }
  });

  it("carries over or reports every parameter", () => {
    for (const id of ids) {
      const entry = input[id] as IntelmqEntry;
      const spec = bots.get(nameOf(id)) as BotSpec;
      for (const [key, value] of Object.entries(entry.parameters ?? {})) {
        const what = `${id}: ${key}`;
        if (key === "destination_queues") {
          for (const [queuePath, queue] of queuesOf(value)) {
            const target = ids.find((other) => sourceQueue(other) === queue);
            const routed = target !== undefined && spec.destinations?.[queuePath]?.includes(nameOf(target));
            expect(routed || reported(id, queue), `${what} ${queuePath} ${queue}`).toBe(true);
          }
        } else if (key === "rate_limit" && GROUPS[entry.group] === "collector") {
          expect(spec.interval !== undefined || reported(id, "rate_limit"), what).toBe(true);
        } else if (key in SPEC_FIELDS) {
          expect(
            (spec as unknown as Record<string, unknown>)[SPEC_FIELDS[key] as string] !== undefined ||
              reported(id, key),
            what,
          ).toBe(true);
        } else {
          const kept =
            (spec.parameters !== undefined && key in spec.parameters) ||
            (spec.parametersFrom ?? []).some((p) => p.parameter === key);
          expect(kept || reported(id, key), what).toBe(true);
        }
      }
    }
  });

  it("loads with loadLocalConfig once the missing modules exist", () => {
    const missing = ids.filter((id) => !findModule((input[id] as IntelmqEntry).module));
    const standIns = new Map(
      missing.map((id) => {
        const entry = input[id] as IntelmqEntry;
        return [entry.module, standIn(entry.module, GROUPS[entry.group] as BotKind)];
      }),
    );
    const secretsDir = testTempDir("petrel-import-");
    writeSecrets(result.yaml, secretsDir);
    const config = loadLocalConfig([{ path: "imported.yaml", text: result.yaml }], {
      secretsDir,
      extraModules: [...standIns.values()],
    });
    expect(config.bots).toHaveLength(ids.length);
  });
});
