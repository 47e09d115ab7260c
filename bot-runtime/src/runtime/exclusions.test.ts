// Exclusions in running bots, on a real nats-server: rules written to the pipeline's exclusion bucket
// take effect without a restart (drop, mark, route), stop at their expiry by themselves, go away when
// deleted, and what they matched shows in metrics and in the stats bucket.
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import taxonomy from "../../../bots/experts/taxonomy.ts";
import { natsForTests, runtimeConfig } from "../../test-support/jetstream-fixture.ts";
import { botSubject, pipelineNames } from "../config/render.ts";
import { ExclusionSpec } from "../config/resources.ts";
import { exclusionBuckets, exclusionEntries } from "../exclusions/distribution.ts";
import { BotProcess } from "./bot-process.ts";
import { BotMetrics } from "./metrics.ts";

const P = "excl";
const log = pino({ level: "silent" });

describe("exclusions in running bots", () => {
  const nats = natsForTests();

  it("drop, mark and route take effect live, expire by themselves and are counted", async () => {
    const config = await runtimeConfig(
      nats,
      P,
      {
        name: "tax",
        module: "experts.taxonomy",
        destinations: { _default: ["out"], review: ["review"] },
        labels: { stage: "enrich" },
      },
      { sinks: ["out", "review"] },
    );
    const metrics = new BotMetrics({ pipeline: P, bot: "tax", module: taxonomy.id, kind: "expert" });
    const proc = new BotProcess({ config, module: taxonomy, log, metrics });
    const running = proc.run();

    const kv = await new Kvm(nats.nc).create(exclusionBuckets(P).rules, { history: 1 });
    const put = async (name: string, spec: Record<string, unknown>) => {
      const parsed = ExclusionSpec.parse({
        scope: { pipelines: [P], botSelector: { matchLabels: { stage: "enrich" } } },
        reason: "t",
        ...spec,
      });
      const entries = exclusionEntries(
        name,
        parsed,
        "1",
        [{ name: P }],
        [{ name: "tax", pipeline: P, labels: { stage: "enrich" } }],
      );
      await kv.put(name, JSON.stringify(entries.get(P)));
    };
    const js = jetstream(nats.nc);
    let n = 0;
    const send = async (ip: string) => {
      await js.publish(
        botSubject(P, "tax"),
        JSON.stringify({
          __type: "Event",
          "source.ip": ip,
          "classification.type": "scanner",
          "extra.n": ++n,
        }),
      );
      return n;
    };
    const take = async (consumer: string, count: number) => {
      const c = await js.consumers.get(pipelineNames(P).stream, consumer);
      const out: Array<Record<string, unknown>> = [];
      const deadline = Date.now() + 10_000;
      while (out.length < count && Date.now() < deadline) {
        const batch = await c.fetch({ max_messages: count - out.length, expires: 1000 });
        for await (const m of batch) {
          out.push(m.json());
          m.ack();
        }
      }
      return out;
    };
    while (!proc.ready) await new Promise((r) => setTimeout(r, 20));

    // Live: a drop rule written while the bot runs applies within 2 s.
    await put("customers", { match: { all: [{ field: "source.ip", cidr: ["192.0.2.0/24"] }] } });
    await new Promise((r) => setTimeout(r, 2_000));
    const dropped = await send("192.0.2.10");
    const passed = await send("198.51.100.1");
    expect((await take("out", 1)).map((e) => e["extra.n"])).toEqual([passed]);

    // Mark and route, and a rule expiring a moment from now.
    await put("note", {
      match: { all: [{ field: "source.ip", cidr: ["198.51.100.0/24"] }] },
      action: { type: "mark", set: [{ field: "extra.excluded_by", value: "note" }] },
    });
    await put("to-review", {
      match: { any: [{ field: "source.ip", cidr: ["203.0.113.0/24"] }] },
      action: { type: "route", path: "review" },
    });
    await put("brief", {
      expiresAt: new Date(Date.now() + 3_000).toISOString(),
      match: { all: [{ field: "source.ip", cidr: ["2001:db8::/32"] }] },
    });
    await new Promise((r) => setTimeout(r, 2_000));
    const marked = await send("198.51.100.2");
    const routed = await send("203.0.113.5");
    const briefDropped = await send("2001:db8::1");
    const [m1] = await take("out", 1);
    expect(m1).toMatchObject({
      "extra.n": marked,
      "extra.excluded_by": "note",
      "classification.taxonomy": "information-gathering",
    });
    expect((await take("review", 1)).map((e) => e["extra.n"])).toEqual([routed]);
    await new Promise((r) => setTimeout(r, 1_500)); // "brief" has expired now: nobody told the bot
    const afterExpiry = await send("2001:db8::2");
    expect((await take("out", 1)).map((e) => e["extra.n"])).toEqual([afterExpiry]);

    // Deleting the drop rule: the same address passes again.
    await kv.delete("customers");
    await new Promise((r) => setTimeout(r, 2_000));
    const again = await send("192.0.2.11");
    const [a] = await take("out", 1);
    expect(a?.["extra.n"]).toBe(again);
    expect(dropped).toBeLessThan(briefDropped);

    const matches = await metrics.process.exclusionMatches.get();
    const byName = Object.fromEntries(matches.values.map((v) => [v.labels.exclusion, v.value]));
    expect(byName).toEqual({ customers: 1, note: 1, "to-review": 1, brief: 1 });
    proc.stop();
    await running;
    const stats = await new Kvm(nats.nc).open(exclusionBuckets(P).stats);
    const keys: string[] = [];
    for await (const k of await stats.keys()) keys.push(k);
    const customers = keys.find((k) => k.startsWith("customers.tax."));
    expect(customers).toBeDefined();
    expect((await stats.get(customers as string))?.json()).toMatchObject({ bot: "tax", matched: 1 });
  }, 60_000);
});
