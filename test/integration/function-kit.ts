import type avro from 'avsc';
import type cassandra from 'cassandra-driver';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../lib/codec';
import { statement } from '../../lib/scylla/statement';
import { buildMskEvent, type KafkaRecord } from '../../ops/kafka/msk-event';
import { endpoints, uniqueName } from './endpoints';
import { functionEnvironment } from './runtime/environment';
import { freshKeyspace, scyllaConfig, sessionFor } from './scylla/fixtures';

/**
 * What a function's own integration test needs (the tests `npm run new` scaffolds use it): a keyspace of its own
 * with every catalog function's tables, the function's environment as Lambda would hold it, records framed by the
 * real registry, MSK events, and the rows and dead letters to check.
 */
export interface FunctionTestKit {
  keyspace: string;
  /** The environment `composeProcessor` reads, pointing at the local stack and this kit's keyspace. */
  environment(overrides?: Record<string, string>): Record<string, string>;
  /**
   * Records of `topic`'s partition 0 from offset 0: an object is encoded with `writerSchema` (registered under a
   * subject of this test's own) and framed as Confluent v0; a Buffer is sent as is (poison); null is a tombstone.
   */
  records(topic: string, writerSchema: avro.Schema, values: (object | Buffer | null)[]): Promise<KafkaRecord[]>;
  /** The event Lambda delivers for these records. */
  mskEvent(records: KafkaRecord[]): unknown;
  rows(cql: string, params?: unknown[]): Promise<cassandra.types.Row[]>;
  /** The function's dead letters in this keyspace, by offset. */
  deadLetters(functionName: string): Promise<{ offset: number; reason: string }[]>;
  close(): Promise<void>;
}

export async function functionTestKit(): Promise<FunctionTestKit> {
  const keyspace = await freshKeyspace();
  const encoder = new AvroEncoder(new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }));
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  const rows = async (cql: string, params: unknown[] = []) =>
    (await session.execute(statement('test.read', cql, { idempotent: true }), params)).rows;
  return {
    keyspace,
    environment: (overrides) => functionEnvironment(keyspace, overrides),
    async records(topic, writerSchema, values) {
      const writer = await encoder.forSubject<object>(`${uniqueName(topic)}-value`, writerSchema);
      const t0 = Date.UTC(2026, 0, 1);
      return values.map((value, offset) => ({
        topic,
        partition: 0,
        offset,
        timestamp: t0 + offset,
        key: Buffer.from(`key-${offset}`),
        value: value === null || Buffer.isBuffer(value) ? value : writer.encode(value),
      }));
    },
    mskEvent: (records) => buildMskEvent(records, { bootstrapServers: 'b-1:9098' }),
    rows,
    async deadLetters(functionName) {
      const found = await rows('SELECT offset, reason FROM dead_letters WHERE function_name = ? ALLOW FILTERING', [
        functionName,
      ]);
      return found
        .map((r) => ({ offset: Number(r.get('offset')), reason: r.get('reason') as string }))
        .sort((a, b) => a.offset - b.offset);
    },
    close: () => session.shutdown(),
  };
}
