import { randomUUID } from 'node:crypto';
import type { MskEvent, MskRecord } from '../../lib/runtime/msk-event';

/** The conditions of a record the mapping's own schema registry integration could not decode. */
export type SchemaRejection = 'SCHEMA_NOT_FOUND' | 'DESERIALIZATION_ERROR';

/**
 * What the Kafka mapping sends to an on-failure destination, in AWS's documented shape ("Capturing discarded
 * batches for an Amazon MSK event source", lambda/latest/dg/with-msk-on-failure: "SNS and SQS example invocation
 * record", "S3 destination example invocation record"). Offsets are strings there, timestamps ISO 8601, and
 * `recordsInfo` is keyed by "<topic>-<partition>".
 */
export interface KafkaInvocationRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: DiscardCondition;
    approximateInvokeCount: number;
  };
  /** Null when no invocation answered (AWS: for MaximumPayloadSizeExceeded). */
  responseContext: { statusCode: number; executedVersion: string; functionError?: string } | null;
  version: '1.0';
  timestamp: string;
  KafkaBatchInfo: {
    batchSize: number;
    eventSourceArn: string;
    bootstrapServers: string;
    /** In bytes: the invocation payload's. */
    payloadSize: number;
    recordsInfo: Record<
      string,
      { firstRecordOffset: string; lastRecordOffset: string; firstRecordTimestamp: string; lastRecordTimestamp: string }
    >;
  };
  /** S3 only: "the original invocation record as an escaped JSON string". */
  payload?: string;
}

/**
 * "RetryAttemptsExhausted" and "MaximumPayloadSizeExceeded" are the page's; "RecordAgeExceeded" is what Lambda
 * writes for the record-age cut (the Kafka page names no condition for it; seen in S3 records of stream mappings).
 */
export type DiscardCondition =
  | 'RetryAttemptsExhausted'
  | 'RecordAgeExceeded'
  | 'MaximumPayloadSizeExceeded'
  // The mapping's schema validation: the reason codes of "Using schema registries with Kafka event sources".
  | SchemaRejection;

export interface DiscardContext {
  functionArn: string;
  condition: DiscardCondition;
  approximateInvokeCount: number;
  /** How the last invocation of these records ended; undefined when none was made. */
  lastResponse?: { functionError?: string };
  /** The discarded records, as the event the function would have got. */
  event: MskEvent;
  at: Date;
}

export function invocationRecord(context: DiscardContext, options: { withPayload: boolean }): KafkaInvocationRecord {
  const payload = JSON.stringify(context.event);
  const recordsInfo: KafkaInvocationRecord['KafkaBatchInfo']['recordsInfo'] = {};
  let batchSize = 0;
  for (const [partition, records] of Object.entries(context.event.records)) {
    if (records.length === 0) continue;
    batchSize += records.length;
    const first = records.reduce((a, r) => (r.offset < a.offset ? r : a));
    const last = records.reduce((a, r) => (r.offset > a.offset ? r : a));
    recordsInfo[partition] = {
      firstRecordOffset: String(first.offset),
      lastRecordOffset: String(last.offset),
      firstRecordTimestamp: new Date(first.timestamp).toISOString(),
      lastRecordTimestamp: new Date(last.timestamp).toISOString(),
    };
  }
  return {
    requestContext: {
      requestId: randomUUID(),
      functionArn: context.functionArn,
      condition: context.condition,
      approximateInvokeCount: context.approximateInvokeCount,
    },
    responseContext: context.lastResponse
      ? { statusCode: 200, executedVersion: '$LATEST', ...context.lastResponse }
      : null,
    version: '1.0',
    timestamp: context.at.toISOString(),
    KafkaBatchInfo: {
      batchSize,
      eventSourceArn: context.event.eventSourceArn ?? '',
      bootstrapServers: context.event.bootstrapServers ?? '',
      payloadSize: Buffer.byteLength(payload),
      recordsInfo,
    },
    ...(options.withPayload ? { payload } : {}),
  };
}

/**
 * What a Kafka destination receives, one message per failed record ("Using a Kafka topic as an on-failure
 * destination", lambda/latest/dg/kafka-on-failure-destination: "Record format for a Kafka destination"): the
 * metadata with `batchSize` 1 and `recordInfo` for that record, and `payload` the event holding it as an object.
 * That page's example writes the condition "RetriesExhausted" where the MSK page writes "RetryAttemptsExhausted":
 * one spelling here, the MSK page's.
 */
export interface KafkaDestinationRecord extends Omit<KafkaInvocationRecord, 'KafkaBatchInfo' | 'payload'> {
  KafkaBatchInfo: {
    batchSize: 1;
    eventSourceArn: string;
    bootstrapServers: string;
    payloadSize: number;
    recordInfo: { offset: string; timestamp: string };
  };
  payload: MskEvent;
}

/** One message per record of the discarded event, in offset order. */
export function kafkaDestinationRecords(
  context: DiscardContext,
): { record: MskRecord; value: KafkaDestinationRecord }[] {
  const base = invocationRecord(context, { withPayload: false });
  return Object.values(context.event.records)
    .flat()
    .sort((a, b) => a.offset - b.offset)
    .map((record) => {
      const payload: MskEvent = { ...context.event, records: { [`${record.topic}-${record.partition}`]: [record] } };
      const { recordsInfo: _, ...batch } = base.KafkaBatchInfo;
      return {
        record,
        value: {
          ...base,
          KafkaBatchInfo: {
            ...batch,
            batchSize: 1,
            payloadSize: Buffer.byteLength(JSON.stringify(payload)),
            recordInfo: { offset: String(record.offset), timestamp: new Date(record.timestamp).toISOString() },
          },
          payload,
        },
      };
    });
}

/**
 * The S3 object key. The Kafka page gives none; the stream mappings' pages give
 * "aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>", the partition standing for the
 * shard here.
 */
export function s3ObjectKey(mappingUuid: string, partition: string, at: Date): string {
  const iso = at.toISOString();
  const day = iso.slice(0, 10);
  return `aws/lambda/${mappingUuid}/${partition}/${day.replaceAll('-', '/')}/${day}T${iso.slice(11, 19).replaceAll(':', '.')}-${randomUUID()}`;
}
