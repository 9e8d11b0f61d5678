import { afterAll, describe, expect, it } from 'vitest';
import { catalogMigrations, FUNCTIONS } from '../../../functions/catalog';
import { type MigrationSet, migrate, RUNTIME_MIGRATIONS } from '../../../lib/scylla/migrations';
import { statement } from '../../../lib/scylla/statement';
import { endpoints, uniqueName } from '../endpoints';
import { scyllaConfig, sessionFor } from './fixtures';

/** `migrate()`: the runtime's set and each function's, tracked per owner, against the local CQL server. */
const admin = sessionFor(scyllaConfig(), { useKeyspace: false });
const replication = `{'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 1}`;
afterAll(() => admin.shutdown());

const run = (cql: string, params: unknown[] = []) =>
  admin.execute(statement('test.migrations', cql, { idempotent: true }), params);

async function tables(keyspace: string): Promise<string[]> {
  const { rows } = await run('SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?', [keyspace]);
  return rows.map((r) => r.get('table_name') as string).sort();
}

/** A set of one table, for a function the tests add later. */
const extra = (owner: string): MigrationSet => ({
  owner,
  migrations: [
    { version: 1, name: 'extra', statements: ['CREATE TABLE IF NOT EXISTS {ks}.extra (id text PRIMARY KEY)'] },
  ],
});

describe('migrate', () => {
  it("applies the runtime's migrations and every function's once, recorded per owner", async () => {
    const keyspace = uniqueName('m');
    const first = await migrate(admin, { keyspace, replication, sets: catalogMigrations() });
    expect(first.slice(0, 3)).toEqual(['runtime/1', 'runtime/2', 'runtime/3']);
    for (const name of FUNCTIONS) expect(first).toContain(`${name}/1`);
    expect(await tables(keyspace)).toEqual(
      [
        'applied_migrations',
        'dead_letters',
        'identities',
        'navigations_by_user',
        'segment_rules',
        'user_segments',
      ].sort(),
    );
    expect(await migrate(admin, { keyspace, replication, sets: catalogMigrations() })).toEqual([]);
  });

  it('applies only what a function added later brings, and only its own numbering', async () => {
    const keyspace = uniqueName('m');
    await migrate(admin, { keyspace, replication, sets: catalogMigrations(['identity-linker']) });
    const later = await migrate(admin, { keyspace, replication, sets: [...catalogMigrations(), extra('page-views')] });
    expect(later.sort()).toEqual(['navigation-enricher/1', 'page-views/1', 'segment-builder/1']);
    expect(await tables(keyspace)).toContain('extra');
  });

  it('converges on a keyspace whose tables already exist (made before migrations had owners)', async () => {
    const keyspace = uniqueName('m');
    await run(`CREATE KEYSPACE ${keyspace} WITH replication = ${replication}`);
    // The runtime's table as its three migrations leave it: re-running them must change nothing and fail nothing.
    for (const m of RUNTIME_MIGRATIONS.migrations)
      for (const cql of m.statements) await run(cql.replaceAll('{ks}', keyspace));
    for (const m of RUNTIME_MIGRATIONS.migrations)
      for (const c of m.columns ?? []) await run(`ALTER TABLE ${keyspace}.${c.table} ADD ${c.name} ${c.type}`);
    const applied = await migrate(admin, { keyspace, replication, sets: catalogMigrations() });
    expect(applied).toContain('runtime/3');
    const { rows } = await run(
      "SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = 'dead_letters'",
      [keyspace],
    );
    expect(rows.map((r) => r.get('column_name'))).toContain('value_schema');
  });

  it('refuses two sets with the same owner before applying anything', async () => {
    const keyspace = uniqueName('m');
    await expect(
      migrate(admin, { keyspace, replication, sets: [extra('page-views'), extra('page-views')] }),
    ).rejects.toThrow('two migration sets own page-views');
    expect(await tables(keyspace)).toEqual([]);
  });
});
