import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localScyllaEnvironment } from '../../../dev/stack/config';
import { dedicatedServer } from '../../../dev/stack/dedicated';
import { cqlCertificates, keytoolPath } from '../../../dev/stack/tls';
import { catalogMigrations } from '../../../functions/catalog';
import { identityLinker, READER_SCHEMA } from '../../../functions/identity-linker/definition';
import { composeProcessor } from '../../../lib/runtime/compose';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { ScyllaAuthError, ScyllaTlsError, ScyllaUnavailableError } from '../../../lib/scylla/errors';
import { migrate } from '../../../lib/scylla/migrations';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent } from '../../../ops/kafka/msk-event';
import { endpoints, uniqueName } from '../endpoints';
import { IDENTITY_POISON } from '../runtime/environment';
import { secretsManager, sessionFor } from './fixtures';

/**
 * TLS to a real CQL server with client encryption on (a CA and node certificate made at setup by keytool): the
 * session connects with the CA from a file or from Secrets Manager; a server signed by another CA, a certificate
 * that does not name the host, and a server without TLS are each refused with a typed error naming the problem; a
 * password never shows in an error, a dead letter or the output.
 */
const server = dedicatedServer('cql', 3, { cqlTls: true });
const tlsEnv = () => localScyllaEnvironment(server.endpoints, 'tls');
const RELEASE = statement('release', 'SELECT release_version FROM system.local', { idempotent: true });
/** A role's password the output is searched for (CI greps the test log for this prefix too). */
const CANARY = 'canary-pw-7f3a9c';

async function releaseWith(env: Record<string, string>): Promise<string> {
  const session = sessionFor(parseScyllaConfig(env), { useKeyspace: false });
  try {
    return String((await session.execute(RELEASE, [])).first()?.get('release_version'));
  } finally {
    await session.shutdown();
  }
}

/** Everything written to stdout and stderr while `run` runs (kept out of the test log). */
async function captureOutput(run: () => Promise<void>): Promise<string> {
  const chunks: string[] = [];
  const writes = [process.stdout.write, process.stderr.write];
  const tap = ((chunk: string | Uint8Array) => {
    chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = tap;
  process.stderr.write = tap;
  try {
    await run();
  } finally {
    [process.stdout.write, process.stderr.write] = writes as [typeof process.stdout.write, typeof process.stderr.write];
  }
  return chunks.join('');
}

/** An error's message and those of its causes, inner errors included. */
function allMessages(error: unknown, seen = new Set<unknown>()): string {
  if (typeof error !== 'object' || error === null || seen.has(error)) return '';
  seen.add(error);
  const e = error as { message?: string; cause?: unknown; innerErrors?: Record<string, unknown>; stack?: string };
  return [
    e.message ?? '',
    e.stack ?? '',
    allMessages(e.cause, seen),
    ...Object.values(e.innerErrors ?? {}).map((inner) => allMessages(inner, seen)),
  ].join('\n');
}

beforeAll(async () => {
  await server.start();
  const admin = sessionFor(parseScyllaConfig(tlsEnv()), { useKeyspace: false });
  await migrate(admin, {
    sets: catalogMigrations(),
    keyspace: 'tls',
    replication: `{'class': 'NetworkTopologyStrategy', 'datacenter1': 1}`,
  });
  await admin.execute(
    statement('role', `CREATE ROLE IF NOT EXISTS canary WITH PASSWORD = '${CANARY}' AND LOGIN = true`, {
      idempotent: true,
    }),
    [],
  );
  await admin.shutdown();
}, 240_000);

afterAll(() => server.stop(), 60_000);

describe('TLS to the CQL server', () => {
  it('connects with the CA from a file, and the server refuses a client without TLS', async () => {
    expect(tlsEnv().SCYLLA_TLS).toBe('on');
    expect(await releaseWith(tlsEnv())).toMatch(/^5\.0\./);
    const plain = releaseWith({ ...tlsEnv(), SCYLLA_TLS: 'off', SCYLLA_RETRIES: '0' });
    await expect(plain).rejects.toBeInstanceOf(ScyllaUnavailableError);
  }, 60_000);

  it('connects with the CA from a Secrets Manager secret', async () => {
    const { readFileSync } = await import('node:fs');
    const secretId = uniqueName('scylla/ca');
    await secretsManager.send(
      new CreateSecretCommand({
        Name: secretId,
        SecretString: readFileSync(server.endpoints.cqlTlsCaFile as string, 'utf8'),
      }),
    );
    const env = { ...tlsEnv(), SCYLLA_TLS_CA_SECRET_ID: secretId };
    delete (env as Record<string, string | undefined>).SCYLLA_TLS_CA_FILE;
    const config = parseScyllaConfig(env);
    const { ScyllaSession } = await import('../../../lib/scylla/session');
    const { CredentialsSource } = await import('../../../lib/scylla/credentials');
    const session = new ScyllaSession(config, new CredentialsSource(config.credentials), secretsManager, {
      useKeyspace: false,
    });
    try {
      expect(String((await session.execute(RELEASE, [])).first()?.get('release_version'))).toMatch(/^5\.0\./);
    } finally {
      await session.shutdown();
    }
  }, 60_000);

  it('refuses a server whose certificate another CA signed, saying so', async () => {
    const other = await cqlCertificates(
      path.join(mkdtempSync(path.join(os.tmpdir(), 'other-ca-')), 'tls'),
      keytoolPath(),
    );
    const refused = releaseWith({ ...tlsEnv(), SCYLLA_TLS_CA_FILE: other.caFile });
    await expect(refused).rejects.toBeInstanceOf(ScyllaTlsError);
    await expect(refused).rejects.toMatchObject({
      code: 'SCYLLA_TLS_REFUSED',
      transient: false,
      message: expect.stringMatching(/not signed by a CA this client trusts/),
    });
  }, 60_000);

  it('refuses a certificate that does not name the host, saying so', async () => {
    const refused = releaseWith({ ...tlsEnv(), SCYLLA_TLS_SERVER_NAME: 'cql.example.com' });
    await expect(refused).rejects.toMatchObject({
      code: 'SCYLLA_TLS_REFUSED',
      message: expect.stringMatching(/does not name the host.*cql\.example\.com/),
    });
  }, 60_000);

  it('refuses a server that does not speak TLS, saying so', async () => {
    const plaintextStack = { ...localScyllaEnvironment(endpoints, 'pipeline'), SCYLLA_TLS: 'on' };
    await expect(releaseWith(plaintextStack)).rejects.toMatchObject({
      code: 'SCYLLA_TLS_REFUSED',
      message: expect.stringMatching(/did not answer in TLS/),
    });
  }, 60_000);

  it('never shows a password: not in an auth error, a dead letter, or the output', async () => {
    let authError: unknown;
    const output = await captureOutput(async () => {
      const wrong = releaseWith({ ...tlsEnv(), SCYLLA_USERNAME: 'canary', SCYLLA_PASSWORD: `${CANARY}-wrong` });
      authError = await wrong.catch((error: unknown) => error);
      // The right password over TLS, through a function: two poison records dead-lettered in the table.
      const handler = composeProcessor(identityLinker, READER_SCHEMA, {
        ...tlsEnv(),
        SCYLLA_USERNAME: 'canary',
        SCYLLA_PASSWORD: CANARY,
        SCHEMA_REGISTRY_URLS: endpoints.registryUrl,
        METRICS_EMF: 'on', // the EMF documents go to stdout, captured here
      });
      expect(await handler(buildMskEvent(IDENTITY_POISON, { bootstrapServers: 'test' }))).toEqual({
        batchItemFailures: [],
      });
    });
    expect(authError).toBeInstanceOf(ScyllaAuthError);
    expect(allMessages(authError)).not.toContain(CANARY);
    expect(output.length).toBeGreaterThan(0);
    expect(output).not.toContain(CANARY);
    const session = sessionFor(parseScyllaConfig(tlsEnv()));
    try {
      const letters = (
        await session.execute(
          statement('letters', 'SELECT reason, message FROM dead_letters', { idempotent: true }),
          [],
        )
      ).rows.map((r) => `${r.get('reason')} ${r.get('message')}`);
      expect(letters).toHaveLength(2);
      expect(letters.join('\n')).not.toContain(CANARY);
    } finally {
      await session.shutdown();
    }
  }, 120_000);
});
