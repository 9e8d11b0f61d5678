import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Admin, Consumer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { ensureTopics } from '../../../dev/demo/stream';
import { dedicatedServer } from '../../../dev/stack/dedicated';
import { READER_SCHEMA as IDENTITY_READER, identityLinker } from '../../../functions/identity-linker/definition';
import {
  READER_SCHEMA as NAVIGATION_READER,
  navigationEnricher,
} from '../../../functions/navigation-enricher/definition';
import { NAVIGATION_V1, type Navigation } from '../../../functions/topics/navigation';
import { ConfluentSchemaRegistry, compileSchema, frameConfluentV0 } from '../../../lib/codec';
import { composeProcessor } from '../../../lib/runtime/compose';
import { deadLetterDay } from '../../../lib/runtime/dead-letters';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent, type KafkaRecord } from '../../../ops/kafka/msk-event';
import { devCommand } from '../dev-command';
import { endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { AWS_ENVIRONMENT, functionEnvironment } from './environment';

/**
 * Dead-letter redrive (`npm run dlq`) end to end, for each sink: records framed with a schema id the registry does
 * not have yet are dead-lettered (CODEC_SCHEMA_NOT_FOUND); the schema is registered late; `replay` runs them through
 * the function's own bundle and exactly those rows appear, the entries marked with the run (a queue deletes them).
 * A record whose body is cut fails again, now for what it really is (CODEC_TRUNCATED), and stays with that reason.
 * A second replay changes nothing.
 */
const registryServer = dedicatedServer('schema-registry', 2); // empty: the first schema registered gets id 1
const LATE_ID = 1;
const t0 = Date.UTC(2026, 10, 25, 10);
const day = deadLetterDay(t0).toString();
let keyspace = '';
let env: Record<string, string> = {};
const expected = new Set<string>();
const TRUNCATED_OFFSET = 20;
let records: KafkaRecord[] = [];

const awsEnv = AWS_ENVIRONMENT;
// The function's SQS client is built from its environment, as in Lambda (this test file runs in its own process).
Object.assign(process.env, awsEnv);
/** The other sinks: each with its own keyspace for the rows its replay writes. */
const sinks = {
  sqs: { keyspace: '', env: {} as Record<string, string> },
  kafka: { keyspace: '', env: {} as Record<string, string> },
};

async function rows(cql: string, ks = keyspace) {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: ks }));
  try {
    return (await session.execute(statement('test.read', cql, { idempotent: true }), [])).rows;
  } finally {
    await session.shutdown();
  }
}

async function dlq(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return dlqWith(env, ...args);
}

async function dlqWith(
  target: Record<string, string>,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return devCommand('ops/dlq/cli.ts', args, target);
}

beforeAll(async () => {
  await registryServer.start();
  keyspace = await freshKeyspace();
  env = functionEnvironment(keyspace, { SCHEMA_REGISTRY_URLS: registryServer.endpoints.registryUrl });
  const type = compileSchema(NAVIGATION_V1);
  const generator = navigationEvents({ seed: 41, cookies: 8, startTime: t0 });
  records = Array.from({ length: 21 }, (_, offset): KafkaRecord => {
    const n = generator.next().value as Navigation;
    const body = type.toBuffer(n);
    if (offset === TRUNCATED_OFFSET) {
      return {
        topic: 'navigation',
        partition: 1,
        offset,
        timestamp: t0,
        key: null,
        value: frameConfluentV0(LATE_ID, body.subarray(0, 12)),
      };
    }
    if (n.consent !== 'DENIED') expected.add(n.eventId);
    return {
      topic: 'navigation',
      partition: offset % 2,
      offset,
      timestamp: t0,
      key: Buffer.from(n.cookieId),
      value: frameConfluentV0(LATE_ID, body),
    };
  });
  const handler = composeProcessor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER, env);
  expect(await handler(buildMskEvent(records, { bootstrapServers: 'test' }))).toEqual({ batchItemFailures: [] });

  // The same records dead-lettered into a queue and into a topic, before the schema is registered.
  const queueUrl = (
    await new SQSClient({ region: awsEnv.AWS_REGION, endpoint: endpoints.awsEndpoint }).send(
      new CreateQueueCommand({ QueueName: uniqueName('dlq-redrive') }),
    )
  ).QueueUrl as string;
  const topic = uniqueName('dlq-redrive');
  const admin = new Admin({ clientId: 'dlq-test-admin', bootstrapBrokers: [endpoints.kafkaBootstrap] });
  await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
  await admin.close();
  sinks.sqs.env = { ...awsEnv, DEAD_LETTER_SINK: 'sqs', DEAD_LETTER_QUEUE_URL: queueUrl };
  sinks.kafka.env = {
    DEAD_LETTER_SINK: 'kafka',
    DEAD_LETTER_TOPIC: topic,
    DEAD_LETTER_KAFKA_BROKERS: endpoints.kafkaBootstrap,
    DEAD_LETTER_KAFKA_TLS: 'off',
  };
  for (const sink of Object.values(sinks)) {
    sink.keyspace = await freshKeyspace();
    sink.env = { ...env, SCYLLA_KEYSPACE: sink.keyspace, ...sink.env };
    const viaSink = composeProcessor(navigationEnricher({ ttlSeconds: 3600 }), NAVIGATION_READER, sink.env);
    expect(await viaSink(buildMskEvent(records, { bootstrapServers: 'test' }))).toEqual({ batchItemFailures: [] });
  }
}, 180_000);

/** Registers the late schema (again: the registry answers the same id). */
async function registerLate() {
  const registered = await new ConfluentSchemaRegistry({ urls: [registryServer.endpoints.registryUrl] }).register(
    'navigation-value',
    JSON.stringify(NAVIGATION_V1),
  );
  expect(registered).toBe(LATE_ID);
}

afterAll(() => registryServer.stop(), 60_000);

describe('npm run dlq', () => {
  it('refuses to guess its target: no SCYLLA_CONTACT_POINTS and no --local is an error naming both', async () => {
    const { code, stderr } = await dlqWith({ SCYLLA_CONTACT_POINTS: '' }, 'list');
    expect(code).toBe(1);
    expect(stderr).toContain('npm run dlq needs its target: set SCYLLA_CONTACT_POINTS');
    expect(stderr).toContain('--local');
  }, 60_000);

  it('lists the dead letters by function, day and reason', async () => {
    expect((await rows('SELECT event_id FROM navigations_by_user')).length).toBe(0);
    const { code, stdout } = await dlq('list', '--since', day, '--until', day);
    expect(code).toBe(0);
    expect(stdout).toContain(`navigation-enricher\t${day}\tCODEC_SCHEMA_NOT_FOUND\t21\t0`);
    expect(stdout).toContain('21 dead letters');
  }, 60_000);

  it('replays them after the schema is registered: exactly their rows, entries marked, the cut one failed again', async () => {
    await registerLate();

    const first = await dlq('replay', '--function', 'navigation-enricher', '--since', day, '--until', day);
    expect(first.stdout).toContain('replayed 20, failed again 1, left for a later replay 0, already replayed 0');
    expect(first.stdout).toContain(
      `failed again: navigation-enricher/${day}/navigation/1/${TRUNCATED_OFFSET} CODEC_TRUNCATED`,
    );
    expect(first.code).toBe(1); // something still failed: a script notices

    const stored = new Set(
      (await rows('SELECT event_id FROM navigations_by_user')).map((r) => String(r.get('event_id'))),
    );
    expect(stored).toEqual(expected);
    const letters = await rows(
      `SELECT offset, reason, replayed_at, replayed_by FROM dead_letters WHERE function_name = 'navigation-enricher' AND day = '${day}'`,
    );
    const marked = letters.filter((r) => r.get('replayed_at') !== null);
    expect(marked).toHaveLength(20);
    expect(new Set(marked.map((r) => r.get('replayed_by'))).size).toBe(1);
    expect(String(marked[0]?.get('replayed_by'))).toMatch(/^replay-/);
    const again = letters.find((r) => Number(r.get('offset')) === TRUNCATED_OFFSET);
    expect(again?.get('reason')).toBe('CODEC_TRUNCATED');
    expect(again?.get('replayed_at')).toBeNull();

    const second = await dlq('replay', '--function', 'navigation-enricher', '--since', day, '--until', day);
    expect(second.stdout).toContain('replayed 0, failed again 1, left for a later replay 0, already replayed 20');
    expect((await rows('SELECT event_id FROM navigations_by_user')).length).toBe(expected.size);
  }, 180_000);

  it('shows one entry with its frame and why its value does not decode', async () => {
    const { code, stdout } = await dlq('show', `navigation-enricher/${day}/navigation/1/${TRUNCATED_OFFSET}`);
    expect(code).toBe(0);
    expect(stdout).toContain('reason: CODEC_TRUNCATED');
    expect(stdout).toContain(`frame: confluent-v0, schema id ${LATE_ID}, body at byte 5`);
    expect(stdout).toMatch(/decoded: no, CODEC_TRUNCATED/);
    expect(stdout).toContain('replayed: no');
  }, 60_000);
});

describe('npm run dlq -- replay --to-topic', () => {
  it('produces the entries again to their own topic and partition, with key, value and timestamp, once', async () => {
    const topic = uniqueName('identity');
    const brokers = [endpoints.kafkaBootstrap];
    await ensureTopics(brokers, [topic], 2);
    const poison: KafkaRecord[] = [0, 1].map((partition) => ({
      topic,
      partition,
      offset: 7 + partition,
      timestamp: t0 + partition,
      key: Buffer.from(`ck-${partition}`),
      value: Buffer.from([0x09, partition, 2]),
    }));
    const linker = composeProcessor(identityLinker, IDENTITY_READER, env);
    expect(await linker(buildMskEvent(poison, { bootstrapServers: 'test' }))).toEqual({ batchItemFailures: [] });

    const args = ['replay', '--to-topic', '--bootstrap', endpoints.kafkaBootstrap, '--function', 'identity-linker'];
    args.push('--since', day, '--until', day);
    const first = await dlq(...args);
    expect(first.stdout).toContain('re-produced 2 to their topics, already replayed 0');
    expect(first.code).toBe(0);

    const consumer = new Consumer({ clientId: 'dlq-to-topic', groupId: uniqueName('dlq'), bootstrapBrokers: brokers });
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 500 });
    const seen: string[] = [];
    for await (const m of stream) {
      seen.push(`${m.partition}:${m.key?.toString()}:${m.value?.toString('hex')}:${m.timestamp}`);
      if (seen.length === 2) break;
    }
    await stream.close();
    await consumer.close();
    expect(seen.sort()).toEqual([`0:ck-0:090002:${t0}`, `1:ck-1:090102:${t0 + 1}`]);

    const second = await dlq(...args);
    expect(second.stdout).toContain('re-produced 0 to their topics, already replayed 2');
    const marks = await rows(
      `SELECT replayed_by FROM dead_letters WHERE function_name = 'identity-linker' AND day = '${day}'`,
    );
    expect(marks.map((r) => String(r.get('replayed_by')))).toEqual([
      expect.stringMatching(/^to-topic-/),
      expect.stringMatching(/^to-topic-/),
    ]);
  }, 120_000);
});

describe.each([
  { sink: 'sqs' as const, secondSkipped: 0, after: ['CODEC_TRUNCATED\t1\t0'], total: 1 },
  {
    sink: 'kafka' as const,
    secondSkipped: 20,
    after: ['CODEC_SCHEMA_NOT_FOUND\t20\t20', 'CODEC_TRUNCATED\t1\t0'],
    total: 21,
  },
])('npm run dlq with DEAD_LETTER_SINK=$sink', ({ sink, secondSkipped, after, total }) => {
  const args = ['--function', 'navigation-enricher', '--since', day, '--until', day];
  it('lists, replays exactly the records that now decode, keeps the one that fails again with its new reason, and replays nothing twice', async () => {
    const target = sinks[sink];
    const listed = await dlqWith(target.env, 'list', ...args);
    expect(listed.stdout).toContain(`navigation-enricher\t${day}\tCODEC_SCHEMA_NOT_FOUND\t21\t0`);
    await registerLate();

    const first = await dlqWith(target.env, 'replay', ...args);
    expect(first.stdout).toContain('replayed 20, failed again 1, left for a later replay 0, already replayed 0');
    expect(first.stdout).toMatch(/failed again: \S+ CODEC_TRUNCATED/);
    expect(first.code).toBe(1);
    const stored = await rows('SELECT event_id FROM navigations_by_user', target.keyspace);
    expect(new Set(stored.map((r) => String(r.get('event_id'))))).toEqual(expected);

    const second = await dlqWith(target.env, 'replay', ...args);
    expect(second.stdout).toContain(
      `replayed 0, failed again 1, left for a later replay 0, already replayed ${secondSkipped}`,
    );
    expect((await rows('SELECT event_id FROM navigations_by_user', target.keyspace)).length).toBe(expected.size);

    const now = await dlqWith(target.env, 'list', '--ids', ...args);
    for (const line of after) expect(now.stdout).toContain(`navigation-enricher\t${day}\t${line}`);
    expect(now.stdout).toContain(`${total} dead letters`);
    const truncated = /^(\S+)\tCODEC_TRUNCATED$/m.exec(now.stdout)?.[1] as string;
    const shown = await dlqWith(target.env, 'show', truncated);
    expect(shown.stdout).toContain(`record navigation/1/${TRUNCATED_OFFSET}`);
    expect(shown.stdout).toMatch(/decoded: no, CODEC_TRUNCATED/);
  }, 240_000);
});
