// The FTP and FTPS collectors against a real vsftpd (private instances for this file: one offering
// explicit AUTH TLS, one speaking implicit TLS): which files are fetched, the reports made of them
// (archives unpacked, chunks), TLS verified against the test CA, and a file deleted only once its
// reports are stored — also on a real nats-server that is down for a while.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../bot-runtime/src/event/message.ts";
import { createCollector, runCollector } from "../../bot-runtime/test-support/collector-runtime.ts";
import { startFtpServer, type TestFtpServer } from "../../bot-runtime/test-support/ftp-server.ts";
import ftp from "./ftp.ts";
import ftps from "./ftps.ts";

let server: TestFtpServer;
let implicit: TestFtpServer;
let directories = 0;
let dir: string;

beforeAll(async () => {
  [server, implicit] = await Promise.all([startFtpServer(), startFtpServer({ tls: "implicit" })]);
});
afterAll(async () => {
  await Promise.all([server?.dispose(), implicit?.dispose()]);
});
beforeEach(() => {
  // Each test its own file names: the server's directory is shared.
  dir = `t${++directories}`;
});

const params = (extra: Record<string, unknown> = {}) => ({
  ftp_host: "127.0.0.1",
  ftp_port: server.port,
  ftp_directory: server.remoteDir,
  ftp_file: `${dir}-*`,
  ...extra,
});
const text = (r: Report) => Buffer.from(r.get("raw") as string, "base64").toString("utf8");
const onServer = (s: TestFtpServer, name: string) => existsSync(`${s.dir}/${name}`);

describe("collectors.ftp", () => {
  it("fetches the last matching file by name, as IntelMQ's FTP collector did, or all with all_files", async () => {
    server.put(`${dir}-2024-01-01.csv`, "ip\n192.0.2.1\n");
    server.put(`${dir}-2024-01-02.csv`, "ip\n192.0.2.2\n");
    server.put(`${dir}-other.txt`, "not matched\n");
    const latest = await createCollector(ftp, params({ ftp_file: `${dir}-*.csv`, name: "FTP" }));
    const [report, ...rest] = await latest.collect();
    expect(rest).toEqual([]);
    const { "time.observation": _, ...fields } = (report as Report).toDict();
    expect(fields).toEqual({
      "feed.url": `ftp://127.0.0.1:${server.port}/feeds/${dir}-2024-01-02.csv`,
      "extra.file_name": `${dir}-2024-01-02.csv`,
      raw: Buffer.from("ip\n192.0.2.2\n").toString("base64"),
    });
    expect(ftp.deviations?.map((d) => d.id)).toContain("feed-url-names-file");
    const all = await createCollector(ftp, params({ ftp_file: `${dir}-*.csv`, all_files: true }));
    expect((await all.collect()).map(text)).toEqual(["ip\n192.0.2.1\n", "ip\n192.0.2.2\n"]);
    // Without delete_file, the files stay.
    expect(onServer(server, `${dir}-2024-01-01.csv`)).toBe(true);
  });

  it("unpacks zip, tar.gz and gzip files (deviation archives-unpacked), or not with extract_files false", async () => {
    expect(ftp.deviations?.map((d) => d.id)).toContain("archives-unpacked");
    const zip = Buffer.from(zipSync({ "a.csv": Buffer.from("a\n"), "b.csv": Buffer.from("b\n") }));
    server.put(`${dir}-1.zip`, zip);
    server.put(`${dir}-2.csv.gz`, Buffer.from(gzipSync(Buffer.from("gz\n"))));
    const work = mkdtempSync(join(tmpdir(), "petrel-tar-"));
    try {
      writeFileSync(join(work, "c.csv"), "c\n");
      server.put(`${dir}-3.tar.gz`, execFileSync("tar", ["-czf", "-", "-C", work, "c.csv"]));
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    const c = await createCollector(ftp, params({ all_files: true }));
    expect((await c.collect()).map((r) => [r.get("extra.file_name"), text(r)])).toEqual([
      ["a.csv", "a\n"],
      ["b.csv", "b\n"],
      [`${dir}-2.csv.gz`, "gz\n"],
      ["c.csv", "c\n"],
    ]);
    const asIs = await createCollector(ftp, params({ ftp_file: `${dir}-*.zip`, extract_files: false }));
    const [raw] = await asIs.collect();
    expect(Buffer.from(raw?.get("raw") as string, "base64")).toEqual(zip);
  });

  it("streams a large file into chunks with the header line repeated", async () => {
    const lines = Array.from({ length: 300_000 }, (_, i) => `198.51.100.${i % 250},${i}`);
    server.put(`${dir}-big.csv`, `ip,n\n${lines.join("\n")}\n`);
    const c = await createCollector(ftp, params({ chunk_size: 1_000_000 }));
    let body = "";
    let reports = 0;
    await c.collect(async (report) => {
      reports++;
      const t = text(report);
      expect(t.startsWith("ip,n\n")).toBe(true);
      body += t.slice(5);
    });
    expect(reports).toBeGreaterThan(3);
    expect(body).toBe(`${lines.join("\n")}\n`);
  });

  it("deletes a file with delete_file only after its reports were emitted, and keeps it when that fails", async () => {
    server.put(`${dir}-feed.csv`, "h\n1\n");
    const c = await createCollector(ftp, params({ delete_file: true }));
    await expect(c.collect(() => Promise.reject(new Error("publisher cannot confirm")))).rejects.toThrow(
      "publisher cannot confirm",
    );
    expect(onServer(server, `${dir}-feed.csv`)).toBe(true);
    const present: boolean[] = [];
    await c.collect(async () => {
      present.push(onServer(server, `${dir}-feed.csv`));
    });
    expect(present).toEqual([true]);
    expect(onServer(server, `${dir}-feed.csv`)).toBe(false);
  });

  it("uses explicit FTPS, verifying the server against ssl_ca_certificate (deviation verified-tls)", async () => {
    expect(ftp.deviations?.map((d) => d.id)).toContain("verified-tls");
    server.put(`${dir}-tls.csv`, "tls\n");
    const tls = { ftp_host: "localhost", ftp_tls: "explicit" };
    const trusted = await createCollector(ftp, params({ ...tls, ssl_ca_certificate: server.caFile }));
    expect((await trusted.collect()).map(text)).toEqual(["tls\n"]);
    expect((await trusted.collect())[0]?.get("feed.url")).toBe(
      `ftps://localhost:${server.port}/feeds/${dir}-tls.csv`,
    );
    const untrusted = await createCollector(ftp, params(tls));
    await expect(untrusted.collect()).rejects.toThrow(
      /^the TLS certificate of ftps:\/\/localhost:\d+ is not trusted \(UNABLE_TO_VERIFY_LEAF_SIGNATURE: .*\); set ssl_ca_certificate/,
    );
    const unverified = await createCollector(ftp, params({ ...tls, ssl_verify_cert: false }));
    expect((await unverified.collect()).map(text)).toEqual(["tls\n"]);
  });

  it("says what went wrong with a directory that does not exist", async () => {
    const c = await createCollector(ftp, params({ ftp_directory: "/nowhere" }));
    await expect(c.collect()).rejects.toThrow(/^FTP ftp:\/\/127\.0\.0\.1:\d+: 550 /);
  });

  it("on JetStream: keeps the file while nats-server is down and deletes it once its report is stored", async () => {
    const run = await runCollector(ftp, { ...params({ delete_file: true, all_files: true }), name: "FTP" });
    try {
      server.put(`${dir}-first.csv`, "one\n");
      const [first] = await run.reports(1);
      expect(text(first as Report)).toBe("one\n");
      expect(first?.get("feed.name")).toBe("FTP");
      await expect.poll(() => onServer(server, `${dir}-first.csv`)).toBe(false);

      await run.nats.stop();
      server.put(`${dir}-second.csv`, "two\n");
      await new Promise((r) => setTimeout(r, 2000));
      expect(onServer(server, `${dir}-second.csv`)).toBe(true);
      await run.nats.restart();
      const [second] = await run.reports(1);
      expect(text(second as Report)).toBe("two\n");
      await expect.poll(() => onServer(server, `${dir}-second.csv`), { timeout: 10_000 }).toBe(false);
      expect(await run.pending()).toBe(0);
    } finally {
      await run.dispose();
    }
  });
});

describe("collectors.ftps", () => {
  it("fetches over implicit TLS with IntelMQ's ftps_* parameter names", async () => {
    implicit.put("implicit.csv", "implicit\n");
    const c = await createCollector(ftps, {
      ftps_host: "localhost",
      ftps_port: implicit.port,
      ftps_directory: implicit.remoteDir,
      ftps_file: "*.csv",
      ssl_ca_certificate: implicit.caFile,
    });
    const [report] = await c.collect();
    expect(text(report as Report)).toBe("implicit\n");
    expect(report?.get("feed.url")).toBe(`ftps://localhost:${implicit.port}/feeds/implicit.csv`);
  });
});
