import type { S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Producer } from '@platformatic/kafka';
import {
  type DiscardContext,
  invocationRecord,
  kafkaDestinationRecords,
  s3ObjectKey,
} from '../../ops/kafka/invocation-record';

/**
 * An on-failure destination of the Kafka mapping (AWS's DestinationConfig.OnFailure): where the local mapping sends
 * what its error-handling controls gave up on, in the shape AWS sends to each kind (invocation-record.ts). A
 * delivery that fails throws: the mapping drops the records then, as AWS does (runner.ts, `discard`).
 */
export interface FailureDestination {
  /** As AWS's configuration names it: the resource's ARN, or `kafka://<topic>`. */
  readonly destination: string;
  deliver(discard: Discard): Promise<void>;
}

export type Discard = DiscardContext & { partition: string };

/** SQS: the invocation record, metadata only, as the message body. */
export class SqsFailureDestination implements FailureDestination {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    readonly destination: string,
  ) {}

  async deliver(discard: Discard): Promise<void> {
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    const body = JSON.stringify(invocationRecord(discard, { withPayload: false }));
    await this.sqs.send(new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: body }));
  }
}

/** SNS: the invocation record, metadata only, as the message. */
export class SnsFailureDestination implements FailureDestination {
  constructor(
    private readonly sns: SNSClient,
    readonly destination: string,
  ) {}

  async deliver(discard: Discard): Promise<void> {
    const { PublishCommand } = await import('@aws-sdk/client-sns');
    const message = JSON.stringify(invocationRecord(discard, { withPayload: false }));
    await this.sns.send(new PublishCommand({ TopicArn: this.destination, Message: message }));
  }
}

/** S3: the invocation record with the whole event as `payload`, one object per discarded batch. */
export class S3FailureDestination implements FailureDestination {
  readonly destination: string;

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    /** The mapping's UUID, the first segment of AWS's object keys. */
    private readonly mappingUuid: string,
  ) {
    this.destination = `arn:aws:s3:::${bucket}`;
  }

  async deliver(discard: Discard): Promise<void> {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: s3ObjectKey(this.mappingUuid, discard.partition, discard.at),
        Body: JSON.stringify(invocationRecord(discard, { withPayload: true })),
        ContentType: 'application/json',
      }),
    );
  }
}

/**
 * A Kafka topic on the source cluster (`kafka://<topic>`): one message per record, its original key (Kafka's
 * default partitioner without one), the record's metadata and the event holding it as the value.
 */
export class KafkaFailureDestination implements FailureDestination {
  readonly destination: string;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
  ) {
    this.destination = `kafka://${topic}`;
  }

  async deliver(discard: Discard): Promise<void> {
    await this.producer.send({
      messages: kafkaDestinationRecords(discard).map(({ record, value }) => ({
        topic: this.topic,
        key: record.key ? Buffer.from(record.key, 'base64') : undefined,
        value: Buffer.from(JSON.stringify(value)),
      })),
    });
  }
}
