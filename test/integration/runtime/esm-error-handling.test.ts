import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Consumer, Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureTopics } from '../../../dev/demo/stream';
import {
  type FailureDestination,
  KafkaFailureDestination,
  S3FailureDestination,
  SnsFailureDestination,
  SqsFailureDestination,
} from '../../../dev/esm/destinations';
import { type Handler, LocalEventSourceMapping, type MappingSettings } from '../../../dev/esm/runner';
import type { MskEvent } from '../../../lib/runtime/msk-event';
import type { BatchResponse } from '../../../lib/runtime/partitions';
import type { KafkaDestinationRecord, KafkaInvocationRecord } from '../../../ops/kafka/invocation-record';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';

/**
 * The local mapping's error-handling controls against real Kafka, and its on-failure destinations in the local
 * AWS emulator (moto) and on the broker, each in AWS's documented shape:
 * - "Configuring error handling controls for Kafka event sources"
 *   https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 * - "Capturing discarded batches for an Amazon MSK event source" (SQS, SNS and S3 records)
 *   https://docs.aws.amazon.com/lambda/latest/dg/with-msk-on-failure.html
 * - "Using a Kafka topic as an on-failure destination"
 *   https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure-destination.html
 */
const bootstrapBrokers = [endpoints.kafkaBootstrap];
const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/local';
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:pipeline-example-navigation-enricher';
const s3 = new S3Client({ ...awsEmulator, forcePathStyle: true });
const sqs = new SQSClient(awsEmulator);
const sns = new SNSClient(awsEmulator);
const T0 = Date.UTC(2026, 10, 25, 9, 0, 0);

afterAll(() => {
  for (const client of [s3, sqs, sns]) client.destroy();
});

/** A one-partition topic holding `count` records keyed k<i>, produced with the given event times. */
async function topicWith(count: number, timestamp: (i: number) => number = (i) => T0 + i): Promise<string> {
  const topic = uniqueName('esm-controls');
  await ensureTopics(bootstrapBrokers, [topic], 1);
  const producer = new Producer({ clientId: 'esm-controls', bootstrapBrokers });
  await producer.send({
    messages: Array.from({ length: count }, (_, i) => ({
      topic,
      partition: 0,
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      timestamp: BigInt(timestamp(i)),
    })),
  });
  await producer.close();
  return topic;
}

/** Runs a mapping over `topic` until its partition is committed up to `end`; returns it, stopped. */
async function run(topic: string, end: number, handler: Handler, settings: Partial<MappingSettings>) {
  const esm = new LocalEventSourceMapping({
    topic,
    groupId: uniqueName('esm-controls'),
    bootstrapBrokers,
    clusterArn: CLUSTER_ARN,
    handler,
    settings: { batchSize: 5, batchingWindowMs: 50, retryBackoffMs: 10, functionArn: FUNCTION_ARN, ...settings },
  });
  await esm.start();
  // No deadline: the test's own timeout bounds a mapping that never gets there.
  while (!esm.reached([[`${topic}-0`, end]])) await sleep(20);
  await esm.stop();
  return esm;
}

const offsetsOf = (event: MskEvent) => Object.values(event.records).flatMap((records) => records.map((r) => r.offset));

/** A handler answering as `answer` says (a throw is a function error), recording each invocation's offsets. */
function recording(answer: (event: MskEvent) => BatchResponse | undefined) {
  const invocations: number[][] = [];
  const handler: Handler = async (event) => {
    invocations.push(offsetsOf(event));
    return answer(event) ?? { batchItemFailures: [] };
  };
  return { invocations, handler };
}

describe('retry attempts and an S3 destination', () => {
  it('invokes a failing batch 1 + retryAttempts times, puts it in S3 with the whole event, and moves on', async () => {
    const bucket = uniqueName('failed-batches').replaceAll('_', '-').toLowerCase();
    await s3.send(
      new CreateBucketCommand({ Bucket: bucket, CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' } }),
    );
    const topic = await topicWith(10);
    const { invocations, handler } = recording((event) => {
      if (offsetsOf(event).includes(2)) throw new Error('Scylla is down');
      return undefined;
    });
    const esm = await run(topic, 10, handler, {
      controls: { maximumRetryAttempts: 2, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: false },
      onFailure: new S3FailureDestination(s3, bucket, 'f89f8514-cdd9-4602-9e1f-01a5b77d449b'),
    });
    expect(invocations).toEqual([
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
      [0, 1, 2, 3, 4],
      [5, 6, 7, 8, 9],
    ]);
    expect({ discarded: esm.stats.discarded, delivered: esm.stats.delivered }).toEqual({ discarded: 5, delivered: 5 });

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents).toHaveLength(1);
    const key = listed.Contents?.[0]?.Key ?? '';
    expect(key).toMatch(
      new RegExp(
        `^aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/${topic}-0/\\d{4}/\\d{2}/\\d{2}/\\d{4}-\\d{2}-\\d{2}T\\d{2}\\.\\d{2}\\.\\d{2}-[0-9a-f-]{36}$`,
      ),
    );
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const record = JSON.parse(await (object.Body?.transformToString() ?? '')) as KafkaInvocationRecord;
    expect(record).toMatchObject({
      requestContext: { functionArn: FUNCTION_ARN, condition: 'RetryAttemptsExhausted', approximateInvokeCount: 3 },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      KafkaBatchInfo: {
        batchSize: 5,
        eventSourceArn: CLUSTER_ARN,
        bootstrapServers: endpoints.kafkaBootstrap,
        recordsInfo: {
          [`${topic}-0`]: {
            firstRecordOffset: '0',
            lastRecordOffset: '4',
            firstRecordTimestamp: new Date(T0).toISOString(),
            lastRecordTimestamp: new Date(T0 + 4).toISOString(),
          },
        },
      },
    });
    const payload = JSON.parse(record.payload as string) as MskEvent;
    expect(payload.eventSource).toBe('aws:kafka');
    expect(offsetsOf(payload)).toEqual([0, 1, 2, 3, 4]);
    expect(payload.records[`${topic}-0`]?.[2]?.value).toBe(Buffer.from('v2').toString('base64'));
    expect(record.KafkaBatchInfo.payloadSize).toBe(Buffer.byteLength(record.payload as string));
  });
});

describe('a destination that refuses the delivery', () => {
  it('drops the records and moves on, as AWS counts it (DroppedEventCount, DestinationDeliveryFailures)', async () => {
    const topic = await topicWith(4);
    const { invocations, handler } = recording((event) => {
      if (offsetsOf(event).includes(1)) throw new Error('Scylla is down');
      return undefined;
    });
    const esm = await run(topic, 4, handler, {
      batchSize: 2,
      controls: { maximumRetryAttempts: 0, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: false },
      // A bucket nobody created: S3 answers NoSuchBucket.
      onFailure: new S3FailureDestination(
        s3,
        uniqueName('missing').replaceAll('_', '-'),
        'f89f8514-cdd9-4602-9e1f-01a5b77d449b',
      ),
    });
    expect(invocations).toEqual([
      [0, 1],
      [2, 3],
    ]);
    expect({
      discarded: esm.stats.discarded,
      delivered: esm.stats.delivered,
      deliveryFailures: esm.stats.deliveryFailures,
    }).toEqual({ discarded: 2, delivered: 0, deliveryFailures: 1 });
  });
});

describe('partial batch responses and an SQS destination', () => {
  it('counts a partial response as a failed attempt for the records it names: they alone go to the queue', async () => {
    const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('failed') }));
    const topic = await topicWith(5);
    const { invocations, handler } = recording((event) => ({
      batchItemFailures: offsetsOf(event).includes(3)
        ? [{ itemIdentifier: { partition: `${topic}-0`, offset: 3 } }]
        : [],
    }));
    const esm = await run(topic, 5, handler, {
      controls: { maximumRetryAttempts: 1, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: false },
      onFailure: new SqsFailureDestination(sqs, queueUrl, 'arn:aws:sqs:eu-west-1:000000000000:failed'),
    });
    expect(invocations).toEqual([
      [0, 1, 2, 3, 4],
      [3, 4],
    ]);
    expect(esm.stats.partialResponses).toBe(2);
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(messages).toHaveLength(1);
    const record = JSON.parse(messages[0]?.Body ?? '') as KafkaInvocationRecord;
    expect(record.payload).toBeUndefined(); // "Only available in S3"
    expect(record.requestContext).toMatchObject({ condition: 'RetryAttemptsExhausted', approximateInvokeCount: 2 });
    // A partial response is an answer, not a function error.
    expect(record.responseContext).toEqual({ statusCode: 200, executedVersion: '$LATEST' });
    expect(record.KafkaBatchInfo.recordsInfo).toEqual({
      [`${topic}-0`]: expect.objectContaining({ firstRecordOffset: '3', lastRecordOffset: '4' }),
    });
  });
});

describe('split batch on error and an SNS destination', () => {
  it('splits a failing batch down to the one record that fails, and publishes only that one', async () => {
    const { TopicArn: topicArn = '' } = await sns.send(new CreateTopicCommand({ Name: uniqueName('failed') }));
    const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('failed') }));
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
    const topic = await topicWith(5);
    const { invocations, handler } = recording((event) => {
      if (offsetsOf(event).includes(2)) throw new Error('poison the function cannot handle');
      return undefined;
    });
    const esm = await run(topic, 5, handler, {
      controls: { maximumRetryAttempts: 0, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: true },
      onFailure: new SnsFailureDestination(sns, topicArn),
    });
    // 5 → 3 + 2; 3 → 2 + 1; 2 → 1 + 1: the record at offset 2 alone spends its retries (none), the rest succeed.
    expect(invocations).toEqual([[0, 1, 2, 3, 4], [0, 1, 2], [0, 1], [2], [3, 4]]);
    expect(esm.stats.discarded).toBe(1);
    const { Messages: messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(messages).toHaveLength(1);
    const record = JSON.parse(messages[0]?.Body ?? '') as KafkaInvocationRecord;
    expect(record.KafkaBatchInfo).toMatchObject({
      batchSize: 1,
      recordsInfo: { [`${topic}-0`]: { firstRecordOffset: '2', lastRecordOffset: '2' } },
    });
  });
});

describe('maximum record age and a Kafka destination', () => {
  let destinationTopic = '';
  let producer: Producer;
  beforeAll(async () => {
    destinationTopic = uniqueName('failed-records');
    await ensureTopics(bootstrapBrokers, [destinationTopic], 1);
    producer = new Producer({ clientId: 'esm-destination', bootstrapBrokers });
  });
  afterAll(() => producer.close());

  it('sends records older than the maximum age to the topic, one message each with its key, never to the function', async () => {
    const now = Date.now();
    // Two records two minutes old, then three fresh: the first two are past a 60 s maximum age.
    const topic = await topicWith(5, (i) => (i < 2 ? now - 120_000 + i : now + i));
    const destination: FailureDestination = new KafkaFailureDestination(producer, destinationTopic);
    const { invocations, handler } = recording(() => undefined);
    const esm = await run(topic, 5, handler, {
      controls: { maximumRetryAttempts: -1, maximumRecordAgeSeconds: 60, bisectBatchOnFunctionError: false },
      onFailure: destination,
    });
    expect(invocations).toEqual([[2, 3, 4]]);
    expect({ discarded: esm.stats.discarded, expired: esm.stats.expired }).toEqual({ discarded: 2, expired: 2 });

    const consumer = new Consumer({ clientId: 'esm-destination', groupId: uniqueName('read'), bootstrapBrokers });
    const stream = await consumer.consume({ topics: [destinationTopic], mode: 'earliest', maxWaitTime: 200 });
    const received: { key: string; value: KafkaDestinationRecord }[] = [];
    for await (const message of stream) {
      received.push({ key: message.key.toString(), value: JSON.parse(message.value.toString()) });
      if (received.length === 2) break;
    }
    await stream.close();
    await consumer.close(true);
    expect(received.map((r) => r.key)).toEqual(['k0', 'k1']);
    for (const [i, { value }] of received.entries()) {
      expect(value.requestContext).toMatchObject({ condition: 'RecordAgeExceeded', approximateInvokeCount: 0 });
      expect(value.responseContext).toBeNull();
      expect(value.KafkaBatchInfo).toMatchObject({
        batchSize: 1,
        eventSourceArn: CLUSTER_ARN,
        recordInfo: { offset: String(i), timestamp: new Date(now - 120_000 + i).toISOString() },
      });
      expect(offsetsOf(value.payload)).toEqual([i]);
    }
  });
});
