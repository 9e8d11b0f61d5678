import type { Logger } from '@aws-lambda-powertools/logger';
import type { AvroReader, SchemaCache } from '../codec';
import { CodecError, TOMBSTONE } from '../codec';
import type { AppError } from '../errors';
import type { MetricsPublisher } from '../metrics';
import { ScyllaStatementError } from '../scylla/errors';
import { StatementAbortedError, type WriteExecutor } from '../scylla/executor';
import type { Statement } from '../scylla/statement';
import { DEAD_LETTER_MESSAGE_CHARS, type DeadLetter, type DeadLetterSink } from './dead-letters';
import { BatchFailedError, ValidationError } from './errors';
import type { MskRecord } from './msk-event';
import { type BatchResponse, batchResponse, type PartitionBatch, splitByPartition } from './partitions';

/** Where a decoded record came from. */
export interface RecordContext {
  topic: string;
  partition: number;
  offset: number;
  /** Kafka timestamp, epoch ms. */
  timestamp: number;
  /** The key as UTF-8 (null when the record has none). */
  key: string | null;
}

/** One CQL write a record produces. `orderKey` keeps the writes of one entity in record order. */
export interface Write {
  statement: Statement;
  /** A promise when the values wait for a lookup started in `prepare` (see `WriteExecutor.execute`). */
  params: unknown[] | Promise<unknown[]>;
  orderKey: string;
  /** USING TIMESTAMP, µs (see `writeTimestamp`). */
  timestamp?: number;
}

/** A record the processor deliberately does not write (counted by reason, not an error). */
export interface Skip {
  skip: string;
}

export type Outcome = Write[] | Skip;

/**
 * A processor: its reader schema (in the reader given to `createProcessor`), an optional batch-level async step
 * (lookups shared by the batch's records), and a synchronous `process` step from a decoded record to writes. A
 * `ValidationError` thrown by `process` sends the record to the dead-letter path.
 */
export interface ProcessorDefinition<T, P = undefined> {
  name: string;
  /**
   * Batch-level lookups, run once per partition batch before `process` (reads go through the executor). It may
   * return promises rather than await them: `process` then hands them on as a write's `params`, and each write
   * starts when its own lookup answers, while the others already run.
   */
  prepare?(values: readonly { value: T; record: RecordContext }[], io: { executor: WriteExecutor }): Promise<P>;
  process(value: T, record: RecordContext, prepared: P): Outcome;
  /** A record without a value. Default: skipped as 'tombstone'. */
  tombstone?(record: RecordContext): Outcome;
}

export interface ProcessorDeps<T> {
  reader: AvroReader<T>;
  /** The cache behind `reader`, for the cache metrics. */
  schemas: SchemaCache;
  executor: WriteExecutor;
  deadLetters: DeadLetterSink;
  metrics: MetricsPublisher;
  /** Where the operator reads why a batch is retried (Powertools' JSON logger in Lambda). */
  logger: Pick<Logger, 'warn'>;
  /** The ESM's FunctionResponseTypes includes ReportBatchItemFailures. */
  reportBatchItemFailures: boolean;
  /** Stop starting new work when less than this is left before the Lambda timeout. */
  deadlineMarginMs: number;
}

/** What Lambda passes as the second argument (only what the runtime uses). */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

interface PartitionResult {
  /** The first offset not processed, when the partition stopped early. */
  firstUnprocessed?: number;
  cause?: unknown;
}

/**
 * Turns a processor definition into a Lambda handler for MSK / self-managed Kafka events. Per invocation: validate
 * and split the event by partition; per partition (partitions in parallel): decode the whole batch, run `prepare`,
 * then `process` each record in offset order, submitting its writes through the bounded executor (per-key order);
 * poison records go to the dead-letter sink. A transient failure (Scylla or the registry unavailable after retries)
 * stops its partition: writes not yet started are dropped, and the partial batch response names the first offset
 * not processed (Lambda retries from there; writes are idempotent). Without ReportBatchItemFailures, the handler
 * throws instead. Metrics are flushed before the handler returns.
 */
export function createProcessor<T, P = undefined>(definition: ProcessorDefinition<T, P>, deps: ProcessorDeps<T>) {
  const m = deps.metrics.instruments;
  let cacheSeen = { hits: 0, misses: 0 };

  async function runPartition(batch: PartitionBatch, deadline: number): Promise<PartitionResult> {
    const records = batch.records;
    if (records.length === 0) return {};
    m.records.inc({ stage: 'received', reason: '' }, records.length);
    m.recordAgeSeconds.set(
      { topic: batch.topic, partition: String(batch.partition) },
      (Date.now() - (records[0] as MskRecord).timestamp) / 1000,
    );

    const decodeStarted = performance.now();
    let decoded: Awaited<ReturnType<AvroReader<T>['decodeAll']>>;
    try {
      decoded = await deps.reader.decodeAll(records);
    } catch (error) {
      return { firstUnprocessed: (records[0] as MskRecord).offset, cause: error };
    }
    m.decodeSeconds.observe((performance.now() - decodeStarted) / 1000);

    const contexts = records.map(
      (r): RecordContext => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key ? Buffer.from(r.key, 'base64').toString('utf8') : null,
      }),
    );
    const values: { value: T; record: RecordContext }[] = [];
    for (const [i, d] of decoded.entries()) {
      if (d !== TOMBSTONE && !(d instanceof CodecError))
        values.push({ value: d as T, record: contexts[i] as RecordContext });
    }
    m.records.inc({ stage: 'decoded', reason: '' }, values.length);

    let prepared: P;
    try {
      prepared = (definition.prepare ? await definition.prepare(values, { executor: deps.executor }) : undefined) as P;
    } catch (error) {
      return { firstUnprocessed: (records[0] as MskRecord).offset, cause: error };
    }

    const stop = new AbortController();
    const deadLetters: { entry: DeadLetter; index: number }[] = [];
    const pending: { index: number; done: Promise<unknown> }[] = [];
    let cutAt: number | undefined; // index of the first record not started (deadline)
    // Counted here and added to the counters once per batch: prom-client hashes labels on every inc().
    const skipped = new Map<string, number>();
    let written = 0;
    const deadLetter = (index: number, error: AppError) => {
      const r = records[index] as MskRecord;
      deadLetters.push({
        index,
        entry: {
          functionName: definition.name,
          topic: batch.topic,
          partition: batch.partition,
          offset: r.offset,
          reason: error.code,
          message: error.message.slice(0, DEAD_LETTER_MESSAGE_CHARS),
          key: r.key ?? null,
          value: r.value ?? null,
          timestamp: r.timestamp,
        },
      });
    };

    for (let i = 0; i < records.length; i++) {
      if (Date.now() > deadline) {
        cutAt = i;
        break;
      }
      const d = decoded[i];
      const record = contexts[i] as RecordContext;
      let outcome: Outcome;
      try {
        if (d instanceof CodecError) {
          deadLetter(i, d);
          continue;
        }
        outcome =
          d === TOMBSTONE
            ? (definition.tombstone?.(record) ?? { skip: 'tombstone' })
            : definition.process(d as T, record, prepared);
      } catch (error) {
        if (error instanceof ValidationError) {
          deadLetter(i, error);
          continue;
        }
        throw error; // a bug in the processor: fail the invocation loudly
      }
      if (!Array.isArray(outcome)) {
        skipped.set(outcome.skip, (skipped.get(outcome.skip) ?? 0) + 1);
        continue;
      }
      const writes = outcome.map((w) =>
        deps.executor.execute(w.statement, w.params, {
          orderKey: w.orderKey,
          timestamp: w.timestamp,
          signal: stop.signal,
        }),
      );
      const done = Promise.all(writes).then(
        () => {
          written++;
        },
        (error: unknown) => {
          // The record's own data is wrong for its statement (a value the column refuses): poison.
          if (error instanceof ScyllaStatementError) {
            deadLetter(i, error);
            return;
          }
          stop.abort(); // later writes of this partition that have not started never will
          throw error;
        },
      );
      pending.push({ index: i, done });
    }

    const settled = await Promise.allSettled(pending.map((p) => p.done));
    if (written > 0) m.records.inc({ stage: 'written', reason: '' }, written);
    for (const [reason, count] of skipped) m.records.inc({ stage: 'skipped', reason }, count);
    let firstFailed: number | undefined = cutAt;
    const reasons: unknown[] = [];
    for (const [k, result] of settled.entries()) {
      if (result.status === 'rejected') {
        const index = (pending[k] as { index: number }).index;
        if (firstFailed === undefined || index < firstFailed) firstFailed = index;
        reasons.push(result.reason);
      }
    }
    // The failure that stopped the partition, not the writes dropped because of it.
    let cause: unknown = reasons.find((r) => !(r instanceof StatementAbortedError)) ?? reasons[0];
    // Dead letters of records before the first failure are stored; the others will be met again on the retry.
    const toStore = deadLetters.filter((d) => firstFailed === undefined || d.index < firstFailed);
    if (toStore.length > 0) {
      try {
        await deps.deadLetters.write(toStore.map((d) => d.entry));
        const byReason = new Map<string, number>();
        for (const d of toStore) byReason.set(d.entry.reason, (byReason.get(d.entry.reason) ?? 0) + 1);
        for (const [reason, count] of byReason) m.records.inc({ stage: 'dead_lettered', reason }, count);
        m.deadLetters.inc(toStore.length);
      } catch (error) {
        const index = Math.min(...toStore.map((d) => d.index));
        if (firstFailed === undefined || index < firstFailed) firstFailed = index;
        cause ??= error;
      }
    }
    if (firstFailed === undefined) return {};
    m.records.inc({ stage: 'retried_later', reason: '' }, records.length - firstFailed);
    return {
      firstUnprocessed: (records[firstFailed] as MskRecord).offset,
      cause: cause ?? new Error('deadline reached'),
    };
  }

  return async function handler(event: unknown, context?: InvocationContext): Promise<BatchResponse> {
    const started = performance.now();
    const remaining = context?.getRemainingTimeInMillis() ?? Number.POSITIVE_INFINITY;
    const deadline = Date.now() + remaining - deps.deadlineMarginMs;
    let outcome = 'ok';
    try {
      const partitions = splitByPartition(event);
      const results = await Promise.all(partitions.map((p) => runPartition(p, deadline)));
      const failed = new Map<string, number>();
      let cause: unknown;
      for (const [i, result] of results.entries()) {
        if (result.firstUnprocessed !== undefined) {
          failed.set((partitions[i] as PartitionBatch).id, result.firstUnprocessed);
          cause ??= result.cause;
        }
      }
      if (failed.size > 0) {
        outcome = 'partial';
        // The metrics count the records retried; this line says why, once per invocation.
        deps.logger.warn('partitions stopped early: Lambda retries each from its first unprocessed offset', {
          firstUnprocessed: Object.fromEntries(failed),
          error: cause,
        });
        if (!deps.reportBatchItemFailures) {
          outcome = 'failed';
          throw new BatchFailedError(`${failed.size} partition(s) stopped early: ${(cause as Error)?.message}`, {
            cause,
          });
        }
      }
      return batchResponse(failed);
    } catch (error) {
      outcome = 'failed';
      throw error;
    } finally {
      const stats = deps.schemas.stats();
      m.schemaCacheLookups.inc({ result: 'hit' }, stats.hits - cacheSeen.hits);
      m.schemaCacheLookups.inc({ result: 'miss' }, stats.misses - cacheSeen.misses);
      cacheSeen = { hits: stats.hits, misses: stats.misses };
      m.schemaCacheSize.set(stats.size);
      m.inFlightStatements.set(deps.executor.takePeakInFlight());
      m.batchSeconds.observe({ outcome }, (performance.now() - started) / 1000);
      await deps.metrics.flush();
    }
  };
}
