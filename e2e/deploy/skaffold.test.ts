// skaffold.yaml, checked without skaffold: schema version and shape, the artifact's Dockerfile and the
// chart exist, every value it sets is a key of the chart's values, and the chart renders with those
// values (schema included) into the objects the dev profile forwards to.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";

const root = fileURLToPath(new URL("../../", import.meta.url));

interface Release {
  name: string;
  chartPath: string;
  namespace: string;
  createNamespace?: boolean;
  setValueTemplates?: Record<string, string>;
  setValues?: Record<string, unknown>;
}
interface Config {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  build: {
    artifacts: Array<{ image: string; context?: string; docker?: { dockerfile?: string } }>;
    local?: Record<string, unknown>;
  };
  deploy: { helm: { releases: Release[] } };
  profiles: Array<{
    name: string;
    activation?: Array<{ command?: string }>;
    patches?: Array<{ op: string; path: string; value?: unknown }>;
    portForward?: Array<{ resourceType: string; resourceName: string; namespace: string; port: number }>;
  }>;
}

const config = parse(readFileSync(join(root, "skaffold.yaml"), "utf8")) as Config;
const release = config.deploy.helm.releases[0] as Release;
const chartValues = parse(readFileSync(join(root, release.chartPath, "values.yaml"), "utf8")) as Record<
  string,
  unknown
>;

/** The value at a dotted path of the chart's values, or undefined when the key does not exist. */
function valueAt(path: string): unknown {
  let node: unknown = chartValues;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object" || !(key in node)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The JSON-pointer parent of a patch path exists in the document (Skaffold applies patches to it). */
function parentExists(document: unknown, pointer: string): boolean {
  const parts = pointer.split("/").slice(1, -1);
  let node = document;
  for (const part of parts) {
    if (node === null || typeof node !== "object") return false;
    node = (node as Record<string, unknown>)[part];
  }
  return node !== null && typeof node === "object";
}

/** Skaffold's template variable names for an artifact: `/ - . :` become `_`. */
const sanitised = (image: string) => image.replace(/[/\-.:]/g, "_");

describe("skaffold.yaml", () => {
  it("uses a Skaffold v2 schema (skaffold/v4beta*) with one artifact built from the Dockerfile", () => {
    expect(config.apiVersion).toMatch(/^skaffold\/v4beta\d+$/);
    expect(config.kind).toBe("Config");
    expect(config.build.artifacts).toHaveLength(1);
    const artifact = config.build.artifacts[0];
    const context = join(root, artifact?.context ?? ".");
    expect(existsSync(join(context, artifact?.docker?.dockerfile ?? "Dockerfile"))).toBe(true);
    expect(existsSync(join(context, ".dockerignore"))).toBe(true);
  });

  it("installs the chart with the artifact as the operator's and the bots' image", () => {
    expect(config.deploy.helm.releases).toHaveLength(1);
    expect(existsSync(join(root, release.chartPath, "Chart.yaml"))).toBe(true);
    const name = sanitised(config.build.artifacts[0]?.image ?? "");
    expect(release.setValueTemplates).toEqual({
      "image.repository": `{{.IMAGE_REPO_${name}}}`,
      "image.tag": `{{.IMAGE_TAG_${name}}}`,
      "bots.image": `{{.IMAGE_FULLY_QUALIFIED_${name}}}`,
    });
    for (const key of Object.keys(release.setValueTemplates ?? {})) {
      expect(valueAt(key), `${key} in values.yaml`).toBeDefined();
    }
  });

  it("has a dev profile whose patches and values fit the base config and the chart", () => {
    const dev = config.profiles.find((p) => p.name === "dev");
    expect(dev?.activation).toEqual([{ command: "dev" }]);
    for (const patch of dev?.patches ?? []) {
      expect(["add", "replace"]).toContain(patch.op);
      expect(parentExists(config, patch.path), patch.path).toBe(true);
      if (patch.path.endsWith("/setValues")) {
        for (const key of Object.keys(patch.value as object)) expect(valueAt(key), key).toBeDefined();
      }
    }
  });

  it("renders the chart with what Skaffold sets, into the Service the dev profile forwards", () => {
    const dev = config.profiles.find((p) => p.name === "dev");
    const setValues = dev?.patches?.find((p) => p.path.endsWith("/setValues"))?.value as Record<
      string,
      unknown
    >;
    const image = "registry.example/petrel";
    const tag = "abc123";
    const sets = {
      "image.repository": image,
      "image.tag": tag,
      "bots.image": `${image}:${tag}@sha256:${"0".repeat(64)}`,
      ...setValues,
    };
    const helm =
      process.env.PETREL_HELM ??
      execFileSync("bash", [join(root, "scripts/ensure-helm.sh")], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
      }).trim();
    const out = execFileSync(
      helm,
      [
        "template",
        release.name,
        join(root, release.chartPath),
        "--namespace",
        release.namespace,
        ...Object.entries(sets).flatMap(([k, v]) => ["--set", `${k}=${String(v)}`]),
      ],
      { encoding: "utf8" },
    );
    const objects = parseAllDocuments(out)
      .map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string } } | null)
      .filter((o) => o !== null);
    const deployment = objects.find((o) => o.kind === "Deployment") as unknown as {
      spec: { template: { spec: { containers: Array<{ image: string; args: string[] }> } } };
    };
    const container = deployment.spec.template.spec.containers[0];
    expect(container?.image).toBe(`${image}:${tag}`);
    expect(container?.args).toContain(`--bot-image=${sets["bots.image"]}`);
    expect(container?.args).toContain("--leader-elect=false");
    for (const forward of dev?.portForward ?? []) {
      const target = objects.find(
        (o) => o.kind.toLowerCase() === forward.resourceType && o.metadata.name === forward.resourceName,
      ) as { metadata: { namespace?: string }; spec: { ports: Array<{ port: number }> } } | undefined;
      expect(target, `${forward.resourceType}/${forward.resourceName}`).toBeDefined();
      expect(target?.metadata.namespace).toBe(forward.namespace);
      expect(target?.spec.ports.map((p) => p.port)).toContain(forward.port);
    }
    expect(dev?.portForward?.length).toBeGreaterThan(0);
  });
});
