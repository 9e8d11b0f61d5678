import type cassandra from 'cassandra-driver';
import { Murmur3Tokenizer } from 'cassandra-driver/lib/tokenizer.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScyllaSession } from '../../../lib/scylla/session';
import { statement } from '../../../lib/scylla/statement';
import { freshKeyspace, scyllaConfig, sessionFor } from './fixtures';

const UPSERT = statement(
  'identities.upsert',
  'INSERT INTO identities (cookie_id, user_id, source, event_time) VALUES (?, ?, ?, ?)',
  { idempotent: true },
);

describe("the session's token-aware routing (lib/scylla/routing.ts)", () => {
  let keyspace = '';
  let session: ScyllaSession;
  beforeAll(async () => {
    keyspace = await freshKeyspace();
    session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  });
  afterAll(() => session.shutdown());

  it("asks the driver for each statement's replicas by the token of its partition key, not by the key", async () => {
    const client = await session.connected();
    const asked: unknown[] = [];
    const getReplicas = client.getReplicas.bind(client);
    // The driver's policy calls the client's documented getReplicas; watch what it is given.
    (client as { getReplicas: cassandra.Client['getReplicas'] }).getReplicas = (ks, token) => {
      asked.push(token);
      return getReplicas(ks, token);
    };
    try {
      for (const cookie of ['cookie-routing-1', 'cookie-é-2', 'c'])
        await session.execute(UPSERT, [cookie, 'u-1', 'LOGIN', new Date(0)]);
    } finally {
      delete (client as { getReplicas?: unknown }).getReplicas; // back to the prototype's
    }
    const driver = new Murmur3Tokenizer();
    expect(asked.map(String)).toEqual(
      ['cookie-routing-1', 'cookie-é-2', 'c'].map((cookie) => driver.hash(Buffer.from(cookie)).toString()),
    );
    // And the replicas found by the token are those the driver finds by the key.
    for (const token of asked)
      expect(client.getReplicas(keyspace, token as Buffer)).toEqual(
        client.getReplicas(
          keyspace,
          Buffer.from(['cookie-routing-1', 'cookie-é-2', 'c'][asked.indexOf(token)] as string),
        ),
      );
  });
});
