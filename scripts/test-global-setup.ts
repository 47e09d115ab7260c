// vitest global setup: provisions the tools the test suite needs once, before any worker starts,
// so parallel test files never race to install them.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  if (!process.env.PETREL_NATS_SERVER) {
    process.env.PETREL_NATS_SERVER = execFileSync("bash", [`${root}scripts/ensure-nats-server.sh`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  }
  if (!process.env.PETREL_KUBE_BIN_DIR) {
    // etcd, kube-apiserver and kubectl for operator/test-support/control-plane.ts (one-time build).
    process.env.PETREL_KUBE_BIN_DIR = execFileSync("bash", [`${root}scripts/ensure-kube-control-plane.sh`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  }
  if (!process.env.PETREL_HELM) {
    // helm for the chart tests (e2e/deploy/chart.test.ts; one-time build).
    process.env.PETREL_HELM = execFileSync("bash", [`${root}scripts/ensure-helm.sh`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  }
  if (!process.env.PETREL_FERRETDB) {
    // FerretDB, the MongoDB wire-protocol server of the MongoDB output's tests (one-time build).
    process.env.PETREL_FERRETDB = execFileSync("bash", [`${root}scripts/ensure-ferretdb.sh`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  }
  if (!process.env.PETREL_ORACLE_PYTHON) {
    process.env.PETREL_ORACLE_PYTHON = execFileSync("bash", [`${root}scripts/ensure-intelmq.sh`], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    }).trim();
  }
}
