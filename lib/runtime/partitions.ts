import { InvalidEventError } from './errors';
import type { MskEvent, MskRecord } from './msk-event';

/** One topic-partition's records of an invocation, in offset order. */
export interface PartitionBatch {
  /** The event's key for it, "<topic>-<partition>": what a partial batch response names. */
  readonly id: string;
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly MskRecord[];
}

/**
 * Validates the event's shape and splits it by topic-partition. A topic name may itself contain '-': the partition
 * number is what follows the LAST '-'. Records are sorted by offset (Lambda delivers them in order; a batch that is
 * not is put in order rather than trusted).
 */
export function splitByPartition(event: unknown): PartitionBatch[] {
  if (typeof event !== 'object' || event === null) throw new InvalidEventError('the event is not an object');
  const { eventSource, records } = event as Partial<MskEvent>;
  if (eventSource !== 'aws:kafka' && eventSource !== 'SelfManagedKafka') {
    throw new InvalidEventError(`eventSource is ${JSON.stringify(eventSource)}, not aws:kafka or SelfManagedKafka`);
  }
  if (typeof records !== 'object' || records === null || Array.isArray(records)) {
    throw new InvalidEventError('records is not an object keyed by "<topic>-<partition>"');
  }
  return Object.entries(records).map(([id, list]) => {
    const dash = id.lastIndexOf('-');
    const topic = id.slice(0, dash);
    const partition = Number(id.slice(dash + 1));
    if (dash <= 0 || !Number.isInteger(partition) || partition < 0) {
      throw new InvalidEventError(`records key ${JSON.stringify(id)} is not "<topic>-<partition>"`);
    }
    if (!Array.isArray(list)) throw new InvalidEventError(`records["${id}"] is not an array`);
    for (const record of list as unknown[]) {
      const r = record as Partial<MskRecord>;
      if (typeof r !== 'object' || r === null || !Number.isSafeInteger(r.offset) || typeof r.timestamp !== 'number') {
        throw new InvalidEventError(`a record of ${id} has no numeric offset and timestamp`);
      }
      if (r.topic !== topic || r.partition !== partition) {
        throw new InvalidEventError(`a record under ${id} says topic ${r.topic} partition ${r.partition}`);
      }
    }
    const sorted = [...(list as MskRecord[])].sort((a, b) => a.offset - b.offset);
    return { id, topic, partition, records: sorted };
  });
}

/** The AWS partial batch response: per failed partition, the first offset not processed. */
export interface BatchResponse {
  batchItemFailures: { itemIdentifier: { partition: string; offset: number } }[];
}

export function batchResponse(firstUnprocessed: Map<string, number>): BatchResponse {
  return {
    batchItemFailures: [...firstUnprocessed].map(([partition, offset]) => ({ itemIdentifier: { partition, offset } })),
  };
}
