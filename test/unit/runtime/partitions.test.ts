import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../../../lib/runtime/errors';
import { batchResponse, splitByPartition } from '../../../lib/runtime/partitions';

/** AWS's sample MSK event (Lambda developer guide, "Using Lambda with Amazon MSK"). */
const AWS_SAMPLE: unknown = JSON.parse(
  readFileSync(new URL('../../fixtures/msk-aws-sample.json', import.meta.url), 'utf8'),
);

const record = (topic: string, partition: number, offset: number) => ({
  topic,
  partition,
  offset,
  timestamp: 1,
  timestampType: 'CREATE_TIME',
  headers: [],
});

describe('splitting an event by topic-partition', () => {
  it('reads AWS’s sample event', () => {
    const [batch] = splitByPartition(AWS_SAMPLE);
    expect(batch).toMatchObject({ id: 'mytopic-0', topic: 'mytopic', partition: 0 });
    expect(batch?.records.map((r) => r.offset)).toEqual([15]);
  });

  it('splits on the last dash: a topic name may contain dashes', () => {
    const event = {
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'b:9092',
      records: { 'web-navigation-v2-12': [record('web-navigation-v2', 12, 3)] },
    };
    expect(splitByPartition(event)[0]).toMatchObject({ topic: 'web-navigation-v2', partition: 12 });
  });

  it('keeps partitions apart and puts each in offset order', () => {
    const event = {
      eventSource: 'aws:kafka',
      bootstrapServers: 'b:9092',
      records: { 'nav-0': [record('nav', 0, 9), record('nav', 0, 7)], 'nav-1': [record('nav', 1, 4)] },
    };
    const batches = splitByPartition(event);
    expect(batches.map((b) => [b.id, b.records.map((r) => r.offset)])).toEqual([
      ['nav-0', [7, 9]],
      ['nav-1', [4]],
    ]);
  });

  it('accepts an empty batch', () => {
    expect(splitByPartition({ eventSource: 'aws:kafka', bootstrapServers: 'b', records: {} })).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['not an object', 'hello'],
    ['another event source', { eventSource: 'aws:sqs', records: {} }],
    ['records as an array', { eventSource: 'aws:kafka', records: [] }],
    ['a key without a partition', { eventSource: 'aws:kafka', records: { mytopic: [] } }],
    ['a record of another partition', { eventSource: 'aws:kafka', records: { 'a-0': [record('a', 1, 0)] } }],
    [
      'a record without an offset',
      { eventSource: 'aws:kafka', records: { 'a-0': [{ topic: 'a', partition: 0, timestamp: 1 }] } },
    ],
  ])('refuses %s with a typed error', (_, event) => {
    expect(() => splitByPartition(event)).toThrow(InvalidEventError);
  });
});

describe('the partial batch response', () => {
  it('names, per failed partition, the first offset not processed, exactly as AWS documents it', () => {
    expect(batchResponse(new Map([['mytopic-0', 100]]))).toEqual({
      batchItemFailures: [{ itemIdentifier: { partition: 'mytopic-0', offset: 100 } }],
    });
  });

  it('is an empty list when the whole batch succeeded', () => {
    expect(batchResponse(new Map())).toEqual({ batchItemFailures: [] });
  });
});
