// A private nats-server for one benchmark run: random port, temporary store, payloads up to 64 MiB
// (large reports), and its pid for CPU accounting.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, natsServerBinary, waitForPort } from "../../bot-runtime/test-support/nats-server.ts";
import { atExit, track } from "./children.ts";

export interface BenchNats {
  url: string;
  pid: number;
  storeDir: string;
  stop(): Promise<void>;
}

export async function startBenchNats(): Promise<BenchNats> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "petrel-bench-nats-"));
  const removeDir = atExit(() => rmSync(dir, { recursive: true, force: true }));
  const storeDir = join(dir, "store");
  const conf = join(dir, "nats.conf");
  writeFileSync(
    conf,
    [
      `listen: "127.0.0.1:${port}"`,
      "max_payload: 67108864",
      `jetstream { store_dir: ${JSON.stringify(storeDir)}, max_file_store: 20GB, max_memory_store: 2GB }`,
      "",
    ].join("\n"),
  );
  const child: ChildProcess = track(spawn(natsServerBinary(), ["-c", conf], { stdio: "ignore" }));
  await waitForPort(port, 10_000);
  return {
    url: `nats://127.0.0.1:${port}`,
    pid: child.pid as number,
    storeDir,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      removeDir.done();
    },
  };
}
