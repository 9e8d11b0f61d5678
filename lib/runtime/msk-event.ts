import type { SchemaMetadata } from '../codec';

/**
 * The event Lambda delivers from a Kafka event-source mapping (MSK or self-managed), as AWS documents it:
 * records grouped by "<topic>-<partition>", key and value base64, headers as byte arrays.
 */

export interface MskRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Epoch milliseconds. */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  /** Base64; missing, null or empty for a record without a key. */
  key?: string | null;
  /** Base64; missing, null or empty for a tombstone. */
  value?: string | null;
  headers: Record<string, number[]>[];
  /**
   * Present when the mapping validated the record against its schema registry (provisioned mode,
   * `SchemaRegistryConfig`): the key or value then arrives without its framing (SOURCE) or as JSON.
   */
  keySchemaMetadata?: SchemaMetadata | null;
  valueSchemaMetadata?: SchemaMetadata | null;
}

export interface MskEvent {
  eventSource: 'aws:kafka' | 'SelfManagedKafka';
  eventSourceArn?: string;
  bootstrapServers: string;
  records: Record<string, MskRecord[]>;
}
