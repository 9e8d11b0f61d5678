import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '@platformatic/kafka';
import { beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { ensureTopics, topicEnds } from '../../../dev/demo/stream';
import { type Handler, LocalEventSourceMapping } from '../../../dev/esm/runner';
import { NAVIGATION_V1, NAVIGATION_V2, NAVIGATION_V3, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import { statement } from '../../../lib/scylla/statement';
import { parseTableSinkConfig } from '../../../lib/sink/config';
import { tableSink } from '../../../lib/sink/table-sink';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { functionEnvironment } from './environment';

/**
 * A table sink declared by its mapping alone, fed by a real producer through the local event-source mapping into the
 * real CQL server: three writer versions of one topic (fields added over time), nested fields, a header, the
 * record's offset, a constant TTL, the event time as write time, tombstones deleting by the key, and a record
 * without its key dead-lettered with SINK_COLUMN_MISSING. Exactly the produced records end up in the table.
 */
const bootstrapBrokers = [endpoints.kafkaBootstrap];
const topic = uniqueName('views');
const SINK_CONFIG = {
  table: 'page_views',
  columns: {
    event_id: 'key',
    url: 'value.url',
    country: 'value.geo.country',
    session_id: 'value.sessionId',
    page_title: 'value.pageTitle',
    region: 'header.region',
    seen_at: 'value.eventTime',
    kafka_offset: 'kafka.offset',
  },
  ttl: 86_400,
  writeTime: 'value.eventTime',
};
let keyspace = '';

interface Expected {
  url: string;
  country: string;
  session: string | null;
  title: string | null;
  region: string | null;
}
/** event id → its row; a tombstoned event is removed. */
const expected = new Map<string, Expected>();
let withoutKey = 0;
const ends = new Map<string, number>();

async function read(cql: string) {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    return (await session.execute(statement('test.read', cql, { idempotent: true }), [])).rows;
  } finally {
    await session.shutdown();
  }
}

beforeAll(async () => {
  keyspace = await freshKeyspace();
  const admin = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    await admin.execute(
      statement(
        'test.create',
        `CREATE TABLE page_views (event_id text PRIMARY KEY, url text, country text, session_id text, page_title text,
           region text, seen_at timestamp, kafka_offset bigint)`,
        { idempotent: true },
      ),
      [],
    );
  } finally {
    await admin.shutdown();
  }
  await ensureTopics(bootstrapBrokers, [topic], 2);
  const encoder = new AvroEncoder(new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }));
  const writers = [
    await encoder.forSubject<Navigation>(`${topic}-value`, NAVIGATION_V1),
    await encoder.forSubject<Navigation>(`${topic}-value`, NAVIGATION_V2),
    await encoder.forSubject<Navigation>(`${topic}-value`, NAVIGATION_V3),
  ];
  const generator = navigationEvents({ seed: 5, cookies: 30, startTime: Date.UTC(2026, 10, 25, 8) });
  const messages: { key?: Buffer; value?: Buffer; timestamp: bigint; headers?: Map<Buffer, Buffer> }[] = [];
  const produced: Navigation[] = [];
  for (let i = 0; i < 240; i++) {
    const version = i % 3;
    const n = {
      ...(generator.next().value as Navigation),
      sessionId: version >= 1 ? `s-${i}` : null,
      pageTitle: version >= 2 ? `title ${i}` : null,
      loadMillis: version >= 2 ? 100 + i : null,
    };
    const region = i % 4 === 0 ? `region-${i % 3}` : null;
    const timestamp = BigInt(n.eventTime);
    if (i % 50 === 7) {
      withoutKey++;
      messages.push({ value: (writers[version] as (typeof writers)[0]).encode(n), timestamp });
      continue;
    }
    messages.push({
      key: Buffer.from(n.eventId),
      value: (writers[version] as (typeof writers)[0]).encode(n),
      timestamp,
      ...(region ? { headers: new Map([[Buffer.from('region'), Buffer.from(region)]]) } : {}),
    });
    produced.push(n);
    expected.set(n.eventId, {
      url: n.url,
      country: n.geo.country,
      session: version >= 1 ? `s-${i}` : null,
      title: version >= 2 ? `title ${i}` : null,
      region,
    });
    // Now and then a tombstone erases an event produced earlier (same key, so the same partition, after it).
    if (i % 30 === 29) {
      const erased = produced[i - 10] ?? produced[0];
      if (erased && expected.has(erased.eventId)) {
        messages.push({ key: Buffer.from(erased.eventId), timestamp: BigInt(erased.eventTime + 1) });
        expected.delete(erased.eventId);
      }
    }
  }
  const producer = new Producer({ clientId: 'sink-test', bootstrapBrokers, idempotent: true });
  await producer.send({ messages: messages.map((m) => ({ topic, ...m })) });
  await producer.close();
  for (const [id, end] of await topicEnds(bootstrapBrokers, [topic], 2)) ends.set(id, end);
}, 120_000);

describe('a table sink declared by its mapping', () => {
  it('writes exactly the produced records across three writer versions, deletes on tombstones, dead-letters what has no key', async () => {
    const env = functionEnvironment(keyspace, { SINK_CONFIG: JSON.stringify(SINK_CONFIG) });
    const handler = composeProcessor(tableSink('views-sink', parseTableSinkConfig(env)), undefined, env) as Handler;
    const esm = new LocalEventSourceMapping({
      topic,
      groupId: uniqueName('sink'),
      bootstrapBrokers,
      handler,
      settings: { batchSize: 40, batchingWindowMs: 100 },
    });
    await esm.start();
    while (!esm.reached(ends)) await sleep(100);
    await esm.stop();
    expect(esm.stats.failedInvocations).toBe(0);

    const rows = await read(
      'SELECT event_id, url, country, session_id, page_title, region, seen_at, kafka_offset, TTL(url) AS ttl FROM page_views',
    );
    const stored = new Map(
      rows.map((r) => [
        r.get('event_id') as string,
        {
          url: r.get('url') as string,
          country: r.get('country') as string,
          session: r.get('session_id') as string | null,
          title: r.get('page_title') as string | null,
          region: r.get('region') as string | null,
        },
      ]),
    );
    expect(stored).toEqual(expected);
    for (const r of rows) {
      expect(r.get('ttl')).toBeGreaterThan(86_000);
      expect(r.get('ttl')).toBeLessThanOrEqual(86_400);
      expect(Number(r.get('kafka_offset'))).toBeGreaterThanOrEqual(0);
    }
    const letters = await read(
      "SELECT offset, reason FROM dead_letters WHERE function_name = 'views-sink' ALLOW FILTERING",
    );
    expect(letters.map((r) => r.get('reason'))).toEqual(Array(withoutKey).fill('SINK_COLUMN_MISSING'));
  });
});
