import { describe, expect, it } from 'vitest';
import { identityLinker, READER_SCHEMA } from '../../functions/identity-linker/definition';
import { flag } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { composeProcessor } from '../../lib/runtime/compose';

function errorOf(read: () => unknown): unknown {
  try {
    read();
    return undefined;
  } catch (error) {
    return error;
  }
}

describe('switches in the environment', () => {
  it.each([
    ['true', true],
    ['TRUE', true],
    ['on', true],
    ['On', true],
    ['yes', true],
    ['1', true],
    [' true ', true],
    ['false', false],
    ['False', false],
    ['off', false],
    ['OFF', false],
    ['no', false],
    ['0', false],
  ])('reads "%s" as %s', (raw, expected) => {
    expect(flag({ SWITCH: raw }, 'SWITCH', !expected)).toBe(expected);
  });

  it('falls back to the default when the key is missing or blank', () => {
    expect(flag({}, 'SWITCH', true)).toBe(true);
    expect(flag({ SWITCH: '  ' }, 'SWITCH', false)).toBe(false);
  });

  it.each(['enabled', 'y', '2', 'truee', 'on,off'])('refuses "%s" with the key named', (raw) => {
    const error = errorOf(() => flag({ SWITCH: raw }, 'SWITCH', false));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).key).toBe('SWITCH');
    expect((error as ConfigError).message).toContain(`"${raw}"`);
  });

  it('starts a function whose environment says REPORT_BATCH_ITEM_FAILURES=true, as CloudFormation users write it', () => {
    const env = {
      SCYLLA_CONTACT_POINTS: '127.0.0.1',
      SCYLLA_LOCAL_DC: 'datacenter1',
      SCYLLA_KEYSPACE: 'pipeline',
      SCHEMA_REGISTRY_URLS: 'http://127.0.0.1:1',
      METRICS_EMF: 'false',
      SCYLLA_TLS: 'no',
    };
    expect(typeof composeProcessor(identityLinker, READER_SCHEMA, { ...env, REPORT_BATCH_ITEM_FAILURES: 'true' })).toBe(
      'function',
    );
    const error = errorOf(() =>
      composeProcessor(identityLinker, READER_SCHEMA, { ...env, REPORT_BATCH_ITEM_FAILURES: 'sometimes' }),
    );
    expect((error as ConfigError).key).toBe('REPORT_BATCH_ITEM_FAILURES');
  });
});
