import { ScyllaStatementError } from './errors';
import type { ScyllaSession } from './session';
import { statement } from './statement';

/**
 * A keyspace's schema as numbered migrations, each set owned by one component: the runtime (its dead-letter table,
 * below) and every function (`functions/<name>/migrations.ts`), numbered on their own so a function is added or
 * removed without renumbering anyone. Each statement is idempotent on its own (IF NOT EXISTS, columns added only
 * when missing) and applied versions are recorded per owner in `applied_migrations`, so running the migrations
 * again, after a run that stopped half way, or on a keyspace made before owners existed (its `schema_migrations`
 * table is left alone) converges on the same schema.
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

/** One owner's migrations, applied in version order. */
export interface MigrationSet {
  /** `runtime`, or the function's name. */
  owner: string;
  migrations: readonly Migration[];
}

/** The runtime's own tables: the default dead-letter sink and what `npm run dlq` needs of it. */
export const RUNTIME_MIGRATIONS: MigrationSet = {
  owner: 'runtime',
  migrations: [
    {
      version: 1,
      name: 'dead letters',
      statements: [
        // One partition per function and day, rows by topic/partition/offset.
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
  ],
};

export interface MigrationOptions {
  keyspace: string;
  /** The keyspace's replication, e.g. `{'class': 'NetworkTopologyStrategy', 'dc1': 3}`. */
  replication: string;
  /** The functions' sets (`catalogMigrations()` in functions/catalog.ts); the runtime's is applied first, always. */
  sets: readonly MigrationSet[];
}

/** Applies the migrations not yet applied; returns them as `<owner>/<version>`. */
export async function migrate(session: ScyllaSession, options: MigrationOptions): Promise<string[]> {
  const { keyspace, replication } = options;
  if (!/^[a-z][a-z0-9_]{0,47}$/.test(keyspace)) throw new RangeError(`not a keyspace name: ${keyspace}`);
  const sets = [RUNTIME_MIGRATIONS, ...options.sets];
  const owners = new Set<string>();
  for (const { owner } of sets) {
    if (owners.has(owner)) throw new RangeError(`two migration sets own ${owner}`);
    owners.add(owner);
  }
  const run = (cql: string, params: unknown[] = []) =>
    session.execute(statement('migration', cql.replaceAll('{ks}', keyspace), { idempotent: true }), params);
  await run(`CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = ${replication}`);
  await run(
    `CREATE TABLE IF NOT EXISTS {ks}.applied_migrations (
       owner text, version int, name text, applied_at timestamp, PRIMARY KEY (owner, version))`,
  );
  const applied = new Set(
    (await run('SELECT owner, version FROM {ks}.applied_migrations')).rows.map(
      (row) => `${row.get('owner')}/${row.get('version')}`,
    ),
  );
  const done: string[] = [];
  for (const { owner, migrations } of sets) {
    for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
      const id = `${owner}/${migration.version}`;
      if (applied.has(id)) continue;
      await apply(migration);
      await run('INSERT INTO {ks}.applied_migrations (owner, version, name, applied_at) VALUES (?, ?, ?, ?)', [
        owner,
        migration.version,
        migration.name,
        new Date(),
      ]);
      done.push(id);
    }
  }
  return done;

  async function apply(migration: Migration): Promise<void> {
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
  }
}
