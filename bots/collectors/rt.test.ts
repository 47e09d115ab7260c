// The RT collector against a local server that speaks RT's documented REST 2 API (TicketSQL search with
// paging, tickets, ticket attachments, history, transaction attachments, PUT updates; attachment
// content base64-encoded as RT sends it): reports shaped as IntelMQ's RT collector makes them (its own
// test's expected report), tickets taken and set open only after their reports are stored — also on a
// real nats-server that is down for a while.
import { gzipSync } from "node:zlib";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import rt, { rest2Base } from "./rt.ts";
import {
  CollectorPipeline,
  createCollector,
  decodedRaw,
  httpServer,
  json,
  type TestServer,
} from "./test-support/harness.ts";

interface FakeAttachment {
  id: number;
  Filename: string;
  ContentType: string;
  Created: string;
  content: Buffer;
}

interface FakeTicket {
  id: number;
  Subject: string;
  Status: string;
  Owner: string;
  Queue: string;
  Requestor: string[];
  Created: string;
  attachments: FakeAttachment[];
  /** The first transaction (Create) and its message. */
  create: { id: number; Created: string; text: string };
}

let server: TestServer;
let tickets: FakeTicket[] = [];
let queries: string[] = [];
let log: string[] = [];
let nextId = 1000;
let authorization: Array<string | undefined> = [];

function ticket(fields: Partial<FakeTicket> & { id: number }): FakeTicket {
  const t: FakeTicket = {
    Subject: "Incoming IntelMQ Test Report",
    Status: "new",
    Owner: "Nobody",
    Queue: "Incident Reports",
    Requestor: ["wagner@cert.at"],
    Created: "2024-05-01T08:00:00Z",
    attachments: [],
    create: {
      id: nextId++,
      Created: "2024-05-01T08:00:00Z",
      text: "Hello,\nplease see the attached report.\n",
    },
    ...fields,
  };
  tickets.push(t);
  return t;
}

function attachment(name: string, content: Buffer, created = "2024-05-01T08:00:01Z"): FakeAttachment {
  return { id: nextId++, Filename: name, ContentType: "application/octet-stream", Created: created, content };
}

/** Perl's encode_base64: lines of 76 characters. */
const perlBase64 = (data: Buffer) => `${data.toString("base64").replace(/.{76}/g, "$&\n")}\n`;

/** The few TicketSQL conditions the collector writes: Field = 'v', Field LIKE 'v', Field NOT LIKE 'v'. */
function matches(t: FakeTicket, query: string): boolean {
  return query.split(" AND ").every((group) =>
    group
      .replace(/^\((.*)\)$/, "$1")
      .split(" OR ")
      .some((condition) => holds(t, condition)),
  );
}

function holds(t: FakeTicket, condition: string): boolean {
  const m = /^(\w+) (=|LIKE|NOT LIKE|>) '((?:[^'\\]|\\.)*)'$/.exec(condition);
  if (!m) throw new Error(`unexpected TicketSQL: ${condition}`);
  const [, field, op, raw] = m as unknown as [string, string, string, string];
  const value = raw.replace(/\\(.)/g, "$1");
  const actual =
    field === "Requestor" ? t.Requestor : [String((t as unknown as Record<string, unknown>)[field] ?? "")];
  if (op === "=") return actual.some((a) => a.toLowerCase() === value.toLowerCase());
  if (op === ">") return actual.some((a) => a > value);
  return actual.some((a) => a.toLowerCase().includes(value.toLowerCase())) === (op === "LIKE");
}

function page<T>(res: Parameters<typeof json>[0], url: URL, items: T[]) {
  const perPage = Number(url.searchParams.get("per_page") ?? 20);
  const number = Number(url.searchParams.get("page") ?? 1);
  const slice = items.slice((number - 1) * perPage, number * perPage);
  const pages = Math.max(1, Math.ceil(items.length / perPage));
  const next = new URL(url);
  next.searchParams.set("page", String(number + 1));
  json(res, {
    count: slice.length,
    page: number,
    per_page: perPage,
    total: items.length,
    pages,
    items: slice,
    ...(number < pages ? { next_page: next.toString() } : {}),
  });
}

const files: Record<string, { body: Buffer; headers: Record<string, string> }> = {};

beforeAll(async () => {
  server = await httpServer((req, res, body) => {
    const url = new URL(req.url ?? "/", server.url);
    const path = url.pathname;
    if (path.startsWith("/dl/")) {
      log.push(`download ${path}`);
      const file = files[path.slice(4)];
      if (path === "/dl/missing") return json(res, { error: "gone" }, 404);
      if (path === "/dl/down") return json(res, { error: "later" }, 503);
      if (!file) return json(res, {}, 404);
      res.writeHead(200, file.headers);
      res.end(file.body);
      return;
    }
    authorization.push(req.headers.authorization);
    const ok =
      req.headers.authorization === `Basic ${Buffer.from("intelmq:secret").toString("base64")}` ||
      req.headers.authorization === "token rt-token";
    if (!ok) return json(res, { message: "Unauthorized" }, 401);
    const api = path.replace(/^\/rt\/REST\/2\.0/, "");
    const route = (pattern: RegExp) => pattern.exec(api)?.[1];
    const ticketId = route(/^\/ticket\/(\d+)$/);
    const ticketAttachments = route(/^\/ticket\/(\d+)\/attachments$/);
    const attachmentId = route(/^\/attachment\/(\d+)$/);
    const historyOf = route(/^\/ticket\/(\d+)\/history$/);
    const transactionParts = route(/^\/transaction\/(\d+)\/attachments$/);
    if (api === "/tickets") {
      const query = url.searchParams.get("query") ?? "";
      queries.push(query);
      const found = tickets
        .filter((t) => matches(t, query))
        .sort((a, b) => a.Created.localeCompare(b.Created));
      return page(
        res,
        url,
        found.map((t) => ({ type: "ticket", id: String(t.id), _url: `${server.url}/ticket/${t.id}` })),
      );
    }
    if (ticketId) {
      const t = tickets.find((x) => x.id === Number(ticketId));
      if (!t) return json(res, { message: "Resource does not exist" }, 404);
      if (req.method === "PUT") {
        const change = JSON.parse(body.toString()) as Record<string, string>;
        log.push(`PUT ${t.id} ${JSON.stringify(change)}`);
        if (change.Owner) t.Owner = change.Owner;
        if (change.Status) t.Status = change.Status;
        return json(res, [`Ticket ${t.id}: changed`]);
      }
      const queue: Record<string, string> = { type: "queue", id: "3", _url: `${server.url}/queue/3` };
      if (url.searchParams.get("fields[Queue]") === "Name") queue.Name = t.Queue;
      return json(res, {
        id: t.id,
        Subject: t.Subject,
        Status: t.Status,
        Created: t.Created,
        Queue: queue,
        Owner: { type: "user", id: t.Owner, _url: `${server.url}/user/${t.Owner}` },
        Requestor: t.Requestor.map((r) => ({ type: "user", id: r, _url: `${server.url}/user/${r}` })),
        Cc: [],
        AdminCc: [],
      });
    }
    if (ticketAttachments) {
      const t = tickets.find((x) => x.id === Number(ticketAttachments));
      const withName = (url.searchParams.get("fields") ?? "").includes("Filename");
      return page(
        res,
        url,
        (t?.attachments ?? []).map((a) => ({
          type: "attachment",
          id: String(a.id),
          _url: `${server.url}/attachment/${a.id}`,
          ...(withName ? { Filename: a.Filename } : {}),
        })),
      );
    }
    if (attachmentId) {
      const a = tickets.flatMap((t) => t.attachments).find((x) => x.id === Number(attachmentId));
      if (!a) return json(res, { message: "Resource does not exist" }, 404);
      log.push(`attachment ${a.id}`);
      return json(res, {
        id: a.id,
        Filename: a.Filename,
        ContentType: a.ContentType,
        Created: a.Created,
        Content: perlBase64(a.content),
      });
    }
    if (historyOf) {
      const t = tickets.find((x) => x.id === Number(historyOf));
      const created = t ? [{ type: "transaction", id: String(t.create.id), Created: t.create.Created }] : [];
      return page(res, url, created);
    }
    if (transactionParts) {
      const t = tickets.find((x) => x.create.id === Number(transactionParts));
      const parts = t
        ? [
            { type: "attachment", id: "1", ContentType: "multipart/mixed", Content: "" },
            {
              type: "attachment",
              id: "2",
              ContentType: "text/plain",
              Content: perlBase64(Buffer.from(t.create.text)),
            },
          ]
        : [];
      return page(res, url, parts);
    }
    json(res, { message: "Not Found" }, 404);
  });
});
afterAll(() => server?.close());

beforeEach(() => {
  tickets = [];
  queries = [];
  log = [];
  authorization = [];
});

const base = () => ({ uri: `${server.url}/rt/REST/1.0`, user: "intelmq", password: "secret" });

/** Collects with `params`, recording each emit in the same log as the server's requests. */
async function collect(params: Record<string, unknown>): Promise<Report[]> {
  const collector = await createCollector(rt, { ...base(), ...params });
  const reports: Report[] = [];
  await collector.collect(async (report) => {
    log.push(`emit ${report.get("rtir_id")}`);
    reports.push(report);
  });
  return reports;
}

const zip = (entries: Record<string, string>) =>
  Buffer.from(zipSync(Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, strToU8(v)]))));

describe("collectors.rt", () => {
  it("makes IntelMQ's report of a zipped attachment, then takes the ticket and opens it", async () => {
    const t = ticket({ id: 42 });
    t.attachments.push(attachment("notes.txt", Buffer.from("x")));
    t.attachments.push(attachment("report.csv.zip", zip({ foobar: "bar text\n" }), "2024-05-01T08:00:01Z"));
    t.attachments.push(attachment("later.csv.zip", zip({ other: "no\n" })));
    const reports = await collect({});
    // IntelMQ's own RT collector test expects exactly these fields for this ticket.
    expect(reports.map((r) => r.toDict())).toEqual([
      {
        "time.observation": "2024-05-01T08:00:01+00:00",
        rtir_id: 42,
        "extra.email_subject": "Incoming IntelMQ Test Report",
        "extra.ticket_subject": "Incoming IntelMQ Test Report",
        "extra.email_from": "wagner@cert.at",
        "extra.ticket_requestors": "wagner@cert.at",
        "extra.ticket_queue": "Incident Reports",
        "extra.ticket_status": "new",
        "extra.ticket_owner": "Nobody",
        raw: Buffer.from("bar text\n").toString("base64"),
        "extra.file_name": "foobar",
      },
    ]);
    expect(log).toEqual([
      `attachment ${t.attachments[1]?.id}`,
      "emit 42",
      'PUT 42 {"Owner":"intelmq"}',
      'PUT 42 {"Status":"open"}',
    ]);
    expect(queries).toEqual([
      "Queue = 'Incident Reports' AND Owner = 'nobody' AND Status = 'new' AND Subject LIKE 'Report'",
    ]);
    // Taken and open: the next run finds nothing.
    expect(await collect({})).toEqual([]);
  });

  it("downloads the URL of the first message, one report per file of the archive", async () => {
    files["report.zip"] = {
      body: zip({ bar: "bar text\n", foo: "foo text\n" }),
      headers: { "content-disposition": 'attachment; filename="2024-05-01-scan.zip"' },
    };
    ticket({
      id: 7,
      create: { id: 77, Created: "2024-05-01T09:30:00Z", text: `Download: ${server.url}/dl/report.zip\nBye` },
    });
    const reports = await collect({ url_regex: `${server.url}/dl/[\\w.]+`, attachment_regex: null });
    expect(
      reports.map((r) => [
        r.get("extra.file_name"),
        decodedRaw(r),
        r.get("time.observation"),
        r.get("rtir_id"),
      ]),
    ).toEqual([
      ["bar", "bar text\n", "2024-05-01T09:30:00+00:00", 7],
      ["foo", "foo text\n", "2024-05-01T09:30:00+00:00", 7],
    ]);
    expect(log.filter((l) => !l.startsWith("download"))).toEqual([
      "emit 7",
      "emit 7",
      'PUT 7 {"Owner":"intelmq"}',
      'PUT 7 {"Status":"open"}',
    ]);
  });

  it("deviation rt-download-file-name: names downloads without quotes, gzip downloads after the file", async () => {
    files["plain.csv"] = {
      body: Buffer.from("a,b\n"),
      headers: { "content-disposition": 'attachment; filename="2024-05-01-scan_http.csv"' },
    };
    files["scan.csv.gz"] = { body: gzipSync(Buffer.from("c,d\n")), headers: {} };
    ticket({
      id: 8,
      create: { id: 88, Created: "2024-05-01T09:00:00Z", text: `${server.url}/dl/plain.csv` },
    });
    ticket({
      id: 9,
      Created: "2024-05-02T00:00:00Z",
      create: { id: 99, Created: "2024-05-02T00:00:00Z", text: `${server.url}/dl/scan.csv.gz` },
    });
    const reports = await collect({
      url_regex: `${server.url}/dl/[\\w.]+`,
      attachment_regex: null,
      extract_download: false,
    });
    expect(reports.map((r) => [r.get("extra.file_name"), decodedRaw(r)])).toEqual([
      ["2024-05-01-scan_http.csv", "a,b\n"],
      ["scan.csv.gz", gzipSync(Buffer.from("c,d\n")).toString("utf8")],
    ]);
    tickets = [];
    ticket({
      id: 10,
      create: { id: 100, Created: "2024-05-02T00:00:00Z", text: `${server.url}/dl/scan.csv.gz` },
    });
    const unpacked = await collect({ url_regex: `${server.url}/dl/[\\w.]+`, attachment_regex: null });
    expect(unpacked.map((r) => [r.get("extra.file_name"), decodedRaw(r)])).toEqual([["scan.csv", "c,d\n"]]);
  });

  it("names gzip attachments without .gz and keeps attachments whole when not extracting", async () => {
    const t = ticket({ id: 11 });
    t.attachments.push(attachment("report.csv.gz", gzipSync(Buffer.from("gz text\n"))));
    const [unpacked] = await collect({ attachment_regex: "\\.gz$" });
    expect([unpacked?.get("extra.file_name"), decodedRaw(unpacked as Report)]).toEqual([
      "report.csv",
      "gz text\n",
    ]);
    tickets = [];
    const u = ticket({ id: 12 });
    u.attachments.push(attachment("report.csv.zip", zip({ a: "1\n" })));
    const [whole] = await collect({ extract_attachment: false });
    expect(whole?.has("extra.file_name")).toBe(false);
    expect(Buffer.from(whole?.get("raw") as string, "base64")).toEqual(u.attachments[0]?.content);
  });

  it("deviation rt-download-error-no-report: a 4xx download closes the ticket without a report, 5xx waits", async () => {
    ticket({
      id: 20,
      create: { id: 200, Created: "2024-05-01T00:00:00Z", text: `${server.url}/dl/missing` },
    });
    ticket({
      id: 21,
      Created: "2024-05-03T00:00:00Z",
      create: { id: 210, Created: "2024-05-03T00:00:00Z", text: `${server.url}/dl/down` },
    });
    const reports = await collect({ url_regex: `${server.url}/dl/\\w+`, attachment_regex: null });
    expect(reports).toEqual([]);
    expect(log).toEqual([
      "download /dl/missing",
      'PUT 20 {"Owner":"intelmq"}',
      'PUT 20 {"Status":"open"}',
      "download /dl/down",
    ]);
    expect(tickets.find((t) => t.id === 21)?.Status).toBe("new");
  });

  it("skips a ticket whose attachment is no archive, leaving it for later", async () => {
    const t = ticket({ id: 30 });
    t.attachments.push(attachment("broken.csv.zip", Buffer.from("not a zip")));
    expect(await collect({})).toEqual([]);
    expect(log.filter((l) => l.startsWith("PUT"))).toEqual([]);
  });

  it("leaves the ticket untouched when its report cannot be stored", async () => {
    const t = ticket({ id: 40 });
    t.attachments.push(attachment("r.csv.zip", zip({ r: "1\n" })));
    const collector = await createCollector(rt, base());
    await expect(collector.collect(() => Promise.reject(new Error("stream unavailable")))).rejects.toThrow(
      /unavailable/,
    );
    expect(log.filter((l) => l.startsWith("PUT"))).toEqual([]);
    expect(t.Owner).toBe("Nobody");
    expect(t.Status).toBe("new");
  });

  it("searches as configured: lists, age, quoting; pages through many tickets", async () => {
    for (let i = 0; i < 130; i++) {
      const t = ticket({
        id: 500 + i,
        Created: `2024-06-01T00:00:${String(i % 60).padStart(2, "0")}Z`,
        Subject: `Report ${i}`,
      });
      t.attachments.push(attachment(`${i}.csv.zip`, zip({ [`f${i}`]: `${i}\n` })));
    }
    const reports = await collect({ take_ticket: false, set_status: false });
    expect(reports).toHaveLength(130);
    expect(log.some((l) => l.startsWith("PUT"))).toBe(false);
    queries = [];
    await collect({
      search_queue: ["IR", "Abuse"],
      search_status: ["new", "open"],
      search_owner: null,
      search_requestor: "o'brien@example.org",
      search_subject_like: "Report",
      search_subject_not_like: ["test", "spam"],
      search_not_older_than: "3 days",
    });
    expect(queries[0]).toMatch(
      /^\(Queue = 'IR' OR Queue = 'Abuse'\) AND Created > '\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?' AND Requestor = 'o\\'brien@example\.org' AND Status = 'new' AND Status = 'open' AND Subject LIKE 'Report' AND Subject NOT LIKE 'test' AND Subject NOT LIKE 'spam'$/,
    );
    await collect({
      search_not_older_than: "2024-01-01",
      search_status: null,
      search_owner: null,
      search_subject_like: null,
    });
    expect(queries[1]).toBe("Queue = 'Incident Reports' AND Created > '2024-01-01'");
  });

  it("deviation rt-rest2: REST 1.0 URIs are read as REST 2, and an RT token replaces the password", async () => {
    expect(rest2Base("http://localhost/rt/REST/1.0")).toBe("http://localhost/rt/REST/2.0");
    expect(rest2Base("https://rt.example.org/REST/2.0/")).toBe("https://rt.example.org/REST/2.0");
    expect(rest2Base("https://rt.example.org")).toBe("https://rt.example.org/REST/2.0");
    await collect({ token: "rt-token", password: "wrong" });
    expect(authorization).toEqual(["token rt-token"]);
    await expect(collect({ password: "wrong" })).rejects.toThrow(/401 Unauthorized/);
  });

  it("on a real nats-server, takes the ticket only once its report is stored, waiting while NATS is down", async () => {
    const pipeline = await CollectorPipeline.start();
    const bot = pipeline.run(rt, base(), { intervalMs: 200 });
    try {
      await bot.waitForRuns(1);
      await pipeline.nats.stop();
      const t = ticket({ id: 60 });
      t.attachments.push(attachment("r.csv.zip", zip({ r: "stored first\n" })));
      await expect
        .poll(() => log.includes(`attachment ${t.attachments[0]?.id}`), { timeout: 10_000 })
        .toBe(true);
      await new Promise((r) => setTimeout(r, 1500));
      expect(t.Owner).toBe("Nobody"); // fetched, but not stored: not taken
      await pipeline.nats.restart();
      const [report] = await pipeline.reports(1);
      expect(decodedRaw(report as Report)).toBe("stored first\n");
      await expect.poll(() => t.Status, { timeout: 10_000 }).toBe("open");
      expect(t.Owner).toBe("intelmq");
      expect(log.indexOf('PUT 60 {"Owner":"intelmq"}')).toBeGreaterThan(
        log.indexOf(`attachment ${t.attachments[0]?.id}`),
      );
    } finally {
      await bot.stop();
      await pipeline.dispose();
    }
  });
});
