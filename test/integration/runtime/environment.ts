import { navigationEvents } from '../../../dev/demo/navigation-generator';
import { localScyllaEnvironment } from '../../../dev/stack/config';
import { NAVIGATION_V1, type Navigation } from '../../../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../../../lib/codec';
import type { KafkaRecord } from '../../../ops/kafka/msk-event';
import { endpoints, uniqueName } from '../endpoints';

/** A function's environment as Lambda would hold it, pointing at the local stack and a test's own keyspace. */
export function functionEnvironment(keyspace: string, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    ...localScyllaEnvironment(endpoints, keyspace),
    SCHEMA_REGISTRY_URLS: endpoints.registryUrl,
    METRICS_EMF: 'off',
    METRICS_REMOTE_WRITE_URL: `${endpoints.prometheusUrl}/api/v1/write`,
    ...overrides,
  };
}

/** What a function's AWS SDK clients read in Lambda, pointing at the local stack's moto (SQS). */
export const AWS_ENVIRONMENT = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_ENDPOINT_URL_SQS: endpoints.awsEndpoint,
};

/**
 * Two records identity-linker must dead-letter, at offsets 40 and 41 of `identity-3`: an unknown magic byte
 * (CODEC_UNKNOWN_MAGIC) and a tombstone without a key (RECORD_INVALID).
 */
export const IDENTITY_POISON: KafkaRecord[] = [
  {
    topic: 'identity',
    partition: 3,
    offset: 40,
    timestamp: 1_700_000_000_000,
    key: Buffer.from('ck-x'),
    value: Buffer.from([0x09, 1, 2]),
  },
  { topic: 'identity', partition: 3, offset: 41, timestamp: 1_700_000_000_001, key: null, value: null },
];

/** The event time of the first generated navigation: a fixed instant, so no test depends on the day it runs. */
export const NAVIGATION_T0 = Date.UTC(2026, 10, 25, 10);

/**
 * `count` demo navigation events (from NAVIGATION_T0, over `cookies` cookies) as the records of `navigation-0`,
 * keyed by cookie, Avro-encoded by a v1 writer registered under a subject of their own.
 */
export async function navigationRecords(
  count: number,
  options: { seed: number; cookies: number },
): Promise<KafkaRecord[]> {
  const encoder = new AvroEncoder(new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }));
  const navigation = await encoder.forSubject<Navigation>(`${uniqueName('navigation')}-value`, NAVIGATION_V1);
  const generator = navigationEvents({ ...options, startTime: NAVIGATION_T0 });
  return Array.from({ length: count }, (_, offset) => {
    const n = generator.next().value as Navigation;
    return {
      topic: 'navigation',
      partition: 0,
      offset,
      timestamp: n.eventTime,
      key: Buffer.from(n.cookieId),
      value: navigation.encode(n),
    };
  });
}
