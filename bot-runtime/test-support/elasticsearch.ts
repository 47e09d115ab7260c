// A local Elasticsearch for tests (node:http), following Elasticsearch's documented REST API closely
// enough for an output client: the product header, GET / (cluster info), index existence, creation and
// name rules, index templates (existence), _bulk (NDJSON, index/create/delete, per-item results with
// 409 version conflicts and mapping errors, automatic index creation), GET _doc, _search, _count and
// _refresh. Dynamic mapping is modelled as far as failures go: dotted field names expand into objects,
// and an object where a value was mapped (or the reverse), or a non-numeric string in a numeric field,
// rejects the document as Elasticsearch does. Media types are checked as Elasticsearch 8/9 check them
// (REST API compatibility: compatible-with=<major> or <major - 1>). Basic and ApiKey authentication are
// optional. Failures can be injected per item (429) or per request (503).
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface TestElasticsearchOptions {
  /** Major version it claims (default 9); it accepts compatible-with=<major> and <major - 1>. */
  major?: number;
  /** Require HTTP basic authentication with this user. */
  basicAuth?: { username: string; password: string };
  /** Accept `Authorization: ApiKey <base64(id:key)>` with this id and key. */
  apiKey?: { id: string; key: string };
  /** action.auto_create_index (default true). */
  autoCreateIndex?: boolean;
}

export interface StoredDocument {
  _id: string;
  _version: number;
  _seq_no: number;
  _source: Record<string, unknown>;
}

export interface TestElasticsearch {
  readonly url: string;
  readonly port: number;
  /** Requests received: method, path (with query) and headers. */
  readonly requests: Array<{ method: string; path: string; headers: IncomingMessage["headers"] }>;
  /** The documents of an index in the order they were first stored. */
  documents(index: string): StoredDocument[];
  indices(): string[];
  /** The dynamic mapping of an index: field path → type (object, long, float, boolean, date, text). */
  mapping(index: string): Record<string, string>;
  /** Creates a composable index template (PUT _index_template/<name>) as a setup step. */
  addIndexTemplate(name: string): void;
  /** The next `count` bulk items are rejected with 429 es_rejected_execution_exception. */
  rejectItems(count: number): void;
  /** The next `count` requests fail with 503 (before anything is stored). */
  failRequests(count: number): void;
  close(): Promise<void>;
}

type FieldType = "object" | "long" | "float" | "boolean" | "date" | "text";
interface IndexState {
  uuid: string;
  docs: Map<string, StoredDocument>;
  mapping: Map<string, FieldType>;
  seqNo: number;
}

const INVALID_INDEX_CHARS = /[\\/*?"<>| ,#:A-Z]/;
const DATE_DETECTION = /^\d{4}[-/]\d\d[-/]\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/;

class EsError extends Error {
  readonly status: number;
  readonly type: string;
  readonly extra: Record<string, unknown>;
  constructor(status: number, type: string, reason: string, extra: Record<string, unknown> = {}) {
    super(reason);
    this.status = status;
    this.type = type;
    this.extra = extra;
  }
  body(): Record<string, unknown> {
    const cause = { type: this.type, reason: this.message, ...this.extra };
    return { error: { root_cause: [cause], ...cause }, status: this.status };
  }
  item(): Record<string, unknown> {
    return { type: this.type, reason: this.message, ...this.extra };
  }
}

function validateIndexName(name: string): void {
  const bad = (why: string) =>
    new EsError(400, "invalid_index_name_exception", `Invalid index name [${name}], ${why}`, {
      index: name,
      index_uuid: "_na_",
    });
  if (name === "" || name === "." || name === "..") throw bad("must not be '.' or '..'");
  if (/^[-_+]/.test(name)) throw bad("must not start with '_', '-', or '+'");
  if (INVALID_INDEX_CHARS.test(name)) {
    throw bad(
      name !== name.toLowerCase()
        ? "must be lowercase"
        : 'must not contain the following characters [\\, /, *, ?, ", <, >, |,  , ,, #, :]',
    );
  }
  if (Buffer.byteLength(name) > 255) throw bad("index name is too long");
}

/** Media types Elasticsearch accepts: plain JSON/NDJSON, or its vendor type with a compatible version. */
function checkMediaTypes(req: IncomingMessage, major: number): void {
  const versions: number[] = [];
  for (const header of ["accept", "content-type"] as const) {
    const value = req.headers[header];
    if (typeof value !== "string") continue;
    for (const part of value.split(",")) {
      const vendor = /application\/vnd\.elasticsearch\+(json|x-ndjson)\s*;\s*compatible-with=(\d+)/i.exec(
        part,
      );
      if (vendor) versions.push(Number(vendor[2]));
    }
  }
  for (const version of versions) {
    if (version !== major && version !== major - 1) {
      throw new EsError(
        400,
        "media_type_header_exception",
        `Invalid media-type value on headers [Accept, Content-Type]: compatible-with=${version} is not supported by version ${major}`,
      );
    }
  }
}

/** A number written with a fraction or exponent (90.0, 1e3): Elasticsearch maps it as float, not long. */
class FloatValue {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

type Reviver = (key: string, value: unknown, context: { source?: string }) => unknown;

/** The document parsed for mapping: numbers that were written as floats become FloatValues. */
function floatsMarked(text: string): Record<string, unknown> {
  const reviver: Reviver = (_key, value, context) =>
    typeof value === "number" && /[.eE]/.test(context.source ?? "") ? new FloatValue(value) : value;
  return JSON.parse(text, reviver as never) as Record<string, unknown>;
}

export async function startElasticsearch(options: TestElasticsearchOptions = {}): Promise<TestElasticsearch> {
  const major = options.major ?? 9;
  const indices = new Map<string, IndexState>();
  const templates = new Set<string>();
  const requests: TestElasticsearch["requests"] = [];
  let rejectItems = 0;
  let failRequests = 0;

  const createIndex = (name: string): IndexState => {
    validateIndexName(name);
    const state: IndexState = {
      uuid: randomBytes(16).toString("base64url").slice(0, 22),
      docs: new Map(),
      mapping: new Map(),
      seqNo: 0,
    };
    indices.set(name, state);
    return state;
  };

  /** Dynamic mapping of one document: new fields are added; a conflicting value rejects the document. */
  const mapDocument = (state: IndexState, source: Record<string, unknown>) => {
    const added = new Map<string, FieldType>();
    const typeOf = (path: string) => added.get(path) ?? state.mapping.get(path);
    const visit = (prefix: string, value: unknown): void => {
      if (value === null) return;
      if (Array.isArray(value)) {
        for (const element of value) visit(prefix, element);
        return;
      }
      const mapped = typeOf(prefix);
      const float = value instanceof FloatValue;
      if (value instanceof FloatValue) value = value.value;
      if (typeof value === "object") {
        if (mapped !== undefined && mapped !== "object") {
          throw new EsError(
            400,
            "document_parsing_exception",
            `[1:1] failed to parse field [${prefix}] of type [${mapped}]: tried to parse field [${prefix}] as ${mapped}, but found an object`,
          );
        }
        if (mapped === undefined && prefix !== "") added.set(prefix, "object");
        for (const [key, child] of Object.entries(value as object)) {
          // A dotted field name stands for nested objects.
          const parts = key.split(".");
          let path = prefix;
          for (let i = 0; i < parts.length - 1; i++) {
            path = path ? `${path}.${parts[i]}` : (parts[i] as string);
            const t = typeOf(path);
            if (t !== undefined && t !== "object") {
              throw new EsError(
                400,
                "document_parsing_exception",
                `[1:1] object mapping for [${path}] tried to parse field [${path}] as object, but found a concrete value`,
              );
            }
            if (t === undefined) added.set(path, "object");
          }
          visit(path ? `${path}.${parts[parts.length - 1]}` : (parts[parts.length - 1] as string), child);
        }
        return;
      }
      if (mapped === "object") {
        throw new EsError(
          400,
          "document_parsing_exception",
          `[1:1] object mapping for [${prefix}] tried to parse field [${prefix}] as object, but found a concrete value`,
        );
      }
      if (
        (mapped === "long" || mapped === "float") &&
        typeof value === "string" &&
        !Number.isFinite(Number(value))
      ) {
        throw new EsError(
          400,
          "document_parsing_exception",
          `[1:1] failed to parse field [${prefix}] of type [${mapped}] in document. Preview of field's value: '${value}'`,
        );
      }
      if (mapped === "date" && typeof value === "string" && !DATE_DETECTION.test(value)) {
        throw new EsError(
          400,
          "document_parsing_exception",
          `[1:1] failed to parse field [${prefix}] of type [date] in document. Preview of field's value: '${value}'`,
        );
      }
      if (
        mapped === "boolean" &&
        value !== true &&
        value !== false &&
        value !== "true" &&
        value !== "false" &&
        value !== ""
      ) {
        throw new EsError(
          400,
          "document_parsing_exception",
          `[1:1] failed to parse field [${prefix}] of type [boolean] in document. Preview of field's value: '${String(value)}'`,
        );
      }
      if (mapped === undefined) {
        const type: FieldType =
          typeof value === "boolean"
            ? "boolean"
            : typeof value === "number"
              ? float
                ? "float"
                : "long"
              : DATE_DETECTION.test(String(value))
                ? "date"
                : "text";
        added.set(prefix, type);
      }
    };
    visit("", source);
    for (const [path, type] of added) state.mapping.set(path, type);
  };

  const bulk = (defaultIndex: string | undefined, body: string): Record<string, unknown> => {
    if (body.length > 0 && !body.endsWith("\n")) {
      throw new EsError(
        400,
        "illegal_argument_exception",
        "The bulk request must be terminated by a newline [\\n]",
      );
    }
    const lines = body.split("\n");
    lines.pop();
    const items: Array<Record<string, unknown>> = [];
    let errors = false;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line.trim() === "") continue;
      let action: Record<string, Record<string, unknown>>;
      try {
        action = JSON.parse(line);
      } catch {
        throw new EsError(
          400,
          "x_content_parse_exception",
          `[1:1] Malformed action/metadata line [${i + 1}]`,
        );
      }
      const op = Object.keys(action)[0] as string;
      if (!["index", "create", "delete", "update"].includes(op) || Object.keys(action).length !== 1) {
        throw new EsError(
          400,
          "illegal_argument_exception",
          `Malformed action/metadata line [${i + 1}], expected one of [create, delete, index, update] but found [${op}]`,
        );
      }
      const meta = action[op] as Record<string, unknown>;
      let source: unknown;
      let sourceLine: string | undefined;
      if (op !== "delete") {
        sourceLine = lines[++i];
        if (sourceLine === undefined)
          throw new EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: no requests added;",
          );
        try {
          source = JSON.parse(sourceLine);
        } catch (error) {
          source = error;
        }
      }
      const index = String(meta._index ?? defaultIndex ?? "");
      const id = meta._id === undefined ? undefined : String(meta._id);
      const result: Record<string, unknown> = { _index: index, ...(id !== undefined ? { _id: id } : {}) };
      try {
        if (rejectItems > 0) {
          rejectItems--;
          throw new EsError(
            429,
            "es_rejected_execution_exception",
            "rejected execution of coordinating operation [shard_detail=[" +
              index +
              "][0]], primary_operation_bytes=0, max_coordinating_and_primary_bytes=0]",
          );
        }
        if (op === "update")
          throw new EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: update is not supported by this test server",
          );
        let state = indices.get(index);
        if (!state) {
          validateIndexName(index);
          if (op === "delete" || options.autoCreateIndex === false) {
            throw new EsError(404, "index_not_found_exception", `no such index [${index}]`, {
              "resource.type": "index_expression",
              "resource.id": index,
              index_uuid: "_na_",
              index,
            });
          }
          state = createIndex(index);
        }
        if (op === "delete") {
          const existing = id === undefined ? undefined : state.docs.get(id);
          if (existing && id !== undefined) state.docs.delete(id);
          Object.assign(result, {
            _version: (existing?._version ?? 0) + 1,
            result: existing ? "deleted" : "not_found",
            status: existing ? 200 : 404,
          });
        } else {
          if (
            source instanceof Error ||
            source === null ||
            typeof source !== "object" ||
            Array.isArray(source)
          ) {
            throw new EsError(
              400,
              "document_parsing_exception",
              "[1:1] failed to parse: source is not a JSON object",
            );
          }
          const docId = id ?? randomBytes(15).toString("base64url");
          result._id = docId;
          const existing = state.docs.get(docId);
          if (existing && op === "create") {
            throw new EsError(
              409,
              "version_conflict_engine_exception",
              `[${docId}]: version conflict, document already exists (current version [${existing._version}])`,
              { index_uuid: state.uuid, shard: "0", index },
            );
          }
          mapDocument(state, floatsMarked(sourceLine as string));
          const doc: StoredDocument = {
            _id: docId,
            _version: (existing?._version ?? 0) + 1,
            _seq_no: state.seqNo++,
            _source: source as Record<string, unknown>,
          };
          state.docs.set(docId, doc);
          Object.assign(result, {
            _version: doc._version,
            result: existing ? "updated" : "created",
            _shards: { total: 1, successful: 1, failed: 0 },
            _seq_no: doc._seq_no,
            _primary_term: 1,
            status: existing ? 200 : 201,
          });
        }
      } catch (error) {
        if (!(error instanceof EsError)) throw error;
        errors = true;
        Object.assign(result, { status: error.status, error: error.item() });
      }
      items.push({ [op]: result });
    }
    if (items.length === 0)
      throw new EsError(
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: no requests added;",
      );
    return { errors, took: 1, items };
  };

  const matchIndices = (expression: string): string[] => {
    const names = new Set<string>();
    for (const part of expression.split(",")) {
      if (part === "_all" || part === "*") for (const n of indices.keys()) names.add(n);
      else if (part.includes("*")) {
        const re = new RegExp(
          `^${part
            .split("*")
            .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
            .join(".*")}$`,
        );
        for (const n of indices.keys()) if (re.test(n)) names.add(n);
      } else if (indices.has(part)) names.add(part);
      else throw new EsError(404, "index_not_found_exception", `no such index [${part}]`, { index: part });
    }
    return [...names];
  };

  const authenticated = (req: IncomingMessage): boolean => {
    if (!options.basicAuth && !options.apiKey) return true;
    const header = req.headers.authorization ?? "";
    if (options.basicAuth && header.startsWith("Basic ")) {
      const { username, password } = options.basicAuth;
      return Buffer.from(header.slice(6), "base64").toString() === `${username}:${password}`;
    }
    if (options.apiKey && header.startsWith("ApiKey ")) {
      const { id, key } = options.apiKey;
      return header.slice(7) === Buffer.from(`${id}:${key}`).toString("base64");
    }
    return false;
  };

  const handle = (req: IncomingMessage, body: Buffer): { status: number; body?: unknown } => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const parts = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? "GET";
    if (failRequests > 0) {
      failRequests--;
      throw new EsError(503, "unavailable_shards_exception", "[intelmq][0] primary shard is not active");
    }
    checkMediaTypes(req, major);
    if (!authenticated(req)) {
      throw new EsError(
        401,
        "security_exception",
        `missing authentication credentials for REST request [${url.pathname}]`,
        {
          header: { "WWW-Authenticate": 'Basic realm="security" charset="UTF-8"' },
        },
      );
    }
    const text = (req.headers["content-encoding"] === "gzip" ? gunzipSync(body) : body).toString("utf8");
    const json = () => (text === "" ? {} : (JSON.parse(text) as Record<string, unknown>));
    if (parts.length === 0 && (method === "GET" || method === "HEAD")) {
      return {
        status: 200,
        body: {
          name: "petrel-test-node",
          cluster_name: "petrel-test",
          cluster_uuid: "petrel-test-cluster-uuid",
          version: {
            number: `${major}.1.0`,
            build_flavor: "default",
            build_type: "tar",
            lucene_version: "10.2.2",
            minimum_wire_compatibility_version: `${major - 1}.19.0`,
            minimum_index_compatibility_version: `${major - 1}.0.0`,
          },
          tagline: "You Know, for Search",
        },
      };
    }
    if (parts[0] === "_bulk" && parts.length === 1 && (method === "POST" || method === "PUT"))
      return { status: 200, body: bulk(undefined, text) };
    if (parts[1] === "_bulk" && parts.length === 2 && (method === "POST" || method === "PUT")) {
      validateIndexName(parts[0] as string);
      return { status: 200, body: bulk(parts[0], text) };
    }
    if ((parts[0] === "_index_template" || parts[0] === "_template") && parts.length === 2) {
      const name = `${parts[0]}/${parts[1]}`;
      if (method === "HEAD" || method === "GET")
        return { status: templates.has(name) ? 200 : 404, body: method === "GET" ? {} : undefined };
      if (method === "PUT") {
        templates.add(name);
        return { status: 200, body: { acknowledged: true } };
      }
    }
    const index = parts[0] as string;
    if (parts.length === 1 && !index.startsWith("_")) {
      if (method === "HEAD") return { status: matchIndicesOrEmpty(index).length > 0 ? 200 : 404 };
      if (method === "PUT") {
        if (indices.has(index)) {
          throw new EsError(
            400,
            "resource_already_exists_exception",
            `index [${index}/${indices.get(index)?.uuid}] already exists`,
            { index_uuid: indices.get(index)?.uuid, index },
          );
        }
        json();
        createIndex(index);
        return { status: 200, body: { acknowledged: true, shards_acknowledged: true, index } };
      }
    }
    if (parts[1] === "_doc" && parts.length === 3 && method === "GET") {
      const state = indices.get(index);
      if (!state) throw new EsError(404, "index_not_found_exception", `no such index [${index}]`, { index });
      const doc = state.docs.get(parts[2] as string);
      if (!doc) return { status: 404, body: { _index: index, _id: parts[2], found: false } };
      return {
        status: 200,
        body: {
          _index: index,
          _id: doc._id,
          _version: doc._version,
          _seq_no: doc._seq_no,
          _primary_term: 1,
          found: true,
          _source: doc._source,
        },
      };
    }
    if (parts[parts.length - 1] === "_refresh")
      return { status: 200, body: { _shards: { total: 1, successful: 1, failed: 0 } } };
    if ((parts[1] === "_search" || parts[0] === "_search") && (method === "GET" || method === "POST")) {
      const names = parts[0] === "_search" ? [...indices.keys()] : matchIndices(index);
      const size = Number(url.searchParams.get("size") ?? (json().size as number | undefined) ?? 10);
      const hits = names.flatMap((name) =>
        [...(indices.get(name)?.docs.values() ?? [])].map((d) => ({
          _index: name,
          _id: d._id,
          _score: 1,
          _source: d._source,
        })),
      );
      return {
        status: 200,
        body: {
          took: 1,
          timed_out: false,
          _shards: { total: names.length, successful: names.length, skipped: 0, failed: 0 },
          hits: {
            total: { value: hits.length, relation: "eq" },
            max_score: hits.length ? 1 : null,
            hits: hits.slice(0, size),
          },
        },
      };
    }
    if (parts[1] === "_count" && (method === "GET" || method === "POST")) {
      const count = matchIndices(index).reduce((n, name) => n + (indices.get(name)?.docs.size ?? 0), 0);
      return { status: 200, body: { count, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } } };
    }
    throw new EsError(
      405,
      "method_not_allowed",
      `Incorrect HTTP method for uri [${req.url}] and method [${method}]`,
    );
  };

  const matchIndicesOrEmpty = (expression: string): string[] => {
    try {
      return matchIndices(expression);
    } catch {
      return [];
    }
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests.push({ method: req.method ?? "GET", path: req.url ?? "/", headers: req.headers });
      let status: number;
      let payload: unknown;
      const headers: Record<string, string> = { "x-elastic-product": "Elasticsearch" };
      try {
        ({ status, body: payload } = handle(req, Buffer.concat(chunks)));
      } catch (error) {
        const e = error instanceof EsError ? error : new EsError(500, "exception", (error as Error).message);
        status = e.status;
        payload = e.body();
        if (status === 401) headers["www-authenticate"] = 'Basic realm="security" charset="UTF-8"';
      }
      if (payload === undefined || req.method === "HEAD") {
        res.writeHead(status, { ...headers, "content-length": "0" });
        res.end();
        return;
      }
      const text = JSON.stringify(payload);
      // Elasticsearch answers in the media type asked for (its vendor type with the same version).
      const accept = String(req.headers.accept ?? "");
      const vendor = /compatible-with=(\d+)/.exec(accept);
      headers["content-type"] = vendor
        ? `application/vnd.elasticsearch+json;compatible-with=${vendor[1]}`
        : "application/json";
      res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(text)) });
      res.end(text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    documents: (index) =>
      [...(indices.get(index)?.docs.values() ?? [])].sort((a, b) => a._seq_no - b._seq_no),
    indices: () => [...indices.keys()].sort(),
    mapping: (index) => Object.fromEntries(indices.get(index)?.mapping ?? []),
    addIndexTemplate: (name) => templates.add(`_index_template/${name}`),
    rejectItems(count) {
      rejectItems = count;
    },
    failRequests(count) {
      failRequests = count;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
