import cassandra from 'cassandra-driver';
import type { SchemaMetadata } from '../codec';
import { AppError } from '../errors';
import type { WriteExecutor } from '../scylla/executor';
import { statement } from '../scylla/statement';

/** A record that will never process: why, and everything needed to look at it or replay it by hand. */
export interface DeadLetter {
  functionName: string;
  topic: string;
  partition: number;
  offset: number;
  /** The error code (`CODEC_TRUNCATED`, `RECORD_INVALID`...): the metrics label. */
  reason: string;
  /** At most `DEAD_LETTER_MESSAGE_CHARS` characters. */
  message: string;
  /** Base64 as delivered (null for a missing key/value). */
  key: string | null;
  value: string | null;
  /** Kafka timestamp, epoch ms. */
  timestamp: number;
  /** The schema the mapping named for the value it decoded (SOURCE or JSON): without it the value is unreadable. */
  valueSchemaMetadata: SchemaMetadata | null;
}

/** An error message is cut to this length when its dead letter is made, so every sink stores the same text. */
export const DEAD_LETTER_MESSAGE_CHARS = 2_000;

export interface DeadLetterSink {
  /** Stores the entries; rejects (transiently) if they could not all be stored. */
  write(entries: DeadLetter[]): Promise<void>;
}

const INSERT = statement(
  'dead_letters.insert',
  `INSERT INTO dead_letters (function_name, day, topic, partition, offset, reason, message, key, value, recorded_at,
     record_timestamp, value_schema, replayed_at, replayed_by)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null, null)`,
  { idempotent: true },
);

/**
 * The `dead_letters` partition of a record: the UTC day of its timestamp. Not the driver's `LocalDate.fromDate`,
 * which reads the Date's local fields: the same record would land on another day on a machine outside UTC.
 */
export function deadLetterDay(timestamp: number): cassandra.types.LocalDate {
  const at = new Date(timestamp);
  return new cassandra.types.LocalDate(at.getUTCFullYear(), at.getUTCMonth() + 1, at.getUTCDate());
}

/** The default sink: the `dead_letters` table, one partition per function and day (of the record's timestamp). */
export class ScyllaDeadLetterSink implements DeadLetterSink {
  constructor(private readonly writes: WriteExecutor) {}

  async write(entries: DeadLetter[]): Promise<void> {
    await Promise.all(
      entries.map((e) =>
        this.writes.execute(INSERT, [
          e.functionName,
          deadLetterDay(e.timestamp),
          e.topic,
          e.partition,
          e.offset,
          e.reason,
          e.message,
          e.key === null ? null : Buffer.from(e.key, 'base64'),
          e.value === null ? null : Buffer.from(e.value, 'base64'),
          new Date(),
          new Date(e.timestamp),
          e.valueSchemaMetadata === null ? null : JSON.stringify(e.valueSchemaMetadata),
        ]),
      ),
    );
  }
}

/** SQS's limit for one message (body and attributes). */
const SQS_MAX_BYTES = 256 * 1024;

/**
 * Dead letters to an SQS queue, one JSON message each (the entry, key and value base64), sent ten per
 * SendMessageBatch. A value too large for one message is left out and marked `valueTruncated`: the record's
 * topic/partition/offset still find it in Kafka. The SDK module loads on the first dead letter.
 */
export class SqsDeadLetterSink implements DeadLetterSink {
  constructor(
    private readonly queueUrl: string,
    private readonly client: () => Promise<import('@aws-sdk/client-sqs').SQSClient>,
  ) {}

  async write(entries: DeadLetter[]): Promise<void> {
    const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
    const sqs = await this.client();
    for (let i = 0; i < entries.length; i += 10) {
      const chunk = entries.slice(i, i + 10);
      const response = await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((entry, j) => {
            let body = JSON.stringify(entry);
            if (Buffer.byteLength(body) > SQS_MAX_BYTES - 1024)
              body = JSON.stringify({ ...entry, value: null, valueTruncated: true });
            return { Id: String(j), MessageBody: body };
          }),
        }),
      );
      if (response.Failed && response.Failed.length > 0) {
        throw new AppError(
          'DEAD_LETTER_WRITE_FAILED',
          `SQS refused ${response.Failed.length} dead letters: ${response.Failed[0]?.Message}`,
          {
            transient: true,
          },
        );
      }
    }
  }
}
