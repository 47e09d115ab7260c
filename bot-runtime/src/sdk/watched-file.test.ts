// WatchedFile: changes seen by watching the folder and, where events do not come (a link into another
// folder whose file is replaced there), by looking at the file; a file being written is loaded only
// once it is complete; a missing file keeps the old value; close() stops everything.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WatchedFile } from "./watched-file.ts";

const log = pino({ level: "silent" });

/** Loads a file that must end with "END" (a complete file), returning its first line. */
async function load(path: string): Promise<string> {
  const text = await readFile(path, "utf8");
  if (!text.endsWith("END")) throw new Error("incomplete");
  return text.split("\n")[0] as string;
}

async function until(file: WatchedFile<string>, want: string, ms = 5_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (file.value !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return file.value;
}

describe("WatchedFile", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "petrel-watched-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("notices a file replaced behind a link into another folder by looking at it", async () => {
    mkdirSync(join(dir, "elsewhere"));
    mkdirSync(join(dir, "mount"));
    writeFileSync(join(dir, "elsewhere", "db"), "one\nEND");
    symlinkSync(join(dir, "elsewhere", "db"), join(dir, "mount", "db"));
    const outcomes: boolean[] = [];
    const file = await WatchedFile.open(join(dir, "mount", "db"), load, {
      log,
      what: "test file",
      pollMs: 200,
      settleMs: 50,
      onReload: (o) => outcomes.push(o.ok),
    });
    expect(file.value).toBe("one");
    writeFileSync(join(dir, "elsewhere", "db.new"), "two\nEND");
    renameSync(join(dir, "elsewhere", "db.new"), join(dir, "elsewhere", "db"));
    expect(await until(file, "two")).toBe("two");
    expect(outcomes).toEqual([true]);
    file.close();
  });

  it("waits for a file being written, keeps the value while the file is gone, and stops on close()", async () => {
    const path = join(dir, "slow");
    writeFileSync(path, "one\nEND");
    const outcomes: boolean[] = [];
    const file = await WatchedFile.open(path, load, {
      log,
      what: "test file",
      pollMs: 0,
      settleMs: 150,
      onReload: (o) => outcomes.push(o.ok),
    });
    // Written in pieces, 50 ms apart: no half file is loaded.
    writeFileSync(path, "two\n");
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(path, "x", { flag: "a" });
    }
    writeFileSync(path, "END", { flag: "a" });
    expect(await until(file, "two")).toBe("two");
    expect(outcomes).toEqual([true]);
    unlinkSync(path);
    await new Promise((r) => setTimeout(r, 500));
    expect(file.value).toBe("two");
    writeFileSync(path, "three\nEND");
    expect(await until(file, "three")).toBe("three");
    file.close();
    writeFileSync(path, "four\nEND");
    await new Promise((r) => setTimeout(r, 600));
    expect(file.value).toBe("three");
    expect(outcomes).toEqual([true, true]);
  });
});
