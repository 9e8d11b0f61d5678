import type { Message } from '@platformatic/kafka';
import type { SchemaMetadata } from '../../lib/codec';
import type { MskEvent, MskRecord } from '../../lib/runtime/msk-event';

/** A Kafka record as the local tools hold it, before it is shaped like Lambda's event. */
export interface KafkaRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: [string, Buffer][];
  /** Set when the record stands for one the mapping decoded with its schema registry (SOURCE or JSON). */
  valueSchemaMetadata?: SchemaMetadata | null;
}

/** A consumed message as a `KafkaRecord`. A Kafka tombstone has no value; an empty value is treated the same way. */
export function kafkaRecordOf(message: Message): KafkaRecord {
  return {
    topic: message.topic,
    partition: message.partition as number,
    offset: Number(message.offset),
    timestamp: Number(message.timestamp),
    key: message.key && message.key.length > 0 ? message.key : null,
    value: message.value && message.value.length > 0 ? message.value : null,
    headers: [...message.headers].map(([k, v]) => [k.toString(), v] as [string, Buffer]),
  };
}

/**
 * The event Lambda's Kafka event-source mapping delivers, exactly as AWS documents it: records grouped under
 * "<topic>-<partition>", key and value base64 (absent for null), headers as single-key objects of byte arrays.
 */
export function buildMskEvent(
  records: readonly KafkaRecord[],
  source: { bootstrapServers: string; clusterArn?: string },
): MskEvent {
  const grouped: Record<string, MskRecord[]> = {};
  for (const r of records) {
    const id = `${r.topic}-${r.partition}`;
    const record: MskRecord = {
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      timestamp: r.timestamp,
      timestampType: 'CREATE_TIME',
      ...(r.key === null ? {} : { key: r.key.toString('base64') }),
      ...(r.value === null ? {} : { value: r.value.toString('base64') }),
      headers: (r.headers ?? []).map(([name, bytes]) => ({ [name]: [...bytes] })),
      ...(r.valueSchemaMetadata ? { valueSchemaMetadata: r.valueSchemaMetadata } : {}),
    };
    const list = grouped[id] ?? [];
    list.push(record);
    grouped[id] = list;
  }
  return {
    eventSource: source.clusterArn ? 'aws:kafka' : 'SelfManagedKafka',
    ...(source.clusterArn ? { eventSourceArn: source.clusterArn } : {}),
    bootstrapServers: source.bootstrapServers,
    records: grouped,
  };
}
