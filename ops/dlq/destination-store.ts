import {
  GetObjectCommand,
  GetObjectTaggingCommand,
  ListObjectsV2Command,
  PutObjectTaggingCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Message } from '@aws-sdk/client-sqs';
import type { Message as KafkaMessage } from '@platformatic/kafka';
import type { MskEvent, MskRecord } from '../../lib/runtime/msk-event';
import type { KafkaDestinationRecord, KafkaInvocationRecord } from '../kafka/invocation-record';
import { buildMskEvent, type KafkaRecord, kafkaRecordOf } from '../kafka/msk-event';
import { readRange } from '../kafka/read-topic';
import { type DeadLetterEntry, type DeadLetterFilter, type DeadLetterStore, matches, utcDay } from './store';

/**
 * What an event-source mapping sent to its on-failure destination, read back as dead letters so `npm run dlq` can
 * list, show and replay it like the functions' own. The records there are not poison: the function never set them
 * aside, the mapping gave up on them (out of retries, too old), so a replay normally writes them all. A record the
 * function does dead-letter while replaying lands in the function's own sink, where `npm run dlq` finds it; its
 * entry here counts as replayed (the function handled it).
 */

/** Which of `functions` an invocation record's function ARN names: the deployed name ends with `-<function>`. */
export function functionOfArn(functionArn: string, functions: readonly string[]): string | undefined {
  const name = functionArn.split(':function:')[1]?.split(':')[0] ?? '';
  return functions.find((f) => name === f || name.endsWith(`-${f}`));
}

/** An entry's id: the record's coordinates within what holds it (an S3 object, an SQS message). */
const recordIn = (container: string) => (r: MskRecord) => `${container}#${r.topic}-${r.partition}@${r.offset}`;

/** The dead letters a discarded batch stands for, one per record of its event. */
function entriesOf(
  entryId: (r: MskRecord) => string,
  invocation: Pick<KafkaInvocationRecord, 'requestContext' | 'responseContext' | 'timestamp'>,
  event: Pick<MskEvent, 'records'>,
  functions: readonly string[],
): DeadLetterEntry[] {
  const { functionArn, condition, approximateInvokeCount } = invocation.requestContext;
  const functionName = functionOfArn(functionArn, functions) ?? functionArn;
  const message = `${condition} after ${approximateInvokeCount} invocations${
    invocation.responseContext?.functionError ? ` (${invocation.responseContext.functionError})` : ''
  }, sent to the on-failure destination at ${invocation.timestamp}`;
  return Object.values(event.records)
    .flat()
    .map((r: MskRecord) => ({
      id: entryId(r),
      functionName,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      reason: condition,
      message,
      key: r.key ? Buffer.from(r.key, 'base64') : null,
      value: r.value ? Buffer.from(r.value, 'base64') : null,
      recordTimestamp: new Date(r.timestamp),
      day: utcDay(r.timestamp),
      valueSchemaMetadata: r.valueSchemaMetadata ?? null,
      replayedAt: null,
      replayedBy: null,
    }));
}

/**
 * An SQS destination's message (or, through the queue subscribed to an SNS destination, the SNS notification holding
 * it): the invocation record without the records, which are read back from Kafka by the offsets it names (AWS: "the
 * invocation record contains metadata... you must retrieve the records from the cluster"). A record the broker no
 * longer holds (retention) is missing from the entries.
 */
export async function sqsDestinationEntries(
  message: Message,
  connection: Parameters<typeof readRange>[0],
  functions: readonly string[],
): Promise<DeadLetterEntry[]> {
  const body = JSON.parse(message.Body ?? '{}') as KafkaInvocationRecord & { Type?: string; Message?: string };
  const invocation =
    body.Type === 'Notification' && typeof body.Message === 'string'
      ? (JSON.parse(body.Message) as KafkaInvocationRecord)
      : body;
  if (!invocation.requestContext || !invocation.KafkaBatchInfo?.recordsInfo) return []; // not a failed batch
  const records: KafkaRecord[] = [];
  for (const [id, info] of Object.entries(invocation.KafkaBatchInfo.recordsInfo)) {
    const dash = id.lastIndexOf('-');
    const range = {
      partition: Number(id.slice(dash + 1)),
      first: BigInt(info.firstRecordOffset),
      last: BigInt(info.lastRecordOffset),
    };
    for (const m of await readRange(connection, id.slice(0, dash), range)) records.push(kafkaRecordOf(m));
  }
  return entriesOf(
    recordIn(message.MessageId as string),
    invocation,
    buildMskEvent(records, { bootstrapServers: '' }),
    functions,
  );
}

/**
 * A Kafka destination's message (`kafka://<topic>`): one per failed record, the invocation record with `recordInfo`
 * and the event holding that record as `payload` ("Using a Kafka topic as an on-failure destination"). Its id is its
 * own position in the destination topic, which the replay marks name.
 */
export function kafkaDestinationEntry(
  topic: string,
  m: KafkaMessage,
  functions: readonly string[],
): DeadLetterEntry | undefined {
  if (!m.value || m.value.length === 0) return undefined; // a replay mark
  const record = JSON.parse(m.value.toString()) as KafkaDestinationRecord;
  if (!record.requestContext || !record.payload?.records) return undefined;
  const [entry] = entriesOf(() => `${topic}/${m.partition}/${m.offset}`, record, record.payload, functions);
  return entry;
}

const REPLAYED_BY = 'dlq-replayed-by';
const REPLAYED_AT = 'dlq-replayed-at';

/**
 * An S3 on-failure destination: one object per discarded batch, the invocation record with the whole event as its
 * `payload` (AWS, "Capturing discarded batches for an Amazon MSK event source"), under `aws/lambda/`. An object is
 * marked replayed with two object tags once every record in it is (an object cannot be changed in place, and tags
 * leave the record AWS wrote untouched); a partly replayed object is replayed again whole next time, which the
 * functions' idempotent writes allow.
 */
export class S3DestinationStore implements DeadLetterStore {
  readonly description: string;
  private entries: DeadLetterEntry[] | undefined;
  /** Per object: its entries' ids not yet settled by this command. */
  private readonly unsettled = new Map<string, Set<string>>();

  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly functions: readonly string[],
  ) {
    this.description = `the mappings' failed batches in s3://${bucket}`;
  }

  async select(filter: DeadLetterFilter): Promise<DeadLetterEntry[]> {
    return (await this.readAll()).filter((e) => matches(e, filter));
  }

  async find(id: string): Promise<DeadLetterEntry | undefined> {
    return (await this.readAll()).find((e) => e.id === id);
  }

  async failedAgain(): Promise<Map<string, string>> {
    return new Map(); // see the module's comment: what fails again is in the function's own sink
  }

  async settle(replayed: readonly DeadLetterEntry[], superseded: readonly DeadLetterEntry[], run: string) {
    const touched = new Set<string>();
    for (const e of [...replayed, ...superseded]) {
      const key = e.id.slice(0, e.id.lastIndexOf('#'));
      this.unsettled.get(key)?.delete(e.id);
      touched.add(key);
    }
    const at = new Date().toISOString();
    for (const key of touched) {
      if ((this.unsettled.get(key)?.size ?? 0) > 0) continue;
      await this.s3.send(
        new PutObjectTaggingCommand({
          Bucket: this.bucket,
          Key: key,
          Tagging: {
            TagSet: [
              { Key: REPLAYED_BY, Value: run.slice(0, 256) },
              { Key: REPLAYED_AT, Value: at },
            ],
          },
        }),
      );
    }
  }

  async close(): Promise<void> {
    this.s3.destroy();
  }

  private async readAll(): Promise<DeadLetterEntry[]> {
    if (this.entries) return this.entries;
    const entries: DeadLetterEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: 'aws/lambda/', ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key as string;
        const body = await (await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }))).Body;
        const invocation = JSON.parse((await body?.transformToString()) ?? '{}') as KafkaInvocationRecord;
        if (!invocation.requestContext || typeof invocation.payload !== 'string') continue; // not a failed batch
        const tags = (await this.s3.send(new GetObjectTaggingCommand({ Bucket: this.bucket, Key: key }))).TagSet ?? [];
        const tag = (name: string) => tags.find((t) => t.Key === name)?.Value;
        const of = entriesOf(recordIn(key), invocation, JSON.parse(invocation.payload) as MskEvent, this.functions);
        const replayedAt = tag(REPLAYED_AT);
        for (const e of of) {
          if (replayedAt) Object.assign(e, { replayedAt: new Date(replayedAt), replayedBy: tag(REPLAYED_BY) ?? '' });
          entries.push(e);
        }
        this.unsettled.set(key, new Set(of.map((e) => e.id)));
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    this.entries = entries;
    return entries;
  }
}
