// The OTX collector against a local server that speaks OTX's documented pulses API (GET
// /api/v1/pulses/subscribed with limit, page and modified_since, paged with `next`, the key in
// X-OTX-API-KEY): the requests the OTXv2 library makes, and one report whose raw is exactly Python's
// json.dumps of the pulse list.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import otx from "./alienvault-otx.ts";
import { collectOnce, createCollector, httpServer, json, type TestServer } from "./test-support/harness.ts";

const DUMPS = `
import json, sys
for line in sys.stdin:
    print(json.dumps(json.dumps(json.loads(line))))
`;

let server: TestServer;
let requests: URL[] = [];
const PULSES = Array.from({ length: 120 }, (_, i) => ({
  id: `6650${String(i).padStart(20, "0")}`,
  name: `Pulse ${i} — ünïcödé`,
  author_name: "AlienVault",
  modified: `2024-05-${String((i % 28) + 1).padStart(2, "0")}T10:00:00.000000`,
  tags: ["phishing", "tlp:white"],
  TLP: "white",
  indicators: [
    {
      indicator: `192.0.2.${i % 250}`,
      type: "IPv4",
      created: "2024-05-01T10:00:00",
      is_active: 1,
      role: null,
    },
    { indicator: `evil-${i}.example`, type: "domain", title: "", expiration: null },
  ],
}));

beforeAll(async () => {
  server = await httpServer((req, res) => {
    const url = new URL(req.url ?? "/", server.url);
    if (req.headers["x-otx-api-key"] !== "otx-key")
      return json(res, { detail: "Authentication required" }, 403);
    if (url.pathname !== "/api/v1/pulses/subscribed") return json(res, { detail: "Not found." }, 404);
    requests.push(url);
    const limit = Number(url.searchParams.get("limit") ?? 50);
    const page = Number(url.searchParams.get("page") ?? 1);
    const since = url.searchParams.get("modified_since");
    const matching = since ? PULSES.filter((p) => p.modified >= "2024-05-20") : PULSES;
    const results = matching.slice((page - 1) * limit, page * limit);
    const next = new URL(url);
    next.searchParams.set("page", String(page + 1));
    json(res, {
      count: matching.length,
      next: page * limit < matching.length ? next.toString() : null,
      results,
    });
  });
});
afterAll(() => server?.close());
beforeEach(() => {
  requests = [];
});

const raw = (r: { get(k: string): unknown }) =>
  Buffer.from(r.get("raw") as string, "base64").toString("utf8");

describe("collectors.alienvault_otx", () => {
  it("downloads every subscribed pulse, page by page, into one report written as Python would", async () => {
    const reports = await collectOnce(
      await createCollector(otx, { api_key: "otx-key", api_url: server.url }),
    );
    expect(reports).toHaveLength(1);
    const [expected] = await runOracle<unknown, string>(DUMPS, [PULSES]);
    expect(raw(reports[0] as never)).toBe(expected);
    expect(requests.map((u) => u.search)).toEqual(["?limit=50", "?limit=50&page=2", "?limit=50&page=3"]);
  });

  it("asks only for pulses modified in the last `interval` hours with modified_pulses_only", async () => {
    const before = Date.now();
    const reports = await collectOnce(
      await createCollector(otx, {
        api_key: "otx-key",
        api_url: server.url,
        modified_pulses_only: true,
        interval: 48,
      }),
    );
    expect(requests).toHaveLength(1);
    expect(requests[0]?.searchParams.get("limit")).toBe("9999");
    const since = requests[0]?.searchParams.get("modified_since") as string;
    expect(since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?$/);
    const sinceMs = new Date(since).getTime(); // a local time, as OTXv2 sends it
    expect(Math.abs(before - 48 * 3_600_000 - sinceMs)).toBeLessThan(5_000);
    expect(JSON.parse(raw(reports[0] as never))).toHaveLength(
      PULSES.filter((p) => p.modified >= "2024-05-20").length,
    );
  });

  it("fails on a refused key and sends nothing", async () => {
    const c = await createCollector(otx, { api_key: "wrong", api_url: server.url });
    await expect(collectOnce(c)).rejects.toThrow(/API key/);
  });
});
