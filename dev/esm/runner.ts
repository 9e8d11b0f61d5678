import { setTimeout as sleep } from 'node:timers/promises';
import { Consumer, type Message } from '@platformatic/kafka';
import { AvroReader, type SchemaCache } from '../../lib/codec';
import type { MskEvent } from '../../lib/runtime/msk-event';
import type { BatchResponse } from '../../lib/runtime/partitions';
import type { DiscardCondition } from '../../ops/kafka/invocation-record';
import { buildMskEvent, type KafkaRecord, kafkaRecordOf } from '../../ops/kafka/msk-event';
import type { FailureDestination } from './destinations';
import {
  type Attempt,
  AWS_DEFAULT_CONTROLS,
  cutByAge,
  decide,
  type ErrorHandlingControls,
  type InvocationOutcome,
  validateControls,
} from './error-handling';
import { decodeAsMapping, type EventRecordFormat } from './schema-registry';

/**
 * A local stand-in for Lambda's Kafka event-source mapping, over a real Kafka consumer group: it forms batches as
 * the ESM does (up to `batchSize` records or `maxPayloadBytes`, waiting at most `batchingWindowMs` for a batch to
 * fill; partitions in parallel, one batch in flight per partition), builds the exact MSK event, invokes the
 * handler, honours the partial batch response (the named partition is retried from the named offset; an offset not
 * in the batch retries the whole batch, as AWS does), retries a failed invocation with backoff under AWS's
 * error-handling controls (error-handling.ts: retry attempts, record age, split on error; AWS's defaults retry
 * forever), sends what they give up on to the on-failure destination (destinations.ts; a refused delivery drops
 * them, as AWS does) and moves on, and commits a partition's offsets only after its records succeeded or were given
 * up on (in the background, in order, retried until accepted).
 *
 * With an `Invoker` that runs containers (dev/esm/containers.ts), the function's timeout is enforced as Lambda
 * does: an invocation past it is abandoned, its container thrown away, and the batch invoked again. A consumer that
 * fails (the broker restarted or killed) is rebuilt and resumes from the committed offsets; records it delivers
 * again are not queued twice.
 */

export type Handler = (
  event: MskEvent,
  context: { getRemainingTimeInMillis(): number },
) => Promise<BatchResponse | undefined | null>;

/** How the mapping reaches the function when not through a handler in this process. */
export interface Invoker {
  invoke(partition: string, event: MskEvent, deadline: number): Promise<BatchResponse | undefined | null>;
  /** The invocation for `partition` ran past the timeout: throw its container away (Lambda stops the sandbox). */
  abandon(partition: string): void;
}

export interface MappingSettings {
  batchSize: number;
  batchingWindowMs: number;
  /** Lambda's invocation payload limit. */
  maxPayloadBytes: number;
  /** The function's timeout, reported through the context. */
  timeoutMs: number;
  retryBackoffMs: number;
  /** AWS's error-handling controls: `hasOnFailureDestination` follows `onFailure`. */
  controls: Omit<ErrorHandlingControls, 'hasOnFailureDestination'>;
  /** Where given-up records go (AWS's DestinationConfig.OnFailure); without one they are dropped, as AWS does. */
  onFailure?: FailureDestination;
  /** The invoked function's ARN, as the invocation records name it. */
  functionArn: string;
  /**
   * The mapping's own schema registry (SchemaRegistryConfig): values validated against it and delivered as SOURCE
   * or JSON (schema-registry.ts). Without it, values reach the function as they are in Kafka.
   */
  schemaRegistry?: { eventRecordFormat: EventRecordFormat; schemas: SchemaCache };
}

export const ESM_DEFAULTS: MappingSettings = {
  batchSize: 100,
  batchingWindowMs: 500,
  maxPayloadBytes: 6 * 1024 * 1024,
  timeoutMs: 60_000,
  retryBackoffMs: 200,
  controls: AWS_DEFAULT_CONTROLS,
  functionArn: 'arn:aws:lambda:eu-west-1:000000000000:function:local',
};

export interface MappingStats {
  invocations: number;
  recordsDone: number;
  failedInvocations: number;
  partialResponses: number;
  /** Commits the broker refused (retried until one is accepted). */
  failedCommits: number;
  /** Invocations abandoned at the function's timeout (an `Invoker` only). */
  timedOut: number;
  /** Consumers rebuilt after their stream failed. */
  consumerRestarts: number;
  /** Records a rebuilt consumer delivered again that were already queued or processed: not queued twice. */
  redelivered: number;
  /** Milliseconds spent inside the handler, summed over invocations (÷ wall time = batches in flight on average). */
  handlerMs: number;
  /** Records the controls gave up on: sent to the on-failure destination, or dropped without one. */
  discarded: number;
  /** Of those, the ones too old to be sent to the function (RecordAgeExceeded). */
  expired: number;
  /** Of those, the ones the on-failure destination accepted. */
  delivered: number;
  /** Deliveries the destination refused (AWS's DestinationDeliveryFailures): their records are dropped. */
  deliveryFailures: number;
  /** Of the discarded, the ones the mapping's schema validation kept from the function. */
  schemaRejected: number;
  /** Per "<topic>-<partition>": the next offset to process (everything below it succeeded and is committed). */
  committed: Map<string, number>;
}

interface Pending {
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
    timedOut: 0,
    consumerRestarts: 0,
    redelivered: 0,
    handlerMs: 0,
    discarded: 0,
    expired: 0,
    delivered: 0,
    deliveryFailures: 0,
    schemaRejected: 0,
    committed: new Map(),
  };
  /** What happened to the mapping besides its batches (consumers rebuilt, timeouts), newest last, at most 50. */
  readonly events: string[] = [];

  private readonly queues = new Map<string, Pending[]>();
  private readonly workers = new Map<string, Promise<void>>();
  private readonly wakeups = new Map<string, () => void>();
  /** Per partition: the commit in progress, and the offset it must reach (the next to process). */
  private readonly commits = new Map<string, Promise<void>>();
  private readonly toCommit = new Map<string, number>();
  /** Per partition: the highest offset ever queued (a rebuilt consumer delivers from the committed offset again). */
  private readonly highest = new Map<string, number>();
  /** Per partition: the first offset this mapping received (records below it were done before it started). */
  private readonly firstOffset = new Map<string, number>();
  private consumer: Consumer | undefined;
  private pump: Promise<void> | undefined;
  /** Once stopping: until when refused commits are still retried. */
  private stopDeadline = Number.POSITIVE_INFINITY;
  private running = false;
  /** Records received and not yet taken into a batch, across partitions. */
  private queued = 0;
  private readonly settings: MappingSettings;
  private readonly controls: ErrorHandlingControls;
  /** The mapping's own schema registry integration: its reader lives as long as the mapping (plans by schema id). */
  private readonly mappingDecoding: { reader: AvroReader; format: EventRecordFormat } | undefined;

  constructor(
    private readonly options: {
      topic: string;
      groupId: string;
      bootstrapBrokers: string[];
      /** The MSK cluster's ARN: the event is then `aws:kafka`, as from MSK; without one, `SelfManagedKafka`. */
      clusterArn?: string;
      /** In this process, no timeout enforced (an abandoned call could not be stopped). */
      handler?: Handler;
      invoker?: Invoker;
      settings?: Partial<MappingSettings>;
    },
  ) {
    this.settings = { ...ESM_DEFAULTS, ...options.settings };
    const registry = this.settings.schemaRegistry;
    // Read as the writer wrote it: no reader schema, the mapping knows none.
    this.mappingDecoding = registry && {
      reader: new AvroReader(registry.schemas),
      format: registry.eventRecordFormat,
    };
    this.controls = validateControls({
      ...this.settings.controls,
      hasOnFailureDestination: this.settings.onFailure !== undefined,
    });
  }

  async start(): Promise<void> {
    if (!this.options.handler === !this.options.invoker) throw new Error('a mapping needs a handler or an invoker');
    this.running = true;
    const stream = await this.openStream(); // the first one's failure (no broker) is the caller's to see
    this.pump = this.consume(stream);
  }

  private async openStream() {
    this.consumer = new Consumer({
      clientId: `esm-${this.options.groupId}`,
      groupId: this.options.groupId,
      bootstrapBrokers: this.options.bootstrapBrokers,
      // A consumer rebuilt after a broker failure joins while its dead predecessor is still a member: the group
      // waits out that member's session before assigning partitions. The client's default (60 s) stalled the
      // mapping for up to a minute after each broker fault; 10 s is the broker's floor (6 s) with a margin.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 20_000,
    });
    return this.consumer.consume({
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
  }

  /** Feeds the partitions' queues; rebuilds the consumer when its stream fails, until stopped. */
  private async consume(first: Awaited<ReturnType<LocalEventSourceMapping['openStream']>>): Promise<void> {
    let stream: typeof first | undefined = first;
    while (this.running) {
      try {
        if (!stream) stream = await this.openStream();
        for await (const message of stream) {
          if (!this.running) break;
          this.enqueue(message);
          // Backpressure: while the partitions together hold a few batches each, stop pulling from the stream (it
          // then stops fetching). Bounded on the total, not on this partition's queue: one stream feeds them all,
          // and waiting for one partition to drain would starve the others, which AWS's pollers never do. Not
          // pause()/resume(): resume() switches the stream to flowing mode, and records emitted while this loop is
          // not listening are lost (found by the CQL-outage test).
          while (this.running && this.queued > this.settings.batchSize * Math.max(4, this.queues.size) * 4)
            await sleep(5);
        }
        if (!this.running) break;
        throw new Error('the consumer stream ended');
      } catch (error) {
        if (!this.running) break;
        // The broker went away (restarted, killed): a new consumer resumes from the committed offsets.
        this.stats.consumerRestarts++;
        this.note(`consumer rebuilt: ${(error as Error).message}`);
        stream = undefined;
        await (this.consumer?.close(true) as Promise<void> | undefined)?.catch(() => {});
        await sleep(1_000);
      }
    }
  }

  private note(event: string): void {
    this.events.push(`${new Date().toISOString().slice(11, 19)} ${event}`);
    if (this.events.length > 50) this.events.shift();
  }

  private enqueue(message: Message): void {
    const record = kafkaRecordOf(message);
    const id = `${record.topic}-${record.partition}`;
    if (record.offset <= (this.highest.get(id) ?? -1)) {
      this.stats.redelivered++;
      return;
    }
    this.highest.set(id, record.offset);
    if (!this.firstOffset.has(id)) this.firstOffset.set(id, record.offset);
    const queue = this.queues.get(id) ?? [];
    queue.push({ record, bytes: eventBytes(record) });
    this.queues.set(id, queue);
    if (!this.workers.has(id)) this.workers.set(id, this.work(id));
    this.queued++;
    this.wakeups.get(id)?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopDeadline = Date.now() + 15_000;
    for (const wake of this.wakeups.values()) wake();
    await Promise.all(this.workers.values());
    await Promise.all(this.commits.values());
    await (this.consumer?.close(true) as Promise<void> | undefined)?.catch(() => {});
    await this.pump;
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
      const batch = queue.splice(0, Math.max(take, 1));
      this.queued -= batch.length;
      await this.process(id, batch);
    }
  }

  /**
   * A batch through AWS's error-handling controls: invoked until every record succeeded or was given up on (too old,
   * out of retries), split when asked. The parts run one after another, in offset order, so commits stay in order.
   */
  private async process(id: string, received: Pending[]): Promise<void> {
    const { batch, rejected } = await this.validateSchemas(id, received);
    type Aged = { offset: number; timestamp: number; pending: Pending };
    const pendingOf = (records: Aged[]) => records.map((r) => r.pending);
    const attempts: Attempt<Aged>[] = [
      {
        records: batch.map((p) => ({ offset: p.record.offset, timestamp: p.record.timestamp, pending: p })),
        retries: 0,
      },
    ];
    let lastError: string | undefined;
    while (attempts.length > 0 && this.running) {
      const attempt = attempts.shift() as Attempt<Aged>;
      const { expired, live } = cutByAge(attempt.records, Date.now(), this.controls);
      if (expired.length > 0) {
        // Invoked as often as it was retried: none before its first try, once per retry after.
        await this.discard(id, pendingOf(expired), 'RecordAgeExceeded', attempt.retries, lastError);
        this.commit(id, pendingOf(expired));
      }
      if (live.length === 0) continue;
      const outcome = await this.invoke(id, pendingOf(live));
      // AWS's responseContext.functionError: "Unhandled" for a function error; a partial response is an answer.
      lastError = outcome.kind === 'function-error' ? 'Unhandled' : undefined;
      const decision = decide({ records: live, retries: attempt.retries }, outcome, this.controls);
      this.commit(id, pendingOf(decision.done));
      if (decision.discard) {
        const { records, condition, approximateInvokeCount } = decision.discard;
        await this.discard(id, pendingOf(records), condition, approximateInvokeCount, lastError);
        this.commit(id, pendingOf(records));
      }
      if (decision.retry.length > 0) await sleep(this.settings.retryBackoffMs);
      attempts.unshift(...decision.retry);
    }
    // Rejected records may sit between others: committed once every record before them is done or given up on.
    if (attempts.length === 0) this.commit(id, rejected);
  }

  /**
   * With the mapping's schema registry: the batch as the function gets it (SOURCE or JSON values), and the records
   * validation kept from it, already sent to the destination (AWS: "Lambda sends the message to the DLQ with reason
   * code SCHEMA_NOT_FOUND / DESERIALIZATION_ERROR"; dropped without one). A registry that cannot be asked invokes
   * nothing: the batch waits and is validated again.
   */
  private async validateSchemas(id: string, received: Pending[]): Promise<{ batch: Pending[]; rejected: Pending[] }> {
    const decoding = this.mappingDecoding;
    if (!decoding) return { batch: received, rejected: [] };
    for (;;) {
      try {
        const decoded = await decodeAsMapping(
          received.map((p) => p.record),
          decoding.reader,
          decoding.format,
        );
        const batch: Pending[] = [];
        const rejected = new Map<DiscardCondition, Pending[]>();
        for (const [i, d] of decoded.entries()) {
          const pending = { record: d.record, bytes: (received[i] as Pending).bytes };
          if (d.rejected === undefined) batch.push(pending);
          else rejected.set(d.rejected, [...(rejected.get(d.rejected) ?? []), pending]);
        }
        for (const [reason, records] of rejected) {
          this.stats.schemaRejected += records.length;
          await this.discard(id, records, reason, 0, undefined);
        }
        return { batch, rejected: [...rejected.values()].flat() };
      } catch (error) {
        if (!this.running) return { batch: [], rejected: [] };
        this.note(`${id}: schema registry unavailable, batch waits: ${(error as Error).message}`);
        await sleep(this.settings.retryBackoffMs);
      }
    }
  }

  /**
   * Records the controls gave up on: to the on-failure destination, or dropped when the mapping has none. A delivery
   * that fails drops them too, as AWS counts it ("Lambda metrics types": no OnFailureDestinationDeliveredEventCount,
   * DestinationDeliveryFailures 1, DroppedEventCount the records that failed delivery); the mapping moves on.
   */
  private async discard(
    id: string,
    records: Pending[],
    condition: DiscardCondition,
    approximateInvokeCount: number,
    functionError: string | undefined,
  ): Promise<void> {
    this.stats.discarded += records.length;
    if (condition === 'RecordAgeExceeded') this.stats.expired += records.length;
    const destination = this.settings.onFailure;
    if (!destination) {
      this.note(`${id}: ${records.length} records ${condition}, dropped (no on-failure destination)`);
      return;
    }
    const event = buildMskEvent(
      records.map((p) => p.record),
      { bootstrapServers: this.options.bootstrapBrokers.join(','), clusterArn: this.options.clusterArn },
    );
    try {
      await destination.deliver({
        partition: id,
        functionArn: this.settings.functionArn,
        condition,
        approximateInvokeCount,
        lastResponse: approximateInvokeCount > 0 ? { functionError } : undefined,
        event,
        at: new Date(),
      });
      this.stats.delivered += records.length;
      this.note(`${id}: ${records.length} records ${condition}, to ${destination.destination}`);
    } catch (error) {
      this.stats.deliveryFailures++;
      this.note(
        `${id}: ${records.length} records ${condition}, dropped: ${destination.destination} refused them: ${(error as Error).message}`,
      );
    }
  }

  /** Invokes the handler once with the batch; what came of it for this partition. */
  private async invoke(id: string, batch: Pending[]): Promise<InvocationOutcome> {
    const s = this.settings;
    const deadline = Date.now() + s.timeoutMs;
    this.stats.invocations++;
    let response: BatchResponse | undefined | null;
    let failed = false;
    const started = performance.now();
    const event = buildMskEvent(
      batch.map((p) => p.record),
      { bootstrapServers: this.options.bootstrapBrokers.join(','), clusterArn: this.options.clusterArn },
    );
    try {
      const { invoker, handler } = this.options;
      if (invoker) {
        const call = invoker.invoke(id, event, deadline);
        call.catch(() => {}); // abandoned below: its container is gone, and so is its answer
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), s.timeoutMs);
        });
        const outcome = await Promise.race([call, timeout]).finally(() => clearTimeout(timer));
        if (outcome === 'timeout') {
          this.stats.timedOut++;
          this.note(`${id}: invocation abandoned at the ${s.timeoutMs} ms timeout`);
          invoker.abandon(id);
          throw new Error(`the invocation ran past the ${s.timeoutMs} ms timeout`);
        }
        response = outcome;
      } else {
        response = await (handler as Handler)(event, { getRemainingTimeInMillis: () => deadline - Date.now() });
      }
    } catch {
      failed = true;
    }
    this.stats.handlerMs += performance.now() - started;
    if (failed) {
      this.stats.failedInvocations++;
      return { kind: 'function-error' };
    }
    const failure = response?.batchItemFailures?.find((f) => f.itemIdentifier.partition === id);
    if (!failure) return { kind: 'succeeded' };
    this.stats.partialResponses++;
    return { kind: 'partial', offset: failure.itemIdentifier.offset };
  }

  /**
   * Commits in the background, in order per partition: the partition's next batch does not wait for the broker's
   * answer (a commit is bookkeeping, not part of the batch's success). Through the current consumer, not the
   * message's: a consumer rebuilt since then still commits. A refused commit is counted and tried again (a
   * partition's last batch has no next commit to cover it) until the mapping stops.
   */
  private commit(id: string, done: Pending[]): void {
    const last = done.reduce<Pending | undefined>(
      (a, p) => (a && a.record.offset > p.record.offset ? a : p),
      undefined,
    );
    if (!last) return;
    const next = last.record.offset + 1;
    if (next > (this.toCommit.get(id) ?? 0)) this.toCommit.set(id, next);
    if (this.commits.has(id)) return; // the commit in progress picks up the new offset when it is done
    const { topic, partition } = last.record;
    const committing = async () => {
      await Promise.resolve(); // runs on once `commits` holds it
      for (;;) {
        const target = this.toCommit.get(id) as number;
        // Checked and forgotten in one step: a commit asked for after this finds no loop and starts one.
        if (target <= (this.stats.committed.get(id) ?? 0)) {
          this.commits.delete(id);
          return;
        }
        try {
          await this.consumer?.commit({ offsets: [{ topic, partition, offset: BigInt(target), leaderEpoch: -1 }] });
          const before = this.stats.committed.get(id) ?? 0;
          this.stats.recordsDone += target - Math.max(before, this.firstOffset.get(id) ?? before);
          this.stats.committed.set(id, target);
        } catch {
          this.stats.failedCommits++;
          if (!this.running && Date.now() > this.stopDeadline) {
            this.commits.delete(id);
            return;
          }
          await sleep(500);
        }
      }
    };
    this.commits.set(id, committing());
  }
}
