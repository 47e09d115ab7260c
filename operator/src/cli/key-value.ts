// `NAME=VALUE` options of petrelctl (`run --param`, `run --field`, `feed add --param`).

/** A value given on the command line: JSON when the text is JSON (true, 3, ["a"], {"k": 1}), else the text. */
export function paramValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Commander's collector for repeated NAME=VALUE options: an object, later names win. */
export function collectKeyValue(
  value: string,
  previous: Record<string, unknown> = {},
): Record<string, unknown> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new Error(`expected NAME=VALUE, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq)]: paramValue(value.slice(eq + 1)) };
}
