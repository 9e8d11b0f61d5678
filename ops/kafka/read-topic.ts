import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, type ConsumerOptions, type Message } from '@platformatic/kafka';

type Connection = Omit<ConsumerOptions<Buffer, Buffer, Buffer, Buffer>, 'clientId' | 'groupId'>;

const IDLE_MS = 30_000;

/**
 * A topic's records from `from` (per partition; its start when undefined) to its end at the time of the call, and
 * those ends. A consumer of its own, with a group id used once and never committing: reading changes nothing.
 */
export async function readTopic(
  connection: Connection,
  topic: string,
  from?: bigint[],
): Promise<{ messages: Message[]; ends: bigint[] }> {
  return read(connection, topic, from);
}

/**
 * The records of one partition from offset `first` to `last`, both included, that the broker still holds (retention
 * may have removed some): how a mapping's failed batch is read back when its destination kept only the offsets.
 */
export async function readRange(
  connection: Connection,
  topic: string,
  range: { partition: number; first: bigint; last: bigint },
): Promise<Message[]> {
  const { messages } = await read(connection, topic, undefined, range);
  return messages.filter((m) => m.partition === range.partition && m.offset >= range.first && m.offset <= range.last);
}

async function read(
  connection: Connection,
  topic: string,
  from: bigint[] | undefined,
  range?: { partition: number; first: bigint; last: bigint },
): Promise<{ messages: Message[]; ends: bigint[] }> {
  const consumer = new Consumer({ clientId: 'topic-reader', groupId: `topic-reader-${randomUUID()}`, ...connection });
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? [];
    if (range) {
      // Only the range's partition, only up to its last offset: the others start at their end.
      for (const [p, end] of ends.entries()) {
        if (p !== range.partition) continue;
        if (range.last + 1n < end) ends[p] = range.last + 1n;
      }
      from = ends.map((end, p) => (p === range.partition ? range.first : end));
    }
    const starts = from ?? (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic) ?? [];
    const next = ends.map((end, partition) => {
      const start = starts[partition] ?? 0n;
      return start < end ? start : end;
    });
    const done = () => next.every((offset, p) => offset >= (ends[p] as bigint));
    const messages: Message[] = [];
    if (done()) return { messages, ends };
    const stream = await consumer.consume({
      topics: [topic],
      mode: 'manual',
      offsets: next.map((offset, partition) => ({ topic, partition, offset })),
      autocommit: false,
      maxWaitTime: 200,
    });
    let lastProgress = Date.now();
    const watchdog = (async () => {
      while (lastProgress > 0 && Date.now() - lastProgress < IDLE_MS) await sleep(500);
      await stream.close();
    })();
    try {
      for await (const m of stream) {
        lastProgress = Date.now();
        const partition = m.partition as number;
        if (m.offset < (ends[partition] as bigint)) messages.push(m);
        if (m.offset + 1n > (next[partition] as bigint)) next[partition] = m.offset + 1n;
        if (done()) break;
      }
    } finally {
      lastProgress = 0;
      await stream.close();
      await watchdog;
    }
    if (!done()) throw new Error(`${topic}: no record arrived for ${IDLE_MS / 1000} s before its end`);
    return { messages, ends };
  } finally {
    await consumer.close(true);
  }
}
