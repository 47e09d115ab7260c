// For preloads of test bot processes (node --import): resolves the real bot catalogue (bots/index.ts) to
// a test catalogue, so the runtime finds test modules exactly as it finds real ones.
import { registerHooks } from "node:module";

const REAL_INDEX = new URL("../../bots/index.ts", import.meta.url).href;

/** Makes every import of bots/index.ts load `testIndex` (a URL) instead, except from testIndex itself. */
export function replaceCatalogue(testIndex: string): void {
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const resolved = nextResolve(specifier, context);
      if (resolved.url === REAL_INDEX && context.parentURL !== testIndex)
        return { ...resolved, url: testIndex };
      return resolved;
    },
  });
}
