// `npm run bench`: measurements (not tests). Ratios compare against baselines measured in the same run,
// because shared machines are noisy. Paste the printed tables into docs/benchmarks.md with date and machine.
//   --quick          short runs (smaller workloads, one repetition)
//   --vs-intelmq     also run IntelMQ 3.5 (its venv and a private redis-server) on the same workloads
//   --only a,b       only these suites: event-model, exclusions, experts, local-experts, chain, memory
import { execFileSync } from "node:child_process";
import os from "node:os";
import { parseArgs } from "node:util";
import { benchEventModel } from "../bench/event-model.bench.ts";
import { benchExclusions } from "../bench/exclusions.bench.ts";
import { formatResults } from "../bench/harness.ts";
import { benchLocalExperts } from "../bench/local-experts.bench.ts";
import { intelmqPython } from "../bench/runtime/intelmq.ts";
import { benchChain, benchExperts, benchParserMemory } from "../bench/runtime.bench.ts";
import { natsServerBinary } from "../bot-runtime/test-support/nats-server.ts";

const SUITES = ["event-model", "exclusions", "experts", "local-experts", "chain", "memory"] as const;
const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "vs-intelmq": { type: "boolean", default: false },
    only: { type: "string" },
  },
});
const only = new Set(values.only ? values.only.split(",") : SUITES);
for (const name of only) {
  if (!(SUITES as readonly string[]).includes(name))
    throw new Error(`unknown suite ${name}: ${SUITES.join(", ")}`);
}
const options = {
  quick: values.quick === true,
  vsIntelmq: values["vs-intelmq"] === true,
  log: (line: string) => console.error(line),
};

function version(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unavailable";
  }
}

const runtimeSuites = ["experts", "local-experts", "chain", "memory"].some((s) => only.has(s));
console.log(
  `Petrel benchmarks — ${new Date().toISOString()} — ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}` +
    (runtimeSuites ? `, ${version(natsServerBinary(), ["--version"])}` : "") +
    (options.vsIntelmq
      ? `, IntelMQ ${version(intelmqPython(), ["-c", "import intelmq; print(intelmq.__version__)"])}, ${version(
          "redis-server",
          ["--version"],
        )
          .split(" ")
          .slice(0, 3)
          .join(" ")}`
      : "") +
    "\n",
);
if (only.has("event-model")) {
  const seconds = options.quick ? 0.5 : 3;
  console.log(`${formatResults("Event model (22 fields, ~1.2 KB)", benchEventModel(seconds))}\n`);
}
if (only.has("exclusions")) {
  const { results, notes } = benchExclusions(options.quick ? 0.5 : 3);
  console.log(
    `${formatResults("Exclusions: 10,000 rules", results)}\n\n${notes.map((n) => `- ${n}`).join("\n")}\n`,
  );
}
if (only.has("experts")) console.log(`${await benchExperts(options)}\n`);
if (only.has("local-experts")) console.log(`${await benchLocalExperts(options)}\n`);
if (only.has("chain")) console.log(`${await benchChain(options)}\n`);
if (only.has("memory")) console.log(`${await benchParserMemory(options)}\n`);
