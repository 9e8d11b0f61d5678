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
  /** The record's headers as Lambda delivers them (one-key objects, values as byte arrays), undecoded. */
  headers: MskRecord['headers'];
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
  /**
   * Where the operator reads why a batch is retried (Powertools' JSON logger in Lambda). Loaded on first use: only
   * a partial response writes to it, and its module would otherwise add ~17 KiB to every cold start.
   */
  logger: () => Promise<Pick<Logger, 'warn'>>;
  /** The ESM's FunctionResponseTypes includes ReportBatchItemFailures. */
  reportBatchItemFailures: boolean;
  /** Stop starting new work when less than this is left before the Lambda timeout. */
  deadlineMarginMs: number;
}

/** What Lambda passes as the second argument (only what the runtime uses). */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/** A batch after decoding: each record's outcome and origin, and the values `prepare` sees. */
interface Decoded<T> {
  decoded: Awaited<ReturnType<AvroReader<T>['decodeAll']>>;
  contexts: RecordContext[];
  values: { value: T; record: RecordContext }[];
}

/** What the process stage started and set aside; `written` and `deadLetters` grow as the writes settle. */
interface Started {
  pending: { index: number; done: Promise<unknown> }[];
  deadLetters: { entry: DeadLetter; index: number }[];
  skipped: Map<string, number>;
  written: number;
  /** The first record not started (the deadline). */
  cutAt: number | undefined;
}

/** Where a partition stopped (the index of its first record not done) and why. */
interface Stopped {
  firstFailed: number | undefined;
  cause: unknown;
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

  /** Stage 1: the whole batch decoded up front (CPU only, once the schemas are cached). */
  async function decode(batch: PartitionBatch): Promise<Decoded<T>> {
    const started = performance.now();
    const decoded = await deps.reader.decodeAll(batch.records);
    m.decodeSeconds.observe((performance.now() - started) / 1000);
    const contexts = batch.records.map(
      (r): RecordContext => ({
        topic: batch.topic,
        partition: batch.partition,
        offset: r.offset,
        timestamp: r.timestamp,
        key: r.key ? Buffer.from(r.key, 'base64').toString('utf8') : null,
        headers: r.headers,
      }),
    );
    const values: { value: T; record: RecordContext }[] = [];
    for (const [i, d] of decoded.entries()) {
      if (d !== TOMBSTONE && !(d instanceof CodecError))
        values.push({ value: d as T, record: contexts[i] as RecordContext });
    }
    m.records.inc({ stage: 'decoded', reason: '' }, values.length);
    return { decoded, contexts, values };
  }

  /**
   * Stage 3: each record in offset order through `process`, its writes submitted to the executor (bounded, per-key
   * order); poison set aside for the dead-letter path. A write that fails transiently aborts the partition's writes
   * not yet started. Stops starting records at the deadline.
   */
  function start(batch: PartitionBatch, { decoded, contexts }: Decoded<T>, prepared: P, deadline: number): Started {
    const records = batch.records;
    const stop = new AbortController();
    const run: Started = { pending: [], deadLetters: [], skipped: new Map(), written: 0, cutAt: undefined };
    const deadLetter = (index: number, error: AppError) => {
      const r = records[index] as MskRecord;
      run.deadLetters.push({
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
          valueSchemaMetadata: r.valueSchemaMetadata ?? null,
        },
      });
    };

    const submit = (w: Write) =>
      deps.executor.execute(w.statement, w.params, {
        orderKey: w.orderKey,
        timestamp: w.timestamp,
        signal: stop.signal,
      });

    for (let i = 0; i < records.length; i++) {
      if (Date.now() > deadline) {
        run.cutAt = i;
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
        run.skipped.set(outcome.skip, (run.skipped.get(outcome.skip) ?? 0) + 1);
        continue;
      }
      // Most records make one write: its own promise, without a Promise.all around it.
      const written = outcome.length === 1 ? submit(outcome[0] as Write) : Promise.all(outcome.map(submit));
      const done = written.then(
        () => {
          run.written++;
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
      run.pending.push({ index: i, done });
    }
    return run;
  }

  /** Stage 4: waits for every write started; the first record not done, and the failure that stopped the partition. */
  async function settle(run: Started): Promise<Stopped> {
    const settled = await Promise.allSettled(run.pending.map((p) => p.done));
    // Counted here and added once per batch: prom-client hashes labels on every inc().
    if (run.written > 0) m.records.inc({ stage: 'written', reason: '' }, run.written);
    for (const [reason, count] of run.skipped) m.records.inc({ stage: 'skipped', reason }, count);
    let firstFailed: number | undefined = run.cutAt;
    const reasons: unknown[] = [];
    for (const [k, result] of settled.entries()) {
      if (result.status === 'rejected') {
        const index = (run.pending[k] as { index: number }).index;
        if (firstFailed === undefined || index < firstFailed) firstFailed = index;
        reasons.push(result.reason);
      }
    }
    // The failure that stopped the partition, not the writes dropped because of it.
    return { firstFailed, cause: reasons.find((r) => !(r instanceof StatementAbortedError)) ?? reasons[0] };
  }

  /**
   * Stage 5: the dead letters of records before the first failure are stored; the others will be met again on the
   * retry. A sink that fails moves the first failure back to its first entry.
   */
  async function storeDeadLetters(run: Started, stopped: Stopped): Promise<Stopped> {
    const { firstFailed } = stopped;
    const toStore = run.deadLetters.filter((d) => firstFailed === undefined || d.index < firstFailed);
    if (toStore.length === 0) return stopped;
    try {
      await deps.deadLetters.write(toStore.map((d) => d.entry));
      const byReason = new Map<string, number>();
      for (const d of toStore) byReason.set(d.entry.reason, (byReason.get(d.entry.reason) ?? 0) + 1);
      for (const [reason, count] of byReason) m.records.inc({ stage: 'dead_lettered', reason }, count);
      m.deadLetters.inc(toStore.length);
      return stopped;
    } catch (error) {
      const index = Math.min(...toStore.map((d) => d.index));
      return {
        firstFailed: firstFailed === undefined || index < firstFailed ? index : firstFailed,
        cause: stopped.cause ?? error,
      };
    }
  }

  /** One partition's batch: decode, prepare, process, settle, dead letters, then what to retry from. */
  async function runPartition(batch: PartitionBatch, deadline: number): Promise<PartitionResult> {
    const records = batch.records;
    if (records.length === 0) return {};
    const first = (records[0] as MskRecord).offset;
    m.records.inc({ stage: 'received', reason: '' }, records.length);
    m.recordAgeSeconds.set(
      { topic: batch.topic, partition: String(batch.partition) },
      (Date.now() - (records[0] as MskRecord).timestamp) / 1000,
    );

    let decoded: Decoded<T>;
    let prepared: P;
    try {
      decoded = await decode(batch);
      // Stage 2: the batch's lookups, shared by its records.
      prepared = (
        definition.prepare ? await definition.prepare(decoded.values, { executor: deps.executor }) : undefined
      ) as P;
    } catch (error) {
      // The registry or a lookup failed: the whole batch goes back to the mapping, and is counted so (the
      // partitions-retrying alarm reads this series; a stall on the registry is a stall too).
      m.records.inc({ stage: 'retried_later', reason: '' }, records.length);
      return { firstUnprocessed: first, cause: error };
    }
    const run = start(batch, decoded, prepared, deadline);
    const { firstFailed, cause } = await storeDeadLetters(run, await settle(run));
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
        // The metrics count the records retried; this line says why, once per invocation. A logger that cannot
        // load must not change the batch's outcome.
        await deps.logger().then(
          (logger) =>
            logger.warn('partitions stopped early: Lambda retries each from its first unprocessed offset', {
              firstUnprocessed: Object.fromEntries(failed),
              error: cause,
            }),
          () => {},
        );
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
