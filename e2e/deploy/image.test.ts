// The Dockerfile and .dockerignore, checked without a container engine: the base images are Node.js 26
// (the version package.json pins), every COPY source exists and reaches the build context, the files the
// entry points import (transitively) are all in the image, their packages are production dependencies,
// the user is the numeric non-root uid the operator's pods run as, and tests, docs and caches stay out.
// The Shadowserver parser's schema, which the repository does not hold, is downloaded by a build stage
// with petrelctl (a failed download fails the build) and lands where the image's environment points.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SCHEMA_FILE_ENV, SHADOWSERVER_SCHEMA_URL } from "../../bots/parsers/shadowserver/schema.ts";
import { RUN_AS_USER, WORKDIR } from "../../operator/src/controller/constants.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");
const packageJson = JSON.parse(read("package.json")) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const joined = text
    .split("\n")
    .filter((line) => !line.trimStart().startsWith("#"))
    .join("\n")
    .replace(/\\\n/g, " ");
  return joined
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [keyword = "", ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(" ") };
    });
}

/** .dockerignore semantics: the last matching pattern decides; a pattern also matches everything below a match. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negated = line.startsWith("!");
      const pattern = normalize(negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, "");
      let source = "";
      for (let i = 0; i < pattern.length; i++) {
        const c = pattern[i] as string;
        if (c === "*" && pattern[i + 1] === "*") {
          // `**/` matches any number of folders, `**` at the end anything.
          source += pattern[i + 2] === "/" ? "(?:.*/)?" : ".*";
          i += pattern[i + 2] === "/" ? 2 : 1;
        } else if (c === "*") source += "[^/]*";
        else if (c === "?") source += "[^/]";
        else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
      }
      return { negated, regex: new RegExp(`^${source}$`) };
    });
  return (path: string) => {
    const parts = path.split("/");
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"));
    let excluded = false;
    for (const rule of rules) {
      if (prefixes.some((p) => rule.regex.test(p))) excluded = !rule.negated;
    }
    return excluded;
  };
}

function walk(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = dir === "" ? entry.name : `${dir}/${entry.name}`;
    return entry.isDirectory() ? walk(path) : [path];
  });
}

const instructions = parseDockerfile(read("Dockerfile"));
const excluded = dockerignore(read(".dockerignore"));
const stages = instructions.filter((i) => i.keyword === "FROM").map((i) => i.args);
/** Each build stage's instructions, FROM first. */
const stageInstructions = instructions.reduce<Instruction[][]>((all, i) => {
  if (i.keyword === "FROM") all.push([i]);
  else all.at(-1)?.push(i);
  return all;
}, []);
const runtime = stageInstructions.at(-1) as Instruction[];
const nodeMajor = (range: string) => Number(/(\d+)/.exec(range)?.[1]);

/** COPY sources from the build context (not --from) and their destinations, in a stage. */
function contextCopies(stage: readonly Instruction[]) {
  return stage
    .filter((i) => i.keyword === "COPY" && !i.args.includes("--from"))
    .map((i) => {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith("--"));
      return { sources: words.slice(0, -1), destination: words.at(-1) as string };
    });
}

/** Repository paths (relative) that a stage copies into its /app, after .dockerignore. */
function copiedFiles(stage: readonly Instruction[]): Set<string> {
  return new Set(
    contextCopies(stage)
      .flatMap(({ sources }) =>
        sources.flatMap((source) => {
          const path = source.replace(/\/$/, "");
          return statSync(join(root, path)).isDirectory() ? walk(path) : [path];
        }),
      )
      .filter((path) => !excluded(path)),
  );
}

const copies = contextCopies(runtime);
/** Repository paths (relative) that end up in the image's /app, after .dockerignore. */
const inImage = copiedFiles(runtime);

/** Relative and bare imports of a TypeScript/JavaScript file (type-only imports are erased at run time). */
function importsOf(file: string): string[] {
  const text = read(file);
  const specifiers: string[] = [];
  const patterns = [
    /^\s*import\s+(?!type\s)(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm,
    /^\s*export\s+(?!type\s)[^"';]*?\sfrom\s+["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) for (const m of text.matchAll(pattern)) specifiers.push(m[1] as string);
  return specifiers;
}

const ENTRY_POINTS = [
  "operator/src/controller/main.ts",
  "bot-runtime/src/runtime/main.ts",
  "operator/bin/petrelctl.js",
];

/** Repository files an entry point imports, transitively (itself included), and the packages it uses. */
function importClosure(entryPoints: readonly string[]): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const queue = [...entryPoints];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    for (const specifier of importsOf(file)) {
      if (specifier.startsWith(".")) {
        queue.push(relative(root, join(root, dirname(file), specifier)));
      } else if (!specifier.startsWith("node:") && !builtinModules.includes(specifier)) {
        const parts = specifier.split("/");
        packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string));
      }
    }
  }
  return { files, packages };
}

describe("Dockerfile", () => {
  it("builds on Node.js of the major package.json pins (engines and the node devDependency)", () => {
    const major = nodeMajor(packageJson.engines.node);
    expect(major).toBe(nodeMajor(packageJson.devDependencies.node as string));
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const from of stages) {
      const image = from.split(/\s+/)[0] as string;
      const m = /^(?:node:(\d+)-|gcr\.io\/distroless\/nodejs(\d+)-)/.exec(image);
      expect(m, `${image}: node:<major>-… or distroless nodejs<major>`).not.toBeNull();
      expect(Number(m?.[1] ?? m?.[2]), image).toBe(major);
    }
    // No shell at run time: the runtime stage is distroless and runs nothing but node.
    expect(stages.at(-1)).toMatch(/^gcr\.io\/distroless\/nodejs\d+-debian\d+:nonroot$/);
    expect(runtime.filter((i) => i.keyword === "RUN")).toEqual([]);
  });

  it("installs production dependencies only, from the lockfile, without install scripts", () => {
    const run = instructions.filter((i) => i.keyword === "RUN").map((i) => i.args);
    expect(run.some((r) => /npm ci\b.*--omit=dev/.test(r) && r.includes("--ignore-scripts"))).toBe(true);
    expect(instructions.some((i) => i.keyword === "COPY" && i.args.includes("package-lock.json"))).toBe(true);
    expect(run.join("\n")).not.toMatch(/npm (install|i)\b|tsc|npm run build/);
  });

  it("runs as the numeric non-root user the operator's pods use, in WORKDIR /app", () => {
    const users = runtime.filter((i) => i.keyword === "USER").map((i) => i.args);
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = (users.at(-1) as string).split(":");
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(uid)).toBe(RUN_AS_USER);
    expect(Number(gid ?? uid)).toBe(RUN_AS_USER);
    expect(runtime.filter((i) => i.keyword === "WORKDIR").map((i) => i.args)).toEqual([WORKDIR]);
    expect(WORKDIR).toBe("/app");
  });

  it("starts node with the operator by default; node is on the PATH for `command: [node, …]`", () => {
    const entrypoint = JSON.parse(runtime.find((i) => i.keyword === "ENTRYPOINT")?.args ?? "null");
    const cmd = JSON.parse(runtime.find((i) => i.keyword === "CMD")?.args ?? "null");
    expect(entrypoint).toEqual(["node"]);
    expect(cmd).toEqual(["operator/src/controller/main.ts"]);
    const env = runtime
      .filter((i) => i.keyword === "ENV")
      .map((i) => i.args)
      .join(" ");
    expect(env).toMatch(/PATH=\/nodejs\/bin:/);
    expect(env).toMatch(/NODE_ENV=production/);
  });

  it("copies sources that exist and are not ignored, into matching paths under WORKDIR", () => {
    expect(copies.length).toBeGreaterThan(0);
    for (const { sources, destination } of copies) {
      for (const source of sources) {
        const path = source.replace(/\/$/, "");
        expect(statSync(join(root, path), { throwIfNoEntry: false }), `${source} exists`).toBeDefined();
        expect(excluded(path), `${source} is excluded by .dockerignore`).toBe(false);
        if (sources.length === 1 && statSync(join(root, path)).isDirectory()) {
          expect(normalize(destination)).toBe(path);
        }
      }
    }
    for (const file of ["package.json", "package-lock.json"]) expect(excluded(file), file).toBe(false);
  });

  it("contains every file the entry points import, and only production packages", () => {
    const { files: seen, packages } = importClosure(ENTRY_POINTS);
    for (const file of seen) expect(inImage.has(file), `${file} is in the image`).toBe(true);
    expect(seen.size).toBeGreaterThan(50);
    for (const name of packages) {
      expect(packageJson.dependencies, `${name} is imported at run time`).toHaveProperty([name]);
    }
  });

  it("keeps tests, test helpers, docs, caches and node_modules out of the build context", () => {
    for (const path of [
      ".cache/helm-v4.3.2/helm",
      ".petrel/demo-output.jsonl",
      "node_modules/zod/package.json",
      ".git/HEAD",
      "docs/metrics.md",
      "e2e/deploy/image.test.ts",
      "charts/petrel/Chart.yaml",
      "examples/demo.yaml",
      "bot-runtime/test/fixtures.json",
      "bot-runtime/test-support/nats-server.ts",
      "operator/src/local/test-support/register-test-bots.ts",
      "bots/README.md",
    ]) {
      expect(excluded(path), path).toBe(true);
    }
    const leaked = [...inImage].filter((p) => /\.test\.ts$|(^|\/)test-support\/|\.md$/.test(p));
    expect(leaked).toEqual([]);
    expect(inImage.has("bots/index.ts")).toBe(true);
  });

  describe("Shadowserver schema", () => {
    const stage = stageInstructions.find((st) =>
      st.some((i) => i.keyword === "RUN" && i.args.includes("shadowserver update-schema")),
    ) as Instruction[];
    const name = /\sAS\s+(\S+)$/i.exec(stage?.[0]?.args ?? "")?.[1] as string;
    const run = stage?.find((i) => i.keyword === "RUN")?.args ?? "";
    const file = /\s-o\s+(\S+)/.exec(run)?.[1] as string;

    it("is downloaded and validated by petrelctl in a named build stage, from Shadowserver's URL by default", () => {
      expect(stage, "a stage that runs petrelctl shadowserver update-schema").toBeDefined();
      expect(stage).not.toBe(runtime);
      expect(name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(run).toMatch(
        /^node operator\/bin\/petrelctl\.js shadowserver update-schema --url "\$SHADOWSERVER_SCHEMA_URL" -o \//,
      );
      const arg = stage.find((i) => i.keyword === "ARG" && i.args.startsWith("SHADOWSERVER_SCHEMA_URL="));
      expect(arg?.args).toBe(`SHADOWSERVER_SCHEMA_URL=${SHADOWSERVER_SCHEMA_URL}`);
      // The stage has what petrelctl imports, from the build context and the deps stage.
      const copied = copiedFiles(stage);
      const { files, packages } = importClosure(["operator/bin/petrelctl.js"]);
      for (const f of files) expect(copied.has(f), `${f} is in the ${name} stage`).toBe(true);
      for (const { sources } of contextCopies(stage)) {
        for (const source of sources) expect(excluded(source.replace(/\/$/, "")), source).toBe(false);
      }
      expect(
        stage.some((i) => i.keyword === "COPY" && /--from=deps \/app\/node_modules\b/.test(i.args)),
      ).toBe(true);
      for (const p of packages) expect(packageJson.dependencies, p).toHaveProperty([p]);
    });

    it("fails the build with a clear message when the download fails (nothing masks the exit code)", () => {
      const [command, ...handlers] = run.split("||").map((part) => part.trim());
      expect(command).not.toMatch(/;|&&|\|/);
      expect(handlers).toHaveLength(1);
      expect(handlers[0]).toMatch(/^\{ echo "ERROR: .*Shadowserver's report schema.*" >&2; exit 1; \}$/);
      expect(handlers[0]).toContain("--build-arg SHADOWSERVER_SCHEMA_URL=");
      expect(run).not.toMatch(/\btrue\b|exit 0|\|\|\s*:/);
    });

    it("lands in the runtime image, read-only outside /app, where PETREL_SHADOWSERVER_SCHEMA points", () => {
      expect(file).toMatch(/^\/var\/lib\/petrel\/.+\.json$/);
      expect(file.startsWith(`${WORKDIR}/`)).toBe(false);
      expect(runtime.filter((i) => i.keyword === "COPY" && i.args.startsWith(`--from=${name} `))).toEqual([
        { keyword: "COPY", args: `--from=${name} ${file} ${file}` },
      ]);
      const env = runtime
        .filter((i) => i.keyword === "ENV")
        .map((i) => i.args)
        .join(" ");
      expect(new RegExp(`(?:^|\\s)${SCHEMA_FILE_ENV}=(\\S+)`).exec(env)?.[1]).toBe(file);
      // The USER line comes after the COPY: the file stays root's and read-only for the bots.
      const keywords = runtime.map((i) => i.keyword);
      expect(keywords.lastIndexOf("COPY")).toBeLessThan(keywords.indexOf("USER"));
    });

    it("is not in the build context: the repository holds only Petrel's own test schema", () => {
      const schemas = walk("bots").filter((p) => /shadowserver\/.*\.json$/.test(p));
      expect(schemas).toEqual(["bots/parsers/shadowserver/test-support/test-schema.json"]);
      expect(excluded(schemas[0] as string)).toBe(true);
      expect(
        [...inImage].filter((p) => p.startsWith("bots/parsers/shadowserver/") && p.endsWith(".json")),
      ).toEqual([]);
    });
  });

  it("the ignore matcher follows Docker's rules (last match wins, folders cover their files)", () => {
    const match = dockerignore("*\n!src/\n**/*.test.ts\n!src/keep.test.ts\n");
    expect(match("README.md")).toBe(true);
    expect(match("src/a.ts")).toBe(false);
    expect(match("src/deep/a.test.ts")).toBe(true);
    expect(match("src/keep.test.ts")).toBe(false);
    expect(match("lib/a.ts")).toBe(true);
  });
});
