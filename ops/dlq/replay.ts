import { Producer } from '@platformatic/kafka';
import type { MskEvent } from '../../lib/runtime/msk-event';
import type { BatchResponse } from '../../lib/runtime/partitions';
import { buildMskEvent, type KafkaRecord } from '../kafka/msk-event';
import type { DeadLetterEntry, DeadLetterStore } from './store';

/** A null or empty answer is a success, as the mapping reads it. */
export type Handler = (event: MskEvent, context?: unknown) => Promise<BatchResponse | undefined | null>;

/** Records per replayed event: small enough to stay far below Lambda's 6 MB payload with any record size here. */
const REPLAY_BATCH = 500;

export interface ReplayOutcome {
  run: string;
  replayed: number;
  failedAgain: { id: string; reason: string }[];
  /** Entries of a partition at or after a transient failure: left for a later replay. */
  retryLater: number;
  /** Marked as replayed by an earlier run. */
  skipped: number;
  /** Their value did not fit the sink (SQS): nothing to replay, the record is still in Kafka at its offset. */
  withoutValue: string[];
}

const toRecord = (e: DeadLetterEntry): KafkaRecord => ({
  topic: e.topic,
  partition: e.partition,
  offset: e.offset,
  timestamp: e.recordTimestamp.getTime(),
  key: e.key,
  value: e.value,
  valueSchemaMetadata: e.valueSchemaMetadata,
});

/**
 * Replays `entries` through `handlerFor(function)` (the function's own bundle, the same MSK event shape), per
 * original partition in offset order, in events of at most REPLAY_BATCH records, and settles them in their store.
 * Whether an entry failed again is read back from the store: the function dead-letters it again, into the same
 * sink, rather than reporting it. A transient failure leaves the rest of that partition for a later replay.
 */
export async function replay(
  store: DeadLetterStore,
  entries: readonly DeadLetterEntry[],
  handlerFor: (name: string) => Promise<Handler>,
  options: { run: string; progress?: (done: number, total: number) => void },
): Promise<ReplayOutcome> {
  const outcome: ReplayOutcome = {
    run: options.run,
    replayed: 0,
    failedAgain: [],
    retryLater: 0,
    skipped: 0,
    withoutValue: [],
  };
  const pending: DeadLetterEntry[] = [];
  for (const e of entries) {
    if (e.replayedAt !== null) outcome.skipped++;
    else if (e.valueLeftOut) outcome.withoutValue.push(e.id);
    else pending.push(e);
  }
  const groups = new Map<string, DeadLetterEntry[]>();
  for (const e of pending) {
    const key = `${e.functionName}\n${e.topic}\n${e.partition}`;
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  let done = 0;
  for (const group of groups.values()) {
    group.sort((a, b) => a.offset - b.offset);
    const handler = await handlerFor((group[0] as DeadLetterEntry).functionName);
    for (let i = 0; i < group.length; i += REPLAY_BATCH) {
      const chunk = group.slice(i, i + REPLAY_BATCH);
      const response = await handler(buildMskEvent(chunk.map(toRecord), { bootstrapServers: 'dlq-replay' }));
      // A transient failure: the function reports the first offset it did not process, as Lambda's ESM expects.
      const failedFrom = Math.min(
        ...(response?.batchItemFailures ?? []).map((f) => f.itemIdentifier.offset),
        Number.POSITIVE_INFINITY,
      );
      const processed = chunk.filter((e) => e.offset < failedFrom);
      outcome.retryLater += chunk.length - processed.length;
      const again = await store.failedAgain(processed);
      const replayed = processed.filter((e) => !again.has(e.id));
      const superseded = processed.filter((e) => again.has(e.id));
      await store.settle(replayed, superseded, options.run);
      outcome.replayed += replayed.length;
      for (const e of superseded) outcome.failedAgain.push({ id: e.id, reason: again.get(e.id) as string });
      done += chunk.length;
      options.progress?.(done, pending.length);
    }
  }
  return outcome;
}

/**
 * `replay --to-topic`: the entries not yet replayed, produced again to their own topic and partition (offset order
 * kept), with their key, value and original timestamp, for every consumer of the topic to read again; settled as
 * replayed by this run once the broker acknowledged them. (Plaintext brokers: the local stack, or `--bootstrap`.)
 */
export async function reproduce(
  store: DeadLetterStore,
  entries: readonly DeadLetterEntry[],
  bootstrapBrokers: string[],
  run: string,
): Promise<{ produced: number; skipped: number }> {
  const pending = entries.filter((e) => e.replayedAt === null).sort((a, b) => a.offset - b.offset);
  // The mapping decoded these (SOURCE, JSON): their framing, and so their schema id, is gone from the bytes.
  const unframed = pending.find((e) => e.valueSchemaMetadata !== null);
  if (unframed)
    throw new Error(
      `${unframed.id}: its value lost its framing to the mapping's schema registry; replay it through the function instead of --to-topic`,
    );
  const producer = new Producer({ clientId: 'dlq-replay', bootstrapBrokers, idempotent: true });
  try {
    for (let i = 0; i < pending.length; i += REPLAY_BATCH) {
      const chunk = pending.slice(i, i + REPLAY_BATCH);
      await producer.send({
        messages: chunk.map((e) => ({
          topic: e.topic,
          partition: e.partition,
          key: e.key ?? undefined,
          value: e.value ?? undefined,
          timestamp: BigInt(e.recordTimestamp.getTime()),
        })),
      });
      await store.settle(chunk, [], run);
    }
  } finally {
    await producer.close();
  }
  return { produced: pending.length, skipped: entries.length - pending.length };
}
