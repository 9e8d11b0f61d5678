import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/errors';
import { parseScyllaConfig } from '../../../lib/scylla/config';
import { writeTimestamp } from '../../../lib/scylla/write-time';

const base = {
  SCYLLA_CONTACT_POINTS: 'scylla-1:9042, scylla-2',
  SCYLLA_LOCAL_DC: 'eu-west-1',
  SCYLLA_KEYSPACE: 'pipeline',
};

function keyOf(env: Record<string, string>): string {
  try {
    parseScyllaConfig(env);
    return 'no error';
  } catch (error) {
    return error instanceof ConfigError ? error.key : `untyped ${String(error)}`;
  }
}

describe('Scylla config', () => {
  it('parses a complete environment with defaults', () => {
    expect(parseScyllaConfig({ ...base, SCYLLA_CREDENTIALS_SECRET_ID: 'prod/scylla' })).toEqual({
      contactPoints: ['scylla-1:9042', 'scylla-2'],
      localDataCenter: 'eu-west-1',
      keyspace: 'pipeline',
      consistency: 'LOCAL_QUORUM',
      requestTimeoutMs: 2000,
      retries: 3,
      retryBaseDelayMs: 50,
      maxInFlight: 128,
      speculative: { max: 2, delayMs: 50 },
      credentials: { source: 'secrets-manager', secretId: 'prod/scylla' },
      tls: { enabled: false },
    });
  });

  it.each<[string, Record<string, string>]>([
    ['SCYLLA_CONTACT_POINTS', { ...base, SCYLLA_CONTACT_POINTS: '' }],
    ['SCYLLA_CONTACT_POINTS', { ...base, SCYLLA_CONTACT_POINTS: 'bad host!' }],
    ['SCYLLA_LOCAL_DC', { ...base, SCYLLA_LOCAL_DC: ' ' }],
    ['SCYLLA_CONSISTENCY', { ...base, SCYLLA_CONSISTENCY: 'MOST' }],
    ['SCYLLA_MAX_IN_FLIGHT', { ...base, SCYLLA_MAX_IN_FLIGHT: '0' }],
    ['SCYLLA_REQUEST_TIMEOUT_MS', { ...base, SCYLLA_REQUEST_TIMEOUT_MS: '2s' }],
    ['SCYLLA_PASSWORD', { ...base, SCYLLA_USERNAME: 'app' }],
    [
      'SCYLLA_CREDENTIALS_SECRET_ID',
      { ...base, SCYLLA_USERNAME: 'app', SCYLLA_PASSWORD: 'x', SCYLLA_CREDENTIALS_SECRET_ID: 's' },
    ],
    ['SCYLLA_TLS', { ...base, SCYLLA_TLS: 'maybe' }],
    ['SCYLLA_SPECULATIVE_MAX', { ...base, SCYLLA_SPECULATIVE_MAX: '5' }],
    ['SCYLLA_SPECULATIVE_DELAY_MS', { ...base, SCYLLA_SPECULATIVE_DELAY_MS: '0' }],
  ])('names %s when it is wrong', (key, env) => {
    expect(keyOf(env)).toBe(key);
  });

  it('turns hedged requests off with SCYLLA_SPECULATIVE_MAX=0', () => {
    expect(parseScyllaConfig({ ...base, SCYLLA_SPECULATIVE_MAX: '0' }).speculative).toEqual({ max: 0, delayMs: 50 });
  });

  it('reads TLS with a CA file', () => {
    expect(parseScyllaConfig({ ...base, SCYLLA_TLS: 'on', SCYLLA_TLS_CA_FILE: '/opt/ca.pem' }).tls).toEqual({
      enabled: true,
      caFile: '/opt/ca.pem',
      caSecretId: undefined,
      serverName: undefined,
    });
  });
});

describe('write time', () => {
  it('is the event time in microseconds, with the offset breaking ties inside a millisecond', () => {
    expect(writeTimestamp(1_764_000_000_123, 42)).toBe(1_764_000_000_123_042);
    expect(writeTimestamp(1_000, 1_501)).toBeGreaterThan(writeTimestamp(1_000, 1_500));
    expect(writeTimestamp(1_001, 0)).toBeGreaterThan(writeTimestamp(1_000, 999));
  });

  it('refuses a time that is not epoch milliseconds', () => {
    expect(() => writeTimestamp(-1, 0)).toThrow(RangeError);
    expect(() => writeTimestamp(1.5, 0)).toThrow(RangeError);
  });
});
