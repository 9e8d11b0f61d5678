import { CreateBucketCommand, GetObjectTaggingCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { S3FailureDestination } from '../../../dev/esm/destinations';
import { buildMskEvent, type KafkaRecord } from '../../../dev/esm/event';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import { NAVIGATION_V1, type Navigation } from '../../../lib/domain/navigation';
import { deadLetterDay } from '../../../lib/runtime/dead-letters';
import { statement } from '../../../lib/scylla/statement';
import { devCommand } from '../dev-command';
import { awsEmulator, endpoints, uniqueName } from '../endpoints';
import { freshKeyspace, scyllaConfig, sessionFor } from '../scylla/fixtures';
import { AWS_ENVIRONMENT, functionEnvironment } from './environment';

/**
 * `npm run dlq -- ... --destination s3://<bucket>`: what an event-source mapping sent to its S3 on-failure
 * destination (one object per batch, the invocation record with the whole event as `payload`: AWS, "Capturing
 * discarded batches for an Amazon MSK event source", lambda/latest/dg/with-msk-on-failure.html), listed, shown and
 * replayed through the function's bundle like its own dead letters; a replayed object is tagged, and a second
 * replay changes nothing.
 */
const s3 = new S3Client({ ...awsEmulator, forcePathStyle: true });
const t0 = Date.UTC(2026, 10, 26, 8);
const day = deadLetterDay(t0).toString();
const bucket = uniqueName('failed-batches').toLowerCase().replaceAll('_', '-');
let keyspace = '';
let env: Record<string, string> = {};
const expected = new Set<string>();

afterAll(() => s3.destroy());

beforeAll(async () => {
  keyspace = await freshKeyspace();
  env = { ...functionEnvironment(keyspace), ...AWS_ENVIRONMENT, AWS_ENDPOINT_URL_S3: endpoints.awsEndpoint };
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const registry = new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] });
  const encoder = await new AvroEncoder(registry).forSubject<Navigation>(`${uniqueName('nav')}-value`, NAVIGATION_V1);
  const generator = navigationEvents({ seed: 52, cookies: 6, startTime: t0 });
  const records = Array.from({ length: 12 }, (_, offset): KafkaRecord => {
    const n = generator.next().value as Navigation;
    if (n.consent !== 'DENIED') expected.add(n.eventId);
    return {
      topic: 'navigation',
      partition: 2,
      offset: 100 + offset,
      timestamp: t0,
      key: Buffer.from(n.cookieId),
      value: encoder.encode(n),
    };
  });
  // Two batches the mapping gave up on, as its S3 destination stores them.
  const destination = new S3FailureDestination(s3, bucket, 'b4c6a2e0-0000-4000-8000-000000000001');
  for (const [i, part] of [records.slice(0, 5), records.slice(5)].entries())
    await destination.deliver({
      partition: 'navigation-2',
      functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:pipeline-example-navigation-enricher',
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 3,
      lastResponse: { functionError: 'Unhandled' },
      event: buildMskEvent(part, { bootstrapServers: 'b-1:9098', clusterArn: 'arn:aws:kafka:eu-west-1:1:cluster/c/u' }),
      at: new Date(t0 + 60_000 * (i + 1)),
    });
}, 120_000);

const dlq = (...args: string[]) => devCommand('dev/dlq/cli.ts', [...args, '--destination', `s3://${bucket}`], env);

async function storedEvents(): Promise<Set<string>> {
  const session = sessionFor(scyllaConfig({ SCYLLA_KEYSPACE: keyspace }));
  try {
    const result = await session.execute(
      statement('test.read', 'SELECT event_id FROM navigations_by_user', { idempotent: true }),
      [],
    );
    return new Set(result.rows.map((row) => String(row.get('event_id'))));
  } finally {
    await session.shutdown();
  }
}

describe("npm run dlq on the mapping's S3 on-failure destination", () => {
  it('lists every record of every failed batch under its function and the condition', async () => {
    const { code, stdout } = await dlq('list', '--since', day, '--until', day, '--ids');
    expect(code).toBe(0);
    expect(stdout).toContain(`navigation-enricher\t${day}\tRetryAttemptsExhausted\t12\t0`);
    const id = stdout
      .split('\n')
      .find((line) => line.includes('#navigation-2@100'))
      ?.split('\t')[0] as string;
    const shown = await dlq('show', id);
    expect(shown.stdout).toContain('record navigation/2/100');
    expect(shown.stdout).toContain('RetryAttemptsExhausted after 3 invocations (Unhandled)');
    expect(shown.stdout).toMatch(/decoded: \{/);
  });

  it('replays them through the function (every row written), tags each object, and a second replay changes nothing', async () => {
    expect((await storedEvents()).size).toBe(0);
    const first = await dlq('replay', '--since', day, '--until', day);
    expect(first.stdout).toContain('replayed 12, failed again 0, left for a later replay 0, already replayed 0');
    expect(first.code).toBe(0);
    expect(await storedEvents()).toEqual(expected);
    const keys = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents?.map((o) => o.Key) ?? [];
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      const tags = (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet ?? [];
      expect(tags.map((t) => t.Key).sort()).toEqual(['dlq-replayed-at', 'dlq-replayed-by']);
    }
    const second = await dlq('replay', '--since', day, '--until', day);
    expect(second.stdout).toContain('replayed 0, failed again 0, left for a later replay 0, already replayed 12');
  });
});
