#!/usr/bin/env node
// Entry point of petrelctl. Petrel runs on Node.js 26 (TypeScript sources run natively); when started
// by an older node, re-run this command on the Node.js 26 the project installs (npm package "node").
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const major = Number(process.versions.node.split(".")[0]);
if (major < 26) {
  const bundled = fileURLToPath(new URL("../../node_modules/node/bin/node", import.meta.url));
  if (!existsSync(bundled)) {
    console.error(
      `petrelctl needs Node.js 26 or newer (this is ${process.version}). Run 'npm ci' in the Petrel checkout, then 'npx petrelctl'.`,
    );
    process.exit(1);
  }
  const result = spawnSync(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}
const { main } = await import("../src/cli/main.ts");
await main(process.argv);
