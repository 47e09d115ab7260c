// `petrelctl demo` (npm start) as a user runs it, in a temporary data directory: it drains and exits 0,
// every event it writes is valid IntelMQ under `petrelctl event check`, and a second run gives the
// same events (fresh state each time).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { natsServerBinary } from "../../../bot-runtime/test-support/nats-server.ts";
import { processesMentioning } from "./test-support/helpers.ts";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const PETRELCTL = join(REPO, "operator", "bin", "petrelctl.js");

function petrelctl(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [PETRELCTL, ...args], {
      cwd: REPO,
      env: { ...process.env, NATS_URL: "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** The events without time.observation (the moment of collection differs between runs). */
function comparable(file: string): string[] {
  return readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((line) => {
      const { "time.observation": _, ...rest } = JSON.parse(line) as Record<string, unknown>;
      return JSON.stringify(rest);
    })
    .sort();
}

describe("petrelctl demo", () => {
  let dataDir: string;
  beforeAll(() => {
    process.env.PETREL_NATS_SERVER ??= natsServerBinary();
    dataDir = mkdtempSync(join(tmpdir(), "petrel-demo-"));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it("runs the demo pipeline until drained and writes valid IntelMQ events, the same on every run", async () => {
    const output = join(dataDir, "demo-output.jsonl");
    const first = await petrelctl(["demo", "--data-dir", dataDir, "--timeout", "3m"]);
    expect(first.code, first.stdout + first.stderr).toBe(0);
    const lines = readFileSync(output, "utf8").trim().split("\n");
    expect(lines.length).toBeGreaterThan(10);
    expect(first.stdout).toContain(`${lines.length} events are in ${output}`);
    expect(first.stdout).toMatch(/Drained after/);

    const check = await petrelctl(["event", "check", output]);
    expect(
      check.code,
      check.stdout
        .split("\n")
        .filter((l) => l.startsWith("ERROR"))
        .join("\n"),
    ).toBe(0);
    expect(check.stdout.trim().split("\n")).toHaveLength(lines.length);

    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const feeds = new Set(events.map((e) => e["feed.name"]));
    expect(feeds.size).toBe(3);
    expect(events.every((e) => typeof e["classification.taxonomy"] === "string")).toBe(true);
    const before = comparable(output);

    const second = await petrelctl(["demo", "--data-dir", dataDir, "--timeout", "3m"]);
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(comparable(output)).toEqual(before);
    expect(processesMentioning(dataDir)).toEqual([]);
  }, 420_000);
});
