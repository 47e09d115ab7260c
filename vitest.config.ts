import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["bot-runtime/**/*.test.ts", "bots/**/*.test.ts", "operator/**/*.test.ts", "e2e/**/*.test.ts"],
    // The scale test measures the operator's speed: `npm test` runs it alone, after the rest, so other
    // test files do not share the two CPUs with it (PETREL_SCALE_TEST=1).
    exclude: process.env.PETREL_SCALE_TEST ? [] : ["e2e/operator/scale.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    globalSetup: ["./scripts/test-global-setup.ts"],
  },
});
