import { ValidationError } from '../runtime/errors';
import type { ProcessorDefinition, RecordContext, Write } from '../runtime/processor';
import { requireEventTime } from '../runtime/validation';
import { statement } from '../scylla/statement';
import { writeTimestamp } from '../scylla/write-time';
import type { Source, TableSinkConfig } from './config';

/** What a source reads from: the decoded value and the record; a JSON key parsed at most once per record. */
interface Reading {
  value: unknown;
  record: RecordContext;
  keyJson?: unknown;
}

function walk(from: unknown, path: readonly string[]): unknown {
  let at = from;
  for (const part of path) {
    if (at === null || typeof at !== 'object') return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

function header(record: RecordContext, name: string): string | undefined {
  for (const h of record.headers) {
    const bytes = h[name];
    if (bytes) return Buffer.from(bytes).toString('utf8');
  }
  return undefined;
}

function read(source: Source, r: Reading): unknown {
  switch (source.from) {
    case 'value':
      return walk(r.value, source.path);
    case 'key': {
      if (source.path.length === 0) return r.record.key;
      if (r.keyJson === undefined && r.record.key !== null) {
        try {
          r.keyJson = JSON.parse(r.record.key);
        } catch {
          throw new ValidationError('the key is not JSON: its fields cannot be read', 'SINK_KEY_UNREADABLE');
        }
      }
      return walk(r.keyJson, source.path);
    }
    case 'header':
      return header(r.record, source.name);
    case 'kafka':
      return source.field === 'timestamp' ? new Date(r.record.timestamp) : r.record[source.field];
  }
}

const describe = (s: Source): string =>
  s.from === 'header' ? `header.${s.name}` : s.from === 'kafka' ? `kafka.${s.field}` : [s.from, ...s.path].join('.');

/**
 * A table sink: a processor built from its mapping alone (lib/sink/config.ts), no code. Each record is one INSERT of
 * the mapped columns (a column whose source is missing is written as null; a primary-key column missing dead-letters
 * the record as SINK_COLUMN_MISSING), with the TTL and write time the mapping names; a tombstone is one DELETE by the
 * primary key when the key, headers or record carry all of it (else it is skipped as `tombstone`). Writes of one
 * primary key keep their record order.
 */
export function tableSink(name: string, config: TableSinkConfig): ProcessorDefinition<unknown> {
  const { table, columns, consistency } = config;
  const insert = statement(
    `${table}.insert`,
    `INSERT INTO ${table} (${columns.map((c) => c.column).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})${
      config.ttl === undefined ? '' : ' USING TTL ?'
    }`,
    { idempotent: true, consistency },
  );
  const keyIndexes = config.primaryKey.map((k) => columns.findIndex((c) => c.column === k));
  const keyColumns = keyIndexes.map((i) => columns[i] as (typeof columns)[number]);
  const deletable = keyColumns.every((c) => c.source.from !== 'value');
  const remove = statement(
    `${table}.delete`,
    `DELETE FROM ${table} WHERE ${keyColumns.map((c) => `${c.column} = ?`).join(' AND ')}`,
    { idempotent: true, consistency },
  );

  const primaryKeyOf = (values: readonly unknown[]): string => {
    for (const [k, value] of values.entries())
      if (value === undefined || value === null) {
        const c = keyColumns[k] as (typeof columns)[number];
        throw new ValidationError(
          `${c.column} is part of the primary key and ${describe(c.source)} is missing`,
          'SINK_COLUMN_MISSING',
        );
      }
    return values.map(String).join('\u0000');
  };

  const ttlOf = (r: Reading): number => {
    const ttl = config.ttl;
    if (ttl === undefined || typeof ttl === 'number') return ttl ?? 0;
    const seconds = read(ttl, r);
    if (seconds === undefined || seconds === null) return 0;
    if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > 630_720_000)
      throw new ValidationError(`${describe(ttl)} ${String(seconds)} is not a TTL in seconds`, 'SINK_VALUE_INVALID');
    return seconds;
  };

  const writeTime = config.writeTime;
  const writeTimeOf = (r: Reading): number => {
    if (typeof writeTime === 'number') return writeTimestamp(writeTime, r.record.offset);
    const time = read(writeTime, r);
    const ms = time instanceof Date ? time.getTime() : time;
    return writeTimestamp(requireEventTime(ms, describe(writeTime)), r.record.offset);
  };

  return {
    name,
    process(value, record): Write[] {
      const r: Reading = { value, record };
      const row = columns.map((c) => read(c.source, r) ?? null);
      const orderKey = primaryKeyOf(keyIndexes.map((i) => row[i]));
      if (config.ttl !== undefined) row.push(ttlOf(r));
      return [{ statement: insert, params: row, orderKey, timestamp: writeTimeOf(r) }];
    },
    tombstone(record) {
      if (!deletable) return { skip: 'tombstone' };
      const r: Reading = { value: undefined, record };
      const params = keyColumns.map((c) => read(c.source, r));
      const orderKey = primaryKeyOf(params);
      // A tombstone has no value: it is written at the record's own time, whatever the mapping's writeTime.
      return [{ statement: remove, params, orderKey, timestamp: writeTimestamp(record.timestamp, record.offset) }];
    },
  };
}
