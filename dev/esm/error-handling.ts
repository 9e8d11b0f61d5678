import { RETRIES_WITH_DESTINATION } from '../../infra/config';

/**
 * The Kafka event-source mapping's error-handling controls, as AWS documents them: what the local mapping does with
 * a batch after each invocation. Pure (no clock, no I/O): the mapping (runner.ts) applies the decisions.
 *
 * AWS, "Configuring error handling controls for Kafka event sources" (lambda/latest/dg/kafka-retry-configurations):
 * - Maximum retry attempts: "The maximum number of times Lambda retries when your function returns an error. This
 *   doesn't count the initial invocation attempt. The default is -1 (infinite). When you configure both infinite
 *   retries and an on-failure destination, Lambda automatically applies a maximum of 10 retry attempts."
 * - Maximum record age: "The maximum age of a record that Lambda sends to your function. The default is -1
 *   (infinite)."
 * - Split batch on error: "When your function returns an error, split the batch into two smaller batches and retry
 *   each separately."
 * - Partial batch response: "Lambda can retry only the failed records."
 * Once the retries or the record age are spent, "Lambda sends the failed records to the specified [destination]"
 * and the mapping moves on ("Using a Kafka topic as an on-failure destination").
 */

export interface ErrorHandlingControls {
  /** MaximumRetryAttempts: -1 (infinite, AWS's default) or 0 to 10,000. */
  maximumRetryAttempts: number;
  /** MaximumRecordAgeInSeconds: -1 (infinite, AWS's default) or 60 to 604,800. */
  maximumRecordAgeSeconds: number;
  /** BisectBatchOnFunctionError (AWS's default: false). */
  bisectBatchOnFunctionError: boolean;
  /** Whether the mapping has an on-failure destination: it caps infinite retries at 10. */
  hasOnFailureDestination: boolean;
}

/** AWS's defaults: retry forever, no age limit, no split, no destination. */
export const AWS_DEFAULT_CONTROLS: ErrorHandlingControls = {
  maximumRetryAttempts: -1,
  maximumRecordAgeSeconds: -1,
  bisectBatchOnFunctionError: false,
  hasOnFailureDestination: false,
};

/** Refuses what the ESM API refuses (the ranges the page gives), with the setting's name. */
export function validateControls(controls: ErrorHandlingControls): ErrorHandlingControls {
  const { maximumRetryAttempts: retries, maximumRecordAgeSeconds: age } = controls;
  if (!Number.isInteger(retries) || retries < -1 || retries > 10_000)
    throw new RangeError(`MaximumRetryAttempts must be -1 or 0 to 10,000, not ${retries}`);
  if (!Number.isInteger(age) || (age !== -1 && (age < 60 || age > 604_800)))
    throw new RangeError(`MaximumRecordAgeInSeconds must be -1 or 60 to 604,800, not ${age}`);
  return controls;
}

/** The retries a batch gets after its first invocation: Infinity for AWS's -1 with no destination. */
export function retryBudget(controls: ErrorHandlingControls): number {
  if (controls.maximumRetryAttempts !== -1) return controls.maximumRetryAttempts;
  return controls.hasOnFailureDestination ? RETRIES_WITH_DESTINATION : Number.POSITIVE_INFINITY;
}

/** A record as the controls see it: its offset and its timestamp (Kafka's, epoch ms). */
export interface AgedRecord {
  offset: number;
  timestamp: number;
}

/**
 * The records too old to be sent to the function at `now`, and the rest. A partition's records are in offset order
 * and their timestamps in practice too: the cut takes the expired records at the head of the batch, so what the
 * mapping commits after diverting them stays a contiguous prefix of the partition.
 */
export function cutByAge<R extends AgedRecord>(
  records: readonly R[],
  now: number,
  controls: ErrorHandlingControls,
): { expired: R[]; live: R[] } {
  if (controls.maximumRecordAgeSeconds === -1) return { expired: [], live: [...records] };
  const oldest = now - controls.maximumRecordAgeSeconds * 1000;
  let cut = 0;
  while (cut < records.length && (records[cut] as R).timestamp < oldest) cut++;
  return { expired: records.slice(0, cut), live: records.slice(cut) };
}

/** What one invocation of a batch came to. */
export type InvocationOutcome =
  | { kind: 'succeeded' }
  /** The function threw, timed out or its runtime died: the whole batch failed. */
  | { kind: 'function-error' }
  /** A partial batch response naming this partition's first failed record. */
  | { kind: 'partial'; offset: number };

/** A batch (or what is left of one) and the retries it has used. */
export interface Attempt<R extends AgedRecord> {
  records: R[];
  retries: number;
}

export type Decision<R extends AgedRecord> = {
  /** Processed: the mapping commits them. */
  done: R[];
  /** To invoke again, in this order, each with the retries it has used. */
  retry: Attempt<R>[];
  /** Out of retries: to the on-failure destination (or dropped without one), then committed. */
  discard?: { records: R[]; condition: 'RetryAttemptsExhausted'; approximateInvokeCount: number };
};

/**
 * The mapping's answer to one invocation's outcome. A partial response is a failed attempt for the records it names
 * (from its offset on; an offset not in the batch names the whole batch, as AWS retries it then); what precedes
 * them succeeded. A function error splits the batch when asked, without spending a retry (AWS, "Retain discarded
 * records for a DynamoDB event source": "Splitting batches doesn't consume the retry quota", the same mapping
 * machinery for streams), down to single records; otherwise it spends one.
 */
export function decide<R extends AgedRecord>(
  attempt: Attempt<R>,
  outcome: InvocationOutcome,
  controls: ErrorHandlingControls,
): Decision<R> {
  if (outcome.kind === 'succeeded') return { done: attempt.records, retry: [] };
  let done: R[] = [];
  let failed = attempt.records;
  if (outcome.kind === 'partial' && attempt.records.some((r) => r.offset === outcome.offset)) {
    done = attempt.records.filter((r) => r.offset < outcome.offset);
    failed = attempt.records.filter((r) => r.offset >= outcome.offset);
  }
  if (outcome.kind === 'function-error' && controls.bisectBatchOnFunctionError && failed.length > 1) {
    const half = Math.ceil(failed.length / 2);
    return {
      done,
      retry: [
        { records: failed.slice(0, half), retries: attempt.retries },
        { records: failed.slice(half), retries: attempt.retries },
      ],
    };
  }
  const retries = attempt.retries + 1;
  if (retries > retryBudget(controls))
    return {
      done,
      retry: [],
      discard: { records: failed, condition: 'RetryAttemptsExhausted', approximateInvokeCount: retries },
    };
  return { done, retry: [{ records: failed, retries }] };
}
