import cassandra from 'cassandra-driver';
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
  message: string;
  /** Base64 as delivered (null for a missing key/value). */
  key: string | null;
  value: string | null;
  /** Kafka timestamp, epoch ms. */
  timestamp: number;
}

export interface DeadLetterSink {
  /** Stores the entries; rejects (transiently) if they could not all be stored. */
  write(entries: DeadLetter[]): Promise<void>;
}

const INSERT = statement(
  'dead_letters.insert',
  `INSERT INTO dead_letters (function_name, day, topic, partition, offset, reason, message, key, value, recorded_at)
   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  { idempotent: true },
);

/** The default sink: the `dead_letters` table, one partition per function and day (of the record's timestamp). */
export class ScyllaDeadLetterSink implements DeadLetterSink {
  constructor(private readonly writes: WriteExecutor) {}

  async write(entries: DeadLetter[]): Promise<void> {
    await Promise.all(
      entries.map((e) =>
        this.writes.execute(INSERT, [
          e.functionName,
          cassandra.types.LocalDate.fromDate(new Date(e.timestamp)),
          e.topic,
          e.partition,
          e.offset,
          e.reason,
          e.message.slice(0, 2_000),
          e.key === null ? null : Buffer.from(e.key, 'base64'),
          e.value === null ? null : Buffer.from(e.value, 'base64'),
          new Date(),
        ]),
      ),
    );
  }
}
