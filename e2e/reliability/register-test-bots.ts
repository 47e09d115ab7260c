// Preload for the tests' bot processes (node --import): resolves bots/index.ts to test-catalogue.ts, so
// the runtime finds the test modules exactly as it finds real ones.
import { registerHooks } from "node:module";

const REAL_INDEX = new URL("../../bots/index.ts", import.meta.url).href;
const TEST_INDEX = new URL("./test-catalogue.ts", import.meta.url).href;

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url === REAL_INDEX && context.parentURL !== TEST_INDEX)
      return { ...resolved, url: TEST_INDEX };
    return resolved;
  },
});
