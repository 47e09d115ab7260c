// The GitHub contents API collector against a local server that speaks the documented contents API
// (GET /repos/{owner}/{repo}/contents[/{path}], entries with type, url and download_url): the same
// reports as IntelMQ's collector (library mode, pointed at the same server), the token sent as GitHub
// wants it, API errors reported.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runOracle } from "../../bot-runtime/test-support/python-oracle.ts";
import github from "./github-api.ts";
import { collectOnce, createCollector, httpServer, json, type TestServer } from "./test-support/harness.ts";

const ORACLE = `
import json, os, sys
from intelmq.lib.bot import BotLibSettings
from intelmq.bots.collectors.github_api.collector_github_contents_api import GithubContentsAPICollectorBot
for line in sys.stdin:
    case = json.loads(line)
    bot = GithubContentsAPICollectorBot("oracle-github", settings=BotLibSettings | {"logging_level": "CRITICAL", **case["params"]})
    bot._GithubContentsAPICollectorBot__base_api_url = case["base"]
    try:
        bot.process()
        out = bot._Bot__destination_pipeline.state.get("output", [])
        print(json.dumps({"reports": [json.loads(m) if isinstance(m, str) else dict(m) for m in out]}))
    except Exception as e:
        print(json.dumps({"error": type(e).__name__}))
sys.stdout.flush()
os._exit(0)
`;

// The repository: path -> content (directories implied).
const REPO: Record<string, string> = {
  "README.md": "# feeds\n",
  "2024/01/iocs.json": '[{"ioc": "192.0.2.1"}]\n',
  "2024/01/notes.txt": "not collected\n",
  "2024/02/iocs.json": '[{"ioc": "198.51.100.7"}]\n',
  "latest.json": "[]\n",
};

let server: TestServer;
const seenAuthorization: Array<string | undefined> = [];

function entries(base: string, dir: string) {
  const prefix = dir ? `${dir}/` : "";
  const names = new Map<string, "file" | "dir">();
  for (const path of Object.keys(REPO)) {
    if (!path.startsWith(prefix)) continue;
    const rest = path.slice(prefix.length);
    const slash = rest.indexOf("/");
    names.set(slash < 0 ? rest : rest.slice(0, slash), slash < 0 ? "file" : "dir");
  }
  return [...names].sort().map(([name, type]) => {
    const path = `${prefix}${name}`;
    return {
      name,
      path,
      sha: `sha-of-${path}`,
      size: type === "file" ? Buffer.byteLength(REPO[path] as string) : 0,
      url: `${base}/repos/cert/feeds/contents/${path}?ref=main`,
      html_url: `https://github.com/cert/feeds/blob/main/${path}`,
      git_url: `${base}/repos/cert/feeds/git/blobs/sha-of-${path}`,
      download_url: type === "file" ? `${base}/raw/cert/feeds/main/${path}` : null,
      type,
      _links: { self: `${base}/repos/cert/feeds/contents/${path}?ref=main` },
    };
  });
}

beforeAll(async () => {
  server = await httpServer((req, res) => {
    const url = new URL(req.url ?? "/", server.url);
    const contents = /^\/repos\/cert\/feeds\/contents\/?(.*)$/.exec(url.pathname);
    if (contents) {
      seenAuthorization.push(req.headers.authorization);
      if (req.headers.authorization === "token expired") {
        json(res, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" }, 401);
        return;
      }
      json(res, entries(server.url, decodeURIComponent(contents[1] as string)));
      return;
    }
    const raw = /^\/raw\/cert\/feeds\/main\/(.*)$/.exec(url.pathname);
    const content = raw ? REPO[raw[1] as string] : undefined;
    if (content !== undefined) {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end(content);
      return;
    }
    json(res, { message: "Not Found" }, 404);
  });
});
afterAll(() => server?.close());

const base = () => `${server.url}/repos/cert/feeds/contents`;

describe("collectors.github_api", () => {
  it("makes the same reports as IntelMQ's GitHub contents collector", async () => {
    const cases = [
      { regex: "\\.json$" },
      { regex: "iocs", extra_fields: "sha, size,missing" },
      { regex: "^(?P<name>latest)\\.json$" },
      { regex: "nothing-matches" },
    ];
    const expected = await runOracle<unknown, { reports?: Record<string, unknown>[]; error?: string }>(
      ORACLE,
      cases.map((c) => ({ base: base(), params: { repository: "cert/feeds", ...c } })),
    );
    for (const [i, c] of cases.entries()) {
      const collector = await createCollector(github, {
        repository: "cert/feeds",
        api_url: server.url,
        ...c,
      });
      const reports = (await collectOnce(collector)).map((r) => {
        const { "time.observation": _, ...fields } = r.toDict();
        return fields;
      });
      const want = (expected[i]?.reports ?? []).map((r) => {
        const { "time.observation": _t, "feed.accuracy": _a, __type: _y, ...fields } = r;
        return fields;
      });
      expect(reports, JSON.stringify(c)).toEqual(want);
    }
    expect(expected[0]?.reports).toHaveLength(3);
  });

  it("deviation github-token-scheme: sends the token with a scheme, and reports bad credentials", async () => {
    seenAuthorization.length = 0;
    for (const token of ["ghp_abc", "token ghp_abc", "Bearer ghp_abc"]) {
      await collectOnce(
        await createCollector(github, {
          repository: "cert/feeds",
          regex: "^latest",
          api_url: server.url,
          personal_access_token: token,
        }),
      );
    }
    // Each run lists four directories (the root, 2024, 2024/01, 2024/02).
    expect(seenAuthorization).toEqual([
      ...Array(8).fill("token ghp_abc"),
      ...Array(4).fill("Bearer ghp_abc"),
    ]);
    const expired = await createCollector(github, {
      repository: "cert/feeds",
      regex: ".",
      api_url: server.url,
      personal_access_token: "token expired",
    });
    await expect(collectOnce(expired)).rejects.toThrow(/Bad credentials/);
    const missing = await createCollector(github, {
      repository: "cert/other",
      regex: ".",
      api_url: server.url,
    });
    await expect(collectOnce(missing)).rejects.toThrow(/Not Found/);
  });
});
