import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import cassandra from 'cassandra-driver';
import { localScyllaEnvironment } from '../../../dev/stack/config';
import { catalogMigrations } from '../../../functions/catalog';
import { parseScyllaConfig, type ScyllaConfig } from '../../../lib/scylla/config';
import { CredentialsSource } from '../../../lib/scylla/credentials';
import { migrate } from '../../../lib/scylla/migrations';
import { ScyllaSession, type SessionOptions } from '../../../lib/scylla/session';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';

/** Builds the Scylla pieces the way a function's composition point does, against the local stack. */

export const secretsManager = new SecretsManagerClient(awsEmulator);

export function scyllaConfig(overrides: Record<string, string> = {}): ScyllaConfig {
  return parseScyllaConfig({ ...localScyllaEnvironment(endpoints, 'pipeline'), ...overrides });
}

export async function createSecret(value: { username: string; password: string }): Promise<string> {
  const name = uniqueName('scylla/credentials');
  await secretsManager.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify(value) }));
  return name;
}

export function sessionFor(config: ScyllaConfig, options?: SessionOptions): ScyllaSession {
  const secrets = config.credentials.source === 'secrets-manager' ? secretsManager : undefined;
  return new ScyllaSession(config, new CredentialsSource(config.credentials, secrets), secrets, options);
}

/** A fresh keyspace with the domain schema, so tests never see each other's rows. */
export async function freshKeyspace(): Promise<string> {
  const keyspace = uniqueName('t');
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }), { useKeyspace: false });
  try {
    await migrate(session, {
      sets: catalogMigrations(),
      keyspace,
      replication: `{'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 1}`,
    });
  } finally {
    await session.shutdown();
  }
  return keyspace;
}

export function rawClient(keyspace?: string): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [endpoints.cqlContactPoint],
    localDataCenter: endpoints.cqlLocalDataCenter,
    keyspace,
    authProvider: new cassandra.auth.PlainTextAuthProvider(
      endpoints.cqlCredentials.username,
      endpoints.cqlCredentials.password,
    ),
  });
}
