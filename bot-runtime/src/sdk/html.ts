// HTML read the way IntelMQ reads it: BeautifulSoup with Python's html.parser. That is not a browser's
// tree: start tags simply nest (an unclosed <td> contains the next one), an end tag closes up to the most
// recent open element of its name (or nothing), void elements close at once. Markup is tokenized by
// parse5's HTML5 tokenizer; text and attribute values are decoded from the source as html.parser and
// BeautifulSoup decode them, and elements serialise as BeautifulSoup writes them (str(tag)).
import { type Token, Tokenizer, TokenizerMode } from "parse5";

export interface HtmlElement {
  readonly kind: "element";
  readonly name: string;
  /** Attributes in source order; a repeated name keeps its first place and its last value. */
  readonly attrs: Map<string, string | string[]>;
  readonly children: HtmlNode[];
}

/**
 * A string: `text` is plain text (NavigableString); `comment`, `cdata`, `pi` and `declaration` are what
 * their names say; `script`, `style`, `template`, `rt` and `rp` are text inside such an element, which
 * BeautifulSoup keeps apart from the text of the page.
 */
export interface HtmlString {
  readonly kind:
    | "text"
    | "comment"
    | "cdata"
    | "pi"
    | "declaration"
    | "script"
    | "style"
    | "template"
    | "rt"
    | "rp";
  readonly value: string;
  /** The name of the element it is in (formatting differs inside script and style). */
  readonly parent: string;
}

export type HtmlNode = HtmlElement | HtmlString;

// BeautifulSoup's HTML builder settings.
const VOID = new Set(
  "area base br col embed hr img input keygen link menuitem meta param source track wbr basefont bgsound command frame image isindex nextid spacer".split(
    " ",
  ),
);
const STRING_CONTAINERS = new Set(["rt", "rp", "style", "script", "template"]);
const PRESERVE_WHITESPACE = new Set(["pre", "textarea"]);
const MULTI_VALUED: Readonly<Record<string, ReadonlySet<string>>> = {
  "*": new Set(["class", "accesskey", "dropzone"]),
  a: new Set(["rel", "rev"]),
  link: new Set(["rel", "rev"]),
  td: new Set(["headers"]),
  th: new Set(["headers"]),
  form: new Set(["accept-charset"]),
  object: new Set(["archive"]),
  area: new Set(["rel"]),
  icon: new Set(["sizes"]),
  iframe: new Set(["sandbox"]),
  output: new Set(["for"]),
};
// html.parser reads the content of these as raw text, up to their end tag.
const RAW_TEXT = new Set(["script", "style"]);

const PY_NON_WHITESPACE =
  /[^\t\n\v\f\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;
const ASCII_SPACES = /^[ \n\t\f\r]*$/;

function isMultiValued(element: string, attribute: string): boolean {
  return (
    (MULTI_VALUED["*"] as ReadonlySet<string>).has(attribute) ||
    MULTI_VALUED[element]?.has(attribute) === true
  );
}

// ---- character references ----

const entityCache = new Map<string, string | undefined>();

/** Text as the HTML5 tokenizer decodes it in data state (Python's html.unescape decodes the same way). */
function decodeAsData(text: string): string {
  // "<" would start markup: swap it for a character the tokenizer passes through, and back.
  const guarded = text.replaceAll("<", "\uFFFF");
  let out = "";
  const tokenizer = new Tokenizer(
    {},
    {
      onCharacter: (t: Token.CharacterToken) => {
        out += t.chars;
      },
      onWhitespaceCharacter: (t: Token.CharacterToken) => {
        out += t.chars;
      },
      onNullCharacter: (t: Token.CharacterToken) => {
        out += t.chars;
      },
      onComment: () => {},
      onDoctype: () => {},
      onStartTag: () => {},
      onEndTag: () => {},
      onEof: () => {},
    },
  );
  tokenizer.write(guarded, true);
  return out.replaceAll("\uFFFF", "<");
}

/** The characters an HTML5 entity name (without ";") stands for, or undefined when it is not one. */
function entity(name: string): string | undefined {
  if (entityCache.has(name)) return entityCache.get(name);
  // Decoded whole, "&name;" leaves nothing of the name; a shorter legacy match or none leaves its end.
  const decoded = decodeAsData(`&${name};`);
  const value = decoded.endsWith(`${name.at(-1)};`) ? undefined : decoded;
  entityCache.set(name, value);
  return value;
}

const WINDOWS_1252 = new TextDecoder("windows-1252");

/** BeautifulSoup's numeric reference: below 256 read as Windows-1252, else the code point. */
function numericReference(digits: string, hex: boolean): string {
  const n = Number.parseInt(digits, hex ? 16 : 10);
  if (n < 256) return WINDOWS_1252.decode(Uint8Array.of(n));
  return n <= 0x10ffff ? String.fromCodePoint(n) : "\uFFFD";
}

// html.parser's references in text: a terminating character is required (the end of the document is
// not one), and a ";" after a name is consumed whether or not the name is an entity.
const REFERENCE =
  /&(?:#(?:(?<dec>[0-9]+)|[xX](?<hex>[0-9a-fA-F]+))(?=[^0-9a-fA-F]|(?<end>$))|(?<name>[a-zA-Z][-.a-zA-Z0-9]*)(?=[^a-zA-Z0-9]|(?<nameEnd>$)))(?<semi>;?)/g;

interface ReferenceGroups {
  dec?: string;
  hex?: string;
  end?: string;
  name?: string;
  nameEnd?: string;
  semi: string;
}

/** Text between two tags as html.parser and BeautifulSoup decode it. */
function decodeText(raw: string, endsDocument: boolean): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(REFERENCE, (...args: unknown[]) => {
    const match = args[0] as string;
    const g = args[args.length - 1] as ReferenceGroups;
    // At the very end of the document a reference has no terminating character: it stays text.
    if (endsDocument && g.semi === "" && (g.end !== undefined || g.nameEnd !== undefined)) return match;
    if (g.name !== undefined) return entity(g.name) ?? `&${g.name}`;
    return g.dec !== undefined ? numericReference(g.dec, false) : numericReference(g.hex as string, true);
  });
}

/** An attribute's value from its source text `name[=value]` (quotes removed, html.unescape applied). */
function attributeValue(source: string): string {
  const equals = source.indexOf("=");
  if (equals < 0) return "";
  let value = source.slice(equals).replace(/^=+\s*/, "");
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.endsWith(quote)) value = value.slice(1, -1);
  return value.includes("&") ? decodeAsData(value) : value;
}

// ---- tree building ----

/** Parses a document into BeautifulSoup's html.parser tree; returns the root (its top-level nodes). */
export function parseHtml(source: string): HtmlElement {
  const root: HtmlElement = { kind: "element", name: "[document]", attrs: new Map(), children: [] };
  const stack: HtmlElement[] = [root];
  const closedVoid: string[] = [];
  let text = "";
  let textStart = -1;
  let rawText = false;

  const current = () => stack[stack.length - 1] as HtmlElement;
  const stringKind = (): HtmlString["kind"] => {
    for (let i = stack.length - 1; i > 0; i--) {
      const name = (stack[i] as HtmlElement).name;
      if (STRING_CONTAINERS.has(name)) return name as HtmlString["kind"];
    }
    return "text";
  };
  const addString = (kind: HtmlString["kind"], value: string) => {
    let v = value;
    if (ASCII_SPACES.test(v) && !stack.some((e) => PRESERVE_WHITESPACE.has(e.name)))
      v = v.includes("\n") ? "\n" : " ";
    if (v === "") return;
    current().children.push({ kind, value: v, parent: current().name });
  };
  const flushText = (end: number, endsDocument: boolean) => {
    if (textStart >= 0) {
      const raw = source.slice(textStart, end);
      text += rawText ? raw : decodeText(raw, endsDocument);
      textStart = -1;
    }
    if (text !== "") addString(stringKind(), text);
    text = "";
  };
  const popTo = (name: string) => {
    for (let i = stack.length - 1; i > 0; i--) {
      if ((stack[i] as HtmlElement).name === name) {
        stack.length = i;
        return;
      }
    }
  };
  const endTag = (name: string, checkClosedVoid: boolean) => {
    const closed = checkClosedVoid ? closedVoid.indexOf(name) : -1;
    if (closed >= 0) closedVoid.splice(closed, 1);
    else popTo(name);
  };

  const tokenizer: Tokenizer = new Tokenizer(
    { sourceCodeLocationInfo: true },
    {
      onCharacter(t) {
        if (textStart < 0) textStart = t.location?.startOffset ?? 0;
      },
      onWhitespaceCharacter(t) {
        if (textStart < 0) textStart = t.location?.startOffset ?? 0;
      },
      onNullCharacter(t) {
        if (textStart < 0) textStart = t.location?.startOffset ?? 0;
      },
      onStartTag(t) {
        flushText(t.location?.startOffset ?? 0, false);
        const attrs = new Map<string, string | string[]>();
        for (const attr of t.attrs) {
          const where = t.location?.attrs?.[attr.name];
          const value = where ? attributeValue(source.slice(where.startOffset, where.endOffset)) : attr.value;
          attrs.set(
            attr.name,
            isMultiValued(t.tagName, attr.name) ? (value.match(PY_NON_WHITESPACE) ?? []) : value,
          );
        }
        const element: HtmlElement = { kind: "element", name: t.tagName, attrs, children: [] };
        current().children.push(element);
        stack.push(element);
        if (t.selfClosing) endTag(t.tagName, true);
        else if (VOID.has(t.tagName)) {
          popTo(t.tagName);
          closedVoid.push(t.tagName);
        } else if (RAW_TEXT.has(t.tagName)) {
          tokenizer.state = TokenizerMode.RAWTEXT;
          rawText = true;
        }
      },
      onEndTag(t) {
        flushText(t.location?.startOffset ?? 0, false);
        rawText = false;
        endTag(t.tagName, true);
      },
      onComment(t) {
        flushText(t.location?.startOffset ?? 0, false);
        const start = t.location?.startOffset ?? 0;
        if (source.startsWith("<?", start)) addString("pi", t.data);
        else if (t.data.startsWith("[CDATA[") && t.data.endsWith("]]"))
          addString("cdata", t.data.slice(7, -2));
        else addString("comment", t.data);
      },
      onDoctype(t) {
        flushText(t.location?.startOffset ?? 0, false);
        addString(
          "declaration",
          source.slice((t.location?.startOffset ?? 0) + 2, (t.location?.endOffset ?? 1) - 1),
        );
      },
      onEof() {
        flushText(source.length, true);
      },
    },
  );
  tokenizer.write(source, true);
  return root;
}

// ---- queries ----

/** Every descendant element of this name, in document order (BeautifulSoup's find_all(name)). */
export function findAll(element: HtmlElement, name: string): HtmlElement[] {
  const found: HtmlElement[] = [];
  const visit = (node: HtmlElement) => {
    for (const child of node.children) {
      if (child.kind !== "element") continue;
      if (child.name === name) found.push(child);
      visit(child);
    }
  };
  visit(element);
  return found;
}

/**
 * Whether an attribute of the element equals `value` (BeautifulSoup's attrs={name: value}): a
 * multi-valued attribute (class) matches any one of its values, or all of them joined by spaces.
 */
export function hasAttributeValue(element: HtmlElement, name: string, value: string): boolean {
  const actual = element.attrs.get(name);
  if (actual === undefined) return false;
  if (typeof actual === "string") return actual === value;
  return actual.includes(value) || (actual.length > 1 && actual.join(" ") === value);
}

/** The element's text (BeautifulSoup's .text): its plain text and CDATA, without comments or scripts. */
export function textOf(element: HtmlElement): string {
  let out = "";
  for (const child of element.children) {
    if (child.kind === "element") out += textOf(child);
    else if (child.kind === "text" || child.kind === "cdata") out += child.value;
  }
  return out;
}

const ESCAPE = /[&<>]/g;
const ESCAPES: Readonly<Record<string, string>> = { "&": "&amp;", "<": "&lt;", ">": "&gt;" };
const escapeText = (s: string) => s.replace(ESCAPE, (c) => ESCAPES[c] as string);

function quoteAttribute(value: string): string {
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  return `"${value.replaceAll('"', "&quot;")}"`;
}

/** The element as BeautifulSoup writes it (str(tag), "minimal" formatter: attributes sorted by name). */
export function serializeHtml(node: HtmlNode): string {
  if (node.kind !== "element") {
    switch (node.kind) {
      case "comment":
        return `<!--${node.value}-->`;
      case "cdata":
        return `<![CDATA[${node.value}]]>`;
      case "pi":
        return `<${node.value}>`;
      case "declaration":
        return `<!${node.value}>`;
      default:
        return node.parent === "script" || node.parent === "style" ? node.value : escapeText(node.value);
    }
  }
  const names = [...node.attrs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let out = `<${node.name}`;
  for (const name of names) {
    const value = node.attrs.get(name) as string | string[];
    out += ` ${name}=${quoteAttribute(escapeText(Array.isArray(value) ? value.join(" ") : value))}`;
  }
  if (node.children.length === 0 && VOID.has(node.name)) return `${out}/>`;
  out += ">";
  for (const child of node.children) out += serializeHtml(child);
  return `${out}</${node.name}>`;
}
