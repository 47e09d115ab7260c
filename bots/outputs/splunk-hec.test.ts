// The Splunk HEC output against a protocol-faithful local HTTP Event Collector
// (test-support/splunk-hec.ts). IntelMQ has no Splunk output; the event objects are compared with what
// IntelMQ's outputs export for the same events (OutputBot.export_event). Also: metadata and time,
// request splitting, busy retries, HEC's error codes, indexer acknowledgement, the documented lack of
// idempotence, throughput, and petrelctl run.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { INTELMQ_PREAMBLE, oracleEvents } from "../../bot-runtime/test-support/intelmq-oracle.ts";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import { startSplunkHec, type TestSplunkHec } from "../../bot-runtime/test-support/splunk-hec.ts";
import splunkHec from "./splunk-hec.ts";
import {
  createOutput,
  manyEvents,
  measureThroughput,
  petrelctlRun,
  SAMPLE_EVENTS,
} from "./test-support/sample-events.ts";

// IntelMQ's export of each event (what its JSON outputs send), for the given output parameters.
const ORACLE = `${INTELMQ_PREAMBLE}
from intelmq.lib.bot import OutputBot
class ExportProbe(OutputBot):
    def process(self):
        pass
for line in sys.stdin:
    case = json.loads(line)
    bot = ExportProbe("oracle-export-probe", settings=library_settings(case["params"]))
    print(json.dumps([bot.export_event(read_message(e)) for e in case["events"]]))
sys.stdout.flush()
os._exit(0)
`;

const TOKEN = "11111111-2222-3333-4444-555555555555";
const ACK_TOKEN = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

describe("outputs.splunk_http_event_collector", () => {
  let hec: TestSplunkHec;

  beforeAll(async () => {
    hec = await startSplunkHec({
      [TOKEN]: { defaultIndex: "main", indexes: ["main", "intel"] },
      [ACK_TOKEN]: { defaultIndex: "main", ack: true },
      disabled: { disabled: true },
    });
  });
  afterAll(async () => {
    await hec?.close();
  });

  const params = (extra: Record<string, unknown> = {}) => ({ hec_url: hec.url, auth_token: TOKEN, ...extra });
  /** Events indexed by the write(s) `run` makes. */
  const indexedBy = async (run: () => Promise<void>) => {
    const before = hec.events.length;
    await run();
    return hec.events.slice(before);
  };

  it("sends each event as IntelMQ's outputs export it, with Splunk's metadata", async () => {
    const cases = [
      { name: "flat, raw dropped", params: {} },
      { name: "hierarchical, raw kept", params: { hierarchical_output: true, keep_raw_field: true } },
    ];
    const expected = await runOracle<unknown, unknown[]>(
      ORACLE,
      cases.map((c) => ({ params: c.params, events: oracleEvents(SAMPLE_EVENTS) })),
    );
    for (const [i, c] of cases.entries()) {
      const output = await createOutput(
        splunkHec,
        params({
          ...c.params,
          index: "intel",
          source: "petrel",
          sourcetype: "_json",
          event_host: "petrel-1",
        }),
      );
      const indexed = await indexedBy(() => output.write(SAMPLE_EVENTS));
      await output.close?.();
      expect(
        indexed.map((e) => e.event),
        c.name,
      ).toEqual(expected[i]);
      expect(
        indexed.map((e) => [e.index, e.source, e.sourcetype, e.host]),
        c.name,
      ).toEqual(SAMPLE_EVENTS.map(() => ["intel", "petrel", "_json", "petrel-1"]));
    }
    const last = hec.requests[hec.requests.length - 1];
    expect(last?.headers.authorization).toBe(`Splunk ${TOKEN}`);
    expect(last?.path).toBe("/services/collector/event");
    // One request for the batch: concatenated event objects.
    expect(last?.body.split("\n")).toHaveLength(SAMPLE_EVENTS.length);
  });

  it("sets time from time.source (microseconds kept), else time.observation, and sends indexed fields", async () => {
    const output = await createOutput(
      splunkHec,
      params({ indexed_fields: ["classification.type", "source.ip", "extra.tags"] }),
    );
    const indexed = await indexedBy(() => output.write(SAMPLE_EVENTS));
    await output.close?.();
    expect(indexed.map((e) => e.time)).toEqual([1714515300, 1714525323.25, 1714557600]);
    expect(indexed[0]?.fields).toEqual({
      "classification.type": "brute-force",
      "source.ip": "192.0.2.1",
      "extra.tags": ["ssh", "ünïcödé"],
    });
    expect(indexed[1]?.fields).toEqual({ "classification.type": "malware-distribution" });
    const receiptTime = await createOutput(splunkHec, params({ time_field: null }));
    const untimed = await indexedBy(() => receiptTime.write(SAMPLE_EVENTS.slice(0, 1)));
    await receiptTime.close?.();
    expect(untimed[0]?.time).toBeUndefined();
  });

  it("splits a batch into requests of at most max_content_length bytes", async () => {
    const output = await createOutput(splunkHec, params({ max_content_length: 2048 }));
    const events = manyEvents(40);
    const requestsBefore = hec.requests.length;
    const indexed = await indexedBy(() => output.write(events));
    await output.close?.();
    const requests = hec.requests.slice(requestsBefore);
    expect(requests.length).toBeGreaterThan(5);
    expect(requests.every((r) => Buffer.byteLength(r.body) <= 2048)).toBe(true);
    expect(indexed.map((e) => (e.event as Record<string, unknown>)["extra.sequence"])).toEqual(
      events.map((_, i) => i),
    );
  });

  it("retries while HEC is busy, and names HEC's error and the parameter to look at", async () => {
    const output = await createOutput(splunkHec, params({ http_timeout_max_tries: 3 }));
    hec.busy(2);
    expect(await indexedBy(() => output.write(SAMPLE_EVENTS))).toHaveLength(SAMPLE_EVENTS.length);
    hec.busy(5);
    await expect(output.write(SAMPLE_EVENTS)).rejects.toThrow(/HTTP 503: Server is busy \(code 9\)/);
    hec.busy(0);
    await output.close?.();
    const failures: Array<[Record<string, unknown>, RegExp]> = [
      [{ auth_token: "wrong" }, /HTTP 403: Invalid token \(code 4\) \(auth_token\)/],
      [{ auth_token: "disabled" }, /HTTP 403: Token disabled \(code 1\) \(auth_token\)/],
      [{ index: "secret" }, /HTTP 400: Incorrect index \(code 7\), event 0 of the request \(index\)/],
      [{ auth_token: ACK_TOKEN }, /HTTP 400: Data channel is missing \(code 10\) \(use_ack/],
      [{ use_ack: true }, /no ackId in HEC's reply.*\(use_ack\)/],
      [{ hec_url: `${hec.url}/wrong/path` }, /HTTP 404/],
    ];
    for (const [extra, message] of failures) {
      const failing = await createOutput(splunkHec, params(extra));
      await expect(failing.write(SAMPLE_EVENTS), JSON.stringify(extra)).rejects.toThrow(message);
      await failing.close?.();
    }
  });

  it("with use_ack, resolves only once Splunk acknowledged the events as indexed", async () => {
    hec.ackDelayMs = 400;
    const output = await createOutput(
      splunkHec,
      params({ auth_token: ACK_TOKEN, use_ack: true, max_content_length: 2048 }),
    );
    const started = performance.now();
    const indexed = await indexedBy(() => output.write(manyEvents(20)));
    expect(performance.now() - started).toBeGreaterThanOrEqual(390);
    expect(indexed).toHaveLength(20);
    const acks = hec.requests.filter((r) => r.path === "/services/collector/ack");
    expect(acks.length).toBeGreaterThan(0);
    expect(
      acks.every(
        (r) => r.headers["x-splunk-request-channel"] === acks[0]?.headers["x-splunk-request-channel"],
      ),
    ).toBe(true);
    await output.close?.();
    hec.ackDelayMs = 60_000;
    const impatient = await createOutput(
      splunkHec,
      params({ auth_token: ACK_TOKEN, use_ack: true, ack_timeout: 0.3 }),
    );
    await expect(impatient.write(SAMPLE_EVENTS)).rejects.toThrow(
      /no indexer acknowledgement within 0.3 s \(ack_timeout\)/,
    );
    await impatient.close?.();
    hec.ackDelayMs = 30;
  });

  it("indexes a redelivered batch again: HEC has no event ids (documented limitation)", async () => {
    const output = await createOutput(splunkHec, params());
    const indexed = await indexedBy(async () => {
      await output.write(SAMPLE_EVENTS);
      await output.write(SAMPLE_EVENTS);
    });
    await output.close?.();
    expect(indexed).toHaveLength(2 * SAMPLE_EVENTS.length);
  });

  it("works through petrelctl run", async () => {
    const before = hec.events.length;
    const summary = await petrelctlRun("outputs.splunk_http_event_collector", params(), SAMPLE_EVENTS);
    expect(summary.written).toBe(SAMPLE_EVENTS.length);
    expect(hec.events.length - before).toBe(SAMPLE_EVENTS.length);
  });

  it("sends at least 5,000 events/s in batches of 500", async () => {
    const output = await createOutput(splunkHec, params());
    const events = manyEvents(20_000);
    const before = hec.events.length;
    const rate = await measureThroughput(output, events, 500);
    await output.close?.();
    console.log(`outputs.splunk_http_event_collector (local HEC): ${rate} events/s`);
    expect(hec.events.length - before).toBe(events.length);
    expect(rate).toBeGreaterThan(5000);
  }, 30_000);
});
