import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { loadStackConfig, localScyllaEnvironment, stackEndpoints } from './stack/config';

/**
 * `npm run migrate`: applies the domain schema. With no SCYLLA_* settings it targets the local stack's CQL server
 * (keyspace `pipeline`); otherwise it reads the same SCYLLA_* variables the functions do, plus
 * SCYLLA_REPLICATION (the keyspace's replication map, required then).
 */
async function main() {
  const env = { ...process.env };
  if (!env.SCYLLA_CONTACT_POINTS) {
    const local = stackEndpoints(loadStackConfig());
    Object.assign(env, localScyllaEnvironment(local, env.SCYLLA_KEYSPACE ?? 'pipeline'), {
      SCYLLA_REPLICATION: `{'class': 'NetworkTopologyStrategy', '${local.cqlLocalDataCenter}': 1}`,
    });
  }
  const config = parseScyllaConfig(env);
  const replication = env.SCYLLA_REPLICATION;
  if (!replication)
    throw new Error("SCYLLA_REPLICATION is required, e.g. {'class': 'NetworkTopologyStrategy', 'dc1': 3}");
  const secrets = config.credentials.source === 'secrets-manager' ? new SecretsManagerClient({}) : undefined;
  const session = new ScyllaSession(config, new CredentialsSource(config.credentials, secrets), secrets, {
    useKeyspace: false,
  });
  try {
    const applied = await migrate(session, { keyspace: config.keyspace, replication });
    console.log(
      applied.length
        ? `applied migrations ${applied.join(', ')} to ${config.keyspace}`
        : `${config.keyspace} is up to date`,
    );
  } finally {
    await session.shutdown();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
