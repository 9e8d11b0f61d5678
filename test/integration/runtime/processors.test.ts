import type avro from 'avsc';
import { beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { READER_SCHEMA as IDENTITY_READER, identityLinker } from '../../../functions/identity-linker/definition';
import {
  READER_SCHEMA as NAVIGATION_READER,
  navigationEnricher,
} from '../../../functions/navigation-enricher/definition';
import { READER_SCHEMA as SEGMENT_READER, segmentBuilder } from '../../../functions/segment-builder/definition';
import { IDENTITY_LINK_V1, type IdentityLink } from '../../../functions/topics/identity';
import { NAVIGATION_V1, NAVIGATION_V2, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import { deadLetterDay } from '../../../lib/runtime/dead-letters';
import { BatchFailedError } from '../../../lib/runtime/errors';
import type { ProcessorDefinition } from '../../../lib/runtime/processor';
import { WriteExecutor } from '../../../lib/scylla/executor';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent, type KafkaRecord } from '../../../ops/kafka/msk-event';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { functionEnvironment } from './environment';

/**
 * The three processors, composed exactly as their Lambda handlers are (composeProcessor from an environment), invoked
 * with MSK events built from records framed by the real registry, writing to the real CQL server.
 */

const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
const encoder = new AvroEncoder(registry);
let keyspace = '';

const environment = (overrides?: Record<string, string>) => functionEnvironment(keyspace, overrides);

const handlerFor = <T, P>(
  definition: ProcessorDefinition<T, P>,
  reader: avro.Schema,
  overrides?: Record<string, string>,
) => composeProcessor(definition, reader, environment(overrides));

async function rows(cql: string): Promise<Record<string, unknown>[]> {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    const result = await session.execute(statement('test.read', cql, { idempotent: true }), []);
    return result.rows.map((row) => Object.fromEntries(row.keys().map((k) => [k, row.get(k)])));
  } finally {
    await session.shutdown();
  }
}

const event = (records: KafkaRecord[]) => buildMskEvent(records, { bootstrapServers: endpoints.kafkaBootstrap });
const t0 = Date.UTC(2026, 10, 25, 10);

beforeAll(async () => {
  keyspace = await freshKeyspace();
});

describe('identity-linker', () => {
  it('upserts links, erases on a tombstone, dead-letters poison, and a replay changes nothing', async () => {
    const v1 = await encoder.forSubject<IdentityLink>(`${uniqueName('identity')}-value`, IDENTITY_LINK_V1);
    const link = (cookieId: string, userId: string, eventTime: number): IdentityLink => ({
      cookieId,
      userId,
      emailSha256: null,
      source: 'LOGIN',
      consent: 'GRANTED',
      eventTime,
    });
    const key = (s: string) => Buffer.from(s);
    const records: KafkaRecord[] = [
      {
        topic: 'identity',
        partition: 0,
        offset: 0,
        timestamp: t0,
        key: key('ck-1'),
        value: v1.encode(link('ck-1', 'u-old', t0)),
      },
      {
        topic: 'identity',
        partition: 0,
        offset: 1,
        timestamp: t0,
        key: key('ck-1'),
        value: v1.encode(link('ck-1', 'u-new', t0 + 1000)),
      },
      {
        topic: 'identity',
        partition: 0,
        offset: 2,
        timestamp: t0,
        key: key('ck-2'),
        value: v1.encode(link('ck-2', 'u-2', t0)),
      },
      { topic: 'identity', partition: 0, offset: 3, timestamp: t0 + 5000, key: key('ck-2'), value: null }, // erase ck-2
      { topic: 'identity', partition: 0, offset: 4, timestamp: t0, key: key('ck-3'), value: Buffer.from([0, 0, 0]) }, // poison
      {
        topic: 'identity',
        partition: 1,
        offset: 0,
        timestamp: t0,
        key: key('ck-4'),
        value: v1.encode(link('ck-4', 'u-4', t0)),
      },
      { topic: 'identity', partition: 1, offset: 1, timestamp: t0, key: null, value: null }, // a tombstone erasing nothing: poison
    ];
    const handler = handlerFor(identityLinker, IDENTITY_READER);
    expect(await handler(event(records))).toEqual({ batchItemFailures: [] });
    const identities = async () =>
      (await rows('SELECT cookie_id, user_id FROM identities')).map((r) => `${r.cookie_id}=${r.user_id}`).sort();
    expect(await identities()).toEqual(['ck-1=u-new', 'ck-4=u-4']);
    const dead = await rows(
      `SELECT topic, partition, offset, reason FROM dead_letters WHERE function_name = 'identity-linker' AND day = '${deadLetterDay(t0)}'`,
    );
    expect(dead.map((d) => `${d.partition}/${d.offset}:${d.reason}`).sort()).toEqual([
      '0/4:CODEC_SHORT_HEADER',
      '1/1:RECORD_INVALID',
    ]);

    // At-least-once: the same batch again, and the older link alone again.
    await handler(event(records));
    await handler(event([records[0] as KafkaRecord]));
    expect(await identities()).toEqual(['ck-1=u-new', 'ck-4=u-4']);
  });
});

describe('navigation-enricher and segment-builder', () => {
  let records: KafkaRecord[] = [];
  let sent: Navigation[] = [];

  beforeAll(async () => {
    const subject = `${uniqueName('navigation')}-value`;
    const [v1, v2] = [
      await encoder.forSubject<Navigation>(subject, NAVIGATION_V1),
      await encoder.forSubject<Navigation>(subject, NAVIGATION_V2),
    ];
    const generator = navigationEvents({ seed: 21, cookies: 30, startTime: t0 });
    sent = Array.from({ length: 60 }, () => generator.next().value as Navigation);
    records = sent.map((n, i) => ({
      topic: 'navigation',
      partition: i % 2,
      offset: Math.floor(i / 2),
      timestamp: n.eventTime,
      key: Buffer.from(n.cookieId),
      value: (i % 3 === 0 ? v2 : v1).encode(i % 3 === 0 ? { ...n, sessionId: `s-${i}` } : n),
    }));
    // One poison record per partition at the end: a truncated one and an invalid event id.
    records.push({
      topic: 'navigation',
      partition: 0,
      offset: 30,
      timestamp: t0,
      key: null,
      value: v1.encode(sent[0] as Navigation).subarray(0, 20),
    });
    records.push({
      topic: 'navigation',
      partition: 1,
      offset: 30,
      timestamp: t0,
      key: null,
      value: v1.encode({ ...(sent[1] as Navigation), eventId: 'not-a-uuid' }),
    });
    // A known user for one anonymous cookie: the enricher must file that cookie's events under the user.
    const anonymous = sent.find((n) => n.userId === null) as Navigation;
    const identity = await encoder.forSubject<IdentityLink>(`${uniqueName('identity')}-value`, IDENTITY_LINK_V1);
    await handlerFor(
      identityLinker,
      IDENTITY_READER,
    )(
      event([
        {
          topic: 'identity',
          partition: 0,
          offset: 0,
          timestamp: t0,
          key: Buffer.from(anonymous.cookieId),
          value: identity.encode({
            cookieId: anonymous.cookieId,
            userId: 'u-known',
            emailSha256: null,
            source: 'CRM',
            consent: 'GRANTED',
            eventTime: t0,
          }),
        },
      ]),
    );
  });

  it('stores every consented event once, under the user when known, and dead-letters the poison', async () => {
    const handler = handlerFor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER);
    expect(await handler(event(records))).toEqual({ batchItemFailures: [] });
    const stored = await rows('SELECT owner_id, event_id, cookie_id FROM navigations_by_user');
    const consented = sent.filter((n) => n.consent !== 'DENIED');
    expect(stored.map((r) => String(r.event_id)).sort()).toEqual(consented.map((n) => n.eventId).sort());
    const anonymous = sent.find((n) => n.userId === null) as Navigation;
    for (const row of stored.filter((r) => r.cookie_id === anonymous.cookieId)) expect(row.owner_id).toBe('u-known');
    const dead = await rows(
      `SELECT offset, reason FROM dead_letters WHERE function_name = 'navigation-enricher' AND day = '${deadLetterDay(t0)}'`,
    );
    expect(dead.map((d) => `${d.offset}:${d.reason}`).sort()).toEqual(['30:CODEC_TRUNCATED', '30:RECORD_INVALID']);

    await handler(event(records)); // replay: nothing changes
    expect((await rows('SELECT owner_id, event_id FROM navigations_by_user')).length).toBe(stored.length);
  });

  it('derives segments from the rules in Scylla, per user or cookie', async () => {
    const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
    const rule = statement(
      'rules.insert',
      'INSERT INTO segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, ?)',
      { idempotent: true },
    );
    await session.execute(rule, ['runners', '/shoes/running', true]);
    await session.execute(rule, ['checkout', '/(cart|checkout)', true]);
    await session.execute(rule, ['disabled', '.', false]);
    await session.shutdown();
    const handler = handlerFor(segmentBuilder({ ttlSeconds: 3600, refreshMs: 60_000 }), SEGMENT_READER);
    expect(await handler(event(records))).toEqual({ batchItemFailures: [] });
    const expected = new Set<string>();
    for (const n of sent.filter((x) => x.consent !== 'DENIED')) {
      const owner = n.userId ?? n.cookieId;
      if (/\/shoes\/running/.test(n.url)) expected.add(`${owner}:runners`);
      if (/\/(cart|checkout)/.test(n.url)) expected.add(`${owner}:checkout`);
    }
    const segments = await rows('SELECT owner_id, segment_id FROM user_segments');
    expect(segments.map((s) => `${s.owner_id}:${s.segment_id}`).sort()).toEqual([...expected].sort());
  });

  it('reads the segment rules once when several partitions find them stale at the same time', async () => {
    const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
    const ran: string[] = [];
    const executor = new WriteExecutor(session, 8, { succeeded: (kind) => ran.push(kind), failed: () => {} });
    const definition = segmentBuilder({ ttlSeconds: 3600, refreshMs: 60_000 });
    const prepare = () => definition.prepare?.([], { executor });
    try {
      const [first, second, third] = await Promise.all([prepare(), prepare(), prepare()]);
      expect(ran.filter((kind) => kind === 'segment_rules.select')).toHaveLength(1);
      expect(first?.map((r) => r.segmentId).sort()).toEqual(['checkout', 'runners']);
      expect(second).toBe(first);
      expect(third).toBe(first);
    } finally {
      await session.shutdown();
    }
  });

  it('reports each partition’s first offset when Scylla is unreachable, and throws without ReportBatchItemFailures', async () => {
    const unreachable = { SCYLLA_CONTACT_POINTS: '127.0.0.1:1', SCYLLA_RETRIES: '0' };
    const withReports = handlerFor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER, unreachable);
    const response = await withReports(event(records));
    expect(
      response.batchItemFailures.map((f) => f.itemIdentifier).sort((a, b) => a.partition.localeCompare(b.partition)),
    ).toEqual([
      { partition: 'navigation-0', offset: 0 },
      { partition: 'navigation-1', offset: 0 },
    ]);
    const withoutReports = handlerFor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER, {
      ...unreachable,
      REPORT_BATCH_ITEM_FAILURES: 'off',
    });
    await expect(withoutReports(event(records))).rejects.toBeInstanceOf(BatchFailedError);
  });

  it('starts no work past the deadline and reports what it did not process', async () => {
    const handler = handlerFor(segmentBuilder({ ttlSeconds: 3600, refreshMs: 60_000 }), SEGMENT_READER, {
      DEADLINE_MARGIN_MS: '10000',
    });
    const response = await handler(event(records), { getRemainingTimeInMillis: () => 2_000 });
    expect(response.batchItemFailures).toHaveLength(2);
    expect(response.batchItemFailures.every((f) => f.itemIdentifier.offset === 0)).toBe(true);
  });
});
