// Preload for test bot processes (node --import): bots/index.ts resolves to ./test-catalogue.ts.
import { replaceCatalogue } from "../../../../bot-runtime/test-support/replace-catalogue.ts";

replaceCatalogue(new URL("./test-catalogue.ts", import.meta.url).href);
