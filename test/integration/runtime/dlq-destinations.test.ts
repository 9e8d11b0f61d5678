import { CreateBucketCommand, GetObjectTaggingCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { ensureTopics } from '../../../dev/demo/stream';
import {
  type FailureDestination,
  KafkaFailureDestination,
  S3FailureDestination,
  SnsFailureDestination,
  SqsFailureDestination,
} from '../../../dev/esm/destinations';
import { NAVIGATION_V1, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { deadLetterDay } from '../../../lib/runtime/dead-letters';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent, type KafkaRecord } from '../../../ops/kafka/msk-event';
import { devCommand } from '../dev-command';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { AWS_ENVIRONMENT, functionEnvironment } from './environment';

/**
 * `npm run dlq -- ... --destination <s3://bucket | queue URL | kafka://topic>`: what an event-source mapping sent to
 * its on-failure destination, in the shapes AWS documents ("Capturing discarded batches for an Amazon MSK event
 * source", lambda/latest/dg/with-msk-on-failure.html: S3 objects with the whole event as `payload`, SQS and SNS
 * messages with the offsets only; "Using a Kafka topic as an on-failure destination": one message per record),
 * listed, shown and replayed through the function's bundle like its own dead letters. The records are in a real
 * topic, so the metadata-only destinations are read back from Kafka by their offsets.
 */
const bootstrapBrokers = [endpoints.kafkaBootstrap];
const s3 = new S3Client({ ...awsEmulator, forcePathStyle: true });
const sqs = new SQSClient(awsEmulator);
const sns = new SNSClient(awsEmulator);
const producer = new Producer({ clientId: 'dlq-destinations', bootstrapBrokers });
const t0 = Date.UTC(2026, 10, 26, 8);
const day = deadLetterDay(t0).toString();
const COUNT = 12;
let topic = '';
let records: KafkaRecord[] = [];
const expected = new Set<string>();

afterAll(async () => {
  for (const client of [s3, sqs, sns]) client.destroy();
  await producer.close();
});

beforeAll(async () => {
  topic = uniqueName('navigation');
  await ensureTopics(bootstrapBrokers, [topic], 1);
  const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
  const encoder = await new AvroEncoder(registry).forSubject<Navigation>(`${topic}-value`, NAVIGATION_V1);
  const generator = navigationEvents({ seed: 52, cookies: 6, startTime: t0 });
  records = Array.from({ length: COUNT }, (_, offset): KafkaRecord => {
    const n = generator.next().value as Navigation;
    if (n.consent !== 'DENIED') expected.add(n.eventId);
    return { topic, partition: 0, offset, timestamp: t0, key: Buffer.from(n.cookieId), value: encoder.encode(n) };
  });
  await producer.send({
    messages: records.map((r) => ({
      topic,
      partition: 0,
      key: r.key ?? undefined,
      value: r.value ?? undefined,
      timestamp: BigInt(r.timestamp),
    })),
  });
}, 120_000);

/** A destination of each kind in the local AWS emulator or on the broker, and how `--destination` names it. */
const destinations: Record<string, () => Promise<{ destination: FailureDestination; name: string }>> = {
  s3: async () => {
    const bucket = uniqueName('failed-batches').toLowerCase().replaceAll('_', '-');
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return {
      destination: new S3FailureDestination(s3, bucket, 'b4c6a2e0-0000-4000-8000-000000000001'),
      name: `s3://${bucket}`,
    };
  },
  sqs: async () => {
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('failed-batches') }));
    const arn = `arn:aws:sqs:eu-west-1:123456789012:${QueueUrl.split('/').pop()}`;
    return { destination: new SqsFailureDestination(sqs, QueueUrl, arn), name: QueueUrl };
  },
  // Through a queue subscribed to the topic, SNS's envelope around each message (no raw delivery).
  sns: async () => {
    const { TopicArn = '' } = await sns.send(new CreateTopicCommand({ Name: uniqueName('failed-batches') }));
    const { QueueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('failed-batches') }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
    await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }));
    return { destination: new SnsFailureDestination(sns, TopicArn), name: QueueUrl };
  },
  kafka: async () => {
    const failed = uniqueName('failed-records');
    await ensureTopics(bootstrapBrokers, [failed], 2);
    return { destination: new KafkaFailureDestination(producer, failed), name: `kafka://${failed}` };
  },
};

async function storedEvents(keyspace: string): Promise<Set<string>> {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    const result = await session.execute(
      statement('test.read', 'SELECT event_id FROM navigations_by_user', { idempotent: true }),
      [],
    );
    return new Set(result.rows.map((row) => String(row.get('event_id'))));
  } finally {
    await session.shutdown();
  }
}

describe("npm run dlq on the mapping's on-failure destinations", () => {
  it.each(Object.keys(destinations))(
    '%s: lists every record of the failed batches, shows one decoded, replays them all through the function',
    async (kind) => {
      const { destination, name } = await (
        destinations[kind] as () => Promise<{ destination: FailureDestination; name: string }>
      )();
      // Two batches the mapping gave up on; a Kafka destination, written at least once, gets the first one twice
      // (its records are listed and replayed once, every copy marked).
      const batches = [records.slice(0, 5), records.slice(5)];
      if (kind === 'kafka') batches.push(records.slice(0, 5));
      for (const [i, part] of batches.entries())
        await destination.deliver({
          partition: `${topic}-0`,
          functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:pipeline-example-navigation-enricher',
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
          lastResponse: { functionError: 'Unhandled' },
          event: buildMskEvent(part, {
            bootstrapServers: 'b-1:9098',
            clusterArn: 'arn:aws:kafka:eu-west-1:1:cluster/c/u',
          }),
          at: new Date(t0 + 60_000 * (i + 1)),
        });
      const keyspace = await freshKeyspace();
      const env = {
        ...functionEnvironment(keyspace),
        ...AWS_ENVIRONMENT,
        AWS_ENDPOINT_URL_S3: endpoints.awsEndpoint,
        DEAD_LETTER_KAFKA_BROKERS: endpoints.kafkaBootstrap,
        DEAD_LETTER_KAFKA_TLS: 'off',
      };
      const dlq = (...args: string[]) =>
        devCommand('ops/dlq/cli.ts', [...args, '--since', day, '--until', day, '--destination', name], env);

      const listed = await dlq('list', '--ids');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(`navigation-enricher\t${day}\tRetryAttemptsExhausted\t${COUNT}\t0`);
      if (kind !== 'sqs' && kind !== 'sns') {
        // A queue hides what a command read until it closes: `show` runs after, on the same messages.
        const id = listed.stdout
          .split('\n')
          .find((line) => /(@|\/)1\tRetryAttemptsExhausted/.test(line))
          ?.split('\t')[0];
        const shown = await dlq('show', id as string);
        expect(shown.stdout).toContain('RetryAttemptsExhausted after 3 invocations (Unhandled)');
        expect(shown.stdout).toMatch(/decoded: \{/);
      }

      expect((await storedEvents(keyspace)).size).toBe(0);
      const first = await dlq('replay');
      expect(first.stdout).toContain(
        `replayed ${COUNT}, failed again 0, left for a later replay 0, already replayed 0`,
      );
      expect(first.code).toBe(0);
      expect(await storedEvents(keyspace)).toEqual(expected);
      // Replayed entries are marked (S3 tags, Kafka marks) or gone (a queue deletes them): a second replay does nothing.
      const second = await dlq('replay');
      const marked = kind === 's3' || kind === 'kafka' ? COUNT : 0;
      expect(second.stdout).toContain(
        `replayed 0, failed again 0, left for a later replay 0, already replayed ${marked}`,
      );
      if (kind === 's3') {
        const bucket = name.slice('s3://'.length);
        for (const o of (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []) {
          const tags = (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: o.Key }))).TagSet ?? [];
          expect(tags.map((t) => t.Key).sort()).toEqual(['dlq-replayed-at', 'dlq-replayed-by']);
        }
      }
    },
    120_000,
  );
});
