import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["bot-runtime/**/*.test.ts", "bots/**/*.test.ts", "operator/**/*.test.ts", "e2e/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 600_000,
    globalSetup: ["./scripts/test-global-setup.ts"],
  },
});
