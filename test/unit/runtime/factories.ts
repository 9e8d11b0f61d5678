import type avro from 'avsc';
import type cassandra from 'cassandra-driver';
import { compileSchema, frameConfluentV0, SchemaCache, type SchemaRegistry } from '../../../lib/codec';
import { AvroReader } from '../../../lib/codec/decoder';
import { CodecError } from '../../../lib/codec/errors';
import { MetricsPublisher } from '../../../lib/metrics';
import type { DeadLetter, DeadLetterSink } from '../../../lib/runtime/dead-letters';
import { createProcessor, type ProcessorDefinition } from '../../../lib/runtime/processor';
import { type StatementRunner, WriteExecutor } from '../../../lib/scylla/executor';
import type { ExecuteOptions } from '../../../lib/scylla/session';
import type { Statement } from '../../../lib/scylla/statement';
import { buildMskEvent, type KafkaRecord } from '../../../ops/kafka/msk-event';

/**
 * Factories for the runtime's unit tests (Powertools' habit: events and records built by helpers, the I/O faked):
 * `createProcessor` with a fake statement runner, an in-memory dead-letter sink and an in-memory schema registry, so
 * the runtime's paths run with no server.
 */

export const SCHEMA_ID = 7;
export const CLICK: avro.Schema = {
  type: 'record',
  name: 'Click',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'n', type: 'int' },
  ],
} as avro.Schema;
export interface Click {
  id: string;
  n: number;
}
const clickType = compileSchema(CLICK);

/** A registry that knows one schema id. */
export const memoryRegistry: SchemaRegistry = {
  async fetchSchema(ref) {
    if (ref.kind === 'confluent-id' && ref.id === SCHEMA_ID) return { schema: JSON.stringify(CLICK), references: [] };
    throw new CodecError('CODEC_SCHEMA_NOT_FOUND', `no schema ${JSON.stringify(ref)}`);
  },
};

/** A Kafka record of `topic`, its value a framed Click (or raw bytes, or a tombstone). */
export function clickRecord(
  partition: number,
  offset: number,
  value: Click | Buffer | null,
  topic = 'clicks',
): KafkaRecord {
  const bytes =
    value === null || Buffer.isBuffer(value) ? value : frameConfluentV0(SCHEMA_ID, clickType.toBuffer(value));
  return {
    topic,
    partition,
    offset,
    timestamp: Date.UTC(2026, 0, 1) + offset,
    key: Buffer.from(`k${offset}`),
    value: bytes,
  };
}

export const mskEvent = (records: KafkaRecord[]) => buildMskEvent(records, { bootstrapServers: 'b-1:9098' });

/** One statement a fake runner was asked to run. */
export interface Executed {
  kind: string;
  params: unknown[];
}

/**
 * A statement runner that answers at once, unless `answer` says otherwise for a statement (a rejection, a promise
 * it controls). Records what it ran, in start order.
 */
export function fakeRunner(
  answer: (executed: Executed) => Promise<void> | undefined = () => undefined,
): StatementRunner & { executed: Executed[] } {
  const executed: Executed[] = [];
  return {
    executed,
    async execute(statement: Statement, params: unknown[], _options?: ExecuteOptions) {
      const call = { kind: statement.kind, params: params.map((p) => p) };
      executed.push(call);
      await answer(call);
      return { rows: [] } as unknown as cassandra.types.ResultSet;
    },
  };
}

/** A dead-letter sink in memory; `fail` makes every write reject (a queue that refuses, a table that is down). */
export function memorySink(options: { fail?: Error } = {}): DeadLetterSink & { entries: DeadLetter[] } {
  const entries: DeadLetter[] = [];
  return {
    entries,
    async write(batch) {
      if (options.fail) throw options.fail;
      entries.push(...batch);
    },
  };
}

/** `createProcessor` over the fakes; what the logger was told is kept in `warnings`. */
export function processorUnderTest<T, P>(
  definition: ProcessorDefinition<T, P>,
  options: {
    /** The reader schema (default: Click's), or 'writer': each value as written (the table sink). */
    readerSchema?: avro.Schema | 'writer';
    runner?: StatementRunner;
    sink?: DeadLetterSink;
    maxInFlight?: number;
    reportBatchItemFailures?: boolean;
    deadlineMarginMs?: number;
  } = {},
) {
  const schemas = new SchemaCache(memoryRegistry);
  const warnings: { message: string; attributes: unknown }[] = [];
  const handler = createProcessor(definition, {
    reader: new AvroReader<T>(schemas, options.readerSchema === 'writer' ? undefined : (options.readerSchema ?? CLICK)),
    schemas,
    executor: new WriteExecutor(options.runner ?? fakeRunner(), options.maxInFlight ?? 4),
    deadLetters: options.sink ?? memorySink(),
    metrics: new MetricsPublisher({
      functionName: definition.name,
      namespace: 'test',
      emf: false,
      flushIntervalMs: 0,
      labels: {},
    }),
    logger: async () => ({
      warn: (message: unknown, ...attributes: unknown[]) => {
        warnings.push({ message: String(message), attributes: attributes[0] });
      },
    }),
    reportBatchItemFailures: options.reportBatchItemFailures ?? true,
    deadlineMarginMs: options.deadlineMarginMs ?? 1_000,
  });
  return { handler, warnings };
}
