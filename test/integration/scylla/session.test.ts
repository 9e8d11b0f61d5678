import { PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import type cassandra from 'cassandra-driver';
import { Murmur3Tokenizer } from 'cassandra-driver/lib/tokenizer.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CredentialsSource } from '../../../lib/scylla/credentials';
import { ScyllaAuthError, ScyllaStatementError } from '../../../lib/scylla/errors';
import { ScyllaSession } from '../../../lib/scylla/session';
import { statement } from '../../../lib/scylla/statement';
import { endpoints } from '../endpoints';
import { createSecret, freshKeyspace, scyllaConfig, secretsManager, sessionFor } from './fixtures';

const UPSERT = statement(
  'identities.upsert',
  'INSERT INTO identities (cookie_id, user_id, source, event_time) VALUES (?, ?, ?, ?)',
  { idempotent: true },
);
const READ = statement('identities.read', 'SELECT user_id FROM identities WHERE cookie_id = ?', { idempotent: true });

/** Counts GetSecretValue calls the SDK really sends. */
function countSecretReads(): { count: number } {
  const counter = { count: 0 };
  secretsManager.middlewareStack.add(
    (next, context) => (args) => {
      if (context.commandName === 'GetSecretValueCommand') counter.count++;
      return next(args);
    },
    { step: 'initialize', name: `count-${Math.random()}` },
  );
  return counter;
}

describe('the warm Scylla session', () => {
  let keyspace = '';
  let session: ScyllaSession;
  beforeAll(async () => {
    keyspace = await freshKeyspace();
    session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  });
  afterAll(() => session.shutdown());

  it('connects on first use, not before', async () => {
    expect(session.health().state).toBe('idle');
    await session.execute(UPSERT, ['ck-1', 'u-1', 'LOGIN', new Date()]);
    expect(session.health().state).toBe('connected');
  });

  it('serves simulated warm invocations with the same client and no new connections', async () => {
    const client = await session.connected();
    const connections = session.health().hosts.map((h) => h.openConnections);
    for (let invocation = 0; invocation < 5; invocation++) {
      await session.execute(UPSERT, [`ck-warm-${invocation}`, `u-${invocation}`, 'CRM', new Date()]);
      const result = await session.execute(READ, [`ck-warm-${invocation}`]);
      expect(result.first()?.get('user_id')).toBe(`u-${invocation}`);
      expect(await session.connected()).toBe(client);
    }
    expect(session.health().hosts.map((h) => h.openConnections)).toEqual(connections);
    expect(session.health().hosts.every((h) => h.up)).toBe(true);
  });

  it('fails a wrong statement at once with a typed, non-transient error', async () => {
    const wrong = statement('wrong', 'SELECT nope FROM identities', { idempotent: true });
    const error = await session.execute(wrong, []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScyllaStatementError);
    expect((error as ScyllaStatementError).transient).toBe(false);
  });

  it('routes each statement by the token of its partition key (lib/scylla/routing.ts), to the replicas the driver finds by the key', async () => {
    const client = await session.connected();
    const cookies = ['cookie-routing-1', 'cookie-é-2', 'c'];
    const asked: unknown[] = [];
    const getReplicas = client.getReplicas.bind(client);
    // The driver's policy calls the client's documented getReplicas; watch what it is given.
    (client as { getReplicas: cassandra.Client['getReplicas'] }).getReplicas = (ks, token) => {
      asked.push(token);
      return getReplicas(ks, token);
    };
    try {
      for (const cookie of cookies) await session.execute(UPSERT, [cookie, 'u-1', 'LOGIN', new Date(0)]);
    } finally {
      delete (client as { getReplicas?: unknown }).getReplicas; // back to the prototype's
    }
    const driver = new Murmur3Tokenizer();
    expect(asked.map(String)).toEqual(cookies.map((cookie) => driver.hash(Buffer.from(cookie)).toString()));
    for (const [i, cookie] of cookies.entries())
      expect(client.getReplicas(keyspace, asked[i] as Buffer)).toEqual(
        client.getReplicas(keyspace, Buffer.from(cookie)),
      );
  });
});

describe('credentials from Secrets Manager (moto)', () => {
  let keyspace = '';
  beforeAll(async () => {
    keyspace = await freshKeyspace();
  });

  it('connects with the secret’s credentials, reading the secret once', async () => {
    const reads = countSecretReads();
    const secretId = await createSecret(endpoints.cqlCredentials);
    const session = sessionFor(
      scyllaConfig({ SCYLLA_KEYSPACE: keyspace, SCYLLA_USERNAME: '', SCYLLA_CREDENTIALS_SECRET_ID: secretId }),
    );
    for (let i = 0; i < 3; i++) await session.execute(READ, ['ck-any']);
    await session.shutdown();
    expect(reads.count).toBe(1);
  });

  it('refetches a rotated secret once after Scylla refuses the cached credentials, then connects', async () => {
    const secretId = await createSecret({ username: 'cassandra', password: 'stale' });
    const config = scyllaConfig({
      SCYLLA_KEYSPACE: keyspace,
      SCYLLA_USERNAME: '',
      SCYLLA_CREDENTIALS_SECRET_ID: secretId,
    });
    const credentials = new CredentialsSource(config.credentials, secretsManager);
    expect((await credentials.get())?.password).toBe('stale'); // cached before the rotation
    await secretsManager.send(
      new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(endpoints.cqlCredentials) }),
    );
    const reads = countSecretReads();
    const session = new ScyllaSession(config, credentials, secretsManager);
    await session.execute(READ, ['ck-any']);
    await session.shutdown();
    expect(reads.count).toBe(1);
  });

  it('gives up with a typed authentication error after one refetch when the secret is simply wrong', async () => {
    const secretId = await createSecret({ username: 'cassandra', password: 'wrong' });
    const reads = countSecretReads();
    const session = sessionFor(
      scyllaConfig({ SCYLLA_KEYSPACE: keyspace, SCYLLA_USERNAME: '', SCYLLA_CREDENTIALS_SECRET_ID: secretId }),
    );
    const error = await session.execute(READ, ['ck-any']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScyllaAuthError);
    expect((error as ScyllaAuthError).code).toBe('SCYLLA_AUTH_FAILED');
    expect(String((error as Error).message)).not.toContain('wrong'); // never the secret in a message
    expect(reads.count).toBe(2);
    await session.shutdown();
  });
});
