// Runs Python code inside the IntelMQ oracle virtualenv (see scripts/ensure-intelmq.sh).
// Tests use it to compare Petrel with IntelMQ itself, value for value.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
let pythonPath: string | undefined;

/** Path of the oracle venv's python; installs the venv on first use. */
export function oraclePython(): string {
  if (pythonPath) return pythonPath;
  pythonPath =
    process.env.PETREL_ORACLE_PYTHON ??
    execFileSync("bash", [`${root}scripts/ensure-intelmq.sh`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  return pythonPath;
}

/**
 * Runs `script` in the oracle python. Each input is written to its stdin as one JSON line;
 * the script must print exactly one JSON line per input line. Returns the parsed outputs.
 * Python's temporary files (IntelMQ's bots leave some, e.g. smtp_batch's zip attachments) go to a
 * directory of the run's own, deleted afterwards.
 */
export async function runOracle<I, O>(script: string, inputs: readonly I[]): Promise<O[]> {
  const python = oraclePython();
  const temp = mkdtempSync(join(tmpdir(), "petrel-oracle-"));
  try {
    return await runOracleIn(python, temp, script, inputs);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

async function runOracleIn<I, O>(
  python: string,
  temp: string,
  script: string,
  inputs: readonly I[],
): Promise<O[]> {
  const child = spawn(python, ["-W", "ignore", "-c", script], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, TMPDIR: temp },
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  const done = new Promise<number>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve(code ?? -1));
  });
  child.stdin.end(inputs.map((i) => JSON.stringify(i)).join("\n") + (inputs.length ? "\n" : ""));
  const code = await done;
  if (code !== 0) {
    throw new Error(`oracle python exited ${code}: ${Buffer.concat(err).toString()}`);
  }
  const lines = Buffer.concat(out)
    .toString("utf8")
    .split("\n")
    .filter((l) => l.length > 0);
  if (lines.length !== inputs.length) {
    throw new Error(
      `oracle printed ${lines.length} lines for ${inputs.length} inputs: ${Buffer.concat(err)}`,
    );
  }
  return lines.map((l) => JSON.parse(l) as O);
}
