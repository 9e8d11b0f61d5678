import type cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { answeredBySpeculativeExecution } from '../../../lib/scylla/speculative';

type Info = cassandra.types.ResultSet['info'];
const info = (queriedHost: string, triedHosts: Record<string, unknown>, speculativeExecutions: number) =>
  ({ queriedHost, triedHosts, speculativeExecutions }) as unknown as Info;

describe('a statement answered by a hedge', () => {
  it('is one whose answer came from a coordinator other than the first it was sent to', () => {
    expect(
      answeredBySpeculativeExecution(info('10.0.0.2:9042', { '10.0.0.1:9042': null, '10.0.0.2:9042': null }, 1)),
    ).toBe(true);
  });

  it('is not one the first coordinator answered, hedge sent or not', () => {
    expect(
      answeredBySpeculativeExecution(info('10.0.0.1:9042', { '10.0.0.1:9042': null, '10.0.0.2:9042': null }, 1)),
    ).toBe(false);
    expect(answeredBySpeculativeExecution(info('10.0.0.1:9042', { '10.0.0.1:9042': null }, 0))).toBe(false);
  });

  it('skips the hosts the driver passed over as down when finding the first', () => {
    const tried = { '10.0.0.3:9042': 'Host considered as DOWN', '10.0.0.1:9042': null, '10.0.0.2:9042': null };
    expect(answeredBySpeculativeExecution(info('10.0.0.1:9042', tried, 1))).toBe(false);
    expect(answeredBySpeculativeExecution(info('10.0.0.2:9042', tried, 1))).toBe(true);
  });
});
