// The Shadowserver Reports API collector against a local server that speaks the documented API (POST
// reports/list with the HMAC2 signature of the body, reports downloaded by id): the list request as
// IntelMQ makes it, type and report filters, reports not collected twice — across restarts, with the
// collected names in JetStream KV — and a report not recorded when it could not be stored.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import shadowserver, { collectedBucket } from "./shadowserver-reports-api.ts";
import {
  CollectorPipeline,
  collectOnce,
  createCollector,
  decodedRaw,
  httpServer,
  json,
  type TestServer,
  testContext,
} from "./test-support/harness.ts";

const SECRET = "s3cret";
let server: TestServer;
let lists: Array<Record<string, unknown>> = [];
let downloads: string[] = [];

const today = new Date().toISOString().slice(0, 10);
const LISTED = [
  { id: "a1", type: "scan", file: `${today}-scan_http-cert-geo.csv`, report: "cert", timestamp: today },
  { id: "b2", type: "sinkhole_combined", file: `${today}-event4_sinkhole-cert-geo.csv`, report: "cert" },
  { id: "c3", type: "scan", file: `${today}-scan_ftp-other-geo.csv`, report: "other" },
  { id: "d4", type: "population", file: `${today}-population-big-geo.csv`, report: "big" },
];
const CONTENT: Record<string, string> = {
  a1: '"timestamp","ip","port","hostname"\n"2024-05-01 00:00:01","192.0.2.1",80,"münchen.example"\n',
  b2: '"timestamp","ip"\n"2024-05-01 00:00:02","198.51.100.2"\n',
  c3: '"timestamp","ip"\n"2024-05-01 00:00:03","203.0.113.3"\n',
  d4: `"ip","n"\n${Array.from({ length: 50 }, (_, i) => `"192.0.2.${i}",${i}\n`).join("")}`,
};

beforeAll(async () => {
  server = await httpServer((req, res, body) => {
    const url = new URL(req.url ?? "/", server.url);
    if (url.pathname === "/api2/reports/list" && req.method === "POST") {
      const signature = createHmac("sha256", SECRET).update(body).digest("hex");
      if (req.headers.hmac2 !== signature) return json(res, { error: "Invalid signature" }, 401);
      const query = JSON.parse(body.toString()) as Record<string, unknown>;
      lists.push(query);
      const wanted = query.reports as string[] | undefined;
      return json(
        res,
        LISTED.filter((r) => !wanted || wanted.includes(r.report)),
      );
    }
    const id = /^\/dl\/(\w+)$/.exec(url.pathname)?.[1];
    if (id && CONTENT[id] !== undefined) {
      downloads.push(id);
      res.writeHead(200, { "content-type": "text/csv" });
      res.end(CONTENT[id]);
      return;
    }
    json(res, { error: "not found" }, 404);
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  lists = [];
  downloads = [];
});

const params = () => ({
  api_key: "key-1",
  secret: SECRET,
  api_url: `${server.url}/api2/`,
  download_url: `${server.url}/dl/`,
});

describe("collectors.shadowserver_reports_api", () => {
  it("lists the last three days' reports, signed, and downloads each new one once", async () => {
    const ctx = testContext();
    const c = await createCollector(
      shadowserver,
      { ...params(), reports: "cert", types: ["scan", "sinkhole_combined"] },
      ctx,
    );
    const reports = await collectOnce(c);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    expect(lists).toEqual([{ apikey: "key-1", date: `${twoDaysAgo}:${today}`, reports: ["cert"] }]);
    expect(reports.map((r) => [r.get("extra.file_name"), decodedRaw(r)])).toEqual([
      [LISTED[0]?.file, CONTENT.a1],
      [LISTED[1]?.file, CONTENT.b2],
    ]);
    expect(await collectOnce(c)).toEqual([]);
    expect(downloads).toEqual(["a1", "b2"]);
    expect(ctx.buckets.get(collectedBucket("test-collector"))?.data.size).toBe(2);
  });

  it("filters by type, takes the deprecated country, and lists everything without reports", async () => {
    const scans = await collectOnce(await createCollector(shadowserver, { ...params(), types: "scan" }));
    expect(scans.map((r) => r.get("extra.file_name"))).toEqual([LISTED[0]?.file, LISTED[2]?.file]);
    expect(lists[0]).not.toHaveProperty("reports");
    await collectOnce(
      await createCollector(shadowserver, { ...params(), reports: ["cert"], country: "other" }),
    );
    expect(lists[1]?.reports).toEqual(["cert", "other"]);
  });

  it("deviation raw-bytes-unchanged: keeps the file's bytes (UTF-8 served as text/csv without charset)", async () => {
    const [report] = await collectOnce(
      await createCollector(shadowserver, { ...params(), types: "scan", reports: "cert" }),
    );
    expect(Buffer.from(report?.get("raw") as string, "base64")).toEqual(
      Buffer.from(CONTENT.a1 as string, "utf8"),
    );
  });

  it("does not record a report that could not be stored", async () => {
    const ctx = testContext();
    const c = await createCollector(shadowserver, { ...params(), types: "scan" }, ctx);
    await expect(c.collect(() => Promise.reject(new Error("stream unavailable")))).rejects.toThrow(
      /unavailable/,
    );
    expect(ctx.buckets.get(collectedBucket("test-collector"))?.data.size ?? 0).toBe(0);
    expect(await collectOnce(c)).toHaveLength(2);
  });

  it("fails when the API refuses the signature", async () => {
    const c = await createCollector(shadowserver, { ...params(), secret: "wrong" });
    await expect(collectOnce(c)).rejects.toThrow(/401/);
  });

  it("splits large files into chunk_size reports, each with the header line", async () => {
    const reports = await collectOnce(
      await createCollector(shadowserver, { ...params(), reports: "big", chunk_size: 100 }),
    );
    expect(reports.length).toBeGreaterThan(5);
    for (const r of reports) {
      expect(decodedRaw(r).startsWith('"ip","n"\n')).toBe(true);
      expect(r.get("extra.file_name")).toBe(LISTED[3]?.file);
    }
    expect(reports.map((r) => decodedRaw(r).slice('"ip","n"\n'.length)).join("")).toBe(
      (CONTENT.d4 as string).slice('"ip","n"\n'.length),
    );
  });

  it("remembers collected reports in JetStream KV across restarts", async () => {
    const pipeline = await CollectorPipeline.start();
    try {
      const first = pipeline.run(shadowserver, { ...params(), reports: "cert" });
      const reports: Report[] = await pipeline.reports(2);
      await first.waitForRuns(1);
      await first.stop();
      expect(reports.map((r) => r.get("extra.file_name")).sort()).toEqual(
        [LISTED[1]?.file, LISTED[0]?.file].sort(),
      );
      downloads = [];
      const second = pipeline.run(shadowserver, { ...params(), reports: "cert" });
      await second.waitForRuns(1);
      await second.stop();
      expect(downloads).toEqual([]);
      expect(await pipeline.pending()).toBe(0);
    } finally {
      await pipeline.dispose();
    }
  });
});
