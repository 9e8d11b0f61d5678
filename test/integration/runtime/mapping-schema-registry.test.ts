import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '@platformatic/kafka';
import { beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { ensureTopics } from '../../../dev/demo/stream';
import type { Discard, FailureDestination } from '../../../dev/esm/destinations';
import { type Handler, LocalEventSourceMapping } from '../../../dev/esm/runner';
import type { EventRecordFormat } from '../../../dev/esm/schema-registry';
import { navigationEnricher, READER_SCHEMA } from '../../../functions/navigation-enricher/definition';
import { NAVIGATION_V1, NAVIGATION_V2, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry, frameConfluentV0, SchemaCache } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import type { MskEvent } from '../../../lib/runtime/msk-event';
import { statement } from '../../../lib/scylla/statement';
import { replay } from '../../../ops/dlq/replay';
import { TableDeadLetterStore } from '../../../ops/dlq/table-store';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { functionEnvironment } from './environment';

/**
 * The event-source mapping's own schema registry integration, end to end: records produced framed through the real
 * registry, consumed by the local mapping as AWS documents it ("Using schema registries with Kafka event sources in
 * Lambda", lambda/latest/dg/services-consume-kafka-events.html: validated before the invocation, delivered as SOURCE
 * or JSON with `valueSchemaMetadata`, a record failing validation sent to the on-failure destination with reason
 * SCHEMA_NOT_FOUND or DESERIALIZATION_ERROR), into navigation-enricher composed as its Lambda handler is, writing to
 * the real CQL server. Each format writes the same rows as the framed records do.
 */

const bootstrapBrokers = [endpoints.kafkaBootstrap];
const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
const T0 = Date.UTC(2026, 10, 25, 9, 0, 0);
const COUNT = 60;
let topic = '';
/** Offsets: 0..COUNT-1 good records (v1 and v2), then a bad eventId, an unknown schema id, a truncated body. */
const BAD_EVENT_ID = COUNT;
const END = COUNT + 3;
/** Rows the good records make. */
let stored = 0;

/** A destination that keeps what it is given. */
class Captured implements FailureDestination {
  readonly destination = 'arn:aws:sqs:eu-west-1:111122223333:captured';
  readonly discards: Discard[] = [];
  async deliver(discard: Discard) {
    this.discards.push(discard);
  }
}

beforeAll(async () => {
  topic = uniqueName('mapping-registry');
  await ensureTopics(bootstrapBrokers, [topic], 1);
  const encoder = new AvroEncoder(registry);
  const subject = `${topic}-value`;
  const v1 = await encoder.forSubject<Navigation>(subject, NAVIGATION_V1);
  const v2 = await encoder.forSubject<Navigation>(subject, NAVIGATION_V2);
  const events = navigationEvents({ seed: 26, cookies: 12, startTime: T0 });
  let denied = 0;
  const good = Array.from({ length: COUNT }, (_, i) => {
    const n = events.next().value as Navigation;
    if (n.consent === 'DENIED') denied++; // not stored: navigation-enricher skips it
    return i % 2 === 0 ? v2.encode({ ...n, sessionId: `s-${i}` }) : v1.encode(n);
  });
  stored = good.length - denied;
  const sample = { ...(events.next().value as Navigation), consent: 'GRANTED' as const };
  const values = [
    ...good,
    v1.encode({ ...sample, eventId: 'not-a-uuid' }), // valid Avro: the function's own check dead-letters it
    frameConfluentV0(2_000_000_000, Buffer.from([2, 0x61])), // a schema id the registry never issued
    v1.encode(sample).subarray(0, 20), // a known schema, bytes cut short
  ];
  const producer = new Producer({ clientId: 'mapping-registry', bootstrapBrokers });
  await producer.send({
    messages: values.map((value, i) => ({
      topic,
      partition: 0,
      key: Buffer.from(`k${i}`),
      value,
      timestamp: BigInt(T0 + i),
    })),
  });
  await producer.close();
});

const enricher = (keyspace: string) =>
  composeProcessor(navigationEnricher({ ttlSeconds: 3600 }), READER_SCHEMA, functionEnvironment(keyspace));

/** Runs the mapping over the topic into navigation-enricher on a fresh keyspace; what it wrote and what it kept. */
async function runWith(format: EventRecordFormat | undefined) {
  const keyspace = await freshKeyspace();
  const handler = enricher(keyspace);
  const formats = new Set<string>();
  const seen: Handler = async (event, context) => {
    for (const records of Object.values((event as MskEvent).records))
      for (const r of records) formats.add(r.valueSchemaMetadata ? r.valueSchemaMetadata.dataFormat : 'framed');
    return handler(event, context);
  };
  const destination = new Captured();
  const esm = new LocalEventSourceMapping({
    topic,
    groupId: uniqueName('mapping-registry'),
    bootstrapBrokers,
    handler: seen,
    settings: {
      batchSize: 20,
      batchingWindowMs: 50,
      retryBackoffMs: 50,
      onFailure: destination,
      schemaRegistry: format && { eventRecordFormat: format, schemas: new SchemaCache(registry) },
    },
  });
  await esm.start();
  // No deadline: the test's own timeout bounds a mapping that never gets there.
  while (!esm.reached([[`${topic}-0`, END]])) await sleep(20);
  await esm.stop();
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    const read = async (cql: string) =>
      (await session.execute(statement('test.read', cql, { idempotent: true }), [])).rows.map((row) =>
        Object.fromEntries(row.keys().map((k) => [k, String(row.get(k))])),
      );
    const stored = await read(
      'SELECT owner_id, event_time, event_id, cookie_id, user_id, url, referrer, user_agent, ip, country, city, tags, attributes, consent FROM navigations_by_user',
    );
    const deadLetters = await read('SELECT offset, reason, value_schema FROM dead_letters');
    const byKey = (a: Record<string, string>, b: Record<string, string>) =>
      `${a.event_id}`.localeCompare(`${b.event_id}`);
    return { keyspace, stored: stored.sort(byKey), deadLetters, destination, esm, formats };
  } finally {
    await session.shutdown();
  }
}

describe('records the mapping decoded with its own schema registry (SOURCE, JSON)', () => {
  let framed: Awaited<ReturnType<typeof runWith>>;
  beforeAll(async () => {
    framed = await runWith(undefined);
  });

  it('framed records: every good record written, the three bad ones dead-lettered by the function', () => {
    expect(framed.formats).toEqual(new Set(['framed']));
    expect(stored).toBeGreaterThan(COUNT / 2);
    expect(framed.stored).toHaveLength(stored);
    expect(framed.deadLetters.map((d) => d.reason).sort()).toEqual([
      'CODEC_SCHEMA_NOT_FOUND',
      'CODEC_TRUNCATED',
      'RECORD_INVALID',
    ]);
  });

  it.each(['SOURCE', 'JSON'] as const)(
    '%s: the same rows as framed; validation failures go to the destination with AWS reason codes, not the function',
    async (format) => {
      const run = await runWith(format);
      expect(run.formats).toEqual(new Set(['AVRO']));
      expect(run.stored).toEqual(framed.stored);
      expect(run.esm.stats.schemaRejected).toBe(2);
      expect(
        run.destination.discards.map((d) => [
          d.condition,
          d.approximateInvokeCount,
          Object.values(d.event.records)[0]?.[0]?.offset,
        ]),
      ).toEqual(
        expect.arrayContaining([
          ['SCHEMA_NOT_FOUND', 0, COUNT + 1],
          ['DESERIALIZATION_ERROR', 0, COUNT + 2],
        ]),
      );
      // The one record valid for the registry but not for the function: its dead letter keeps the schema metadata.
      expect(run.deadLetters).toHaveLength(1);
      expect(run.deadLetters[0]).toMatchObject({ offset: String(BAD_EVENT_ID), reason: 'RECORD_INVALID' });
      expect(JSON.parse(run.deadLetters[0]?.value_schema as string)).toMatchObject({ dataFormat: 'AVRO' });
    },
  );

  it('a replayed dead letter of a SOURCE record is read with its schema again (RECORD_INVALID, not a codec error)', async () => {
    const run = await runWith('SOURCE');
    const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: run.keyspace }));
    try {
      const store = new TableDeadLetterStore(session, run.keyspace);
      const day = Date.UTC(2026, 10, 25);
      const entries = await store.select({ functions: ['navigation-enricher'], firstDay: day, lastDay: day });
      expect(entries).toHaveLength(1);
      expect(entries[0]?.valueSchemaMetadata).toMatchObject({ dataFormat: 'AVRO' });
      const outcome = await replay(
        store,
        entries,
        async () => {
          const handler = enricher(run.keyspace);
          return (event) => handler(event);
        },
        { run: 'test' },
      );
      expect(outcome.failedAgain).toEqual([{ id: entries[0]?.id, reason: 'RECORD_INVALID' }]);
    } finally {
      await session.shutdown();
    }
  });
});
