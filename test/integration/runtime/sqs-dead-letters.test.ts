import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { identityLinker, READER_SCHEMA } from '../../../functions/identity-linker/definition';
import { composeProcessor } from '../../../lib/runtime/compose';
import type { DeadLetter } from '../../../lib/runtime/dead-letters';
import { buildMskEvent } from '../../../ops/kafka/msk-event';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace } from '../scylla/fixtures';
import { AWS_ENVIRONMENT, functionEnvironment, IDENTITY_POISON } from './environment';

/** The SQS dead-letter option, against SQS served by moto through the AWS SDK. */
const awsEnv = AWS_ENVIRONMENT;
// The function's SQS client is built from its environment, as in Lambda (this test file runs in its own process).
Object.assign(process.env, awsEnv);
const sqs = new SQSClient({ region: awsEnv.AWS_REGION, endpoint: endpoints.awsEndpoint });

describe('dead letters to SQS', () => {
  let queueUrl = '';
  let keyspace = '';
  beforeAll(async () => {
    keyspace = await freshKeyspace();
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('dead-letters') }))).QueueUrl as string;
  });

  it('sends each poison record, with its reason, position and bytes, as one message', async () => {
    const handler = composeProcessor(identityLinker, READER_SCHEMA, {
      ...functionEnvironment(keyspace),
      DEAD_LETTER_SINK: 'sqs',
      DEAD_LETTER_QUEUE_URL: queueUrl,
    });
    expect(await handler(buildMskEvent(IDENTITY_POISON, { bootstrapServers: endpoints.kafkaBootstrap }))).toEqual({
      batchItemFailures: [],
    });
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const letters = (received.Messages ?? [])
      .map((m) => JSON.parse(m.Body as string) as DeadLetter)
      .sort((a, b) => a.offset - b.offset);
    expect(letters.map((l) => [l.functionName, l.topic, l.partition, l.offset, l.reason])).toEqual([
      ['identity-linker', 'identity', 3, 40, 'CODEC_UNKNOWN_MAGIC'],
      ['identity-linker', 'identity', 3, 41, 'RECORD_INVALID'],
    ]);
    expect(Buffer.from(letters[0]?.value as string, 'base64')).toEqual(Buffer.from([0x09, 1, 2]));
    expect(Buffer.from(letters[0]?.key as string, 'base64').toString()).toBe('ck-x');
    // Framed values name their schema themselves: no mapping metadata to keep.
    expect(letters.map((l) => l.valueSchemaMetadata)).toEqual([null, null]);
  });
});
