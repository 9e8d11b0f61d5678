import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../../../lib/errors';
import type { RecordContext, Write } from '../../../lib/runtime/processor';
import { parseTableSinkConfig } from '../../../lib/sink/config';
import { tableSink } from '../../../lib/sink/table-sink';
import { clickRecord, fakeRunner, memorySink, mskEvent, processorUnderTest } from '../runtime/factories';

/**
 * The table sink's mapping (lib/sink): from a record to the one INSERT or DELETE the mapping says, with no server.
 * The mapping follows the Scylla Kafka Connect sink's (key., value. and header. fields, __ttl, __timestamp, a
 * tombstone deleting by the key); `kafka.*` adds the record's own coordinates.
 */
const sinkOf = (config: object) =>
  tableSink('views-sink', parseTableSinkConfig({ SINK_CONFIG: JSON.stringify(config) }));

const record = (over: Partial<RecordContext> = {}): RecordContext => ({
  topic: 'views',
  partition: 2,
  offset: 1234,
  timestamp: Date.UTC(2026, 0, 2),
  key: 'view-1',
  headers: [{ region: [...Buffer.from('eu-west-1')] }, { trace: [1, 2] }],
  ...over,
});

const VIEW = { page: { url: 'https://example.com/a', title: null }, eventTime: Date.UTC(2026, 0, 1), ttlSeconds: 60 };

const MAPPING = {
  table: 'views',
  columns: {
    id: 'key',
    url: 'value.page.url',
    title: 'value.page.title',
    region: 'header.region',
    referrer: 'value.page.referrer',
    seen_at: 'value.eventTime',
    kafka_offset: 'kafka.offset',
    kafka_time: 'kafka.timestamp',
  },
  ttl: 'value.ttlSeconds',
  writeTime: 'value.eventTime',
  consistency: 'LOCAL_ONE',
};

describe('a table sink', () => {
  it('writes one INSERT of the mapped columns: key, nested value fields, a header, the record; TTL and write time from fields', () => {
    const [write] = sinkOf(MAPPING).process(VIEW, record(), undefined) as Write[];
    expect(write?.statement).toMatchObject({
      cql: 'INSERT INTO views (id, url, title, region, referrer, seen_at, kafka_offset, kafka_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?',
      idempotent: true,
      consistency: 'LOCAL_ONE',
    });
    expect(write?.params).toEqual([
      'view-1',
      'https://example.com/a',
      null,
      'eu-west-1',
      null, // a field this writer version does not have: null, not a failure
      VIEW.eventTime,
      1234,
      new Date(Date.UTC(2026, 0, 2)),
      60,
    ]);
    // Event time in µs, the offset's last three digits as a sub-millisecond tiebreak.
    expect(write?.timestamp).toBe(VIEW.eventTime * 1000 + 234);
    expect(write?.orderKey).toBe('view-1');
  });

  it('takes a constant TTL, the record time as write time by default, and fields of a JSON key', () => {
    const sink = sinkOf({
      table: 'views',
      columns: { tenant: 'key.tenant', id: 'key.id', url: 'value.page.url' },
      ttl: 3600,
    });
    const [write] = sink.process(VIEW, record({ key: '{"tenant":"t1","id":7}' }), undefined) as Write[];
    expect(write?.statement.cql).toBe('INSERT INTO views (tenant, id, url) VALUES (?, ?, ?) USING TTL ?');
    expect(write?.params).toEqual(['t1', 7, 'https://example.com/a', 3600]);
    expect(write?.timestamp).toBe(Date.UTC(2026, 0, 2) * 1000 + 234);
  });

  it('writes at a constant write time when the mapping names one', () => {
    const sink = sinkOf({ table: 'views', columns: { id: 'key' }, writeTime: 1_700_000_000_000 });
    const [write] = sink.process(VIEW, record(), undefined) as Write[];
    expect(write?.timestamp).toBe(1_700_000_000_000 * 1000 + 234);
  });

  it('deletes by the primary key on a tombstone, at the record time', () => {
    const [write] = (sinkOf(MAPPING).tombstone?.(record()) ?? []) as Write[];
    expect(write?.statement.cql).toBe('DELETE FROM views WHERE id = ?');
    expect(write?.params).toEqual(['view-1']);
    expect(write?.timestamp).toBe(Date.UTC(2026, 0, 2) * 1000 + 234);
  });

  it('skips a tombstone when part of the primary key lives in the value it no longer has', () => {
    const sink = sinkOf({ table: 'views', columns: { url: 'value.page.url', id: 'key' }, primaryKey: ['url'] });
    expect(sink.tombstone?.(record())).toEqual({ skip: 'tombstone' });
  });

  it('refuses a record without its primary key (SINK_COLUMN_MISSING) or with a TTL that is not seconds', () => {
    expect(() => sinkOf(MAPPING).process(VIEW, record({ key: null }), undefined)).toThrow(
      expect.objectContaining({
        code: 'SINK_COLUMN_MISSING',
        message: 'id is part of the primary key and key is missing',
      }),
    );
    expect(() => sinkOf(MAPPING).process({ ...VIEW, ttlSeconds: -5 }, record(), undefined)).toThrow(
      expect.objectContaining({ code: 'SINK_VALUE_INVALID' }),
    );
    expect(() => sinkOf(MAPPING).process({ ...VIEW, eventTime: 'soon' }, record(), undefined)).toThrow(
      expect.objectContaining({ code: 'RECORD_INVALID' }),
    );
  });

  it('dead-letters a record without its primary key with that reason, and writes the rest of the batch', async () => {
    const sink = memorySink();
    const runner = fakeRunner();
    const mapping = {
      table: 'clicks',
      columns: { tenant: 'header.tenant', id: 'value.id' },
      primaryKey: ['tenant', 'id'],
    };
    const { handler } = processorUnderTest(sinkOf(mapping), { sink, runner, readerSchema: 'writer' });
    const tenant: [string, Buffer][] = [['tenant', Buffer.from('t1')]];
    const records = [
      { ...clickRecord(0, 0, { id: 'a', n: 1 }), headers: tenant },
      clickRecord(0, 1, { id: 'b', n: 2 }),
      { ...clickRecord(0, 2, { id: 'c', n: 3 }), headers: tenant },
    ];

    expect(await handler(mskEvent(records))).toEqual({ batchItemFailures: [] });
    expect(sink.entries.map((e) => [e.offset, e.reason])).toEqual([[1, 'SINK_COLUMN_MISSING']]);
    expect(runner.executed.map((e) => e.params)).toEqual([
      ['t1', 'a'],
      ['t1', 'c'],
    ]);
  });
});

describe('SINK_CONFIG', () => {
  const error = (config: unknown): ConfigError => {
    try {
      parseTableSinkConfig({ SINK_CONFIG: JSON.stringify(config) });
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };

  it('names the setting of every mistake', () => {
    expect(error({ table: 'Views', columns: { id: 'key' } }).key).toBe('SINK_CONFIG.table');
    expect(error({ table: 'views', columns: {} }).key).toBe('SINK_CONFIG.columns');
    expect(error({ table: 'views', columns: { id: 'body.id' } }).message).toContain('"body.id" is not a source');
    expect(error({ table: 'views', columns: { id: 'kafka.leader' } }).key).toBe('SINK_CONFIG.columns.id');
    expect(error({ table: 'views', columns: { url: 'value.url' } }).key).toBe('SINK_CONFIG.primaryKey');
    expect(error({ table: 'views', columns: { id: 'key' }, primaryKey: ['nope'] }).key).toBe('SINK_CONFIG.primaryKey');
    expect(error({ table: 'views', columns: { id: 'key' }, ttl: -1 }).key).toBe('SINK_CONFIG.ttl');
    expect(error({ table: 'views', columns: { id: 'key' }, consistency: 'MOST' }).key).toBe('SINK_CONFIG.consistency');
    expect(error({ table: 'views', columns: { id: 'key' }, writeTime: -3 }).key).toBe('SINK_CONFIG.writeTime');
    expect(error({ table: 'views', columns: { id: 'key' }, writeTime: true }).key).toBe('SINK_CONFIG.writeTime');
    expect(() => parseTableSinkConfig({ SINK_CONFIG: '{' })).toThrow(/SINK_CONFIG: is not JSON/);
  });
});
