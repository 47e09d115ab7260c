// A private redis-server for the IntelMQ workloads (random port, no persistence) and a minimal RESP
// client: enough to pre-load queues and poll their lengths without a Redis package.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../bot-runtime/test-support/nats-server.ts";
import { atExit, track } from "./children.ts";

export interface BenchRedis {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "petrel-bench-redis-"));
  const removeDir = atExit(() => rmSync(dir, { recursive: true, force: true }));
  const child: ChildProcess = track(
    spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
      { stdio: "ignore" },
    ),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const client = await RespClient.connect(port);
      await client.command("PING");
      client.close();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    port,
    pid: child.pid as number,
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

type Reply = string | number | null | Reply[];

interface Waiter {
  resolve: (r: Reply) => void;
  reject: (e: Error) => void;
}

function encodeCommand(args: ReadonlyArray<string | Uint8Array>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes =
      typeof arg === "string" ? Buffer.from(arg) : Buffer.from(arg.buffer, arg.byteOffset, arg.length);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one reply at `offset`; undefined when the buffer does not hold all of it yet. */
function parseReply(buf: Buffer, offset: number): { value: Reply; end: number } | undefined {
  const eol = buf.indexOf("\r\n", offset);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[offset] as number);
  const line = buf.toString("utf8", offset + 1, eol);
  switch (type) {
    case "+":
      return { value: line, end: eol + 2 };
    case "-":
      throw new Error(`redis: ${line}`);
    case ":":
      return { value: Number(line), end: eol + 2 };
    case "$": {
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString("utf8", eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    case "*": {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: Reply[] = [];
      let at = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseReply(buf, at);
        if (!item) return undefined;
        items.push(item.value);
        at = item.end;
      }
      return { value: items, end: at };
    }
    default:
      throw new Error(`redis: unexpected reply ${JSON.stringify(buf.toString("utf8", offset, eol))}`);
  }
}

export class RespClient {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #waiting: Waiter[] = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
      let offset = 0;
      while (offset < this.#buffer.length && this.#waiting.length > 0) {
        let parsed: ReturnType<typeof parseReply>;
        const waiter = this.#waiting[0] as Waiter;
        try {
          parsed = parseReply(this.#buffer, offset);
        } catch (error) {
          this.#waiting.shift();
          waiter.reject(error as Error);
          offset = this.#buffer.indexOf("\r\n", offset) + 2;
          continue;
        }
        if (!parsed) break;
        this.#waiting.shift();
        waiter.resolve(parsed.value);
        offset = parsed.end;
      }
      this.#buffer = this.#buffer.subarray(offset);
    });
  }

  static connect(port: number): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.off("error", reject);
        resolve(new RespClient(socket));
      });
      socket.once("error", reject);
    });
  }

  command(...args: Array<string | Uint8Array>): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#socket.write(encodeCommand(args));
    });
  }

  /** LPUSHes the values (IntelMQ queues are lists read from the right), in pipelined chunks. */
  async pushAll(key: string, values: readonly Uint8Array[]): Promise<void> {
    const pending: Array<Promise<Reply>> = [];
    for (let i = 0; i < values.length; i += 500) {
      pending.push(this.command("LPUSH", key, ...values.slice(i, i + 500)));
      if (pending.length >= 16) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  }

  async llen(key: string): Promise<number> {
    return (await this.command("LLEN", key)) as number;
  }

  close(): void {
    this.#socket.end();
  }
}
