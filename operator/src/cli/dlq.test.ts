// `petrelctl dlq` as a user runs it, against a real nats-server: listing and showing entries, replaying
// (as is, edited, to another bot) with the entry deleted only after the message is stored, deleting,
// and the errors people hit (unknown id, unknown pipeline or bot, invalid edit).
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { botSubject, deadLetterSubject, pipelineNames } from "../../../bot-runtime/src/config/render.ts";
import { Pipeline } from "../../../bot-runtime/src/config/resources.ts";
import type { DeadLetter } from "../../../bot-runtime/src/runtime/bot-process.ts";
import { getDeadLetter, replayMessageId } from "../../../bot-runtime/src/runtime/dead-letters.ts";
import {
  connectNats,
  ensureBotConsumer,
  ensurePipelineStreams,
} from "../../../bot-runtime/src/runtime/jetstream.ts";
import { startNatsServer, type TestNatsServer } from "../../../bot-runtime/test-support/nats-server.ts";

const PETRELCTL = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

let server: TestNatsServer;
let nc: NatsConnection;
let dir: string;

function petrelctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [PETRELCTL, "dlq", ...args],
      { env: { ...process.env, NATS_URL: server.url, ...env }, encoding: "utf8" },
      (error, stdout, stderr) => {
        const code = error ? Number((error as { code?: number }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function pipeline(name: string, maxBytes = "16Mi") {
  return Pipeline.parse({
    apiVersion: "petrel.dev/v1alpha1",
    kind: "Pipeline",
    metadata: { name },
    spec: { stream: { storage: "memory", maxBytes }, deadLetter: { maxBytes: "4Mi" } },
  });
}

const LONG_LINE = `192.0.2.7,${"x".repeat(1500)}`;
const RECORD_REPORT = JSON.stringify({
  __type: "Report",
  "feed.name": "Example",
  raw: Buffer.from(LONG_LINE).toString("base64"),
});
const EVENT = '{"__type":"Event","source.ip":"192.0.2.1","classification.type":"scanner"}';

function letter(bot: string, fields: Partial<DeadLetter>): DeadLetter {
  return {
    bot,
    pipeline: "shop",
    inputSubject: botSubject("shop", bot),
    reason: "retries-exhausted",
    error: "lookup failed\nsecond line of the error",
    stack: "Error: lookup failed\n    at process (expert.ts:1:1)",
    attempts: 4,
    time: "2026-12-04T10:00:00.000Z",
    message: EVENT,
    ...fields,
  };
}

/** Stores a dead letter (or any data) for `bot`; returns its id. */
async function store(bot: string, data: DeadLetter | string): Promise<number> {
  const text = typeof data === "string" ? data : JSON.stringify(data);
  const ack = await jetstream(nc).publish(deadLetterSubject("shop", bot), encoder.encode(text));
  return ack.seq;
}

/** Takes everything waiting in a bot's queue. */
async function drainQueue(bot: string): Promise<Array<{ data: string; id: string | undefined }>> {
  const stream = pipelineNames("shop").stream;
  const waiting = (await (await jetstreamManager(nc)).consumers.info(stream, bot)).num_pending;
  const out: Array<{ data: string; id: string | undefined }> = [];
  if (waiting === 0) return out;
  const consumer = await jetstream(nc).consumers.get(stream, bot);
  const batch = await consumer.fetch({ max_messages: waiting, expires: 5_000 });
  for await (const m of batch) {
    out.push({ data: decoder.decode(m.data), id: m.headers?.get("Nats-Msg-Id") });
    m.ack();
  }
  return out;
}

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectNats({ servers: [server.url] });
  const jsm = await jetstreamManager(nc);
  await ensurePipelineStreams(jsm, pipeline("shop"));
  for (const bot of ["parse", "tax", "out"]) await ensureBotConsumer(jsm, "shop", bot);
  dir = mkdtempSync(join(tmpdir(), "petrel-dlq-test-"));
});

afterAll(async () => {
  await nc?.close();
  await server?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.purge(pipelineNames("shop").deadLetterStream);
  await jsm.streams.purge(pipelineNames("shop").stream);
});

describe("petrelctl dlq", () => {
  it("lists counts per bot, then the entries, for people and as JSON", async () => {
    const a = await store("tax", letter("tax", {}));
    const b = await store(
      "parse",
      letter("parse", {
        reason: "record-failed",
        error: "not an IP address: 'x'",
        attempts: 1,
        message: RECORD_REPORT,
      }),
    );
    const c = await store("tax", letter("tax", { time: "2026-12-04T11:00:00.000Z" }));
    const d = await store("tax", "this is not a dead letter");

    const text = await petrelctl(["list"]);
    expect(text.code).toBe(0);
    const lines = text.stdout.split("\n");
    expect(lines[0]).toBe("4 dead letters in pipeline shop");
    expect(lines.slice(2, 5).map((l) => l.split(/\s+/))).toEqual([
      ["BOT", "COUNT"],
      ["parse", "1"],
      ["tax", "3"],
    ]);
    expect(lines[6]).toMatch(/^ID\s+TIME\s+BOT\s+REASON\s+ERROR$/);
    expect(lines[7]).toMatch(
      new RegExp(`^${a}\\s+2026-12-04T10:00:00.000Z\\s+tax\\s+retries-exhausted\\s+lookup failed$`),
    );
    expect(lines[8]).toMatch(
      new RegExp(`^${b}\\s+\\S+\\s+parse\\s+record-failed\\s+not an IP address: 'x'$`),
    );
    expect(lines[9]).toMatch(new RegExp(`^${c}\\s+2026-12-04T11:00:00.000Z\\s+tax`));
    expect(lines[10]).toMatch(
      new RegExp(`^${d}\\s+\\S+\\s+tax\\s+unreadable\\s+the stored data is not a dead letter$`),
    );

    const json = JSON.parse((await petrelctl(["list", "--json", "--bot", "tax"])).stdout);
    expect(json.pipeline).toBe("shop");
    expect(json.counts).toEqual({ tax: 3 });
    expect(json.entries.map((e: { id: number }) => e.id)).toEqual([a, c, d]);
    expect(json.entries[0]).toEqual({
      id: a,
      time: "2026-12-04T10:00:00.000Z",
      bot: "tax",
      reason: "retries-exhausted",
      attempts: 4,
      error: "lookup failed",
    });
  });

  it("says so when there is nothing", async () => {
    const r = await petrelctl(["list"]);
    expect(r).toMatchObject({ code: 0, stdout: "No dead letters in pipeline shop.\n" });
  });

  it("shows one entry in full, raw decoded and truncated like intelmqdump -t", async () => {
    const id = await store(
      "parse",
      letter("parse", { reason: "record-failed", error: "bad record", message: RECORD_REPORT }),
    );
    const r = await petrelctl(["show", String(id), "--truncate", "20"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`id:          ${id}\n`);
    expect(r.stdout).toContain("bot:         parse\n");
    expect(r.stdout).toContain("reason:      record-failed\n");
    expect(r.stdout).toContain("input queue: petrel.shop.bot.parse\n");
    expect(r.stdout).toContain("stack:\n  Error: lookup failed\n      at process (expert.ts:1:1)\n");
    const message = r.stdout.slice(r.stdout.indexOf("message:\n") + "message:\n".length);
    expect(JSON.parse(message)).toEqual({
      __type: "Report",
      "feed.name": "Example",
      raw: `${LONG_LINE.slice(0, 20)}[... ${LONG_LINE.length - 20} more characters]`,
    });
    // Not truncated with 0; the default keeps 1000 characters.
    expect((await petrelctl(["show", String(id), "-t", "0"])).stdout).toContain(LONG_LINE);
    expect((await petrelctl(["show", String(id)])).stdout).toContain(
      `[... ${LONG_LINE.length - 1000} more characters]`,
    );

    const json = JSON.parse((await petrelctl(["show", String(id), "--json"])).stdout);
    expect(json).toMatchObject({
      id,
      subject: "petrel.shop.dlq.parse",
      bot: "parse",
      message: RECORD_REPORT,
    });
  });

  it("replays into the original queue, then deletes the entry", async () => {
    const id = await store("tax", letter("tax", {}));
    const other = await store("tax", letter("tax", {}));
    const r = await petrelctl(["replay", String(id)]);
    expect(r).toMatchObject({ code: 0, stdout: `replayed ${id} -> petrel.shop.bot.tax\n` });
    const queued = await drainQueue("tax");
    expect(queued).toEqual([
      { data: EVENT, id: expect.stringMatching(new RegExp(`^dlq:shop:${id}:[0-9a-f]{16}$`)) },
    ]);
    const ids = JSON.parse((await petrelctl(["list", "--json"])).stdout).entries.map(
      (e: { id: number }) => e.id,
    );
    expect(ids).toEqual([other]);
    // Replayed means gone: a second replay of the same id is an error, not a second copy.
    const again = await petrelctl(["replay", String(id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(`petrelctl: no dead letter with id ${id} in pipeline shop\n`);
  });

  it("never re-injects twice when a replay stopped between storing the message and deleting the entry", async () => {
    const id = await store("tax", letter("tax", {}));
    const entry = await getDeadLetter(nc, "shop", id);
    // What a replay that crashed right after the publish left behind: the message is queued, the entry too.
    await jetstream(nc).publish(botSubject("shop", "tax"), encoder.encode(EVENT), {
      msgID: replayMessageId("shop", entry),
    });
    const r = await petrelctl(["replay", String(id), "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      pipeline: "shop",
      replayed: [{ id, subject: "petrel.shop.bot.tax", duplicate: true }],
    });
    expect(await drainQueue("tax")).toHaveLength(1);
    expect(JSON.parse((await petrelctl(["list", "--json"])).stdout).entries).toEqual([]);
  });

  it("replays into another bot's queue with --to, and all of one bot's entries with --all --bot", async () => {
    const t1 = await store("tax", letter("tax", { message: EVENT.replace("192.0.2.1", "192.0.2.11") }));
    const p1 = await store("parse", letter("parse", { message: RECORD_REPORT }));
    const t2 = await store("tax", letter("tax", { message: EVENT.replace("192.0.2.1", "192.0.2.12") }));
    const r = await petrelctl(["replay", "--all", "--bot", "tax", "--to", "out"]);
    expect(r).toMatchObject({
      code: 0,
      stdout: `replayed ${t1} -> petrel.shop.bot.out\nreplayed ${t2} -> petrel.shop.bot.out\n`,
    });
    expect((await drainQueue("out")).map((q) => JSON.parse(q.data)["source.ip"])).toEqual([
      "192.0.2.11",
      "192.0.2.12",
    ]);
    expect(await drainQueue("tax")).toEqual([]);
    const left = JSON.parse((await petrelctl(["list", "--json"])).stdout).entries.map(
      (e: { id: number }) => e.id,
    );
    expect(left).toEqual([p1]);
  });

  it("edits the message in $EDITOR before replaying, and refuses an invalid edit", async () => {
    const id = await store("tax", letter("tax", {}));
    const editor = join(dir, "edit.sh");
    // An editor that changes the IP address in place; the message reaches the editor pretty-printed.
    writeFileSync(
      editor,
      '#!/bin/sh\nfor f; do :; done\ngrep -q \'^  "source.ip": "192.0.2.1",$\' "$f" && sed -i "s/192.0.2.1/$NEW_IP/" "$f"\n',
    );
    chmodSync(editor, 0o755);

    const bad = await petrelctl(["replay", String(id), "--edit"], {
      EDITOR: editor,
      VISUAL: "",
      NEW_IP: "not-an-ip",
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(
      new RegExp(
        `^petrelctl: the edited message is not valid: source\\.ip: .*not-an-ip.*; dead letter ${id} is left as it is\\n$`,
      ),
    );
    expect(await drainQueue("tax")).toEqual([]);

    const good = await petrelctl(["replay", String(id), "--edit"], {
      VISUAL: `${editor} --wait`,
      EDITOR: "false",
      NEW_IP: "198.51.100.9",
    });
    expect(good).toMatchObject({ code: 0, stdout: `replayed ${id} -> petrel.shop.bot.tax\n` });
    const queued = await drainQueue("tax");
    expect(queued).toHaveLength(1);
    expect(JSON.parse(queued[0]?.data ?? "{}")).toEqual({
      __type: "Event",
      "source.ip": "198.51.100.9",
      "classification.type": "scanner",
    });
  });

  it("keeps the entry when the editor fails", async () => {
    const id = await store("tax", letter("tax", {}));
    const r = await petrelctl(["replay", String(id), "--edit"], { EDITOR: "false", VISUAL: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `petrelctl: the editor (false) failed with status 1; dead letter ${id} is left as it is\n`,
    );
    expect(JSON.parse((await petrelctl(["list", "--json"])).stdout).counts).toEqual({ tax: 1 });
  });

  it("deletes by id, per bot and all", async () => {
    const a = await store("tax", letter("tax", {}));
    const b = await store("tax", letter("tax", {}));
    await store("parse", letter("parse", {}));
    await store("parse", letter("parse", {}));
    await store("out", letter("out", {}));
    expect(await petrelctl(["delete", String(a), String(b)])).toMatchObject({
      code: 0,
      stdout: "deleted 2 dead letters\n",
    });
    expect(await petrelctl(["delete", "--all", "--bot", "parse"])).toMatchObject({
      code: 0,
      stdout: "deleted 2 dead letters\n",
    });
    expect(JSON.parse((await petrelctl(["list", "--json"])).stdout).counts).toEqual({ out: 1 });
    expect(JSON.parse((await petrelctl(["delete", "--all", "--json"])).stdout)).toEqual({
      pipeline: "shop",
      deleted: 1,
    });
    expect((await petrelctl(["list"])).stdout).toBe("No dead letters in pipeline shop.\n");
  });

  it("explains unknown ids, bots and pipelines, and acts on nothing then", async () => {
    const id = await store("tax", letter("tax", {}));
    const gone = await store("tax", letter("tax", {}));
    await petrelctl(["delete", String(gone)]);
    const unknownId = await petrelctl(["delete", String(id), String(gone)]);
    expect(unknownId).toMatchObject({
      code: 1,
      stderr: `petrelctl: no dead letter with id ${gone} in pipeline shop\n`,
    });
    expect(JSON.parse((await petrelctl(["list", "--json"])).stdout).counts).toEqual({ tax: 1 });
    expect(await petrelctl(["show", "abc"])).toMatchObject({
      code: 1,
      stderr: 'petrelctl: not a dead-letter id: "abc" (ids are the numbers dlq list shows)\n',
    });
    expect(await petrelctl(["replay", String(id), "--to", "nobody"])).toMatchObject({
      code: 1,
      stderr: "petrelctl: no bot nobody in pipeline shop\n",
    });
    const orphan = await store("tax", letter("gone-bot", { inputSubject: botSubject("shop", "gone-bot") }));
    expect(await petrelctl(["replay", String(orphan)])).toMatchObject({
      code: 1,
      stderr: `petrelctl: no bot gone-bot in pipeline shop (dead letter ${orphan} came from it); use --to BOT\n`,
    });
    expect(await petrelctl(["list", "--pipeline", "nope"])).toMatchObject({
      code: 1,
      stderr:
        "petrelctl: no such pipeline: nope (no dead-letter stream PETREL_NOPE_DLQ; pipelines found: shop)\n",
    });
    expect(await petrelctl(["replay"])).toMatchObject({
      code: 1,
      stderr: "petrelctl: give the ids of the dead letters, or --all\n",
    });
    const unreachable = await petrelctl(["list", "--nats", "nats://127.0.0.1:1"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^petrelctl: cannot reach NATS at nats:\/\/127\.0\.0\.1:1: /);
  });

  it("keeps the entry when the queue cannot take the message (pipeline full)", async () => {
    const jsm = await jetstreamManager(nc);
    await ensurePipelineStreams(jsm, pipeline("tiny", "1K"));
    await ensureBotConsumer(jsm, "tiny", "tax");
    try {
      const js = jetstream(nc);
      await js.publish(botSubject("tiny", "tax"), encoder.encode("x".repeat(900)));
      const { seq } = await js.publish(
        deadLetterSubject("tiny", "tax"),
        encoder.encode(
          JSON.stringify({ ...letter("tax", {}), pipeline: "tiny", inputSubject: botSubject("tiny", "tax") }),
        ),
      );
      const r = await petrelctl(["replay", String(seq), "--pipeline", "tiny"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^petrelctl: could not re-inject dead letter ${seq} into petrel\\.tiny\\.bot\\.tax \\(.*maximum bytes exceeded.*\\); the entry is kept\\n$`,
        ),
      );
      expect(JSON.parse((await petrelctl(["list", "--json", "--pipeline", "tiny"])).stdout).counts).toEqual({
        tax: 1,
      });
    } finally {
      for (const name of Object.values(pipelineNames("tiny")).filter((n) => n.startsWith("PETREL_")))
        await jsm.streams.delete(name);
    }
  });

  it("asks for --pipeline when the server has several pipelines", async () => {
    const jsm = await jetstreamManager(nc);
    await ensurePipelineStreams(jsm, pipeline("other-feeds"));
    try {
      expect(await petrelctl(["list"])).toMatchObject({
        code: 1,
        stderr:
          "petrelctl: several pipelines; choose one with --pipeline (pipelines found: other-feeds, shop)\n",
      });
      expect(await petrelctl(["list", "--pipeline", "other-feeds"])).toMatchObject({
        code: 0,
        stdout: "No dead letters in pipeline other-feeds.\n",
      });
    } finally {
      for (const name of Object.values(pipelineNames("other-feeds")).filter((n) => n.startsWith("PETREL_")))
        await jsm.streams.delete(name);
    }
  });
});
