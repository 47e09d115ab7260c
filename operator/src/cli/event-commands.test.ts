import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { testTempDir } from "../../../bot-runtime/test-support/temp-dir.ts";

const bin = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));

function petrelctl(args: string[], input: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { input, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("petrelctl event check", () => {
  const line = '{"__type":"Event","source.ip":"192.0.2.1/32","feed.name":"x"}';

  it("sanitizes like a parser with --sanitize", () => {
    const r = petrelctl(["event", "check", "--sanitize"], `${line}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"__type":"Event","source.ip":"192.0.2.1","feed.name":"x"}\n');
  });

  it("validates strictly without --sanitize, naming field, value and rule", () => {
    const r = petrelctl(["event", "check"], `${line}\n`);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ERROR line 1: source\.ip: value "192\.0\.2\.1\/32" is not a valid IPAddress/);
  });

  it("prints exactly one line per input line, in order, from a file", () => {
    const dir = testTempDir("petrel-check-");
    const file = join(dir, "in.jsonl");
    const lines = [
      '{"__type":"Report","feed.name":"F","raw":"YQ==","time.observation":"2021-05-05T10:00:00+00:00"}',
      "not json",
      "",
      '{"__type":"Event","source.port":123456}',
      '{"__type":"Event","classification.type":"phishing","source.fqdn":"example.com"}',
      '{"feed.name":"no type"}',
    ];
    writeFileSync(file, `${lines.join("\n")}\n`);
    const r = petrelctl(["event", "check", file], "");
    const out = r.stdout.split("\n").slice(0, -1);
    expect(out).toHaveLength(lines.length);
    expect(out[0]).toBe(lines[0]);
    expect(out[1]).toMatch(/^ERROR line 2: \(message\): value "not json" is not valid JSON/);
    expect(out[2]).toMatch(/^ERROR line 3: .*empty line/);
    expect(out[3]).toBe("ERROR line 4: source.port: value 123456 is too long: at most 5 characters");
    expect(out[4]).toBe(lines[4]);
    expect(out[5]).toMatch(/^ERROR line 6: __type/);
    expect(r.code).toBe(1);
  });
});
