import cassandra from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import { answeredBySpeculativeExecution, retryPolicy } from '../../../lib/scylla/speculative';

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

describe("the driver's retry policy", () => {
  const operation = (nbRetry: number) => ({ nbRetry }) as cassandra.policies.retry.OperationInfo;
  const CONSISTENCY = cassandra.types.consistencies.localQuorum;
  const policy = retryPolicy({ max: 2, delayMs: 50 });
  const [retry, rethrow] = [policy.retryResult(CONSISTENCY).decision, policy.rethrowResult().decision];

  it("with hedges, moves a try that got no answer on to the plan's next coordinator, once", () => {
    expect(policy.onRequestError(operation(0), CONSISTENCY, new Error('timeout'))).toMatchObject({
      decision: retry,
      useCurrentHost: false,
    });
    expect(policy.onRequestError(operation(1), CONSISTENCY, new Error('timeout')).decision).toBe(rethrow);
  });

  it("with hedges, still fails at once on a coordinator's own answer (retries are the session's)", () => {
    expect(policy.onWriteTimeout(operation(0), CONSISTENCY, 1, 2, 'SIMPLE').decision).toBe(rethrow);
    expect(policy.onReadTimeout(operation(0), CONSISTENCY, 1, 2, true).decision).toBe(rethrow);
    expect(policy.onUnavailable(operation(0), CONSISTENCY, 2, false).decision).toBe(rethrow);
  });

  it('without hedges, never retries: the session does, and counts it', () => {
    const plain = retryPolicy({ max: 0, delayMs: 50 });
    expect(plain.onRequestError(operation(0), CONSISTENCY, new Error('timeout')).decision).toBe(rethrow);
  });
});
