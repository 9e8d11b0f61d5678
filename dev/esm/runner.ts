import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, type Message } from '@platformatic/kafka';
import type { MskEvent } from '../../lib/runtime/msk-event';
import type { BatchResponse } from '../../lib/runtime/partitions';
import { buildMskEvent, type KafkaRecord } from './event';

/**
 * A local stand-in for Lambda's Kafka event-source mapping, over a real Kafka consumer group: it forms batches as
 * the ESM does (up to `batchSize` records or `maxPayloadBytes`, waiting at most `batchingWindowMs` for a batch to
 * fill; partitions in parallel, one batch in flight per partition), builds the exact MSK event, invokes the
 * handler, honours the partial batch response (the named partition is retried from the named offset; an offset not
 * in the batch retries the whole batch, as AWS does), retries a failed invocation with backoff, and commits a
 * partition's offsets only after its records succeeded (in the background, in order).
 */

export type Handler = (
  event: MskEvent,
  context: { getRemainingTimeInMillis(): number },
) => Promise<BatchResponse | undefined | null>;

export interface MappingSettings {
  batchSize: number;
  batchingWindowMs: number;
  /** Lambda's invocation payload limit. */
  maxPayloadBytes: number;
  /** The function's timeout, reported through the context. */
  timeoutMs: number;
  retryBackoffMs: number;
}

export const ESM_DEFAULTS: MappingSettings = {
  batchSize: 100,
  batchingWindowMs: 500,
  maxPayloadBytes: 6 * 1024 * 1024,
  timeoutMs: 60_000,
  retryBackoffMs: 200,
};

export interface MappingStats {
  invocations: number;
  recordsDone: number;
  failedInvocations: number;
  partialResponses: number;
  /** Commits the broker refused (the partition's next commit covers their records). */
  failedCommits: number;
  /** Milliseconds spent inside the handler, summed over invocations (÷ wall time = batches in flight on average). */
  handlerMs: number;
  /** Per "<topic>-<partition>": the next offset to process (everything below it succeeded and is committed). */
  committed: Map<string, number>;
}

interface Pending {
  message: Message;
  record: KafkaRecord;
  bytes: number;
}

/** Bytes a record adds to the event JSON: base64 grows 4/3, plus the fixed fields. */
const eventBytes = (r: KafkaRecord) => Math.ceil(((r.key?.length ?? 0) + (r.value?.length ?? 0)) * 1.34) + 200;

export class LocalEventSourceMapping {
  readonly stats: MappingStats = {
    invocations: 0,
    recordsDone: 0,
    failedInvocations: 0,
    partialResponses: 0,
    failedCommits: 0,
    handlerMs: 0,
    committed: new Map(),
  };
  private readonly queues = new Map<string, Pending[]>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly wakeups = new Map<string, () => void>();
  /** Per partition: the last commit sent (each waits for the one before). */
  private readonly commits = new Map<string, Promise<void>>();
  private consumer: Consumer | undefined;
  private running = false;
  /** Records received and not yet taken into a batch, across partitions. */
  private queued = 0;
  private readonly settings: MappingSettings;

  constructor(
    private readonly options: {
      topic: string;
      groupId: string;
      bootstrapBrokers: string[];
      handler: Handler;
      settings?: Partial<MappingSettings>;
    },
  ) {
    this.settings = { ...ESM_DEFAULTS, ...options.settings };
  }

  async start(): Promise<void> {
    this.running = true;
    this.consumer = new Consumer({
      clientId: `esm-${this.options.groupId}`,
      groupId: this.options.groupId,
      bootstrapBrokers: this.options.bootstrapBrokers,
    });
    const stream = await this.consumer.consume({
      topics: [this.options.topic],
      mode: 'committed',
      fallbackMode: 'earliest',
      autocommit: false,
      maxWaitTime: 200,
      // Every partition gets its share of each fetch, as the Java consumer behind the ESM does
      // (max.partition.fetch.bytes, 1 MiB). The client's default share is the whole fetch (10 MB): a backlog then
      // arrives one partition after another and the partitions' batches run one at a time, not in parallel.
      maxBytesPerPartition: 1024 * 1024,
    });
    void (async () => {
      for await (const message of stream) {
        if (!this.running) break;
        const record: KafkaRecord = {
          topic: message.topic,
          partition: message.partition as number,
          offset: Number(message.offset),
          timestamp: Number(message.timestamp),
          key: message.key && message.key.length > 0 ? message.key : null,
          // A Kafka tombstone has no value; an empty value is treated the same way.
          value: message.value && message.value.length > 0 ? message.value : null,
          headers: [...message.headers].map(([k, v]) => [k.toString(), v] as [string, Buffer]),
        };
        const id = `${record.topic}-${record.partition}`;
        const queue = this.queues.get(id) ?? [];
        queue.push({ message, record, bytes: eventBytes(record) });
        this.queues.set(id, queue);
        if (!this.workers.has(id)) this.workers.set(id, this.work(id));
        this.queued++;
        this.wakeups.get(id)?.();
        // Backpressure: while the partitions together hold a few batches each, stop pulling from the stream (it
        // then stops fetching). Bounded on the total, not on this partition's queue: one stream feeds them all, and
        // waiting for one partition to drain would starve the others, which AWS's pollers never do. Not
        // pause()/resume(): resume() switches the stream to flowing mode, and records emitted while this loop is
        // not listening are lost (found by the CQL-outage test).
        while (this.running && this.queued > this.settings.batchSize * Math.max(4, this.queues.size) * 4)
          await sleep(5);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakeups.values()) wake();
    await Promise.all(this.workers.values());
    await Promise.all(this.commits.values());
    await this.consumer?.close(true);
  }

  /**
   * Whether every partition of this mapping's topic among `ends` ("<topic>-<partition>" → its end offset, as
   * `topicEnds` reads them) is committed up to its end. Other topics' entries are ignored.
   */
  reached(ends: Iterable<readonly [string, number]>): boolean {
    for (const [id, end] of ends) {
      if (id.slice(0, id.lastIndexOf('-')) !== this.options.topic) continue;
      if ((this.stats.committed.get(id) ?? 0) < end) return false;
    }
    return true;
  }

  /** One partition: one batch in flight at a time, in offset order. */
  private async work(id: string): Promise<void> {
    const s = this.settings;
    while (this.running) {
      const queue = this.queues.get(id) as Pending[];
      if (queue.length === 0) {
        await new Promise<void>((resolve) => {
          this.wakeups.set(id, resolve);
          setTimeout(resolve, s.batchingWindowMs);
        });
        continue;
      }
      // The batching window: wait for the batch to fill, at most the window after its first record arrived.
      const windowEnd = Date.now() + s.batchingWindowMs;
      while (this.running && queue.length < s.batchSize && Date.now() < windowEnd)
        await sleep(Math.min(20, windowEnd - Date.now()));
      let bytes = 0;
      let take = 0;
      while (take < queue.length && take < s.batchSize && bytes + (queue[take] as Pending).bytes <= s.maxPayloadBytes) {
        bytes += (queue[take] as Pending).bytes;
        take++;
      }
      let batch = queue.splice(0, Math.max(take, 1));
      this.queued -= batch.length;
      while (batch.length > 0 && this.running) batch = await this.invoke(id, batch);
    }
  }

  /** Invokes the handler once; returns what must be retried (empty when the batch is done). */
  private async invoke(id: string, batch: Pending[]): Promise<Pending[]> {
    const s = this.settings;
    const deadline = Date.now() + s.timeoutMs;
    this.stats.invocations++;
    let response: BatchResponse | undefined | null;
    let failed = false;
    const started = performance.now();
    try {
      response = await this.options.handler(
        buildMskEvent(
          batch.map((p) => p.record),
          { bootstrapServers: this.options.bootstrapBrokers.join(',') },
        ),
        {
          getRemainingTimeInMillis: () => deadline - Date.now(),
        },
      );
    } catch {
      failed = true;
    }
    this.stats.handlerMs += performance.now() - started;
    if (failed) {
      this.stats.failedInvocations++;
      await sleep(s.retryBackoffMs);
      return batch; // a function error: the whole batch again
    }
    const failure = response?.batchItemFailures?.find((f) => f.itemIdentifier.partition === id);
    if (!failure) {
      this.commit(id, batch);
      return [];
    }
    this.stats.partialResponses++;
    const at = batch.findIndex((p) => p.record.offset === failure.itemIdentifier.offset);
    await sleep(s.retryBackoffMs);
    if (at < 0) return batch; // an offset not in the batch: AWS retries the whole batch
    this.commit(id, batch.slice(0, at));
    return batch.slice(at);
  }

  /**
   * Commits in the background, in order per partition: the partition's next batch does not wait for the broker's
   * answer (a commit is bookkeeping, not part of the batch's success). A failed commit is counted and covered by the
   * partition's next one; if none comes, the records are delivered again (at least once, as with AWS).
   */
  private commit(id: string, done: Pending[]): void {
    const last = done[done.length - 1];
    if (!last) return;
    const committed = (this.commits.get(id) ?? Promise.resolve()).then(async () => {
      try {
        await last.message.commit();
      } catch {
        this.stats.failedCommits++;
        return;
      }
      this.stats.recordsDone += done.length;
      this.stats.committed.set(id, last.record.offset + 1);
    });
    this.commits.set(id, committed);
  }
}
