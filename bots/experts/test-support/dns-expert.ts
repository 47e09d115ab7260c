// What the DNS experts' tests (cymru_whois, gethostbyname, reverse_dns) share: one dnsmasq per test file,
// a bot context that counts cache lookups, the expert built as the runtime builds it, and one event
// through it.
import { afterAll, beforeAll } from "vitest";
import { Event } from "../../../bot-runtime/src/event/message.ts";
import type { BotContext, Expert, ExpertModule } from "../../../bot-runtime/src/sdk/bot.ts";
import {
  countingMetrics,
  type DnsmasqOptions,
  startDnsmasq,
  type TestDnsmasq,
} from "../../../bot-runtime/test-support/dnsmasq.ts";
import { petrelExpert, testExpertContext } from "./expert-differential.ts";

export interface CountingContext extends BotContext {
  /** Cache hits and misses the expert reported for `cache` so far. */
  lookups(cache: string): { hit: number; miss: number };
}

export function countingContext(): CountingContext {
  const metrics = countingMetrics();
  return { ...testExpertContext(), metrics: metrics.sink, lookups: metrics.counts };
}

export function dnsExpertTools(module: ExpertModule) {
  return {
    /** The expert with IntelMQ-style parameters, counting its cache lookups unless given a context. */
    expert: (params: Record<string, unknown>, ctx: BotContext = countingContext()): Promise<Expert> =>
      petrelExpert(module, params, ctx),
    /** The fields of the event the expert made of `fields` (it must not drop or fail it). */
    async run(bot: Expert, fields: Record<string, unknown>): Promise<Record<string, unknown>> {
      const out = await bot.process(new Event({ __type: "Event", ...fields }), { id: "test" });
      return (out as Event).toDict();
    },
  };
}

/**
 * A dnsmasq with `options` for the tests of the calling file or describe block, started before them
 * and disposed after them; the object stands for the running server.
 */
export function dnsmasqForTests(options: DnsmasqOptions): TestDnsmasq {
  let dns: TestDnsmasq | undefined;
  beforeAll(async () => {
    dns = await startDnsmasq(options);
  });
  afterAll(async () => {
    await dns?.dispose();
  });
  const running = (): TestDnsmasq => {
    if (!dns) throw new Error("dnsmasq is not running: use it inside a test");
    return dns;
  };
  return {
    get host() {
      return running().host;
    },
    get port() {
      return running().port;
    },
    get nameserver() {
      return running().nameserver;
    },
    queries: () => running().queries(),
    count: (name, type) => running().count(name, type),
    stop: () => running().stop(),
    restart: () => running().restart(),
    dispose: () => running().dispose(),
  };
}
