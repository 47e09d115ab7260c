// A bot's live view of its pipeline's exclusions: watches the pipeline's exclusion bucket (JetStream KV),
// keeps the exclusions that apply at this bot compiled into an ExclusionSet, applies them to the events
// the bot receives, counts what each matched (metrics, and the stats bucket the operator reads for the
// Exclusions' status). A change in the bucket takes effect as soon as the watch delivers it.
import { hostname } from "node:os";
import { jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Logger } from "pino";
import type { Message } from "../event/message.ts";
import { openExclusionBuckets } from "../exclusions/buckets.ts";
import { appliesAt, ExclusionEntry, type ExclusionStats, statsKey } from "../exclusions/distribution.ts";
import { ExclusionError, ExclusionSet, type Verdict } from "../exclusions/exclusion-set.ts";
import type { BotCounter } from "./metrics.ts";

const STATS_EVERY_MS = 5_000;
const INITIAL_LOAD_TIMEOUT_MS = 10_000;

export interface ExclusionWatchOptions {
  nc: NatsConnection;
  pipeline: string;
  bot: string;
  kind: string;
  log: Logger;
  /** petrel_exclusion_matches_total of this bot, by exclusion. */
  matches: BotCounter<"exclusion">;
  /** Identifies this process in the stats (a pod name); default the host name and pid. */
  processId?: string;
}

interface Counts {
  matched: number;
  lastMatch?: string;
  dirty: boolean;
}

export class ExclusionWatch {
  readonly #options: ExclusionWatchOptions;
  readonly #entries = new Map<string, ExclusionEntry>();
  readonly #counts = new Map<string, Counts>();
  #set: ExclusionSet = ExclusionSet.EMPTY;
  #stats?: KV;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #watch?: { stop(): void };
  readonly #processId: string;

  constructor(options: ExclusionWatchOptions) {
    this.#options = options;
    // Each process start reports under its own key (a restarted container keeps its pod name and pid),
    // so the operator's sum over keys never goes down.
    const host = options.processId ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;
    this.#processId = `${host}-${Date.now().toString(36)}`;
  }

  /** The exclusions in force at this bot, by name. */
  get names(): string[] {
    return this.#set.names;
  }

  /** Opens the buckets (creating them if needed), loads the current exclusions, then follows changes. */
  async start(): Promise<void> {
    const { nc, pipeline } = this.#options;
    const { rules, stats } = await openExclusionBuckets(await jetstreamManager(nc), pipeline);
    this.#stats = stats;
    const pending = (await rules.status()).values;
    let loaded!: () => void;
    const initial = new Promise<void>((resolve) => {
      loaded = resolve;
    });
    if (pending === 0) loaded();
    const watch = await rules.watch();
    this.#watch = watch;
    void (async () => {
      for await (const entry of watch) {
        if (entry.operation === "PUT") {
          try {
            this.#entries.set(entry.key, ExclusionEntry.parse(entry.json()));
          } catch (error) {
            this.#options.log.error(
              { err: error, exclusion: entry.key },
              "An exclusion in the bucket is not readable; ignored.",
            );
            this.#entries.delete(entry.key);
          }
        } else {
          this.#entries.delete(entry.key);
        }
        if (entry.delta === 0 || entry.isUpdate) {
          this.#rebuild();
          loaded();
        }
      }
    })();
    await Promise.race([initial, new Promise((r) => setTimeout(r, INITIAL_LOAD_TIMEOUT_MS).unref())]);
    this.#timer = setInterval(() => void this.#report(), STATS_EVERY_MS);
    this.#timer.unref();
  }

  #rebuild(): void {
    const { bot, kind, log } = this.#options;
    const here = [...this.#entries.values()].filter((e) => appliesAt(e, bot, kind));
    try {
      this.#set = ExclusionSet.compile(here.map((e) => ({ name: e.name, spec: e.spec })));
    } catch (error) {
      if (!(error instanceof ExclusionError)) throw error;
      // The operator only writes valid exclusions; if one is not, keep the valid ones in force.
      log.error({ problems: error.problems }, "Some exclusions do not compile; the others apply.");
      const valid = here.filter((e) => {
        try {
          ExclusionSet.compile([{ name: e.name, spec: e.spec }]);
          return true;
        } catch {
          return false;
        }
      });
      this.#set = ExclusionSet.compile(valid.map((e) => ({ name: e.name, spec: e.spec })));
    }
    for (const name of this.#set.names) {
      if (!this.#counts.has(name)) this.#counts.set(name, { matched: 0, dirty: true });
    }
    log.info({ exclusions: this.#set.names }, "Exclusions in force.");
  }

  /** Applies the exclusions to a received message (Events only); undefined when none matched. */
  apply(message: Message): Verdict | undefined {
    if (this.#set.size === 0 || message.kind !== "Event") return undefined;
    const now = Date.now();
    const { verdict, hits } = this.#set.apply(message, now);
    if (hits.length === 0) return undefined;
    const at = new Date(now).toISOString();
    for (const hit of hits) {
      this.#options.matches.inc({ exclusion: hit.name });
      const counts = this.#counts.get(hit.name) ?? { matched: 0, dirty: true };
      counts.matched++;
      counts.lastMatch = at;
      counts.dirty = true;
      this.#counts.set(hit.name, counts);
    }
    return verdict;
  }

  /** Writes changed counts, and a heartbeat for every exclusion in force, to the stats bucket. */
  async #report(): Promise<void> {
    const stats = this.#stats;
    if (!stats) return;
    const inForce = new Set(this.#set.names);
    const reportedAt = new Date().toISOString();
    for (const [name, counts] of [...this.#counts]) {
      // Exclusions in force report every time (that is how the operator counts the bots applying them);
      // one no longer in force is reported once more if it changed, then forgotten, so a final report
      // cannot bring back stats the operator purged with its Exclusion.
      if (!inForce.has(name) && !counts.dirty) {
        this.#counts.delete(name);
        continue;
      }
      const value: ExclusionStats = {
        bot: this.#options.bot,
        matched: counts.matched,
        ...(counts.lastMatch ? { lastMatch: counts.lastMatch } : {}),
        reportedAt,
      };
      try {
        await stats.put(statsKey(name, this.#options.bot, this.#processId), JSON.stringify(value));
        counts.dirty = false;
      } catch (error) {
        if (!this.#stopped)
          this.#options.log.debug({ err: error }, "Exclusion stats not written; retrying later.");
      }
    }
  }

  /** Stops watching; writes the final counts. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#watch?.stop();
    await this.#report();
  }
}
