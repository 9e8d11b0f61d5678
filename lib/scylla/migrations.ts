import { ScyllaStatementError } from './errors';
import type { ScyllaSession } from './session';
import { statement } from './statement';

/**
 * The domain keyspace's schema, as numbered migrations. Each statement is idempotent on its own (IF NOT EXISTS), and
 * applied versions are recorded in `schema_migrations`, so running the migrations again, or after a run that
 * stopped half way, converges on the same schema.
 */

export interface Migration {
  version: number;
  name: string;
  /** CQL with `{ks}` standing for the keyspace. */
  statements: string[];
  /**
   * Columns to add to existing tables. CQL's ALTER TABLE ADD fails on a column that exists (and Scylla has no
   * ADD IF NOT EXISTS), so each is added only when system_schema says it is missing: idempotent like the rest.
   */
  columns?: { table: string; name: string; type: string }[];
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'domain tables',
    statements: [
      // identity-linker: who a cookie is. Written with the event time as write time.
      `CREATE TABLE IF NOT EXISTS {ks}.identities (
         cookie_id text PRIMARY KEY, user_id text, email_sha256 text, source text, consent text, event_time timestamp)`,
      // navigation-enricher: a visitor's navigation, newest first, by user when known, else by cookie.
      `CREATE TABLE IF NOT EXISTS {ks}.navigations_by_user (
         owner_id text, event_time timestamp, event_id uuid, cookie_id text, user_id text, url text, referrer text,
         user_agent text, ip text, country text, city text, tags list<text>, attributes map<text, text>, consent text,
         PRIMARY KEY ((owner_id), event_time, event_id))
       WITH CLUSTERING ORDER BY (event_time DESC, event_id ASC) AND default_time_to_live = 7776000`,
      // segment-builder: the rules it matches URLs against, and what it derives.
      `CREATE TABLE IF NOT EXISTS {ks}.segment_rules (
         segment_id text PRIMARY KEY, url_pattern text, enabled boolean, updated_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS {ks}.user_segments (
         owner_id text, segment_id text, last_seen timestamp, PRIMARY KEY ((owner_id), segment_id))
       WITH default_time_to_live = 2592000`,
      // The default dead-letter sink: one partition per function and day, rows by topic/partition/offset.
      `CREATE TABLE IF NOT EXISTS {ks}.dead_letters (
         function_name text, day date, topic text, partition int, offset bigint, reason text, message text,
         key blob, value blob, recorded_at timestamp,
         PRIMARY KEY ((function_name, day), topic, partition, offset))`,
    ],
  },
  {
    version: 2,
    name: 'dead-letter redrive',
    statements: [],
    // What `npm run dlq -- replay` needs: the record's own Kafka timestamp, and which replay run wrote it.
    columns: [
      { table: 'dead_letters', name: 'record_timestamp', type: 'timestamp' },
      { table: 'dead_letters', name: 'replayed_at', type: 'timestamp' },
      { table: 'dead_letters', name: 'replayed_by', type: 'text' },
    ],
  },
  {
    version: 3,
    name: 'dead letters of mapping-decoded records',
    statements: [],
    // A value the event-source mapping decoded (SOURCE, JSON) names its schema only in the record's
    // valueSchemaMetadata (JSON text here): a replay needs it back.
    columns: [{ table: 'dead_letters', name: 'value_schema', type: 'text' }],
  },
];

export interface MigrationOptions {
  keyspace: string;
  /** The keyspace's replication, e.g. `{'class': 'NetworkTopologyStrategy', 'dc1': 3}`. */
  replication: string;
}

/** Applies the migrations not yet applied; returns the versions it applied. */
export async function migrate(session: ScyllaSession, options: MigrationOptions): Promise<number[]> {
  const { keyspace, replication } = options;
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace)) throw new RangeError(`not a keyspace name: ${keyspace}`);
  const run = (cql: string, params: unknown[] = []) =>
    session.execute(statement('migration', cql.replaceAll('{ks}', keyspace), { idempotent: true }), params);
  await run(`CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = ${replication}`);
  await run(
    'CREATE TABLE IF NOT EXISTS {ks}.schema_migrations (version int PRIMARY KEY, name text, applied_at timestamp)',
  );
  const applied = new Set(
    (await run('SELECT version FROM {ks}.schema_migrations')).rows.map((row) => row.get('version') as number),
  );
  const done: number[] = [];
  for (const migration of MIGRATIONS) {
    if (applied.has(migration.version)) continue;
    for (const cql of migration.statements) await run(cql);
    for (const column of migration.columns ?? []) {
      const existing = await run(
        'SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ? AND column_name = ?',
        [keyspace, column.table, column.name],
      );
      if (existing.rows.length > 0) continue;
      // On a cluster a schema change can outlast the request timeout and be retried after it was applied, or a
      // coordinator may not have seen the column yet: a column that exists is what this step wanted.
      await run(`ALTER TABLE {ks}.${column.table} ADD ${column.name} ${column.type}`).catch((error: unknown) => {
        if (!(error instanceof ScyllaStatementError && /already exists/i.test(error.message))) throw error;
      });
    }
    await run('INSERT INTO {ks}.schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
      migration.version,
      migration.name,
      new Date(),
    ]);
    done.push(migration.version);
  }
  return done;
}
