// The bare JetStream loop the runtime is measured against: the same consumer settings and the same
// confirmed publisher (deterministic Nats-Msg-Id, ack after storage, bounded in flight), but no event
// model, handler, metrics or retries: each input's bytes are forwarded unchanged.
// Run as a process: `node bench/runtime/bare-loop.ts` with the bot's RuntimeConfig in PETREL_BOT_CONFIG.
// PETREL_BENCH_BARE_WORK=json or event adds one piece of the runtime's work per message (a JSON round
// trip, or the event model's parse + strict validation + serialisation), to show where overhead goes.
import { type JsMsg, jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { RuntimeConfig } from "../../bot-runtime/src/config/render.ts";
import { parseMessage } from "../../bot-runtime/src/event/message.ts";
import { connectNats } from "../../bot-runtime/src/runtime/jetstream.ts";
import { ConfirmedPublisher } from "../../bot-runtime/src/runtime/publisher.ts";

const decoder = new TextDecoder();
const WORK: Record<string, (data: Uint8Array) => Uint8Array> = {
  none: (data) => data,
  json: (data) => Buffer.from(JSON.stringify(JSON.parse(decoder.decode(data)))),
  event: (data) => Buffer.from(parseMessage(decoder.decode(data)).serialize()),
};

export async function runBareLoop(
  config: RuntimeConfig,
  signal: AbortSignal,
  work: keyof typeof WORK = "none",
): Promise<void> {
  const transform = WORK[work];
  if (!transform) throw new Error(`unknown bare-loop work ${work}`);
  const input = config.input;
  const subject = config.destinations._default?.[0];
  if (!input || !subject) throw new Error("the bare loop needs an input and one _default destination");
  const nc = await connectNats({ servers: config.nats.servers, name: "petrel-bench-bare" });
  const publisher = new ConfirmedPublisher(nc, {
    maxInFlight: config.maxInFlight,
    log: pino({ level: "warn" }),
  });
  const consumer = await jetstream(nc).consumers.get(config.stream, input.consumer);
  const max = config.maxInFlight;
  const prefix = `${config.bot}:`;
  // The runtime's delivery scheme: callbacks queue messages, which start in a later event-loop turn
  // (bounded in flight); acks are sent in batches, one event-loop turn later.
  let incoming: JsMsg[] = [];
  let next = 0;
  let scheduled = false;
  let inFlight = 0;
  let acks: JsMsg[] = [];
  const flushAcks = () => {
    const due = acks;
    acks = [];
    for (const m of due) m.ack();
  };
  const startIncoming = () => {
    scheduled = false;
    while (next < incoming.length && inFlight < max && !signal.aborted) {
      const m = incoming[next] as JsMsg;
      incoming[next++] = undefined as never;
      inFlight++;
      void publisher.publish(subject, transform(m.data), `${prefix}${m.seq}:0:0`, () => {
        if (acks.push(m) === 1) setImmediate(flushAcks);
        inFlight--;
        schedule();
      });
    }
    if (next === incoming.length || next >= 1024) {
      // Drop the started head, so the queue never grows beyond what is waiting.
      incoming = next === incoming.length ? [] : incoming.slice(next);
      next = 0;
    }
  };
  const schedule = () => {
    if (scheduled || next === incoming.length) return;
    scheduled = true;
    setImmediate(startIncoming);
  };
  const messages = await consumer.consume({
    max_messages: config.batchSize,
    callback: (m) => {
      incoming.push(m);
      schedule();
    },
  });
  signal.addEventListener("abort", () => void messages.close());
  await messages.closed();
  for (let i = next; i < incoming.length; i++) (incoming[i] as JsMsg).nak();
  await publisher.close();
  flushAcks();
  await nc.drain();
}

if (import.meta.main) {
  const config = RuntimeConfig.parse(JSON.parse(process.env.PETREL_BOT_CONFIG ?? "{}"));
  const abort = new AbortController();
  process.once("SIGTERM", () => abort.abort());
  await runBareLoop(config, abort.signal, process.env.PETREL_BENCH_BARE_WORK ?? "none");
}
