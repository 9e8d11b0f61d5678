import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadStackConfig, stackEndpoints } from '../../../dev/stack/config';
import { ownedPid, stopProcess } from '../../../dev/stack/process';
import { stackServers } from '../../../dev/stack/servers';
import { ensureRunning } from '../../../dev/stack/stack';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { migrate } from '../../../lib/scylla/migrations';
import { statement } from '../../../lib/scylla/statement';
import { sessionFor } from './fixtures';

/**
 * A CQL server of this test's own (other ports, its own state dir, the stack's cached jars), so stopping it cannot
 * disturb the tests that share the main stack.
 */
const config = loadStackConfig({
  ...process.env,
  STACK_HOME: mkdtempSync(path.join(os.tmpdir(), 'cql-restart-')),
  STACK_ARTIFACTS: loadStackConfig().artifactsDir,
  STACK_CQL_PORT: '19042',
  STACK_CQL_STORAGE_PORT: '17000',
  STACK_KAFKA_PORT: '19092',
  STACK_KAFKA_CONTROLLER_PORT: '19093',
  STACK_REGISTRY_PORT: '18081',
  STACK_PROMETHEUS_PORT: '19090',
  STACK_AWS_PORT: '15000',
});
const server = stackServers(config).find((s) => s.name === 'cql');
if (!server) throw new Error('no cql server in the stack');
const local = stackEndpoints(config);
const READ = statement('identities.read', 'SELECT user_id FROM identities WHERE cookie_id = ?', { idempotent: true });
const WRITE = statement('identities.upsert', 'INSERT INTO identities (cookie_id, user_id) VALUES (?, ?)', {
  idempotent: true,
});

const start = async () => {
  await server.install();
  await ensureRunning(server, config, () => {});
};
const stop = async () => {
  const pid = ownedPid(server.pidFile, config.home);
  if (pid !== undefined) await stopProcess(pid, server.pidFile, server.stopGraceMs);
};

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
