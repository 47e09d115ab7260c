// The Public Suffix List (https://publicsuffix.org/list/): which part of a domain name is a public
// suffix ("com", "co.uk", a wildcard's "*.ck" label pair), following the list's published algorithm:
// the longest matching rule wins, an exception rule ("!www.ck") beats every other rule and gives up its
// leftmost label, and a name no rule matches has its last label as public suffix (the implicit "*"
// rule). Like the publicsuffixlist library IntelMQ's domain suffix expert uses, a name equal to the base
// of a wildcard rule ("kobe.jp" for "*.kobe.jp") is itself a public suffix, and every rule is also
// known in punycode, so punycoded and Unicode names both match.
import { IdnaError, idnaEncode, pyLower } from "../event/compat/idna.ts";

export interface PublicSuffixListOptions {
  /** Only the rules between "// ===BEGIN ICANN DOMAINS===" and "// ===END ICANN DOMAINS===". */
  readonly onlyIcann?: boolean;
}

// Flags of a rule's base name: "x" (a plain rule), "*.x" (wildcard), "!x" (exception).
const PLAIN = 1;
const WILDCARD = 2;
const EXCEPTION = 4;

const BEGIN_ICANN = "// ===BEGIN ICANN DOMAINS===";
const END_ICANN = "// ===END ICANN DOMAINS===";
const NON_ASCII = /[^\x00-\x7f]/;

export class PublicSuffixList {
  readonly #rules = new Map<string, number>();
  /** Labels of the longest rule, wildcard and exception marks included. */
  #maxLabels = 1;
  /** The list's "// VERSION:" line, when it has one. */
  readonly version: string | undefined;

  private constructor(text: string, options: PublicSuffixListOptions) {
    let version: string | undefined;
    // Without section markers every rule counts as ICANN's; with onlyIcann, only the marked section.
    let inIcann = !options.onlyIcann;
    for (const rawLine of text.split("\n")) {
      const line = rawLine.trimEnd();
      if (line === BEGIN_ICANN) {
        inIcann = true;
        continue;
      }
      if (line === END_ICANN) {
        inIcann = !options.onlyIcann;
        continue;
      }
      if (version === undefined && line.startsWith("// VERSION:")) version = line.slice(11).trim();
      if (!inIcann) continue;
      // A rule is the line up to its first whitespace; comments start with "//".
      const rule = pyLower(line.split(/\s/, 1)[0] as string);
      if (rule === "" || rule.startsWith("//")) continue;
      this.#add(rule);
    }
    this.version = version;
  }

  /** Parses the text of a public_suffix_list.dat file. */
  static parse(text: string, options: PublicSuffixListOptions = {}): PublicSuffixList {
    return new PublicSuffixList(text, options);
  }

  /** Rules known (each counted once per spelling: Unicode and punycode). */
  get size(): number {
    return this.#rules.size;
  }

  #add(rule: string): void {
    let flag = PLAIN;
    let base = rule;
    if (rule.startsWith("!")) {
      flag = EXCEPTION;
      base = rule.slice(1);
    } else if (rule.startsWith("*.")) {
      flag = WILDCARD;
      base = rule.slice(2);
    }
    if (base === "") return;
    this.#maxLabels = Math.max(this.#maxLabels, rule.split(".").length);
    this.#rules.set(base, (this.#rules.get(base) ?? 0) | flag);
    if (!NON_ASCII.test(base)) return;
    try {
      const encoded = idnaEncode(base);
      this.#rules.set(encoded, (this.#rules.get(encoded) ?? 0) | flag);
    } catch (error) {
      // A rule Python's IDNA codec cannot encode can only ever match in its Unicode spelling.
      if (!(error instanceof IdnaError)) throw error;
    }
  }

  /**
   * The public suffix of `domain` (lowercased), e.g. "co.uk" for "www.example.co.uk"; a name no rule
   * matches gives its last label. Undefined for a name with an empty label (".com", "a..b"); one final
   * dot is ignored.
   */
  publicSuffix(domain: string): string | undefined {
    const prepared = prepare(domain);
    if (prepared === undefined) return undefined;
    const length = this.#suffixLabels(prepared.name, prepared.starts);
    return prepared.name.slice(prepared.starts[prepared.starts.length - length]);
  }

  /** The public suffix plus one label ("example.co.uk"), or undefined when `domain` has no more. */
  registrableDomain(domain: string): string | undefined {
    const prepared = prepare(domain);
    if (prepared === undefined) return undefined;
    const length = this.#suffixLabels(prepared.name, prepared.starts);
    if (length >= prepared.starts.length) return undefined;
    return prepared.name.slice(prepared.starts[prepared.starts.length - length - 1]);
  }

  /** How many labels of the name form its public suffix; `starts` are the labels' start offsets. */
  #suffixLabels(name: string, starts: readonly number[]): number {
    const labels = starts.length;
    if (labels === 1) return 1;
    // From the longest candidate down: the first rule found is the longest that matches.
    for (let depth = Math.min(labels, this.#maxLabels + 1); depth >= 1; depth--) {
      const flags = this.#rules.get(name.slice(starts[labels - depth]));
      if (flags === undefined) continue;
      if (flags & EXCEPTION) return depth - 1;
      // "*.x" matches one label more than x when there is one; x itself is the wildcard's base.
      if (flags & WILDCARD) return depth < labels ? depth + 1 : depth;
      return depth;
    }
    return 1;
  }
}

/** The lowercased name and where each label starts; undefined when a label is empty. */
function prepare(domain: string): { name: string; starts: number[] } | undefined {
  let name = domain.endsWith(".") ? domain.slice(0, -1) : domain;
  name = NON_ASCII.test(name) ? pyLower(name) : name.toLowerCase();
  const starts = [0];
  for (let dot = name.indexOf("."); dot >= 0; dot = name.indexOf(".", dot + 1)) starts.push(dot + 1);
  for (let i = 0; i < starts.length; i++) {
    const end = i + 1 < starts.length ? (starts[i + 1] as number) - 1 : name.length;
    if (end === starts[i]) return undefined;
  }
  return { name, starts };
}
