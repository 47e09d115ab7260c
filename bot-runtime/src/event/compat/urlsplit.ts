// Python 3.11.7 urllib.parse.urlsplit / urlunsplit for str arguments (no default scheme, fragments
// allowed), plus the hostname and port properties of the result. IntelMQ's FQDN and URL types
// decide validity from the split, so every quirk matters: only leading C0 controls and spaces are
// stripped, tab/CR/LF vanish anywhere, there is no "scheme:digits is a port" rule any more (3.11),
// and a few netlocs make Python raise ValueError, which is UrlSplitError here.
import { pyLower } from "./idna.ts";
import { canonicalIp } from "./ipaddress.ts";

export interface SplitResult {
  scheme: string;
  netloc: string;
  path: string;
  query: string;
  fragment: string;
}

/** Python raises ValueError for these. */
export class UrlSplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UrlSplitError";
  }
}

// Schemes for which urlunsplit writes "//" even without a netloc (urllib.parse.uses_netloc).
const USES_NETLOC = new Set([
  "ftp",
  "http",
  "gopher",
  "nntp",
  "telnet",
  "imap",
  "wais",
  "file",
  "mms",
  "https",
  "shttp",
  "snews",
  "prospero",
  "rtsp",
  "rtsps",
  "rtspu",
  "rsync",
  "svn",
  "svn+ssh",
  "sftp",
  "nfs",
  "git",
  "git+ssh",
  "ws",
  "wss",
]);

const UNSAFE = /[\t\r\n]/;
const UNSAFE_ALL = /[\t\r\n]/g;
const ASCII_ONLY = /^[\x00-\x7f]*$/;
// Python's `.` matches anything but "\n", which urlsplit has already removed.
const IPV_FUTURE = /^v[a-fA-F0-9]+\.[^\n]+$/;

function isSchemeChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e
  );
}

// urllib.parse._check_bracketed_host: IPvFuture, or an IPv6 address; never IPv4.
function checkBracketedHost(host: string): void {
  if (host.startsWith("v")) {
    if (!IPV_FUTURE.test(host)) throw new UrlSplitError("IPvFuture address is invalid");
  } else {
    const ip = canonicalIp(host);
    if (ip === undefined) throw new UrlSplitError(`'${host}' does not appear to be an IPv4 or IPv6 address`);
    // Only IPv6 addresses print with a colon.
    if (!ip.includes(":")) throw new UrlSplitError("An IPv4 address cannot be in brackets");
  }
}

// urllib.parse._checknetloc: reject netlocs whose NFKC form gains a URL delimiter (e.g. U+2100 → a/c).
function checkNetloc(netloc: string): void {
  if (netloc === "" || ASCII_ONLY.test(netloc)) return;
  const stripped = netloc.replace(/[@:#?]/g, "");
  const normalized = stripped.normalize("NFKC");
  if (stripped !== normalized && /[/?#@:]/.test(normalized)) {
    throw new UrlSplitError(`netloc '${netloc}' contains invalid characters under NFKC normalization`);
  }
}

/** Python 3.11.7 `urllib.parse.urlsplit(input)`; throws UrlSplitError where Python raises ValueError. */
export function urlsplit(input: string): SplitResult {
  let start = 0;
  while (start < input.length && input.charCodeAt(start) <= 0x20) start++;
  let url = start === 0 ? input : input.slice(start);
  if (UNSAFE.test(url)) url = url.replace(UNSAFE_ALL, "");

  let scheme = "";
  let netloc = "";
  let query = "";
  let fragment = "";
  const colon = url.indexOf(":");
  if (colon > 0) {
    const c0 = url.charCodeAt(0);
    if ((c0 >= 0x61 && c0 <= 0x7a) || (c0 >= 0x41 && c0 <= 0x5a)) {
      let i = 1;
      while (i < colon && isSchemeChar(url.charCodeAt(i))) i++;
      if (i === colon) {
        scheme = url.slice(0, colon).toLowerCase();
        url = url.slice(colon + 1);
      }
    }
  }
  if (url.charCodeAt(0) === 0x2f && url.charCodeAt(1) === 0x2f) {
    let end = url.length;
    for (let i = 2; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 0x2f || c === 0x3f || c === 0x23) {
        end = i;
        break;
      }
    }
    netloc = url.slice(2, end);
    url = url.slice(end);
    const open = netloc.indexOf("[");
    const hasClose = netloc.includes("]");
    if (open >= 0 !== hasClose) throw new UrlSplitError("Invalid IPv6 URL");
    if (open >= 0) {
      const after = netloc.slice(open + 1);
      const close = after.indexOf("]");
      checkBracketedHost(close >= 0 ? after.slice(0, close) : after);
    }
  }
  const hash = url.indexOf("#");
  if (hash >= 0) {
    fragment = url.slice(hash + 1);
    url = url.slice(0, hash);
  }
  const question = url.indexOf("?");
  if (question >= 0) {
    query = url.slice(question + 1);
    url = url.slice(0, question);
  }
  checkNetloc(netloc);
  return { scheme, netloc, path: url, query, fragment };
}

/** Python 3.11.7 `urllib.parse.urlunsplit(parts)` for str components. */
export function urlunsplit(parts: SplitResult): string {
  const { scheme, netloc, query, fragment } = parts;
  let url = parts.path;
  if (netloc !== "" || (scheme !== "" && USES_NETLOC.has(scheme) && !url.startsWith("//"))) {
    if (url !== "" && url[0] !== "/") url = "/" + url;
    url = "//" + netloc + url;
  }
  if (scheme !== "") url = scheme + ":" + url;
  if (query !== "") url += "?" + query;
  if (fragment !== "") url += "#" + fragment;
  return url;
}

// The host[:port] part of a netloc and where a bracketed host ends, as SplitResult._hostinfo sees it.
function hostinfo(netloc: string): { hostname: string; port: string } {
  const info = netloc.slice(netloc.lastIndexOf("@") + 1);
  const open = info.indexOf("[");
  if (open >= 0) {
    const bracketed = info.slice(open + 1);
    const close = bracketed.indexOf("]");
    if (close < 0) return { hostname: bracketed, port: "" };
    const rest = bracketed.slice(close + 1);
    const colon = rest.indexOf(":");
    return { hostname: bracketed.slice(0, close), port: colon < 0 ? "" : rest.slice(colon + 1) };
  }
  const colon = info.indexOf(":");
  return colon < 0
    ? { hostname: info, port: "" }
    : { hostname: info.slice(0, colon), port: info.slice(colon + 1) };
}

/** `urlsplit(...).hostname` for the given netloc: lowercased host (zone id kept), or undefined. */
export function urlHostname(netloc: string): string | undefined {
  const { hostname } = hostinfo(netloc);
  if (hostname === "") return undefined;
  const pct = hostname.indexOf("%");
  return pct < 0 ? pyLower(hostname) : pyLower(hostname.slice(0, pct)) + hostname.slice(pct);
}

/** `urlsplit(...).port` for the given netloc; throws UrlSplitError where Python raises ValueError. */
export function urlPort(netloc: string): number | undefined {
  const { port } = hostinfo(netloc);
  if (port === "") return undefined;
  if (!/^[0-9]+$/.test(port)) {
    throw new UrlSplitError(`Port could not be cast to integer value as '${port}'`);
  }
  const n = Number(port);
  if (n > 65535) throw new UrlSplitError("Port out of range 0-65535");
  return n;
}

// Schemes whose last path segment may carry ";params" that urlparse splits off (urllib's uses_params).
const USES_PARAMS = new Set([
  "",
  "ftp",
  "hdl",
  "prospero",
  "http",
  "imap",
  "https",
  "shttp",
  "rtsp",
  "rtsps",
  "rtspu",
  "sip",
  "sips",
  "mms",
  "sftp",
  "tel",
]);

/** urlparse's path: urlsplit's path without the ";params" of its last segment (for such schemes). */
export function urlparsePath(scheme: string, path: string): string {
  if (!USES_PARAMS.has(scheme) || !path.includes(";")) return path;
  const slash = path.lastIndexOf("/");
  const semicolon = slash >= 0 ? path.indexOf(";", slash) : path.indexOf(";");
  return semicolon < 0 ? path : path.slice(0, semicolon);
}
