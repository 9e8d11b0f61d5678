import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { migrate } from '../../../lib/scylla/migrations';
import { statement } from '../../../lib/scylla/statement';
import { dedicatedServer } from '../dedicated-server';
import { sessionFor } from './fixtures';

const server = dedicatedServer('cql', 0);
const local = server.endpoints;
const READ = statement('identities.read', 'SELECT user_id FROM identities WHERE cookie_id = ?', { idempotent: true });
const WRITE = statement('identities.upsert', 'INSERT INTO identities (cookie_id, user_id) VALUES (?, ?)', {
  idempotent: true,
});

const { start, stop } = server;

describe('a CQL server restarted between two invocations', () => {
  const scylla = parseScyllaConfig({
    SCYLLA_CONTACT_POINTS: local.cqlContactPoint,
    SCYLLA_LOCAL_DC: local.cqlLocalDataCenter,
    SCYLLA_KEYSPACE: 'restart',
    SCYLLA_USERNAME: local.cqlCredentials.username,
    SCYLLA_PASSWORD: local.cqlCredentials.password,
    SCYLLA_CONSISTENCY: 'LOCAL_ONE',
    SCYLLA_RETRIES: '8',
    SCYLLA_RETRY_BASE_DELAY_MS: '200',
  });
  const session = sessionFor(scylla);

  beforeAll(async () => {
    await start();
    const admin = sessionFor(scylla, { useKeyspace: false });
    await migrate(admin, {
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
});
