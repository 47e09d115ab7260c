// `npm run bench`: measurements (not tests). Ratios compare against baselines measured in the same run,
// because shared machines are noisy. Paste the printed tables into docs/benchmarks.md with date and machine.
import os from "node:os";
import { benchEventModel } from "../bench/event-model.bench.ts";
import { formatResults } from "../bench/harness.ts";

const args = new Set(process.argv.slice(2));
const seconds = args.has("--quick") ? 0.5 : 3;

console.log(
  `Petrel benchmarks — ${new Date().toISOString()} — ${os.cpus()[0]?.model ?? "cpu"} × ${os.cpus().length}, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`,
);
console.log(formatResults("Event model (22 fields, ~1.2 KB)", benchEventModel(seconds)));
