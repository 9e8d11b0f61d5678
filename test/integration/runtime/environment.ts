import type { KafkaRecord } from '../../../dev/esm/event';
import { localScyllaEnvironment } from '../../../dev/stack/config';
import { endpoints } from '../endpoints';

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
