// `petrelctl import intelmq` as users run it: the real entry point, stdout, stderr and exit codes.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { testTempDir } from "../../../bot-runtime/test-support/temp-dir.ts";

const bin = fileURLToPath(new URL("../../bin/petrelctl.js", import.meta.url));
const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));

function petrelctl(args: string[], cwd = fixtures) {
  const r = spawnSync(process.execPath, [bin, "import", "intelmq", ...args], { cwd, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("petrelctl import intelmq (CLI)", () => {
  it("prints the YAML, reports on stderr and exits 2 when something was reported", () => {
    const r = petrelctl(["runtime.yaml"]);
    expect(r.stdout).toBe(readFileSync(join(fixtures, "runtime.expected.yaml"), "utf8"));
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^runtime\.yaml:5: global: source_pipeline_broker: "redis": dropped: /);
    expect(lines).toContain(
      "  kubectl create secret generic misp-feed-credentials --from-literal=misp_key='…'",
    );
    expect(lines.at(-1)).toBe(
      "petrelctl import: 9 bot(s) imported: 8 with a Petrel bot, 1 without one yet; 16 item(s) reported above",
    );
    expect(r.code).toBe(2);
  });

  it("reads the IntelMQ 1.x/2.x files, names the pipeline and writes --output", () => {
    const out = join(testTempDir("petrel-import-"), "feodo.yaml");
    const r = petrelctl([
      "--runtime-conf",
      "runtime.conf",
      "--pipeline-conf",
      "pipeline.conf",
      "--defaults-conf",
      "defaults.conf",
      "--pipeline",
      "feodo",
      "--output",
      out,
    ]);
    expect(r.stdout).toBe("");
    expect(readFileSync(out, "utf8")).toBe(readFileSync(join(fixtures, "conf.expected.yaml"), "utf8"));
    expect(r.stderr).toContain(`6 bot(s) written to ${out}`);
    expect(r.code).toBe(2);
  });

  it("exits 0 when everything mapped", () => {
    const dir = testTempDir("petrel-import-");
    writeFileSync(
      join(dir, "runtime.yaml"),
      "global:\n  error_max_retries: 1\ntaxonomy-expert:\n  group: Expert\n  module: intelmq.bots.experts.taxonomy.expert\n  parameters:\n    destination_queues: {_default: [file-output-queue]}\nfile-output:\n  group: Output\n  module: intelmq.bots.outputs.file.output\n  parameters: {file: /tmp/events.txt}\n",
    );
    const r = petrelctl(["runtime.yaml"], dir);
    expect(r.stderr).toBe(
      "petrelctl import: 2 bot(s) imported: 2 with a Petrel bot, 0 without one yet; everything mapped\n",
    );
    expect(r.stdout).toContain("    errorMaxRetries: 1\n");
    expect(r.stdout).toContain("    _default: [file-output]\n");
    expect(r.code).toBe(0);
  });

  it("exits 1 on unreadable input, naming file and line", () => {
    const dir = testTempDir("petrel-import-");
    writeFileSync(join(dir, "runtime.yaml"), "bot:\n  module: x\nother: [1, 2]\n");
    expect(petrelctl(["runtime.yaml"], dir)).toEqual({
      code: 1,
      stdout: "",
      stderr: "petrelctl import: runtime.yaml:3: bot other: expected a mapping\n",
    });
    expect(petrelctl(["missing.yaml"], dir)).toMatchObject({
      code: 1,
      stderr: "petrelctl import: missing.yaml: no such file\n",
    });
  });

  it("explains wrong usage", () => {
    const none = petrelctl([]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(
      "give IntelMQ's runtime.yaml, or --runtime-conf runtime.conf --pipeline-conf",
    );
    const half = petrelctl(["--runtime-conf", "runtime.conf"]);
    expect(half.code).toBe(1);
    expect(half.stderr).toContain("--runtime-conf needs --pipeline-conf");
  });
});
