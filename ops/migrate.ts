import { parseArgs } from 'node:util';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { catalogMigrations } from '../functions/catalog';
import { ConfigError } from '../lib/errors';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { opsTarget } from './target';

/**
 * `npm run migrate [-- --local]`: applies the domain schema. It reads the same SCYLLA_* variables the functions do,
 * plus SCYLLA_REPLICATION (the keyspace's replication map); `--local` targets the local stack's CQL server (keyspace
 * `pipeline`).
 */
async function main() {
  const { values } = parseArgs({ options: { local: { type: 'boolean' } } });
  const env = await opsTarget(process.env, {
    local: values.local,
    requires: 'SCYLLA_CONTACT_POINTS',
    command: 'npm run migrate',
  });
  const config = parseScyllaConfig(env);
  const replication = env.SCYLLA_REPLICATION;
  if (!replication)
    throw new ConfigError('SCYLLA_REPLICATION', "is required, e.g. {'class': 'NetworkTopologyStrategy', 'dc1': 3}");
  const secrets = config.credentials.source === 'secrets-manager' ? new SecretsManagerClient({}) : undefined;
  const session = new ScyllaSession(config, new CredentialsSource(config.credentials, secrets), secrets, {
    useKeyspace: false,
  });
  try {
    const applied = await migrate(session, { sets: catalogMigrations(), keyspace: config.keyspace, replication });
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
