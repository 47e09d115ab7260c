// Whether a computed status equals the one stored, so unchanged status is never written again.
import { isDeepStrictEqual } from "node:util";

function plain(value: unknown): unknown {
  return value === undefined ? {} : JSON.parse(JSON.stringify(value));
}

export function sameStatus(stored: unknown, computed: unknown): boolean {
  return isDeepStrictEqual(plain(stored), plain(computed));
}
