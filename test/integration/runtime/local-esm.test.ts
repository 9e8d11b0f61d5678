import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '@platformatic/kafka';
import { beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { ensureTopics, topicEnds } from '../../../dev/demo/stream';
import { type Handler, LocalEventSourceMapping } from '../../../dev/esm/runner';
import { READER_SCHEMA as IDENTITY_READER, identityLinker } from '../../../functions/identity-linker/definition';
import {
  READER_SCHEMA as NAVIGATION_READER,
  navigationEnricher,
} from '../../../functions/navigation-enricher/definition';
import { IDENTITY_LINK_V1, type IdentityLink } from '../../../functions/topics/identity';
import { NAVIGATION_V1, NAVIGATION_V2, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import { deadLetterDay } from '../../../lib/runtime/dead-letters';
import { statement } from '../../../lib/scylla/statement';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { functionEnvironment } from './environment';

/**
 * Real Kafka → local event-source mapping → handler → real CQL server: exactly the expected rows, dead letters equal
 * to the poison produced, per-key order (the newest identity wins), and a second full pass changes nothing.
 */
const bootstrapBrokers = [endpoints.kafkaBootstrap];
const topics = { navigation: uniqueName('navigation'), identity: uniqueName('identity') };
let keyspace = '';
/** What the topics hold; the poison's dead-letter days come from the timestamps the records were produced with. */
const expected = {
  navigations: new Set<string>(),
  identities: new Map<string, string>(),
  poison: 0,
  poisonDays: new Set<string>(),
};

const env = () => functionEnvironment(keyspace);

async function read(cql: string) {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    return (await session.execute(statement('test.read', cql, { idempotent: true }), [])).rows;
  } finally {
    await session.shutdown();
  }
}

/** Runs one mapping until every partition of its topic is committed up to `ends`. */
async function consumeAll(topic: string, groupId: string, handler: Handler, ends: Map<string, number>) {
  const esm = new LocalEventSourceMapping({
    topic,
    groupId,
    bootstrapBrokers,
    handler,
    settings: { batchSize: 50, batchingWindowMs: 100 },
  });
  await esm.start();
  const deadline = Date.now() + 60_000;
  while (!esm.reached(ends) && Date.now() < deadline) await sleep(100);
  await esm.stop();
  expect(esm.reached(ends)).toBe(true);
  return esm.stats;
}

const ends = new Map<string, number>();

beforeAll(async () => {
  keyspace = await freshKeyspace();
  await ensureTopics(bootstrapBrokers, [topics.navigation, topics.identity], 3);
  const encoder = new AvroEncoder(new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }));
  const nav = [
    await encoder.forSubject<Navigation>(`${topics.navigation}-value`, NAVIGATION_V1),
    await encoder.forSubject<Navigation>(`${topics.navigation}-value`, NAVIGATION_V2),
  ];
  const identity = await encoder.forSubject<IdentityLink>(`${topics.identity}-value`, IDENTITY_LINK_V1);
  const generator = navigationEvents({ seed: 77, cookies: 40, startTime: Date.UTC(2026, 10, 25, 8) });
  // Every record carries its event's time as its Kafka timestamp: the data, not the day the test runs, decides
  // which dead_letters partition a poison record lands in.
  const messages: { topic: string; key: Buffer; value?: Buffer; timestamp: bigint }[] = [];
  for (let i = 0; i < 400; i++) {
    const n = generator.next().value as Navigation;
    if (i % 97 === 13) {
      expected.poison++;
      expected.poisonDays.add(deadLetterDay(n.eventTime).toString());
      messages.push({
        topic: topics.navigation,
        key: Buffer.from(n.cookieId),
        value: (nav[0] as (typeof nav)[0]).encode(n).subarray(0, 9),
        timestamp: BigInt(n.eventTime),
      });
      continue;
    }
    messages.push({
      topic: topics.navigation,
      key: Buffer.from(n.cookieId),
      value: (nav[i % 2] as (typeof nav)[0]).encode(n),
      timestamp: BigInt(n.eventTime),
    });
    if (n.consent !== 'DENIED') expected.navigations.add(n.eventId);
    // Identity links in key order: each cookie's user changes over time; the last one produced must win.
    if (i % 4 === 0) {
      const userId = `u-${n.cookieId}-${i}`;
      messages.push({
        topic: topics.identity,
        key: Buffer.from(n.cookieId),
        value: identity.encode({
          cookieId: n.cookieId,
          userId,
          emailSha256: null,
          source: 'LOGIN',
          consent: 'GRANTED',
          eventTime: n.eventTime,
        }),
        timestamp: BigInt(n.eventTime),
      });
      expected.identities.set(n.cookieId, userId);
    }
  }
  const producer = new Producer({ clientId: 'esm-test', bootstrapBrokers, idempotent: true });
  for (let i = 0; i < messages.length; i += 200) {
    await producer.send({ messages: messages.slice(i, i + 200) });
  }
  await producer.close();
  for (const [id, end] of await topicEnds(bootstrapBrokers, [topics.navigation, topics.identity], 3)) ends.set(id, end);
}, 120_000);

describe('the pipeline through the local event-source mapping', () => {
  it('writes exactly the expected rows, dead-letters exactly the poison, and keeps per-key order', async () => {
    const linker = composeProcessor(identityLinker, IDENTITY_READER, env()) as Handler;
    const enricher = composeProcessor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER, env()) as Handler;
    const identityStats = await consumeAll(topics.identity, uniqueName('linker'), linker, ends);
    const navigationStats = await consumeAll(topics.navigation, uniqueName('enricher'), enricher, ends);
    expect(identityStats.failedInvocations + navigationStats.failedInvocations).toBe(0);

    const identities = new Map(
      (await read('SELECT cookie_id, user_id FROM identities')).map((r) => [
        r.get('cookie_id') as string,
        r.get('user_id') as string,
      ]),
    );
    expect(identities).toEqual(expected.identities);
    const navigations = (await read('SELECT event_id FROM navigations_by_user')).map((r) => String(r.get('event_id')));
    expect(navigations.length).toBe(expected.navigations.size);
    expect(new Set(navigations)).toEqual(expected.navigations);
    const days = [...expected.poisonDays].map((day) => `'${day}'`).join(', ');
    const dead = await read(
      `SELECT offset FROM dead_letters WHERE function_name = 'navigation-enricher' AND day IN (${days})`,
    );
    expect(dead.length).toBe(expected.poison);
  });

  it('changes nothing when the same input is consumed again (a new consumer group replays everything)', async () => {
    const before = {
      identities: (await read('SELECT cookie_id, user_id FROM identities')).length,
      navigations: (await read('SELECT event_id FROM navigations_by_user')).length,
    };
    await consumeAll(
      topics.identity,
      uniqueName('linker-replay'),
      composeProcessor(identityLinker, IDENTITY_READER, env()) as Handler,
      ends,
    );
    await consumeAll(
      topics.navigation,
      uniqueName('enricher-replay'),
      composeProcessor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER, env()) as Handler,
      ends,
    );
    const identities = new Map(
      (await read('SELECT cookie_id, user_id FROM identities')).map((r) => [
        r.get('cookie_id') as string,
        r.get('user_id') as string,
      ]),
    );
    expect(identities).toEqual(expected.identities);
    expect((await read('SELECT event_id FROM navigations_by_user')).length).toBe(before.navigations);
    expect(identities.size).toBe(before.identities);
  });
});

describe('the local event-source mapping under a backlog', () => {
  it("runs every partition's batches while another partition's backlog is larger than a fetch", async () => {
    // 12 MB on partition 0 (more than the 10 MB a fetch returns) and 50 records on partition 1: partition 1 must not
    // wait until partition 0's backlog has been fetched, as Lambda's pollers never make one partition wait for another.
    const topic = uniqueName('backlog');
    await ensureTopics(bootstrapBrokers, [topic], 2);
    const producer = new Producer({ clientId: 'esm-backlog-test', bootstrapBrokers });
    const value = Buffer.alloc(1024, 7);
    for (let i = 0; i < 12_000; i += 1_000)
      await producer.send({
        messages: Array.from({ length: 1_000 }, () => ({ topic, partition: 0, key: Buffer.from('big'), value })),
      });
    await producer.send({
      messages: Array.from({ length: 50 }, () => ({ topic, partition: 1, key: Buffer.from('small'), value })),
    });
    await producer.close();

    const invocations: { id: string; lastOffset: number }[] = [];
    const handler: Handler = async (event) => {
      for (const [id, records] of Object.entries(event.records))
        invocations.push({ id, lastOffset: records[records.length - 1]?.offset ?? -1 });
      await sleep(5);
      return { batchItemFailures: [] };
    };
    const esm = new LocalEventSourceMapping({
      topic,
      groupId: uniqueName('backlog'),
      bootstrapBrokers,
      handler,
      // Small batches: the mapping buffers only a few batches' worth, far less than one fetch of partition 0.
      settings: { batchSize: 100, batchingWindowMs: 20 },
    });
    await esm.start();
    const deadline = Date.now() + 60_000;
    while ((esm.stats.committed.get(`${topic}-0`) ?? 0) < 12_000 && Date.now() < deadline) await sleep(50);
    await esm.stop();

    expect(esm.stats.committed.get(`${topic}-0`)).toBe(12_000);
    expect(esm.stats.committed.get(`${topic}-1`)).toBe(50);
    const smallDone = invocations.findIndex((i) => i.id === `${topic}-1` && i.lastOffset === 49);
    const bigBefore = Math.max(
      ...invocations.slice(0, smallDone).map((i) => (i.id === `${topic}-0` ? i.lastOffset + 1 : 0)),
    );
    expect(smallDone).toBeGreaterThanOrEqual(0);
    expect(bigBefore).toBeLessThan(6_000);
  }, 90_000);
});
