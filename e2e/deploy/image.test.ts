// The Dockerfile and .dockerignore, checked without a container engine: the base images are Node.js 26
// (the version package.json pins), every COPY source exists and reaches the build context, the files the
// entry points import (transitively) are all in the image, their packages are production dependencies,
// the user is the numeric non-root uid the operator's pods run as, and tests, docs and caches stay out.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
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
const runtime = instructions.slice(instructions.map((i) => i.keyword).lastIndexOf("FROM"));
const nodeMajor = (range: string) => Number(/(\d+)/.exec(range)?.[1]);

/** COPY sources from the build context (not --from) and their destinations, in the runtime stage. */
const copies = runtime
  .filter((i) => i.keyword === "COPY" && !i.args.includes("--from"))
  .map((i) => {
    const words = i.args.split(/\s+/).filter((w) => !w.startsWith("--"));
    return { sources: words.slice(0, -1), destination: words.at(-1) as string };
  });

/** Repository paths (relative) that end up in the image's /app, after .dockerignore. */
const inImage = new Set(
  copies
    .flatMap(({ sources }) =>
      sources.flatMap((source) => {
        const path = source.replace(/\/$/, "");
        return statSync(join(root, path)).isDirectory() ? walk(path) : [path];
      }),
    )
    .filter((path) => !excluded(path)),
);

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
    const seen = new Set<string>();
    const packages = new Set<string>();
    const queue = [...ENTRY_POINTS];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      expect(inImage.has(file), `${file} is in the image`).toBe(true);
      for (const specifier of importsOf(file)) {
        if (specifier.startsWith(".")) {
          queue.push(relative(root, join(root, dirname(file), specifier)));
        } else if (!specifier.startsWith("node:") && !builtinModules.includes(specifier)) {
          const parts = specifier.split("/");
          packages.add(specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] as string));
        }
      }
    }
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

  it("the ignore matcher follows Docker's rules (last match wins, folders cover their files)", () => {
    const match = dockerignore("*\n!src/\n**/*.test.ts\n!src/keep.test.ts\n");
    expect(match("README.md")).toBe(true);
    expect(match("src/a.ts")).toBe(false);
    expect(match("src/deep/a.test.ts")).toBe(true);
    expect(match("src/keep.test.ts")).toBe(false);
    expect(match("lib/a.ts")).toBe(true);
  });
});
