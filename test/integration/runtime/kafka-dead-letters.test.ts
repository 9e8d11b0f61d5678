import { pathToFileURL } from 'node:url';
import { Admin, Consumer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityLinker, READER_SCHEMA } from '../../../functions/identity-linker/definition';
import { buildFunction } from '../../../infra/build';
import { composeProcessor } from '../../../lib/runtime/compose';
import type { DeadLetter } from '../../../lib/runtime/dead-letters';
import { DEAD_LETTER_HEADERS, KafkaDeadLetterSink, VALUE_SCHEMA_HEADER } from '../../../lib/runtime/kafka-dead-letters';
import { buildMskEvent, type KafkaRecord } from '../../../ops/kafka/msk-event';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace } from '../scylla/fixtures';
import { functionEnvironment, IDENTITY_POISON } from './environment';

/** The Kafka-topic dead-letter option, producing to the real local Kafka and read back by a consumer. */
describe('dead letters to a Kafka topic', () => {
  const topic = uniqueName('dead-letters');
  let keyspace = '';
  beforeAll(async () => {
    keyspace = await freshKeyspace();
    const admin = new Admin({ clientId: 'dlq-test-admin', bootstrapBrokers: [endpoints.kafkaBootstrap] });
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
    await admin.close();
  });

  const poison = IDENTITY_POISON;

  it('produces each poison record with its original key and value bytes and its reason and origin in headers', async () => {
    const handler = composeProcessor(identityLinker, READER_SCHEMA, {
      ...functionEnvironment(keyspace),
      DEAD_LETTER_SINK: 'kafka',
      DEAD_LETTER_TOPIC: topic,
      DEAD_LETTER_KAFKA_BROKERS: endpoints.kafkaBootstrap,
      DEAD_LETTER_KAFKA_TLS: 'off',
    });
    expect(await handler(buildMskEvent(poison, { bootstrapServers: endpoints.kafkaBootstrap }))).toEqual({
      batchItemFailures: [],
    });

    const letters = await readDeadLetters(topic, 2, (headers) => Number(headers[DEAD_LETTER_HEADERS.offset]) < 100);
    letters.sort(
      (a, b) => Number(a.headers[DEAD_LETTER_HEADERS.offset]) - Number(b.headers[DEAD_LETTER_HEADERS.offset]),
    );
    expect(letters.map((l) => l.headers)).toEqual([
      expect.objectContaining({
        [DEAD_LETTER_HEADERS.reason]: 'CODEC_UNKNOWN_MAGIC',
        [DEAD_LETTER_HEADERS.function]: 'identity-linker',
        [DEAD_LETTER_HEADERS.topic]: 'identity',
        [DEAD_LETTER_HEADERS.partition]: '3',
        [DEAD_LETTER_HEADERS.offset]: '40',
        [DEAD_LETTER_HEADERS.timestamp]: '1700000000000',
      }),
      expect.objectContaining({ [DEAD_LETTER_HEADERS.reason]: 'RECORD_INVALID', [DEAD_LETTER_HEADERS.offset]: '41' }),
    ]);
    expect(letters[0]?.headers[DEAD_LETTER_HEADERS.message]?.length).toBeGreaterThan(0);
    expect(letters[0]?.key).toEqual(Buffer.from('ck-x'));
    expect(letters[0]?.value).toEqual(Buffer.from([0x09, 1, 2]));
    expect(letters[0]?.timestamp).toBe(1_700_000_000_000n);
    expect(letters[1]?.value ?? null).toBeNull();
  });

  it('works from the deployed bundle, where the Kafka client is a chunk loaded on the first dead letter', async () => {
    const { file } = await buildFunction('identity-linker');
    Object.assign(process.env, {
      ...functionEnvironment(keyspace),
      AWS_LAMBDA_FUNCTION_NAME: 'identity-linker',
      DEAD_LETTER_SINK: 'kafka',
      DEAD_LETTER_TOPIC: topic,
      DEAD_LETTER_KAFKA_BROKERS: endpoints.kafkaBootstrap,
      DEAD_LETTER_KAFKA_TLS: 'off',
    });
    const bundle = (await import(pathToFileURL(file).href)) as { handler: (event: unknown) => Promise<unknown> };
    const offset = 1_000;
    const event = buildMskEvent([{ ...(poison[0] as KafkaRecord), offset }], {
      bootstrapServers: endpoints.kafkaBootstrap,
    });
    expect(await bundle.handler(event)).toEqual({ batchItemFailures: [] });
    const letters = await readDeadLetters(
      topic,
      1,
      (headers) => headers[DEAD_LETTER_HEADERS.offset] === String(offset),
    );
    expect(letters[0]?.value).toEqual(Buffer.from([0x09, 1, 2]));
  });

  it('carries the schema metadata of a value the mapping decoded in a header, and only then', async () => {
    const sink = new KafkaDeadLetterSink({
      brokers: [endpoints.kafkaBootstrap],
      topic,
      tls: false,
      sasl: { mechanism: 'none' },
      timeoutMs: 10_000,
    });
    const letter = (offset: number, valueSchemaMetadata: DeadLetter['valueSchemaMetadata']): DeadLetter => ({
      functionName: 'navigation-enricher',
      topic: 'navigation',
      partition: 0,
      offset,
      reason: 'RECORD_INVALID',
      message: 'm',
      key: null,
      value: Buffer.from([2, 0x61]).toString('base64'),
      timestamp: 1_700_000_000_000,
      valueSchemaMetadata,
    });
    await sink.write([letter(500, { dataFormat: 'AVRO', schemaId: '7' }), letter(501, null)]);
    await sink.close();
    const letters = await readDeadLetters(topic, 2, (headers) => Number(headers[DEAD_LETTER_HEADERS.offset]) >= 500);
    letters.sort(
      (a, b) => Number(a.headers[DEAD_LETTER_HEADERS.offset]) - Number(b.headers[DEAD_LETTER_HEADERS.offset]),
    );
    expect(JSON.parse(letters[0]?.headers[VALUE_SCHEMA_HEADER] as string)).toEqual({
      dataFormat: 'AVRO',
      schemaId: '7',
    });
    expect(letters[1]?.headers).not.toHaveProperty(VALUE_SCHEMA_HEADER);
  });

  it('keeps the partition for a retry when the topic cannot be reached: no poison record is dropped', async () => {
    const handler = composeProcessor(identityLinker, READER_SCHEMA, {
      ...functionEnvironment(keyspace),
      DEAD_LETTER_SINK: 'kafka',
      DEAD_LETTER_TOPIC: topic,
      DEAD_LETTER_KAFKA_BROKERS: '127.0.0.1:1', // nothing listens
      DEAD_LETTER_KAFKA_TLS: 'off',
      DEAD_LETTER_KAFKA_TIMEOUT_MS: '1000',
    });
    const response = await handler(buildMskEvent(poison, { bootstrapServers: endpoints.kafkaBootstrap }));
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: { partition: 'identity-3', offset: 40 } }] });
  });
});

interface Letter {
  key: Buffer | undefined;
  value: Buffer | undefined;
  headers: Record<string, string>;
  timestamp: bigint;
}

/**
 * Reads the topic from the start until `count` distinct letters matching `wanted` have arrived. Distinct by origin:
 * a consumer group that rebalances while it starts fetches again from the start, so a letter can arrive twice.
 */
async function readDeadLetters(
  topic: string,
  count: number,
  wanted: (headers: Record<string, string>) => boolean,
): Promise<Letter[]> {
  const consumer = new Consumer({
    clientId: 'dlq-test-consumer',
    groupId: uniqueName('dlq-test'),
    bootstrapBrokers: [endpoints.kafkaBootstrap],
  });
  const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 500 });
  const letters = new Map<string, Letter>();
  for await (const message of stream) {
    const headers: Record<string, string> = {};
    for (const [name, value] of message.headers) headers[name.toString()] = value.toString();
    const { function: fn, topic: from, partition, offset } = DEAD_LETTER_HEADERS;
    const origin = [fn, from, partition, offset].map((h) => headers[h]).join('/');
    if (wanted(headers))
      letters.set(origin, { key: message.key, value: message.value, headers, timestamp: message.timestamp });
    if (letters.size === count) break;
  }
  await stream.close();
  await consumer.close();
  return [...letters.values()];
}

describe('KafkaDeadLetterSink', () => {
  let sink: KafkaDeadLetterSink | undefined;
  afterAll(() => sink?.close());

  it('rejects transiently with DEAD_LETTER_WRITE_FAILED when the brokers are unreachable', async () => {
    sink = new KafkaDeadLetterSink({
      brokers: ['127.0.0.1:1'],
      topic: 'nowhere',
      tls: false,
      sasl: { mechanism: 'none' },
      timeoutMs: 500,
    });
    const entry = {
      functionName: 'f',
      topic: 't',
      partition: 0,
      offset: 1,
      reason: 'CODEC_TRUNCATED',
      message: 'm',
      key: null,
      value: null,
      timestamp: 1,
      valueSchemaMetadata: null,
    };
    await expect(sink.write([entry])).rejects.toMatchObject({ code: 'DEAD_LETTER_WRITE_FAILED', transient: true });
  });
});
