// The REST API output against a local HTTP receiver (node:http), compared with IntelMQ's REST API output
// (requests is in the oracle venv, so IntelMQ's bot really POSTs to the same receiver): the same
// request bodies byte for byte, content types and authentication headers; failures, redirects,
// throughput, and petrelctl run.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { declaredDeviation } from "../../bot-runtime/test-support/parser-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import restapiOutput from "./restapi.ts";
import {
  createOutput,
  manyEvents,
  measureThroughput,
  petrelctlRun,
  SAMPLE_EVENTS,
} from "./test-support/sample-events.ts";

const ORACLE = `${INTELMQ_PREAMBLE}
import intelmq.lib.utils
# create_request_session reads global defaults from runtime.yaml, which library mode does not have.
intelmq.lib.utils.get_global_settings = lambda: {}
from intelmq.bots.outputs.restapi.output import RestAPIOutputBot
for line in sys.stdin:
    case = json.loads(line)
    bot = RestAPIOutputBot("oracle-restapi-output", settings=library_settings(case["params"]))
    try:
        bot.process_message(*[read_message(e) for e in case["events"]])
        print(json.dumps({"error": None}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__ + ": " + str(error)}))
    bot.shutdown()
sys.stdout.flush()
os._exit(0)
`;

interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

describe("outputs.restapi", () => {
  let server: Server;
  let base: string;
  const received: Received[] = [];
  /** Status per path (default 200); 307 redirects to /moved. */
  const statuses = new Map<string, number>();

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const path = req.url ?? "/";
        received.push({
          method: req.method ?? "",
          path,
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
        });
        const status = statuses.get(path) ?? 200;
        res.writeHead(
          status,
          status === 307 ? { location: "/moved" } : { "content-type": "application/json" },
        );
        res.end(status >= 400 ? '{"error": "refused"}' : "{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  });

  const at = (path: string) => received.filter((r) => r.path === path);

  it("sends the same requests as IntelMQ's REST API output", async () => {
    const cases = [
      { name: "JSON (defaults)", params: {} },
      { name: "JSON, hierarchical", params: { hierarchical_output: true } },
      {
        name: "header authentication",
        params: { auth_type: "http_header", auth_token_name: "X-Api-Key", auth_token: "t0ken" },
      },
      {
        name: "basic authentication",
        params: { auth_type: "http_basic_auth", auth_token_name: "petrel", auth_token: "s3cret" },
      },
      // Events without object values: a form carries them alike (see the deviations below).
      { name: "form", params: { use_json: false }, events: SAMPLE_EVENTS.slice(1) },
    ].map((c, i) => ({
      ...c,
      events: c.events ?? SAMPLE_EVENTS,
      intelmqPath: `/intelmq/${i}`,
      petrelPath: `/petrel/${i}`,
    }));
    const results = await runOracle<unknown, { error: string | null }>(
      ORACLE,
      cases.map((c) => ({
        params: { ...c.params, host: base + c.intelmqPath },
        events: oracleEvents(c.events),
      })),
    );
    for (const [i, c] of cases.entries()) {
      expect(results[i]?.error, c.name).toBeNull();
      const output = await createOutput(restapiOutput, { ...c.params, host: base + c.petrelPath });
      await output.write(c.events);
      await output.close?.();
      const intelmq = at(c.intelmqPath);
      const petrel = at(c.petrelPath);
      expect(intelmq, c.name).toHaveLength(c.events.length);
      expect(
        petrel.map((r) => r.body),
        c.name,
      ).toEqual(intelmq.map((r) => r.body));
      for (const [n, request] of petrel.entries()) {
        const theirs = intelmq[n] as Received;
        expect(request.method, c.name).toBe("POST");
        for (const header of ["authorization", "x-api-key", "user-agent"]) {
          expect(request.headers[header], `${c.name}: ${header}`).toBe(theirs.headers[header]);
        }
        if (c.params.use_json !== false) {
          expect(request.headers["content-type"], c.name).toBe(theirs.headers["content-type"]);
        }
      }
    }
  });

  it(`${declaredDeviation(restapiOutput, "form-content-type")} and ${declaredDeviation(restapiOutput, "form-nested-as-json")}: forms are labelled as forms and keep object values`, async () => {
    const [intelmq] = await runOracle<unknown, { error: string | null }>(ORACLE, [
      {
        params: { host: `${base}/form-intelmq`, use_json: false },
        events: oracleEvents(SAMPLE_EVENTS.slice(0, 1)),
      },
    ]);
    expect(intelmq?.error).toBeNull();
    const output = await createOutput(restapiOutput, { host: `${base}/form-petrel`, use_json: false });
    await output.write(SAMPLE_EVENTS.slice(0, 1));
    await output.close?.();
    const [theirs] = at("/form-intelmq");
    const [ours] = at("/form-petrel");
    expect(theirs?.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(ours?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    const theirForm = new URLSearchParams(theirs?.body);
    const ourForm = new URLSearchParams(ours?.body);
    // requests sends an object's keys only; Petrel its JSON text.
    expect(theirForm.getAll("extra.nested")).toEqual(["b", "a", "dotted.key"]);
    expect(JSON.parse(ourForm.get("extra.nested") as string)).toEqual({
      b: 1,
      a: [true, null],
      "dotted.key": "x",
    });
    // Everything else is the same: lists as repeated keys, floats as Python writes them.
    theirForm.delete("extra.nested");
    ourForm.delete("extra.nested");
    expect(ourForm.toString()).toBe(theirForm.toString());
    expect(ourForm.getAll("extra.tags")).toEqual(["ssh", "ünïcödé"]);
    expect(ourForm.get("feed.accuracy")).toBe("90.0");
  });

  it(`${declaredDeviation(restapiOutput, "auth-incomplete-rejected")}: auth_type without the token is a configuration error`, async () => {
    await expect(
      createOutput(restapiOutput, {
        host: `${base}/x`,
        auth_type: "http_header",
        auth_token_name: "X-Api-Key",
      }),
    ).rejects.toThrow(/auth_type http_header needs auth_token_name and auth_token/);
  });

  it("fails a write on a refused request, after the events before it were sent, and follows redirects", async () => {
    statuses.set("/refusing", 500);
    const output = await createOutput(restapiOutput, { host: `${base}/refusing` });
    await expect(output.write(SAMPLE_EVENTS)).rejects.toThrow(/HTTP 500/);
    expect(at("/refusing")).toHaveLength(1);
    statuses.set("/redirecting", 307);
    const redirected = await createOutput(restapiOutput, { host: `${base}/redirecting` });
    await redirected.write(SAMPLE_EVENTS.slice(0, 1));
    await redirected.close?.();
    await output.close?.();
    expect(at("/moved")).toHaveLength(1);
    expect(at("/moved")[0]?.method).toBe("POST");
    expect(at("/moved")[0]?.body).toBe(at("/redirecting")[0]?.body);
    expect(() => restapiOutput.parameters.parse({ host: "not a url" })).toThrow(/host/);
  });

  it("works through petrelctl run", async () => {
    const summary = await petrelctlRun(
      "intelmq.bots.outputs.restapi.output",
      { host: `${base}/run` },
      SAMPLE_EVENTS,
    );
    expect(summary.written).toBe(SAMPLE_EVENTS.length);
    expect(at("/run")).toHaveLength(SAMPLE_EVENTS.length);
  });

  it("sends at least 500 events/s (one request each)", async () => {
    const output = await createOutput(restapiOutput, { host: `${base}/bulk` });
    const events = manyEvents(5000);
    const rate = await measureThroughput(output, events, 500);
    await output.close?.();
    console.log(`outputs.restapi (local receiver, one request per event): ${rate} events/s`);
    expect(at("/bulk")).toHaveLength(events.length);
    expect(rate).toBeGreaterThan(500);
  }, 30_000);
});
