import cassandra from 'cassandra-driver';

/** Hedged requests: how long to wait for a coordinator before asking the next one, and how many more at most. */
export interface SpeculativeConfig {
  /** 0: never hedge. */
  max: number;
  delayMs: number;
}

/**
 * cassandra-driver's own speculative execution (ConstantSpeculativeExecutionPolicy): after `delayMs` without an
 * answer, the same statement goes to the next host of the query plan (the next replica: token-aware), up to `max`
 * more times; the first answer wins and the others are cancelled. The driver does this for statements marked
 * idempotent only, which is the rule here too. The driver's policy serves as is: what it lacks is counting, done
 * from each result's execution info (hedges sent, and whether one answered). A statement that fails in the end
 * reports no info, so its hedges go uncounted: the counts are of hedges on statements that were answered.
 */
export function speculativeExecutionPolicy(
  config: SpeculativeConfig,
): cassandra.policies.speculativeExecution.SpeculativeExecutionPolicy {
  return config.max > 0
    ? new cassandra.policies.speculativeExecution.ConstantSpeculativeExecutionPolicy(config.delayMs, config.max)
    : new cassandra.policies.speculativeExecution.NoSpeculativeExecutionPolicy();
}

/**
 * The driver's retry policy: none (retries happen in ScyllaSession, once, where they are counted), except that a hedged
 * statement's try that fails on the client's side (no answer within the request timeout, a lost connection) must not
 * fail the statement while another try is still running. With FallthroughRetryPolicy alone it does: the driver ends
 * the whole request on the first try's error and cancels the hedges, so a statement whose first try went to a stalled
 * coordinator failed at the request timeout although a hedge was about to answer (hedging.test.ts builds the case).
 * Here such a try moves on to the next coordinator of the query plan, once: when the hedges have already taken every
 * coordinator it just drops out, and the statement fails only when its last try does (NoHostAvailableError, every
 * try's error inside). A try that fails before any hedge was sent moves on at once, as the driver's default policy
 * would: one of the statement's own tries, not a retry (the session's come after the statement failed, with backoff,
 * and are counted). The driver asks only for idempotent statements. Answers from a coordinator (read or write
 * timeout, unavailable) still fail the statement at once.
 */
export function retryPolicy(config: SpeculativeConfig): cassandra.policies.retry.RetryPolicy {
  return config.max > 0 ? new HedgedTryRetryPolicy() : new cassandra.policies.retry.FallthroughRetryPolicy();
}

class HedgedTryRetryPolicy extends cassandra.policies.retry.FallthroughRetryPolicy {
  override onRequestError(info: cassandra.policies.retry.OperationInfo): cassandra.policies.retry.DecisionInfo {
    // consistency undefined: the try's own; false: the next host of the plan, not this one again.
    return info.nbRetry === 0 ? this.retryResult(undefined as never, false) : this.rethrowResult();
  }
}

const HOST_DOWN = 'Host considered as DOWN';

/**
 * Whether a hedge answered: a speculative execution had started and the coordinator that answered is not the one the
 * statement went to first. `triedHosts` lists the hosts of the query plan in the order they were tried; the driver
 * marks those it skipped without sending (down) and those it sent to with null (or, later, that execution's error).
 */
export function answeredBySpeculativeExecution(info: cassandra.types.ResultSet['info']): boolean {
  if (!info.speculativeExecutions) return false;
  const tried = info.triedHosts as Record<string, unknown>;
  const first = Object.keys(tried).find((address) => tried[address] !== HOST_DOWN);
  return first !== undefined && first !== info.queriedHost;
}
