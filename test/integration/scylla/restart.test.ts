import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dedicatedServer } from '../../../dev/stack/dedicated';
import { catalogMigrations } from '../../../functions/catalog';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { migrate } from '../../../lib/scylla/migrations';
import { statement } from '../../../lib/scylla/statement';
import { createSecret, secretsManager, sessionFor } from './fixtures';

const server = dedicatedServer('cql', 0);
const local = server.endpoints;
const READ = statement('identities.read', 'SELECT user_id FROM identities WHERE cookie_id = ?', { idempotent: true });
const WRITE = statement('identities.upsert', 'INSERT INTO identities (cookie_id, user_id) VALUES (?, ?)', {
  idempotent: true,
});

const { start, stop } = server;

describe('a CQL server restarted between two invocations', () => {
  const baseEnv = {
    SCYLLA_CONTACT_POINTS: local.cqlContactPoint,
    SCYLLA_LOCAL_DC: local.cqlLocalDataCenter,
    SCYLLA_KEYSPACE: 'restart',
    SCYLLA_USERNAME: local.cqlCredentials.username,
    SCYLLA_PASSWORD: local.cqlCredentials.password,
    SCYLLA_CONSISTENCY: 'LOCAL_ONE',
    SCYLLA_RETRIES: '8',
    SCYLLA_RETRY_BASE_DELAY_MS: '200',
  };
  const scylla = parseScyllaConfig(baseEnv);
  const session = sessionFor(scylla);

  beforeAll(async () => {
    await start();
    const admin = sessionFor(scylla, { useKeyspace: false });
    await migrate(admin, {
      sets: catalogMigrations(),
      keyspace: 'restart',
      replication: `{'class': 'NetworkTopologyStrategy', 'datacenter1': 1}`,
    });
    await admin.shutdown();
  }, 240_000);
  afterAll(async () => {
    await session.shutdown();
    await stop();
  });

  it('serves the next invocation after the server comes back', async () => {
    await session.execute(WRITE, ['ck-1', 'u-1']);

    await stop(); // the container sleeps; the cluster restarts meanwhile
    await start();

    const result = await session.execute(READ, ['ck-1']);
    expect(result.first()?.get('user_id')).toBe('u-1');
    expect(session.health().hosts.every((h) => h.up)).toBe(true);
  }, 240_000);

  it('reconnects with the rotated password when the server restarts after a rotation', async () => {
    const admin = sessionFor(scylla, { useKeyspace: false });
    const role = (password: string) =>
      statement('role', `CREATE ROLE IF NOT EXISTS rotated WITH PASSWORD = '${password}' AND LOGIN = true`, {
        idempotent: true,
      });
    await admin.execute(role('first-secret'), []);
    const secretId = await createSecret({ username: 'rotated', password: 'first-secret' });
    const rotated = sessionFor(
      parseScyllaConfig({
        ...Object.fromEntries(
          Object.entries(baseEnv).filter(([k]) => k !== 'SCYLLA_USERNAME' && k !== 'SCYLLA_PASSWORD'),
        ),
        SCYLLA_CREDENTIALS_SECRET_ID: secretId,
      }),
    );
    try {
      await rotated.execute(WRITE, ['ck-2', 'u-2']); // connected, with the first password
      // The rotation: the role's password and the secret change together; the warm client keeps its connections.
      await admin.execute(
        statement('rotate', `ALTER ROLE rotated WITH PASSWORD = 'second-secret'`, { idempotent: true }),
        [],
      );
      await secretsManager.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: JSON.stringify({ username: 'rotated', password: 'second-secret' }),
        }),
      );
      await admin.shutdown();
      await stop(); // then the node restarts: every reconnection must log in again
      await start();
      const result = await rotated.execute(READ, ['ck-2']);
      expect(result.first()?.get('user_id')).toBe('u-2');
    } finally {
      await rotated.shutdown();
    }
  }, 240_000);
});
