import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Producer } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { ensureTopics } from '../../../dev/demo/stream';
import { LocalEventSourceMapping } from '../../../dev/esm/runner';
import { FaultyProxy } from '../../../dev/faults/http-proxy';
import { RieInvoker } from '../../../dev/lambda/invoker';
import { type LocalLambdaApp, prepareLocalLambdaApp, startFunction } from '../../../dev/lambda/local-lambda';
import { fullPayloadEvent, type PayloadShape } from '../../../dev/lambda/payloads';
import type { LambdaSandbox } from '../../../dev/lambda/sandbox';
import { loadStackConfig, REPO_ROOT } from '../../../dev/stack/config';
import type { FunctionName } from '../../../functions/catalog';
import { IDENTITY_LINK_V1, type IdentityLink } from '../../../functions/topics/identity';
import { NAVIGATION_V2, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import type { DeadLetter } from '../../../lib/runtime/dead-letters';
import type { MskEvent } from '../../../lib/runtime/msk-event';
import { statement } from '../../../lib/scylla/statement';
import { buildMskEvent, kafkaRecordOf } from '../../../ops/kafka/msk-event';
import { readTopic } from '../../../ops/kafka/read-topic';
import { DEMO_FUNCTIONS } from '../../demo-functions';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';

/**
 * The three functions as `cdk deploy` would create them — handler, environment, timeout and memory read from the
 * synthesized template, code from the asset directory CDK uploads — run by AWS's Runtime Interface Emulator with
 * aws-lambda-ric on Node 24, invoked through the Runtime API, against the local stack.
 */

const AWS_SAMPLE = JSON.parse(readFileSync(path.join(REPO_ROOT, 'test/fixtures/msk-aws-sample.json'), 'utf8'));
const t0 = Date.UTC(2026, 10, 25, 10);
const CLUSTER_ARN = 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/5a9c2f4e-1b7d-4c1e-9d8a-0f6b3e2a1c4d-3';
const bootstrapBrokers = [endpoints.kafkaBootstrap];
const topics = { navigation: uniqueName('navigation'), identity: uniqueName('identity') };
const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
const encoder = new AvroEncoder(registry);
const sqs = new SQSClient(awsEmulator);

let app: LocalLambdaApp;
let keyspace = '';
const sandboxes = new Map<FunctionName, { sandbox: LambdaSandbox; replaced: string[] }>();
const others: LambdaSandbox[] = [];

const sandbox = (name: FunctionName) => sandboxes.get(name)?.sandbox as LambdaSandbox;

async function rows(cql: string, ks = keyspace): Promise<Record<string, unknown>[]> {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: ks }));
  try {
    const result = await session.execute(statement('test.read', cql, { idempotent: true }), []);
    return (result.rows ?? []).map((row) => Object.fromEntries(row.keys().map((k) => [k, row.get(k)])));
  } finally {
    await session.shutdown();
  }
}

/** The dead letters the functions sent to the run's queue (the template's sink is SQS), until `count` arrived. */
async function queuedDeadLetters(count: number): Promise<DeadLetter[]> {
  const letters: DeadLetter[] = [];
  for (const until = Date.now() + 20_000; letters.length < count && Date.now() < until; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: app.resources.deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    letters.push(...Messages.map((m) => JSON.parse(m.Body ?? '{}') as DeadLetter));
  }
  return letters;
}

/** Produces to Kafka and reads back: the batch the event-source mapping would deliver, in AWS's MSK event shape. */
async function consumedEvent(topic: string, messages: { key: Buffer; value: Buffer; timestamp: bigint }[]) {
  const producer = new Producer({ clientId: 'rie-test', bootstrapBrokers, idempotent: true });
  await producer.send({ messages: messages.map((m) => ({ ...m, topic })) });
  await producer.close();
  const { messages: consumed } = await readTopic({ bootstrapBrokers }, topic);
  return buildMskEvent(consumed.map(kafkaRecordOf), {
    bootstrapServers: endpoints.kafkaBootstrap,
    clusterArn: CLUSTER_ARN,
  });
}

const identityLinks: IdentityLink[] = [];
const navigations: Navigation[] = [];
let identityEvent: MskEvent;
let navigationEvent: MskEvent;

beforeAll(async () => {
  keyspace = await freshKeyspace();
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  await session.execute(
    statement('rules.insert', 'INSERT INTO segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, true)', {
      idempotent: true,
    }),
    ['runners', '/shoes/running'],
  );
  await session.shutdown();

  await ensureTopics(bootstrapBrokers, [topics.navigation, topics.identity], 2);
  const nav = await encoder.forSubject<Navigation>(`${topics.navigation}-value`, NAVIGATION_V2);
  const identity = await encoder.forSubject<IdentityLink>(`${topics.identity}-value`, IDENTITY_LINK_V1);
  const generator = navigationEvents({ seed: 15, cookies: 30, startTime: t0 });
  for (let i = 0; i < 200; i++) navigations.push(generator.next().value as Navigation);
  for (const n of navigations.filter((_, i) => i % 5 === 0))
    identityLinks.push({
      cookieId: n.cookieId,
      userId: `u-${n.cookieId}`,
      emailSha256: null,
      source: 'LOGIN',
      consent: 'GRANTED',
      eventTime: n.eventTime,
    });
  navigationEvent = await consumedEvent(
    topics.navigation,
    navigations.map((n) => ({ key: Buffer.from(n.cookieId), value: nav.encode(n), timestamp: BigInt(n.eventTime) })),
  );
  identityEvent = await consumedEvent(
    topics.identity,
    identityLinks.map((l) => ({
      key: Buffer.from(l.cookieId),
      value: identity.encode(l),
      timestamp: BigInt(l.eventTime),
    })),
  );

  const config = loadStackConfig();
  app = await prepareLocalLambdaApp({
    endpoints,
    artifactsDir: config.artifactsDir,
    workDir: mkdtempSync(path.join(tmpdir(), 'rie-')),
    name: uniqueName('rie'),
  });
  for (const name of DEMO_FUNCTIONS)
    sandboxes.set(name, await startFunction(app, name, { overrides: { SCYLLA_KEYSPACE: keyspace } }));
}, 600_000);

afterAll(async () => {
  await Promise.all([...[...sandboxes.values()].map((s) => s.sandbox), ...others].map((s) => s.stop()));
  sqs.destroy();
});

describe('the functions from the synthesized template, under the Runtime Interface Emulator and aws-lambda-ric', () => {
  it('take handler, runtime, timeout, memory and environment from the template, replacing only what names a deployed resource', () => {
    for (const name of DEMO_FUNCTIONS) {
      const { sandbox: s, replaced } = sandboxes.get(name) as { sandbox: LambdaSandbox; replaced: string[] };
      expect(s.definition).toMatchObject({ handler: 'index.handler', runtime: 'nodejs24.x', architectures: ['arm64'] });
      expect(s.definition.functionName).toBe(`pipeline-example-${name}`);
      expect(s.memorySizeMb).toBe(s.definition.memorySizeMb);
      expect(s.definition.environment).toMatchObject({ SCYLLA_CONSISTENCY: 'LOCAL_QUORUM', DEAD_LETTER_SINK: 'sqs' });
      expect(replaced.sort()).toEqual(
        [
          'DEAD_LETTER_QUEUE_URL',
          'METRICS_REMOTE_WRITE_SIGV4_REGION',
          'METRICS_REMOTE_WRITE_URL',
          'SCHEMA_REGISTRY_URLS',
          'SCYLLA_CONTACT_POINTS',
          'SCYLLA_CREDENTIALS_SECRET_ID',
          'SCYLLA_KEYSPACE',
          'SCYLLA_LOCAL_DC',
          'SCYLLA_TLS',
          'SCYLLA_TLS_CA_SECRET_ID',
        ].sort(),
      );
    }
  });

  it("answer AWS's sample MSK event with an empty partial batch response, its plain-text value dead-lettered as CODEC_UNKNOWN_MAGIC; the first invocation runs the init phase", async () => {
    for (const name of DEMO_FUNCTIONS) {
      const cold = await sandbox(name).invoke(AWS_SAMPLE);
      expect(cold.error).toBeUndefined();
      expect(cold.payload).toEqual({ batchItemFailures: [] });
      expect(cold.initDurationMs).toBeGreaterThan(0);
      const warm = await sandbox(name).invoke(AWS_SAMPLE);
      expect(warm.payload).toEqual({ batchItemFailures: [] });
      expect(warm.initDurationMs).toBeUndefined();
      console.log(
        `${name}: Init Duration ${cold.initDurationMs?.toFixed(1)} ms (RIE's INIT REPORT), first invocation ${cold.durationMs.toFixed(1)} ms, warm ${warm.durationMs.toFixed(1)} ms`,
      );
    }
    const letters = await queuedDeadLetters(6);
    expect(letters.map((l) => `${l.functionName} ${l.topic}-${l.partition}@${l.offset} ${l.reason}`).sort()).toEqual(
      DEMO_FUNCTIONS.flatMap((name) => Array(2).fill(`${name} mytopic-0@15 CODEC_UNKNOWN_MAGIC`)).sort(),
    );
  });

  it('write the rows of a real Avro batch consumed from Kafka', async () => {
    const linked = await sandbox('identity-linker').invoke(identityEvent);
    expect(linked.payload).toEqual({ batchItemFailures: [] });
    for (const name of ['navigation-enricher', 'segment-builder'] as const)
      expect((await sandbox(name).invoke(navigationEvent)).payload).toEqual({ batchItemFailures: [] });

    const identities = await rows('SELECT cookie_id, user_id FROM identities');
    expect(new Map(identities.map((r) => [r.cookie_id, r.user_id]))).toEqual(
      new Map(identityLinks.map((l) => [l.cookieId, l.userId])),
    );
    const stored = await rows('SELECT event_id FROM navigations_by_user');
    expect(stored.map((r) => String(r.event_id)).sort()).toEqual(
      navigations
        .filter((n) => n.consent !== 'DENIED')
        .map((n) => n.eventId)
        .sort(),
    );
    const segments = await rows("SELECT owner_id FROM user_segments WHERE segment_id = 'runners' ALLOW FILTERING");
    expect(segments.length).toBeGreaterThan(0);
  });

  it('answer a transient Scylla failure with the partial batch response naming each partition’s first record, and log why', async () => {
    // LOCAL_QUORUM (the template's) of a keyspace replicated three times on a one-node cluster: every statement is
    // refused as Unavailable, the CQL server's own transient error.
    const unavailable = await freshKeyspace();
    await rows(
      `ALTER KEYSPACE ${unavailable} WITH replication = {'class': 'NetworkTopologyStrategy', '${endpoints.cqlLocalDataCenter}': 3}`,
      unavailable,
    );
    const { sandbox: s } = await startFunction(app, 'identity-linker', { overrides: { SCYLLA_KEYSPACE: unavailable } });
    others.push(s);
    const result = await s.invoke(identityEvent);
    expect(result.error).toBeUndefined();
    const firsts = Object.entries(identityEvent.records).map(([partition, records]) => ({
      partition,
      offset: Math.min(...records.map((r) => r.offset)),
    }));
    expect((result.payload as { batchItemFailures: unknown[] }).batchItemFailures).toEqual(
      expect.arrayContaining(firsts.map((itemIdentifier) => ({ itemIdentifier }))),
    );
    // And the function says why, in one JSON line of its log (Powertools Logger), with the error's code.
    const logged = JSON.parse(
      await s.nextLine((line) => line.startsWith('{"level":"WARN"') && line.includes('"code":"SCYLLA_UNAVAILABLE"')),
    ) as { firstUnprocessed: Record<string, number> };
    expect(logged?.firstUnprocessed).toEqual(Object.fromEntries(firsts.map((f) => [f.partition, f.offset])));
  });

  it('fail the init phase on a configuration error, and Lambda’s error names the setting', async () => {
    const { sandbox: s } = await startFunction(app, 'segment-builder', {
      overrides: { SCYLLA_CONSISTENCY: 'SOMETIMES' },
    });
    others.push(s);
    const result = await s.invoke(AWS_SAMPLE);
    expect(result.error?.errorMessage).toContain('SCYLLA_CONSISTENCY');
  });

  it.each<PayloadShape>(['small', 'large'])(
    'process the largest event Lambda delivers (6 MB of %s records) within the template’s MemorySize',
    async (shape) => {
      const definition = sandbox('navigation-enricher').definition;
      const writer = await encoder.forSubject<Navigation>(`${uniqueName('payload')}-value`, NAVIGATION_V2);
      const full = fullPayloadEvent(shape, {
        encode: (n) => writer.encode(n),
        topic: 'navigation',
        partitions: 4,
        startTime: t0,
        seed: 3,
      });
      const { sandbox: s } = await startFunction(app, 'navigation-enricher', {
        overrides: { SCYLLA_KEYSPACE: keyspace },
      });
      others.push(s);
      const result = await s.invoke(full.event);
      expect(result.error).toBeUndefined();
      expect(result.payload).toEqual({ batchItemFailures: [] });
      const peak = s.maxMemoryUsedMb();
      console.log(
        `navigation-enricher, ${full.records} ${shape} records, ${(full.bytes / 1024 / 1024).toFixed(2)} MiB event: ` +
          `Max Memory Used ${peak} MB of ${definition.memorySizeMb} MB (${s.memoryLimitKind}), ${result.durationMs.toFixed(0)} ms`,
      );
      expect(full.bytes).toBeGreaterThan(5.5 * 1024 * 1024);
      if (shape === 'small') expect(full.records).toBe(10_000);
      expect(s.oomKills()).toBe(0);
      expect(peak).toBeLessThan(definition.memorySizeMb / 2);
    },
  );

  it('through the local event-source mapping: a batch past the function’s timeout is abandoned, the runtime restarted, and the batch retried until it succeeds', async () => {
    // The registry answers 8 s late while the function's timeout is 3 s: the first invocations decode an uncached
    // schema id and time out (RIE answers "Task timed out" and kills the runtime); then the registry recovers.
    const registryProxy = new FaultyProxy(endpoints.registryUrl);
    const registryUrl = await registryProxy.start();
    registryProxy.delay(8_000);
    const topic = uniqueName('timeouts');
    await ensureTopics(bootstrapBrokers, [topic], 1);
    const writer = await encoder.forSubject<Navigation>(`${topic}-value`, NAVIGATION_V2);
    const events = [...navigations.slice(0, 40)].map((n, i) => ({
      ...n,
      eventId: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    }));
    const producer = new Producer({ clientId: 'rie-timeouts', bootstrapBrokers });
    await producer.send({
      messages: events.map((n) => ({
        topic,
        key: Buffer.from(n.cookieId),
        value: writer.encode(n),
        timestamp: BigInt(n.eventTime),
      })),
    });
    await producer.close();
    const timeoutKeyspace = await freshKeyspace();
    const invoker = new RieInvoker(app, 'navigation-enricher', {
      overrides: { SCYLLA_KEYSPACE: timeoutKeyspace, SCHEMA_REGISTRY_URLS: registryUrl, DEADLINE_MARGIN_MS: '500' },
      timeoutSeconds: 3,
    });
    // The mapping's own timer is a backstop past the function's timeout, which RIE enforces.
    const esm = new LocalEventSourceMapping({
      topic,
      groupId: uniqueName('rie-timeouts'),
      bootstrapBrokers,
      invoker,
      settings: { batchSize: 50, batchingWindowMs: 100, timeoutMs: 5_000 },
    });
    try {
      await esm.start();
      for (const until = Date.now() + 60_000; invoker.stats.timedOut < 2 && Date.now() < until; ) await sleep(100);
      registryProxy.delay(0);
      const ends = new Map([[`${topic}-0`, events.length]]);
      for (const until = Date.now() + 60_000; !esm.reached(ends) && Date.now() < until; ) await sleep(100);
      expect(esm.reached(ends)).toBe(true);
    } finally {
      await esm.stop();
      await invoker.close();
      await registryProxy.stop();
    }
    expect(invoker.stats.timedOut).toBeGreaterThanOrEqual(2);
    expect(esm.stats.failedInvocations).toBeGreaterThanOrEqual(2);
    // A timed-out runtime is gone: the next invocation ran the init phase again.
    expect(invoker.stats.coldStarts).toBeGreaterThanOrEqual(3);
    const stored = await rows('SELECT event_id FROM navigations_by_user', timeoutKeyspace);
    expect(stored.map((r) => String(r.event_id)).sort()).toEqual(
      events
        .filter((n) => n.consent !== 'DENIED')
        .map((n) => n.eventId)
        .sort(),
    );
  });
});
