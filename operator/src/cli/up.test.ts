// `petrelctl up` as a user runs it: Ctrl-C stops every bot and the nats-server and exits 0, invalid
// YAML exits 1 with the problems, and a missing nats-server is explained in one line.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsServerBinary } from "../../../bot-runtime/test-support/nats-server.ts";
import { NO_NATS_SERVER_HINT } from "../local/nats-server.ts";
import { pipelineYaml, processesMentioning, waitFor } from "../local/test-support/helpers.ts";
import { TEST_BOT_NODE_ARGS } from "../local/test-support/node-args.ts";

const PETRELCTL = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));
const REPO = fileURLToPath(new URL("../../../", import.meta.url));

interface Ran {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exit: Promise<number | null>;
}

function petrelctl(args: string[], env: NodeJS.ProcessEnv = {}): Ran {
  const child = spawn(process.execPath, [PETRELCTL, ...args], {
    cwd: REPO,
    env: { ...process.env, NODE_OPTIONS: `--import=${TEST_BOT_NODE_ARGS[1]}`, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exit };
}

describe("petrelctl up", () => {
  let dir: string;
  let yaml: string;
  beforeAll(() => {
    process.env.PETREL_NATS_SERVER ??= natsServerBinary();
    dir = mkdtempSync(join(tmpdir(), "petrel-cli-up-"));
    yaml = join(dir, "pipeline.yaml");
    writeFileSync(
      yaml,
      pipelineYaml("cli", [
        {
          name: "feed",
          module: "test.lines_collector",
          parameters: { lines: ["192.0.2.1"] },
          destinations: { _default: ["parse"] },
        },
        { name: "parse", module: "test.ip_parser", destinations: { _default: ["tax"] } },
        {
          name: "tax",
          module: "experts.taxonomy",
          destinations: { _default: ["out"] },
          extra: "  replicas: 2",
        },
        { name: "out", module: "test.jsonl_output", parameters: { file: join(dir, "out.jsonl") } },
      ]),
    );
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("stops every bot and the nats-server on Ctrl-C and exits 0, leaving no process behind", async () => {
    const dataDir = join(dir, "data");
    const run = petrelctl(["up", "-f", yaml, "--data-dir", dataDir]);
    // Five bot processes and the nats-server, all identified by the data directory in their arguments.
    const children = () => processesMentioning(dataDir).filter((pid) => pid !== run.child.pid);
    await waitFor("the bots and nats-server", () => children().length === 6, 60_000);
    // Ready bots have their signal handlers installed, so each must log its drain.
    await waitFor("every bot to be ready", () => allReady(dataDir), 60_000);
    run.child.kill("SIGINT");
    expect(await run.exit, run.stdout() + run.stderr()).toBe(0);
    expect(run.stdout()).toMatch(/Stopping: bots drain in-flight messages/);
    expect(processesMentioning(dataDir)).toEqual([]);
    for (const bot of ["feed", "parse", "tax", "tax.1", "out"]) {
      expect(readLog(dataDir, bot), bot).toMatch(
        /"signal":"SIGTERM".*Stopping: draining[\s\S]*"Bot stopped\."/,
      );
    }
  }, 120_000);

  it("exits 1 and lists the problems of invalid resources", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, pipelineYaml("bad", [{ name: "tax", module: "experts.taxonomi" }]));
    const run = petrelctl(["up", "-f", bad, "--data-dir", join(dir, "bad")]);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/the resources are not valid \(1 problem\(s\)\):/);
    expect(run.stderr()).toMatch(
      /bad\.yaml:16: document 2 \(Bot tax\): spec\.module: unknown module "experts\.taxonomi" \(did you mean experts\.taxonomy\?\)$/m,
    );
  });

  it("says in one line how to get a nats-server when there is none", async () => {
    const run = petrelctl(["up", "-f", yaml, "--data-dir", join(dir, "nonats")], {
      PETREL_NATS_SERVER: "",
      PETREL_CACHE_DIR: join(dir, "no-cache"),
      PATH: "/nonexistent",
      NATS_URL: "",
    });
    expect(await run.exit).toBe(1);
    expect(
      run
        .stdout()
        .split("\n")
        .filter((l) => l.includes("nats-server")),
    ).toEqual([NO_NATS_SERVER_HINT]);
  });
});

async function allReady(dataDir: string): Promise<boolean> {
  const configs = readdirSync(join(dataDir, "bots")).filter((f) => f.endsWith(".json"));
  if (configs.length < 5) return false;
  const ready = await Promise.all(
    configs.map(async (f) => {
      const { metricsPort } = JSON.parse(readFileSync(join(dataDir, "bots", f), "utf8")) as {
        metricsPort: number;
      };
      try {
        return (await fetch(`http://127.0.0.1:${metricsPort}/readyz`)).status === 200;
      } catch {
        return false;
      }
    }),
  );
  return ready.every(Boolean);
}

function readLog(dataDir: string, bot: string): string {
  try {
    return readFileSync(join(dataDir, "logs", `${bot}.log`), "utf8");
  } catch {
    return "";
  }
}
