// Node options that load the test bots (test-bots.ts) into bot processes and petrelctl children.
export const TEST_BOT_NODE_ARGS = ["--import", new URL("./register-test-bots.ts", import.meta.url).href];
