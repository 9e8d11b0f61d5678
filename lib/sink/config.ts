import { type Env, requireString } from '../config';
import { ConfigError } from '../errors';
import { CONSISTENCIES, type Consistency } from '../scylla/config';
import { MAX_WRITE_TIME_MS } from '../scylla/write-time';

/**
 * A table sink's mapping, after the Scylla Kafka Connect sink's (`topic.<topic>.<keyspace>.<table>.mapping`: columns
 * from `key.`, `value.` and `header.` fields, `__ttl`, `__timestamp`, a tombstone deletes by the key), as one JSON
 * object in SINK_CONFIG (the CDK app writes it from the environment file's `sinks.<name>`):
 *
 * ```json
 * { "table": "page_views",
 *   "columns": { "id": "key", "url": "value.page.url", "region": "header.region", "seen_at": "value.eventTime",
 *                "kafka_offset": "kafka.offset" },
 *   "primaryKey": ["id"], "ttl": "value.ttlSeconds", "writeTime": "value.eventTime", "consistency": "LOCAL_QUORUM" }
 * ```
 *
 * Sources: `key` (the key as text), `key.<path>` (a field of a JSON key), `value` (the whole value), `value.<path>`
 * (a field of the Avro value, dots for nested records and maps), `header.<name>` (a header as UTF-8 text),
 * `kafka.topic|partition|offset|timestamp` (the record's own; timestamp as a Date). `primaryKey` (default: the
 * columns read from the key) must be present in every record, else it is dead-lettered (SINK_COLUMN_MISSING), and
 * is what a tombstone deletes by when every one of its columns comes from the key or the record. `ttl`: seconds,
 * a number or a source (missing or 0: none). `writeTime`: epoch milliseconds, a source (default `kafka.timestamp`)
 * or a constant,
 * written as CQL's USING TIMESTAMP with the offset as a sub-millisecond tiebreak, so a replay changes nothing.
 */
export interface TableSinkConfig {
  table: string;
  columns: { column: string; source: Source }[];
  primaryKey: string[];
  ttl: number | Source | undefined;
  /** A source of epoch milliseconds, or a constant (every write at that time: the newest record no longer wins). */
  writeTime: Source | number;
  consistency: Consistency | undefined;
}

export type Source =
  | { from: 'key'; path: string[] }
  | { from: 'value'; path: string[] }
  | { from: 'header'; name: string }
  | { from: 'kafka'; field: 'topic' | 'partition' | 'offset' | 'timestamp' };

const IDENTIFIER = /^[a-z][a-z0-9_]{0,47}$/;
const KAFKA_FIELDS = ['topic', 'partition', 'offset', 'timestamp'] as const;

export function parseSource(raw: string, where: string): Source {
  const [root = '', ...rest] = raw.split('.');
  if ((root === 'key' || root === 'value') && rest.every((part) => part.length > 0)) return { from: root, path: rest };
  if (root === 'header' && rest.length > 0) return { from: 'header', name: rest.join('.') };
  const field = rest[0];
  if (root === 'kafka' && rest.length === 1 && KAFKA_FIELDS.includes(field as (typeof KAFKA_FIELDS)[number]))
    return { from: 'kafka', field: field as (typeof KAFKA_FIELDS)[number] };
  throw new ConfigError(
    where,
    `"${raw}" is not a source: key, key.<path>, value, value.<path>, header.<name>, kafka.topic|partition|offset|timestamp`,
  );
}

/** The sink's mapping from SINK_CONFIG, validated once (cold start); every error names the setting. */
export function parseTableSinkConfig(env: Env): TableSinkConfig {
  const raw = requireString(env, 'SINK_CONFIG');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new ConfigError('SINK_CONFIG', `is not JSON: ${(error as Error).message}`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json))
    throw new ConfigError('SINK_CONFIG', 'is not an object');
  const c = json as Record<string, unknown>;
  if (typeof c.table !== 'string' || !IDENTIFIER.test(c.table))
    throw new ConfigError('SINK_CONFIG.table', 'must be a table name (lowercase letters, digits, _)');
  if (!c.columns || typeof c.columns !== 'object' || Array.isArray(c.columns) || Object.keys(c.columns).length === 0)
    throw new ConfigError('SINK_CONFIG.columns', 'must map at least one column to its source');
  const columns = Object.entries(c.columns as Record<string, unknown>).map(([column, source]) => {
    if (!IDENTIFIER.test(column))
      throw new ConfigError(`SINK_CONFIG.columns.${column}`, 'is not a column name (lowercase letters, digits, _)');
    if (typeof source !== 'string') throw new ConfigError(`SINK_CONFIG.columns.${column}`, 'must be a source string');
    return { column, source: parseSource(source, `SINK_CONFIG.columns.${column}`) };
  });
  const fromKey = columns.filter((c) => c.source.from === 'key').map((c) => c.column);
  const primaryKey = c.primaryKey ?? fromKey;
  if (
    !Array.isArray(primaryKey) ||
    primaryKey.length === 0 ||
    !primaryKey.every((k) => typeof k === 'string' && columns.some((c) => c.column === k))
  )
    throw new ConfigError(
      'SINK_CONFIG.primaryKey',
      "must name the mapped columns of the table's primary key (default: the columns read from the key; none is)",
    );
  let ttl: TableSinkConfig['ttl'];
  if (typeof c.ttl === 'number') {
    if (!Number.isInteger(c.ttl) || c.ttl < 0 || c.ttl > 630_720_000)
      throw new ConfigError('SINK_CONFIG.ttl', 'must be whole seconds from 0 to 630720000 (20 years)');
    ttl = c.ttl;
  } else if (typeof c.ttl === 'string') ttl = parseSource(c.ttl, 'SINK_CONFIG.ttl');
  else if (c.ttl !== undefined) throw new ConfigError('SINK_CONFIG.ttl', 'must be seconds or a source');
  let writeTime: TableSinkConfig['writeTime'];
  if (typeof c.writeTime === 'number') {
    if (!Number.isSafeInteger(c.writeTime) || c.writeTime <= 0 || c.writeTime > MAX_WRITE_TIME_MS)
      throw new ConfigError('SINK_CONFIG.writeTime', `must be epoch milliseconds up to ${MAX_WRITE_TIME_MS}`);
    writeTime = c.writeTime;
  } else if (c.writeTime === undefined || typeof c.writeTime === 'string')
    writeTime = parseSource(c.writeTime ?? 'kafka.timestamp', 'SINK_CONFIG.writeTime');
  else throw new ConfigError('SINK_CONFIG.writeTime', 'must be a source of epoch milliseconds, or a constant');
  const consistency = c.consistency;
  if (consistency !== undefined && !CONSISTENCIES.includes(consistency as Consistency))
    throw new ConfigError('SINK_CONFIG.consistency', `must be one of ${CONSISTENCIES.join(', ')}`);
  return {
    table: c.table,
    columns,
    primaryKey: primaryKey as string[],
    ttl,
    writeTime,
    consistency: consistency as Consistency | undefined,
  };
}
