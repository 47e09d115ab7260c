// Archive extraction and report splitting, compared with IntelMQ's own utils.unzip and
// splitreports.generate_reports on the same bytes, fed to Petrel in stream pieces of many sizes.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { strToU8, Zip, ZipDeflate, ZipPassThrough, zipSync } from "fflate";
import { pack } from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { runOracle } from "../../test-support/python-oracle.ts";
import { ArchiveError, chunkReports, extractFiles, isTarHeader } from "./archives.ts";

// For each case: IntelMQ's unzip() on the data, as [[name, base64 content], ...] or {error}.
const UNZIP_ORACLE = `
import base64, json, sys
from intelmq.lib.utils import unzip
for line in sys.stdin:
    case = json.loads(line)
    try:
        files = unzip(base64.b64decode(case["data"]), case["extract"], try_zip=case["zip"],
                      try_tar=case["tar"], try_gzip=case["gzip"], return_names=True)
        print(json.dumps([[n, base64.b64encode(c).decode()] for n, c in files]))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
`;

// Archives written by Python's zipfile and tarfile (one JSON line per request: {kind} -> base64).
const PY_ARCHIVES = `
import base64, io, json, sys, tarfile, zipfile
for line in sys.stdin:
    kind = json.loads(line)["kind"]
    buf = io.BytesIO()
    if kind == "py-zip":
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("dir/", "")
            z.writestr("dir/a.csv", "ip\\n192.0.2.1\\n")
            z.writestr("b.txt", "plain " * 1000)
            z.writestr("ünï.txt", "unicode name")
    elif kind == "py-zip-stream":
        # written to a non-seekable stream: sizes follow the data (data descriptors)
        class Unseekable(io.RawIOBase):
            def __init__(self): self.parts = []
            def writable(self): return True
            def write(self, b): self.parts.append(bytes(b)); return len(b)
        out = Unseekable()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("one.csv", "w") as f: f.write(b"x,y\\n" * 5000)
            with z.open("two.csv", "w") as f: f.write(b"z\\n")
        buf = io.BytesIO(b"".join(out.parts))
    elif kind in ("py-tar", "py-tar-gz", "py-tar-pax"):
        mode = {"py-tar": "w", "py-tar-gz": "w:gz", "py-tar-pax": "w"}[kind]
        fmt = tarfile.PAX_FORMAT if kind == "py-tar-pax" else tarfile.GNU_FORMAT
        with tarfile.open(fileobj=buf, mode=mode, format=fmt) as t:
            d = tarfile.TarInfo("sub"); d.type = tarfile.DIRTYPE; t.addfile(d)
            for name, data in [("sub/" + "long" * 40 + ".csv", b"a\\n" * 3000), ("foo", b"foo text\\n"), ("empty", b"")]:
                info = tarfile.TarInfo(name); info.size = len(data); t.addfile(info, io.BytesIO(data))
            link = tarfile.TarInfo("alias"); link.type = tarfile.SYMTYPE; link.linkname = "foo"; t.addfile(link)
    print(json.dumps(base64.b64encode(buf.getvalue()).decode()))
`;

// IntelMQ's generate_reports with a stand-in template: it only copies the template and sets raw.
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

/** `data` as a stream of pieces of `size` bytes (0: one piece). */
async function* pieces(data: Buffer, size: number): AsyncGenerator<Buffer> {
  if (size === 0) {
    yield data;
    return;
  }
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function collect(content: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of content) parts.push(part);
  return Buffer.concat(parts);
}

type Outcome = Array<[string | null, string]> | { error: string };

async function petrelUnzip(
  data: Buffer,
  piece: number,
  options: { extract: true | string[]; zip: boolean; tar: boolean; gzip: boolean },
): Promise<Outcome> {
  try {
    const out: Array<[string | null, string]> = [];
    for await (const file of extractFiles(pieces(data, piece), {
      files: options.extract,
      zip: options.zip,
      tar: options.tar,
      gzip: options.gzip,
    })) {
      out.push([file.name ?? null, (await collect(file.content)).toString("base64")]);
    }
    return out;
  } catch (error) {
    if (error instanceof ArchiveError) return { error: "ValueError" };
    throw error;
  }
}

async function tarStream(
  entries: Array<{ name: string; data?: string; type?: "directory" | "symlink" }>,
): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.type === "directory") p.entry({ name: e.name, type: "directory" });
    else if (e.type === "symlink") p.entry({ name: e.name, type: "symlink", linkname: "x" });
    else p.entry({ name: e.name }, e.data ?? "");
  }
  p.finalize();
  const parts: Buffer[] = [];
  for await (const part of p) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function fflateStreamingZip(): Buffer {
  const parts: Uint8Array[] = [];
  const z = new Zip((error, chunk) => {
    if (error) throw error;
    parts.push(chunk);
  });
  const big = new ZipDeflate("big.csv", { level: 6 });
  z.add(big);
  big.push(strToU8("n,v\n".repeat(20_000)), true);
  const stored = new ZipPassThrough("stored.txt");
  z.add(stored);
  stored.push(strToU8("PK\x07\x08 looks like a signature\n"), true);
  z.end();
  return Buffer.concat(parts);
}

const tmp = mkdtempSync(join(tmpdir(), "petrel-archives-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function gnuTar(gzip: boolean): Buffer {
  const dir = join(tmp, `src-${gzip}`);
  execFileSync("mkdir", ["-p", join(dir, "d")]);
  writeFileSync(join(dir, "d", "one.txt"), "one\n");
  writeFileSync(join(dir, "two.txt"), "two\n".repeat(100));
  return execFileSync("tar", ["-C", dir, gzip ? "-czf" : "-cf", "-", "."]);
}

describe("extractFiles (IntelMQ's utils.unzip, streaming)", () => {
  it("finds the same files as IntelMQ in zip, tar, tar.gz and gzip data written by several tools", async () => {
    const pyKinds = ["py-zip", "py-zip-stream", "py-tar", "py-tar-gz", "py-tar-pax"];
    const pyArchives = await runOracle<{ kind: string }, string>(
      PY_ARCHIVES,
      pyKinds.map((kind) => ({ kind })),
    );
    const samples: Record<string, Buffer> = {
      ...Object.fromEntries(pyKinds.map((k, i) => [k, Buffer.from(pyArchives[i] as string, "base64")])),
      "fflate-zip": Buffer.from(
        zipSync({ bar: strToU8("bar text\n"), "sub/": new Uint8Array(0), "sub/foo": strToU8("foo text\n") }),
      ),
      "fflate-zip-stored": Buffer.from(zipSync({ a: strToU8("a\n"), b: strToU8("") }, { level: 0 })),
      "fflate-zip-descriptors": fflateStreamingZip(),
      "empty-zip": Buffer.from(zipSync({})),
      "tar-stream": await tarStream([
        { name: "dir", type: "directory" },
        { name: "dir/bar", data: "bar text\n" },
        { name: "link", type: "symlink" },
        { name: "foo", data: "foo text\n" },
      ]),
      "tar-stream-gz": gzipSync(await tarStream([{ name: "only", data: "x\n".repeat(10_000) }])),
      "gnu-tar": gnuTar(false),
      "gnu-tar-gz": gnuTar(true),
      gzip: gzipSync(Buffer.from("bar text\n")),
      "gzip-multi-member": Buffer.concat([
        gzipSync(Buffer.from("first\n")),
        gzipSync(Buffer.from("second\n")),
      ]),
      "gzip-of-empty": gzipSync(Buffer.alloc(0)),
      plain: Buffer.from("192.0.2.1\n192.0.2.2\n"),
      empty: Buffer.alloc(0),
    };
    const optionSets = [
      { extract: true as const, zip: true, tar: true, gzip: true },
      { extract: ["bar", "foo", "dir/a.csv", "two.csv", "./two.txt"], zip: true, tar: true, gzip: true },
      { extract: true as const, zip: true, tar: false, gzip: false },
      { extract: true as const, zip: false, tar: true, gzip: false },
      { extract: true as const, zip: false, tar: false, gzip: true },
    ];
    const cases = Object.entries(samples).flatMap(([sample, data]) =>
      optionSets.map((options) => ({ sample, data, options })),
    );
    const expected = await runOracle<unknown, Outcome>(
      UNZIP_ORACLE,
      cases.map(({ data, options }) => ({ data: data.toString("base64"), ...options })),
    );
    let archivesWithFiles = 0;
    for (const [i, c] of cases.entries()) {
      const want = expected[i] as Outcome;
      if (Array.isArray(want) && want.length > 0) archivesWithFiles++;
      for (const piece of [0, 1, 7, 512, 4096]) {
        expect(
          await petrelUnzip(c.data, piece, c.options),
          `${c.sample} ${JSON.stringify(c.options)} ${piece}`,
        ).toEqual(want);
      }
    }
    expect(archivesWithFiles).toBeGreaterThan(30);
  });

  it("passes data that is not an archive through whole when asked (the HTTP collector's zip-only mode)", async () => {
    const data = Buffer.from("not an archive\n");
    const files = [];
    for await (const f of extractFiles(pieces(data, 3), {
      zip: true,
      tar: false,
      gzip: false,
      passThrough: true,
    })) {
      files.push({ name: f.name, content: (await collect(f.content)).toString() });
    }
    expect(files).toEqual([{ name: undefined, content: "not an archive\n" }]);
  });

  it("refuses bzip2 and xz compressed data by name", async () => {
    for (const [magic, name] of [
      ["BZh91AY&SY", "bzip2"],
      ["\xfd7zXZ\0rest", "xz"],
    ] as const) {
      const run = async () => {
        for await (const _ of extractFiles(pieces(Buffer.from(magic, "latin1"), 0))) {
          // nothing
        }
      };
      await expect(run()).rejects.toThrow(new RegExp(`${name}-compressed archives are not supported`));
    }
  });

  it("streams tar and gzip: a member is handed out before the rest of the data has arrived", async () => {
    const tar = await tarStream([
      { name: "first.csv", data: "a,b\n".repeat(50_000) },
      { name: "second.csv", data: "c\n".repeat(100_000) },
    ]);
    const archives = { tar, "tar.gz": gzipSync(tar, { level: 0 }) };
    for (const [kind, data] of Object.entries(archives)) {
      let release: () => void = () => undefined;
      const held = new Promise<void>((resolve) => (release = resolve));
      let sentBytes = 0;
      const half = Math.floor(data.length * 0.6);
      const source = async function* () {
        for (let i = 0; i < half; i += 1024) {
          sentBytes = Math.min(i + 1024, half);
          yield data.subarray(i, sentBytes);
        }
        await held; // the rest only once the consumer has the first member
        yield data.subarray(half);
      };
      const names: string[] = [];
      for await (const file of extractFiles(source())) {
        names.push(file.name as string);
        const content = await collect(file.content);
        if (names.length === 1) {
          expect(sentBytes, kind).toBeLessThanOrEqual(half);
          expect(content.length, kind).toBeGreaterThan(1000);
          release();
        }
      }
      expect(names, kind).toHaveLength(2);
    }
    // A gzip file's content streams as it is decompressed.
    const text = Buffer.from("x,y\n".repeat(100_000));
    const gz = gzipSync(text, { level: 0 });
    let delivered = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const source = async function* () {
      for (let i = 0; i < gz.length / 2; i += 1024) {
        delivered = i + 1024;
        yield gz.subarray(i, delivered);
      }
      await held;
      yield gz.subarray(delivered);
    };
    let received = 0;
    for await (const file of extractFiles(source())) {
      for await (const part of file.content) {
        received += part.length;
        if (received > text.length / 4) release();
      }
    }
    expect(received).toBe(text.length);
  });

  it("checks zip members against their CRC-32, as Python's zipfile does", async () => {
    const zip = Buffer.from(zipSync({ a: strToU8("hello hello hello\n") }, { level: 0 }));
    const at = zip.indexOf("hello");
    zip[at] = "j".charCodeAt(0);
    const run = async () => {
      for await (const file of extractFiles(pieces(zip, 0))) await collect(file.content);
    };
    await expect(run()).rejects.toThrow(/CRC-32/);
  });

  it("skips what a consumer leaves unread and goes on with the next member", async () => {
    const data = await tarStream([
      { name: "a", data: "x".repeat(100_000) },
      { name: "b", data: "second" },
    ]);
    for (const archive of [
      data,
      gzipSync(data),
      Buffer.from(zipSync({ a: strToU8("x".repeat(100_000)), b: strToU8("second") })),
    ]) {
      const seen: Array<[string, string]> = [];
      for await (const file of extractFiles(pieces(archive, 1000))) {
        for await (const part of file.content) {
          seen.push([file.name as string, part.subarray(0, 6).toString()]);
          break;
        }
      }
      expect(seen.map(([n]) => n)).toEqual(["a", "b"]);
      expect(seen[1]?.[1]).toBe("second");
    }
  });

  it("recognises tar headers as Python's tarfile does", async () => {
    const tar = await tarStream([{ name: "x", data: "1" }]);
    expect(isTarHeader(tar.subarray(0, 512))).toBe(true);
    expect(isTarHeader(Buffer.alloc(512))).toBe(false);
    const broken = Buffer.from(tar.subarray(0, 512));
    broken[0] = (broken[0] as number) + 1;
    expect(isTarHeader(broken)).toBe(false);
    expect(isTarHeader(tar.subarray(0, 100))).toBe(false);
  });
});

describe("chunkReports (IntelMQ's generate_reports, streaming)", () => {
  it("cuts the same reports as IntelMQ, however the stream is cut into pieces", async () => {
    const texts = [
      "header,x\n1,aaaa\n2,bbbbbbbbbb\n3,c\n4,dddddddddddddddddddddddddddddd\n5,e",
      "h\r\n" + Array.from({ length: 50 }, (_, i) => `192.0.2.${i},ünïcödé`).join("\r\n") + "\r\n",
      "only a header line\n",
      "no newline at all, longer than a chunk",
      `h\n${"x".repeat(100)}\nshort\n`,
      "\n\n\n\n",
      "",
    ];
    const cases = texts.flatMap((text) =>
      [1, 7, 16, 64, 1000].flatMap((chunkSize) =>
        [true, false].map((header) => ({ text, chunkSize, header })),
      ),
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
      for (const piece of [0, 1, 5, 64]) {
        const got: string[] = [];
        for await (const chunk of chunkReports(pieces(Buffer.from(c.text), piece), c.chunkSize, c.header)) {
          got.push(chunk.toString("base64"));
        }
        expect(got, `${JSON.stringify(c)} piece ${piece}`).toEqual(expected[i]);
      }
    }
  });

  it("never holds much more than a chunk: a large stream comes out while it is being read", async () => {
    const line = "198.51.100.1,some value\n";
    let produced = 0;
    const source = async function* () {
      for (let i = 0; i < 200_000; i++) {
        produced += line.length;
        yield Buffer.from(line);
      }
    };
    let reports = 0;
    let maxLag = 0;
    let total = 0;
    for await (const chunk of chunkReports(source(), 100_000, false)) {
      reports++;
      total += chunk.length;
      maxLag = Math.max(maxLag, produced - total);
    }
    expect(total).toBe(200_000 * line.length);
    expect(reports).toBeGreaterThan(40);
    expect(maxLag).toBeLessThan(3 * 100_000);
  });
});
