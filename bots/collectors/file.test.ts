// The file collector: reports as IntelMQ's file collector makes them (chunking compared with IntelMQ's
// generate_reports), files locked by another process skipped, files removed only after all their
// reports were stored (on a real nats-server too), and large files streamed (memory measured).
import { execFile, spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, open, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import type { Collector } from "../../bot-runtime/src/sdk/bot.ts";
import { parameterSchema } from "../../bot-runtime/src/sdk/common-parameters.ts";
import { runCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { testContext } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import fileCollector from "./file.ts";

// IntelMQ's generate_reports with a stand-in template: it only copies the template and adds raw.
const CHUNK_ORACLE = `
import base64, io, json, sys
from intelmq.lib.splitreports import generate_reports
class Template:
    def copy(self):
        return Template()
    def add(self, key, value, overwrite=False):
        self.raw = value
for line in sys.stdin:
    case = json.loads(line)
    data = base64.b64decode(case["data"])
    reports = generate_reports(Template(), io.BytesIO(data), case["chunk_size"], case["header"])
    print(json.dumps([base64.b64encode(r.raw).decode() for r in reports]))
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "petrel-file-collector-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function collector(params: Record<string, unknown>): Promise<Collector> {
  const parsed = parameterSchema(fileCollector).parse({ path: dir, ...params });
  return fileCollector.create(parsed as never, testContext());
}

async function collect(c: Collector): Promise<Report[]> {
  const reports: Report[] = [];
  await c.collect(async (report) => {
    reports.push(report);
  });
  return reports;
}

const decoded = (report: Report) => Buffer.from(report.get("raw") as string, "base64").toString("utf8");
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const run = promisify(execFile);

/**
 * Runs the collector over `directory` in a separate Node.js process with --expose-gc; while each
 * report is being "stored" it collects garbage and samples memory. Returns the peak growth over the
 * start of what is still referenced (V8 heap + array buffers; Node.js keeps large strings outside both, so RSS is measured too) and of the RSS.
 */
async function measureCollect(directory: string, chunkSize: number | null) {
  const url = (path: string) => new URL(path, import.meta.url).href;
  const script = `
    import module from ${JSON.stringify(url("./file.ts"))};
    import { parameterSchema } from ${JSON.stringify(url("../../bot-runtime/src/sdk/common-parameters.ts"))};
    import { testContext } from ${JSON.stringify(url("../../bot-runtime/test-support/parser-oracle.ts"))};
    const params = parameterSchema(module).parse({ path: ${JSON.stringify(directory)}, chunk_size: ${chunkSize} });
    const collector = await module.create(params, testContext());
    globalThis.gc();
    const base = process.memoryUsage();
    const held = (m) => m.heapUsed + m.arrayBuffers;
    let retained = 0, rss = 0, reports = 0, bytes = 0;
    await collector.collect(async (report) => {
      reports++;
      bytes += report.get("raw").length;
      rss = Math.max(rss, process.memoryUsage().rss - base.rss);
      globalThis.gc();
      retained = Math.max(retained, held(process.memoryUsage()) - held(base));
    });
    console.log(JSON.stringify({ retained, rss, reports, bytes }));
  `;
  const node = new URL("../../node_modules/.bin/node", import.meta.url).pathname;
  const { stdout } = await run(node, ["--expose-gc", "--input-type=module", "-e", script], {
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as { retained: number; rss: number; reports: number; bytes: number };
}

describe("collectors.file", () => {
  it("makes one report per matching file, with feed.url and extra.file_name", async () => {
    await writeFile(join(dir, "b.csv"), "ip\n192.0.2.2\n");
    await writeFile(join(dir, "a.csv"), "ip\n192.0.2.1\n");
    await writeFile(join(dir, "empty.csv"), "");
    await writeFile(join(dir, "other.txt"), "not read");
    await mkdir(join(dir, "dir.csv"));
    const reports = await collect(await collector({}));
    expect(reports.map((r) => r.get("extra.file_name"))).toEqual(["a.csv", "b.csv"]);
    expect(reports[0]?.get("feed.url")).toBe(`file://localhost${join(dir, "a.csv")}`);
    expect(decoded(reports[0] as Report)).toBe("ip\n192.0.2.1\n");
    expect(reports[0]?.get("time.observation")).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    // Nothing is deleted without delete_file.
    expect(await readdir(dir)).toHaveLength(5);
  });

  it("matches postfix as IntelMQ's fnmatch does", async () => {
    for (const name of ["x.json", "feodo-ipblocklist.json", "ipblocklist.json.bak", "a.JSON", "[x].json"]) {
      await writeFile(join(dir, name), "[]");
    }
    const names = async (postfix: string) =>
      (await collect(await collector({ postfix }))).map((r) => r.get("extra.file_name"));
    expect(await names(".json")).toEqual(["[x].json", "feodo-ipblocklist.json", "x.json"]);
    expect(await names("-ipblocklist.json")).toEqual(["feodo-ipblocklist.json"]);
    expect(await names(".[jJ]SON")).toEqual(["a.JSON"]);
    expect(await names("?.json*")).toEqual([
      "[x].json",
      "feodo-ipblocklist.json",
      "ipblocklist.json.bak",
      "x.json",
    ]);
  });

  it("chunks files at line ends like IntelMQ's generate_reports", async () => {
    const texts = [
      "header,x\n1,aaaa\n2,bbbbbbbbbb\n3,c\n4,dddddddddddddddddddddddddddddd\n5,e",
      "h\r\n" + Array.from({ length: 50 }, (_, i) => `192.0.2.${i},ünïcödé`).join("\r\n") + "\r\n",
      "only a header line\n",
      "no newline at all, longer than a chunk",
      `h\n${"x".repeat(100)}\nshort\n`,
    ];
    const cases = texts.flatMap((text) =>
      [7, 16, 64, 1000].flatMap((chunkSize) => [true, false].map((header) => ({ text, chunkSize, header }))),
    );
    const expected = await runOracle<unknown, string[]>(
      CHUNK_ORACLE,
      cases.map((c) => ({
        data: Buffer.from(c.text).toString("base64"),
        chunk_size: c.chunkSize,
        header: c.header,
      })),
    );
    for (const [i, c] of cases.entries()) {
      await rm(join(dir, "f.csv"), { force: true });
      await writeFile(join(dir, "f.csv"), c.text);
      const reports = await collect(
        await collector({ chunk_size: c.chunkSize, chunk_replicate_header: c.header }),
      );
      expect(
        reports.map((r) => r.get("raw")),
        JSON.stringify(c),
      ).toEqual(expected[i]);
    }
  });

  it("streams a large file into chunks that add up to it", async () => {
    const lines = Array.from({ length: 300_000 }, (_, i) => `198.51.100.${i % 250},${i}`);
    await writeFile(join(dir, "big.csv"), `ip,n\n${lines.join("\n")}\n`);
    const reports = await collect(await collector({ chunk_size: 1_000_000 }));
    expect(reports.length).toBeGreaterThan(3);
    let body = "";
    for (const report of reports) {
      const text = decoded(report);
      expect(text.startsWith("ip,n\n")).toBe(true);
      expect(text.length).toBeLessThanOrEqual(1_000_000 + 5);
      expect(text.endsWith("\n")).toBe(true);
      body += text.slice(5);
    }
    expect(body).toBe(`${lines.join("\n")}\n`);
  });

  it("deletes a file only after every report of it was emitted", async () => {
    const file = join(dir, "feed.csv");
    await writeFile(file, "h\n1\n2\n3\n");
    const c = await collector({ delete_file: true, chunk_size: 2 });
    const pending: Array<() => void> = [];
    let emitted = 0;
    const run = c.collect(
      () =>
        new Promise<void>((resolve) => {
          emitted++;
          pending.push(resolve);
        }),
    );
    for (let i = 0; i < 3; i++) {
      await expect.poll(() => pending.length).toBe(1);
      expect(await exists(file)).toBe(true);
      pending.shift()?.();
    }
    await run;
    expect(emitted).toBe(3);
    expect(await exists(file)).toBe(false);
  });

  it("keeps the file when emitting fails", async () => {
    const file = join(dir, "feed.csv");
    await writeFile(file, "h\n1\n");
    const c = await collector({ delete_file: true });
    await expect(c.collect(() => Promise.reject(new Error("stream unavailable")))).rejects.toThrow(
      /unavailable/,
    );
    expect(await exists(file)).toBe(true);
  });

  it("moves files to move_to instead, never overwriting", async () => {
    const archive = join(dir, "done");
    await writeFile(join(dir, "feed.csv"), "first\n");
    const c = await collector({ move_to: archive });
    await collect(c);
    await writeFile(join(dir, "feed.csv"), "second\n");
    await collect(c);
    expect(await exists(join(dir, "feed.csv"))).toBe(false);
    const archived = (await readdir(archive)).sort();
    expect(archived).toHaveLength(2);
    expect(archived[0]).toBe("feed.csv");
    expect(archived[1]).toMatch(/^feed\.csv\.\d+$/);
  });

  it("skips a file another process holds a lock on, and holds its own lock while reading", async () => {
    await writeFile(join(dir, "a.csv"), "a\n");
    await writeFile(join(dir, "b.csv"), "b\n");
    // Another writer holds an flock on b.csv (util-linux flock(1), as a shell script would).
    const holder = spawn("flock", [join(dir, "b.csv"), "sleep", "60"], { stdio: "ignore", detached: true });
    // flock(1) and its sleep hold the lock together: stop both.
    const release = () => {
      try {
        process.kill(-(holder.pid as number), "SIGKILL");
      } catch {
        // already gone
      }
    };
    try {
      await expect
        .poll(() => spawnSync("flock", ["-n", "-E", "75", join(dir, "b.csv"), "true"]).status)
        .toBe(75);
      const c = await collector({ delete_file: true });
      expect((await collect(c)).map((r) => r.get("extra.file_name"))).toEqual(["a.csv"]);
      expect(await exists(join(dir, "b.csv"))).toBe(true);
      release();
      await expect
        .poll(() => spawnSync("flock", ["-n", "-E", "75", join(dir, "b.csv"), "true"]).status)
        .toBe(0);
      // While the collector waits for its report to be stored, the file is locked.
      const lockedDuringEmit: Array<number | null> = [];
      await c.collect(async () => {
        lockedDuringEmit.push(spawnSync("flock", ["-n", "-E", "75", join(dir, "b.csv"), "true"]).status);
      });
      expect(lockedDuringEmit).toEqual([75]);
      expect(await exists(join(dir, "b.csv"))).toBe(false);
    } finally {
      release();
    }
  });

  it("on JetStream: keeps the file while nats-server is down and deletes it once its report is stored", async () => {
    const run = await runCollector(fileCollector, { path: dir, delete_file: true, name: "Files" });
    try {
      await writeFile(join(dir, "first.csv"), "ip\n192.0.2.1\n");
      const [first] = await run.reports(1);
      expect(first?.get("extra.file_name")).toBe("first.csv");
      expect(first?.get("feed.name")).toBe("Files");
      await expect.poll(() => exists(join(dir, "first.csv"))).toBe(false);

      await run.nats.stop();
      await writeFile(join(dir, "second.csv"), "ip\n192.0.2.2\n");
      await new Promise((r) => setTimeout(r, 1500));
      expect(await exists(join(dir, "second.csv"))).toBe(true);
      await run.nats.restart();
      const [second] = await run.reports(1);
      expect(decoded(second as Report)).toBe("ip\n192.0.2.2\n");
      await expect.poll(() => exists(join(dir, "second.csv")), { timeout: 10_000 }).toBe(false);
      expect(await run.pending()).toBe(0);
    } finally {
      await run.dispose();
    }
  });

  it("streams a 1M-line file: memory held stays near chunk_size, not the file's size", async () => {
    const file = join(dir, "million.csv");
    const out = await open(file, "w");
    const block: string[] = [];
    for (let i = 0; i < 1_000_000; i++) {
      block.push(`198.51.${(i >> 8) & 255}.${i & 255},${i},scanner`);
      if (block.length === 50_000) {
        await out.write(`${block.join("\n")}\n`);
        block.length = 0;
      }
    }
    await out.close();
    const size = (await stat(file)).size;
    const measure = (chunkSize: number | null) => measureCollect(dir, chunkSize);
    const chunked = await measure(1_000_000);
    const whole = await measure(null);
    // Printed for docs/benchmarks-style reporting of what was measured.
    console.log(
      `file collector, ${size} bytes / 1,000,000 lines: chunk_size 1 MB: ${chunked.reports} reports, peak retained heap+buffers ${mb(chunked.retained)}, peak RSS growth ${mb(chunked.rss)}; whole file: 1 report, peak RSS growth ${mb(whole.rss)} (the file's bytes and its base64 text)`,
    );
    expect(chunked.reports).toBeGreaterThanOrEqual(Math.floor(size / 1_000_000));
    expect(whole).toMatchObject({ reports: 1, bytes: Math.ceil(size / 3) * 4 });
    // Chunked: what is held while a report is stored is a few chunks, not the file (~29 MB).
    expect(chunked.retained).toBeLessThan(10 * 1_000_000);
    expect(chunked.rss).toBeLessThan(size / 2);
    // Whole: the file's bytes and its report (base64, 4/3 of them) at the peak, nothing more.
    expect(whole.rss).toBeLessThan(size * 2.6);
  });

  it("refuses a path that is not a directory, and an empty postfix with delete_file", async () => {
    await expect(collector({ path: join(dir, "missing") })).rejects.toThrow(/not a directory/);
    await expect(collector({ postfix: "", delete_file: true })).rejects.toThrow(/every file/);
  });
});
