import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { SeededRandom } from '../../../dev/demo/seeded-random';
import { ensureTopics, poison, topicEnds } from '../../../dev/demo/stream';
import { type Handler, LocalEventSourceMapping } from '../../../dev/esm/runner';
import { dedicatedServer } from '../../../dev/stack/dedicated';
import { catalogMigrations } from '../../../functions/catalog';
import { navigationEnricher, READER_SCHEMA } from '../../../functions/navigation-enricher/definition';
import { NAVIGATION_V1, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { migrate } from '../../../lib/scylla/migrations';
import { statement } from '../../../lib/scylla/statement';
import { endpoints, uniqueName } from '../endpoints';
import { sessionFor } from '../scylla/fixtures';

/**
 * The CQL server is killed (SIGKILL) twice in the middle of a run and comes back: the function reports partial
 * batch failures, the mapping retries from the reported offsets, and in the end every event is stored exactly once
 * and every poison record (1 %, the demo's kinds) is dead-lettered, none else.
 */
const server = dedicatedServer('cql', 1);
const cql = server.endpoints;
const bootstrapBrokers = [endpoints.kafkaBootstrap];
const topic = uniqueName('outage');
const env = {
  SCYLLA_CONTACT_POINTS: cql.cqlContactPoint,
  SCYLLA_LOCAL_DC: cql.cqlLocalDataCenter,
  SCYLLA_KEYSPACE: 'outage',
  SCYLLA_USERNAME: cql.cqlCredentials.username,
  SCYLLA_PASSWORD: cql.cqlCredentials.password,
  SCYLLA_CONSISTENCY: 'LOCAL_ONE',
  SCYLLA_RETRIES: '1',
  SCYLLA_REQUEST_TIMEOUT_MS: '2000',
  SCHEMA_REGISTRY_URLS: endpoints.registryUrl,
  METRICS_EMF: 'off',
};
const expected = new Set<string>();
/** Poison records carry their own key, `poison-<n>`: what their dead letter must show. */
const poisonKeys = new Set<string>();
const ends = new Map<string, number>();

beforeAll(async () => {
  await server.start();
  const admin = sessionFor(parseScyllaConfig(env), { useKeyspace: false });
  await migrate(admin, {
    sets: catalogMigrations(),
    keyspace: 'outage',
    replication: `{'class': 'NetworkTopologyStrategy', 'datacenter1': 1}`,
  });
  await admin.shutdown();
  await ensureTopics(bootstrapBrokers, [topic], 2);
  const encoder = await new AvroEncoder(
    new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }),
  ).forSubject<Navigation>(`${topic}-value`, NAVIGATION_V1);
  const generator = navigationEvents({ seed: 5, cookies: 300, startTime: Date.UTC(2026, 10, 25, 9) });
  const random = new SeededRandom(5);
  const producer = new Producer({ clientId: 'outage-test', bootstrapBrokers, idempotent: true });
  for (let sent = 0; sent < 10_000; sent += 500) {
    const messages = Array.from({ length: 500 }, () => {
      const n = generator.next().value as Navigation;
      if (random.next() < 0.01) {
        const key = `poison-${poisonKeys.size}`;
        poisonKeys.add(key);
        return { topic, key: Buffer.from(key), value: poison(random, encoder.encode(n)) };
      }
      if (n.consent !== 'DENIED') expected.add(n.eventId);
      return { topic, key: Buffer.from(n.cookieId), value: encoder.encode(n) };
    });
    await producer.send({ messages });
  }
  await producer.close();
  for (const [id, end] of await topicEnds(bootstrapBrokers, [topic], 2)) ends.set(id, end);
}, 240_000);

afterAll(() => server.stop(), 60_000);

describe('a CQL server killed twice in the middle of a run', () => {
  it('loses no record, stores none twice, dead-letters every poison record and nothing else', async () => {
    const handler = composeProcessor(navigationEnricher({ ttlSeconds: 3600 }), READER_SCHEMA, env) as Handler;
    const esm = new LocalEventSourceMapping({
      topic,
      groupId: uniqueName('outage'),
      bootstrapBrokers,
      handler,
      settings: { batchSize: 20, batchingWindowMs: 20, retryBackoffMs: 300 },
    });
    await esm.start();
    while (esm.stats.recordsDone < 500) await sleep(20);
    await server.kill();
    const doneWhenKilled = esm.stats.recordsDone;
    await sleep(1_500);
    await server.start();
    while (esm.stats.recordsDone < 5_000) await sleep(20);
    await server.kill();
    await sleep(1_500);
    await server.start();
    const deadline = Date.now() + 180_000;
    while (!esm.reached(ends) && Date.now() < deadline) await sleep(100);
    await esm.stop();

    expect(doneWhenKilled).toBeLessThan(10_000);
    expect(esm.stats.partialResponses).toBeGreaterThan(0);
    const session = sessionFor(parseScyllaConfig(env));
    // Every page: a single page may hold fewer rows than the fetch size asks for.
    const client = await session.connected();
    const rows: { get(name: string): unknown }[] = [];
    await new Promise<void>((resolve, reject) =>
      client.eachRow(
        'SELECT event_id FROM navigations_by_user',
        [],
        { prepare: true, autoPage: true },
        (_, row) => rows.push(row),
        (error) => (error ? reject(error) : resolve()),
      ),
    );
    // Exactly the poison: an outage must never send a good record to the dead-letter path, nor lose a poison one.
    const dead = (
      await session.execute(
        statement('read', 'SELECT key, reason, message FROM dead_letters', { idempotent: true }),
        [],
      )
    ).rows;
    const wronglyDead = dead.filter((d) => !poisonKeys.has(String(d.get('key'))));
    expect(wronglyDead.map((d) => `${d.get('reason')}: ${String(d.get('message')).slice(0, 120)}`).slice(0, 3)).toEqual(
      [],
    );
    expect(new Set(dead.map((d) => String(d.get('key'))))).toEqual(poisonKeys);
    expect(dead.length).toBe(poisonKeys.size);
    const reasons = new Set(dead.map((d) => String(d.get('reason'))));
    expect([...reasons].filter((r) => !r.startsWith('CODEC_'))).toEqual([]);
    expect(reasons).toContain('CODEC_SCHEMA_NOT_FOUND');
    await session.shutdown();
    const stored = rows.map((r) => String(r.get('event_id')));
    expect(stored.length).toBe(expected.size); // one row per event: none twice
    expect(new Set(stored)).toEqual(expected); // and none lost
  }, 300_000);
});
