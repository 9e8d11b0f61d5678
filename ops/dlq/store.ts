import type { SchemaMetadata } from '../../lib/codec';
import { deadLetterDay } from '../../lib/runtime/dead-letters';

/**
 * What `npm run dlq` reads and marks, whichever sink the functions write their dead letters to: the `dead_letters`
 * table (table-store.ts), an SQS queue (sqs-store.ts) or a Kafka topic (kafka-store.ts).
 */

/** One dead letter, as every sink gives it back. */
export interface DeadLetterEntry {
  /** How `show` names it in its sink: table `function/day/topic/partition/offset`, SQS the message id, Kafka
   * `topic/partition/offset` of the dead-letter topic. */
  id: string;
  functionName: string;
  topic: string;
  partition: number;
  offset: number;
  reason: string;
  message: string;
  key: Buffer | null;
  value: Buffer | null;
  /** The sink could not hold the value (SQS's 256 KiB limit): nothing to replay; the record is in Kafka still. */
  valueLeftOut?: boolean;
  /** The record's own Kafka timestamp. */
  recordTimestamp: Date;
  /** Set for a value the mapping decoded (SOURCE, JSON): the replayed record carries it again. */
  valueSchemaMetadata: SchemaMetadata | null;
  /** UTC day of `recordTimestamp` (the table's partition). */
  day: string;
  replayedAt: Date | null;
  replayedBy: string | null;
}

/** UTC days, both ends included, as epoch ms of their midnights. */
export interface DeadLetterFilter {
  functions: readonly string[];
  reason?: string;
  firstDay: number;
  lastDay: number;
}

export interface DeadLetterStore {
  /** Where the entries are, for the people reading the output. */
  readonly description: string;
  /** The entries matching `filter`, replayed ones included (marked). */
  select(filter: DeadLetterFilter): Promise<DeadLetterEntry[]>;
  find(id: string): Promise<DeadLetterEntry | undefined>;
  /**
   * Of `entries`, just run through their function without a transient failure: those the function dead-lettered
   * again (into this same sink), by entry id, with their new reason.
   */
  failedAgain(entries: readonly DeadLetterEntry[]): Promise<Map<string, string>>;
  /**
   * `replayed` processed: marked with the run (a queue, which cannot mark a message, deletes it). `superseded`
   * failed again: the function's new dead letter, with the new reason, takes their place.
   */
  settle(replayed: readonly DeadLetterEntry[], superseded: readonly DeadLetterEntry[], run: string): Promise<void>;
  /** Leaves everything not settled as it was (an SQS message visible again), and closes the clients. */
  close(): Promise<void>;
}

export const MS_PER_DAY = 86_400_000;

/** A stored `valueSchemaMetadata` (JSON text in the table and the Kafka header), or null when there is none. */
export function schemaMetadataOf(text: string | null | undefined): SchemaMetadata | null {
  if (text === null || text === undefined || text === '') return null;
  const parsed = JSON.parse(text) as SchemaMetadata;
  return { dataFormat: String(parsed.dataFormat), schemaId: String(parsed.schemaId) };
}

/** The UTC day of a record's timestamp, as the table sink files it (`deadLetterDay`). */
export const utcDay = (at: Date | number): string => deadLetterDay(new Date(at).getTime()).toString();

/** The record a dead letter stands for: what a replay's new dead letter is matched to. */
export const originOf = (e: Pick<DeadLetterEntry, 'functionName' | 'topic' | 'partition' | 'offset'>) =>
  `${e.functionName}/${e.topic}/${e.partition}/${e.offset}`;

export function matches(entry: DeadLetterEntry, filter: DeadLetterFilter): boolean {
  const day = Date.parse(`${entry.day}T00:00:00Z`);
  return (
    filter.functions.includes(entry.functionName) &&
    (filter.reason === undefined || entry.reason === filter.reason) &&
    day >= filter.firstDay &&
    day <= filter.lastDay
  );
}
