// Minimal timing harness: warm up, then run batches until the time budget is spent.
export interface BenchResult {
  name: string;
  ops: number;
  nsPerOp: number;
  /** ns/op of the baseline measured in the same run, when the result has one. */
  baseline?: number;
}

export function measure(name: string, seconds: number, fn: () => void): BenchResult {
  for (let i = 0; i < 20_000; i++) fn();
  const budget = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return { name, ops, nsPerOp: Number(elapsed) / ops };
}

export function formatResults(title: string, results: BenchResult[]): string {
  const lines = [`## ${title}`, "", "| measurement | µs/op | ops/s | vs baseline |", "|---|---:|---:|---:|"];
  for (const r of results) {
    const ratio = r.baseline ? `${(r.nsPerOp / r.baseline).toFixed(2)}×` : "";
    lines.push(
      `| ${r.name} | ${(r.nsPerOp / 1000).toFixed(2)} | ${Math.round(1e9 / r.nsPerOp).toLocaleString("en-US")} | ${ratio} |`,
    );
  }
  return lines.join("\n");
}
