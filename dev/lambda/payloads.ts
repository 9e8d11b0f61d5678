import type { Navigation } from '../../functions/topics/navigation';
import type { MskEvent } from '../../lib/runtime/msk-event';
import { buildMskEvent, type KafkaRecord } from '../../ops/kafka/msk-event';
import { navigationEvents } from '../demo/navigation-generator';
import { ESM_DEFAULTS } from '../esm/runner';

/** Lambda's Kafka ESM: at most 10,000 records per batch, in an invocation payload of at most 6 MB. */
export const MAX_BATCH_RECORDS = 10_000;

/**
 * The two shapes of the largest event Lambda can deliver, from realistic navigation events:
 * - `small`: 10,000 records (the batch size limit) of ~600 bytes of event JSON each (a campaign among the
 *   attributes makes 10,000 of them reach the 6 MB payload limit);
 * - `large`: records of ~96 KiB (a page's serialized state in an attribute), as many as fit in 6 MB.
 */
export type PayloadShape = 'small' | 'large';

const PAGE_STATE_BYTES = 96 * 1024;

export function fullPayloadEvent(
  shape: PayloadShape,
  options: {
    /** The record value of a navigation event for the function's topic (its Avro encoding, or a record derived from it). */
    encode: (event: Navigation) => Buffer;
    topic: string;
    partitions: number;
    startTime: number;
    seed: number;
  },
): { event: MskEvent; records: number; bytes: number } {
  const source = {
    bootstrapServers: '127.0.0.1:9092',
    clusterArn: 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/5a9c2f4e',
  };
  const generator = navigationEvents({ seed: options.seed, cookies: 2_000, startTime: options.startTime });
  const records: KafkaRecord[] = [];
  // The event's JSON without records and each partition's `"<topic>-<n>":[]`, then each record's JSON and its comma.
  let bytes =
    Buffer.byteLength(JSON.stringify(buildMskEvent([], source))) + options.partitions * (options.topic.length + 12);
  for (let i = 0; records.length < MAX_BATCH_RECORDS; i++) {
    const n = generator.next().value as Navigation;
    n.attributes.campaign = `sale-${n.attributes.lang}`;
    if (shape === 'large') n.attributes.page_state = 'x'.repeat(PAGE_STATE_BYTES);
    const record: KafkaRecord = {
      topic: options.topic,
      partition: i % options.partitions,
      offset: Math.floor(i / options.partitions),
      timestamp: n.eventTime,
      key: Buffer.from(n.cookieId),
      value: options.encode(n),
    };
    const [shaped] = Object.values(buildMskEvent([record], source).records)[0] ?? [];
    const size = Buffer.byteLength(JSON.stringify(shaped)) + 1;
    if (bytes + size > ESM_DEFAULTS.maxPayloadBytes) break;
    bytes += size;
    records.push(record);
  }
  const event = buildMskEvent(records, source);
  return { event, records: records.length, bytes: Buffer.byteLength(JSON.stringify(event)) };
}

/**
 * One partition's batches of navigation events, back to back from offset 0: `events` records in MSK events of `size`
 * (the last one shorter), each record's value what the function's topic carries (`encode`).
 */
export function* partitionBatches(options: {
  encode: (event: Navigation) => Buffer;
  topic: string;
  size: number;
  events: number;
  seed: number;
  cookies: number;
  startTime: number;
  bootstrapServers: string;
}): Generator<MskEvent> {
  const generator = navigationEvents({ seed: options.seed, cookies: options.cookies, startTime: options.startTime });
  const source = {
    bootstrapServers: options.bootstrapServers,
    clusterArn: 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/x',
  };
  for (let offset = 0; offset < options.events; ) {
    const records: KafkaRecord[] = [];
    for (let i = 0; i < options.size && offset < options.events; i++) {
      const n = generator.next().value as Navigation;
      records.push({
        topic: options.topic,
        partition: 0,
        offset: offset++,
        timestamp: n.eventTime,
        key: Buffer.from(n.cookieId),
        value: options.encode(n),
      });
    }
    yield buildMskEvent(records, source);
  }
}
