import { CreateSecretCommand, GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Admin, Consumer, Producer, stringDeserializers, stringSerializers } from '@platformatic/kafka';
import cassandra from 'cassandra-driver';
import { pushTimeseries } from 'prometheus-remote-write';
import { afterAll, describe, expect, it } from 'vitest';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';

/** Proves each server of the local stack serves a real client over a real socket. */

describe('Kafka', () => {
  it('delivers produced records to a consumer group, in order within each partition', async () => {
    const topic = uniqueName('smoke');
    const bootstrapBrokers = [endpoints.kafkaBootstrap];
    const admin = new Admin({ clientId: 'smoke-admin', bootstrapBrokers });
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 1 });
    await admin.close();

    // Idempotent: a retried send (a fresh topic's first produce may meet a leader election) never duplicates.
    const producer = new Producer({
      clientId: 'smoke-producer',
      bootstrapBrokers,
      serializers: stringSerializers,
      idempotent: true,
    });
    const sent = Array.from({ length: 30 }, (_, i) => ({ topic, key: `key-${i % 5}`, value: `value-${i}` }));
    await producer.send({ messages: sent });
    await producer.close();

    const consumer = new Consumer({
      clientId: 'smoke-consumer',
      groupId: uniqueName('smoke-group'),
      bootstrapBrokers,
      deserializers: stringDeserializers,
    });
    // Kafka delivers at least once: a rebalance (the first group on a fresh broker triggers one) may redeliver,
    // so records are identified by (partition, offset).
    const received = new Map<string, { key: string; value: string; partition: number; offset: bigint }>();
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: true, maxWaitTime: 500 });
    for await (const message of stream) {
      const { key, value, partition, offset } = message;
      received.set(`${partition}/${offset}`, { key, value, partition, offset });
      if (received.size === sent.length) break;
    }
    await stream.close();
    await consumer.close();

    const log = [...received.values()].sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
    expect(log.map((r) => r.value).sort()).toEqual(sent.map((s) => s.value).sort());
    // Same key, same partition, and the partition keeps the produce order of that key.
    for (const key of new Set(sent.map((s) => s.key))) {
      const ofKey = log.filter((r) => r.key === key);
      expect(new Set(ofKey.map((r) => r.partition)).size).toBe(1);
      expect(ofKey.map((r) => r.value)).toEqual(sent.filter((s) => s.key === key).map((s) => s.value));
    }
  });
});

describe('CQL server (Scylla stand-in)', () => {
  const client = new cassandra.Client({
    contactPoints: [endpoints.cqlContactPoint],
    localDataCenter: endpoints.cqlLocalDataCenter,
    authProvider: new cassandra.auth.PlainTextAuthProvider(
      endpoints.cqlCredentials.username,
      endpoints.cqlCredentials.password,
    ),
  });
  const keyspace = uniqueName('smoke');
  afterAll(async () => {
    await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`);
    await client.shutdown();
  });

  it('creates a keyspace and table, then reads back the row it wrote', async () => {
    await client.execute(
      `CREATE KEYSPACE ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
    );
    await client.execute(
      `CREATE TABLE ${keyspace}.visits (user_id text, at timestamp, url text, PRIMARY KEY (user_id, at))`,
    );
    const at = new Date('2026-11-25T10:00:00.000Z');
    await client.execute(`INSERT INTO ${keyspace}.visits (user_id, at, url) VALUES (?, ?, ?)`, ['u1', at, '/home'], {
      prepare: true,
    });
    const result = await client.execute(`SELECT at, url FROM ${keyspace}.visits WHERE user_id = ?`, ['u1'], {
      prepare: true,
    });
    expect(result.rows.map((row) => ({ at: row.get('at'), url: row.get('url') }))).toEqual([{ at, url: '/home' }]);
  });

  it('refuses a wrong password (authentication is on, as in production)', async () => {
    const intruder = new cassandra.Client({
      contactPoints: [endpoints.cqlContactPoint],
      localDataCenter: endpoints.cqlLocalDataCenter,
      authProvider: new cassandra.auth.PlainTextAuthProvider('cassandra', 'wrong'),
    });
    await expect(intruder.connect()).rejects.toThrow(/Authentication|credentials/i);
    await intruder.shutdown();
  });
});

describe('schema registry (Confluent REST API)', () => {
  it('registers an Avro schema and serves it back by id', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    const schema = {
      type: 'record',
      name: 'Smoke',
      namespace: 'test.stack',
      fields: [
        { name: 'id', type: 'string' },
        { name: 'n', type: 'long' },
      ],
    };
    const headers = { 'content-type': 'application/vnd.schemaregistry.v1+json' };
    const registered = await fetch(`${endpoints.registryUrl}/subjects/${subject}/versions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ schemaType: 'AVRO', schema: JSON.stringify(schema) }),
    });
    expect(registered.status).toBe(200);
    const { id } = (await registered.json()) as { id: number };
    expect(Number.isInteger(id)).toBe(true);

    const fetched = await fetch(`${endpoints.registryUrl}/schemas/ids/${id}`);
    expect(fetched.status).toBe(200);
    const body = (await fetched.json()) as { schema: string };
    expect(JSON.parse(body.schema)).toEqual(schema);
  });
});

describe('Prometheus', () => {
  it('stores a sample pushed over remote write and returns it from the query API', async () => {
    const run = uniqueName('smoke');
    const pushed = await pushTimeseries(
      { labels: { __name__: 'stack_smoke_value', run }, samples: [{ value: 42, timestamp: Date.now() }] },
      {
        url: `${endpoints.prometheusUrl}/api/v1/write`,
        // The library's fetch type predates Node's global fetch; the call shapes match.
        fetch: (url, init) => fetch(url, init as RequestInit),
      },
    );
    expect(pushed.status).toBe(204);

    const query = `${endpoints.prometheusUrl}/api/v1/query?query=${encodeURIComponent(`stack_smoke_value{run="${run}"}`)}`;
    const response = (await (await fetch(query)).json()) as {
      status: string;
      data: { result: { metric: Record<string, string>; value: [number, string] }[] };
    };
    expect(response.status).toBe('success');
    expect(response.data.result).toHaveLength(1);
    expect(response.data.result[0]?.value[1]).toBe('42');
  });
});

describe('AWS API emulator (moto)', () => {
  it('stores a secret in Secrets Manager and returns it through the AWS SDK', async () => {
    const client = new SecretsManagerClient(awsEmulator);
    const name = uniqueName('smoke/scylla');
    const secret = JSON.stringify({ username: 'app', password: 's3cret' });
    await client.send(new CreateSecretCommand({ Name: name, SecretString: secret }));
    const fetched = await client.send(new GetSecretValueCommand({ SecretId: name }));
    expect(fetched.SecretString).toBe(secret);
  });
});
