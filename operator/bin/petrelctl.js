#!/usr/bin/env node
// Entry point of petrelctl. Petrel runs on Node.js 26 (TypeScript sources run natively); when started
// by an older node, re-run this command on the Node.js 26 the project installs (npm package "node").
import { spawn } from "node:child_process";
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
  // The real petrelctl runs in a child; signals go to it and this wrapper waits for it to finish
  // (a Ctrl-C must let it stop its bots cleanly rather than orphan them).
  const child = spawn(bundled, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  // Ctrl-C reaches the child directly (same process group); other signals are passed on.
  process.on("SIGINT", () => {});
  for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
  const code = await new Promise((resolve) => child.on("exit", (c, sig) => resolve(c ?? (sig ? 128 : 1))));
  process.exit(code);
}
const { main } = await import("../src/cli/main.ts");
await main(process.argv);
