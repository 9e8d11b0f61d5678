import { describe, expect, it } from 'vitest';
import {
  type Attempt,
  AWS_DEFAULT_CONTROLS,
  cutByAge,
  decide,
  type ErrorHandlingControls,
  retryBudget,
  validateControls,
} from '../../../dev/esm/error-handling';
import { invocationRecord, s3ObjectKey } from '../../../ops/kafka/invocation-record';
import { buildMskEvent } from '../../../ops/kafka/msk-event';

/**
 * The local mapping's error-handling rules, each against the wording of AWS's pages:
 * - "Configuring error handling controls for Kafka event sources"
 *   https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
 * - "Capturing discarded batches for an Amazon MSK event source"
 *   https://docs.aws.amazon.com/lambda/latest/dg/with-msk-on-failure.html
 * - "Retain discarded records for a DynamoDB event source" (the split rule the stream mappings share)
 *   https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html
 */

const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);
const records = (from: number, count: number, timestamp = T0) =>
  Array.from({ length: count }, (_, i) => ({ offset: from + i, timestamp }));
const controls = (overrides: Partial<ErrorHandlingControls>): ErrorHandlingControls => ({
  ...AWS_DEFAULT_CONTROLS,
  ...overrides,
});
type R = { offset: number; timestamp: number };
const first = (batch: R[]): Attempt<R> => ({ records: batch, retries: 0 });

describe('maximum retry attempts', () => {
  it('"The default is -1 (infinite)": a failing batch is retried forever with no destination', () => {
    expect(retryBudget(AWS_DEFAULT_CONTROLS)).toBe(Number.POSITIVE_INFINITY);
    let attempt = first(records(0, 3));
    for (let i = 0; i < 1_000; i++) {
      const decision = decide(attempt, { kind: 'function-error' }, AWS_DEFAULT_CONTROLS);
      expect(decision.discard).toBeUndefined();
      attempt = decision.retry[0] as Attempt<R>;
    }
    expect(attempt.retries).toBe(1_000);
  });

  it('"When you configure both infinite retries and an on-failure destination, Lambda automatically applies a maximum of 10 retry attempts"', () => {
    expect(retryBudget(controls({ hasOnFailureDestination: true }))).toBe(10);
    expect(retryBudget(controls({ maximumRetryAttempts: 3, hasOnFailureDestination: true }))).toBe(3);
  });

  it('"This doesn\'t count the initial invocation attempt": 2 retries means 3 invocations, then the destination', () => {
    const c = controls({ maximumRetryAttempts: 2, hasOnFailureDestination: true });
    let attempt = first(records(10, 4));
    const outcomes = [];
    for (;;) {
      const decision = decide(attempt, { kind: 'function-error' }, c);
      outcomes.push(decision.discard ? 'discard' : 'retry');
      if (decision.discard) {
        expect(decision.discard).toEqual({
          records: records(10, 4),
          condition: 'RetryAttemptsExhausted',
          approximateInvokeCount: 3,
        });
        break;
      }
      attempt = decision.retry[0] as Attempt<R>;
    }
    expect(outcomes).toEqual(['retry', 'retry', 'discard']);
  });

  it('0 retries: the first failure goes to the destination', () => {
    const decision = decide(first(records(0, 2)), { kind: 'function-error' }, controls({ maximumRetryAttempts: 0 }));
    expect(decision.discard?.approximateInvokeCount).toBe(1);
  });

  it('refuses what the API refuses: "0-10000, or -1 for infinite" retries, "60-604800, or -1" seconds of age', () => {
    expect(() => validateControls(controls({ maximumRetryAttempts: 10_001 }))).toThrow(/MaximumRetryAttempts/);
    expect(() => validateControls(controls({ maximumRetryAttempts: -2 }))).toThrow(/MaximumRetryAttempts/);
    expect(() => validateControls(controls({ maximumRecordAgeSeconds: 59 }))).toThrow(/MaximumRecordAgeInSeconds/);
    expect(() => validateControls(controls({ maximumRecordAgeSeconds: 604_801 }))).toThrow(/MaximumRecordAgeInSeconds/);
    expect(validateControls(controls({ maximumRetryAttempts: 10_000, maximumRecordAgeSeconds: 60 }))).toBeTruthy();
  });
});

describe('partial batch response', () => {
  it('"Lambda can retry only the failed records": what precedes the named offset is done, the rest retried', () => {
    const decision = decide(first(records(100, 5)), { kind: 'partial', offset: 102 }, controls({}));
    expect(decision.done.map((r) => r.offset)).toEqual([100, 101]);
    expect(decision.retry).toEqual([{ records: records(102, 3), retries: 1 }]);
  });

  it('a partial response is a failed attempt for the records it names: it spends their retry budget', () => {
    const c = controls({ maximumRetryAttempts: 1, hasOnFailureDestination: true });
    const second = decide(first(records(100, 5)), { kind: 'partial', offset: 103 }, c).retry[0] as Attempt<R>;
    const decision = decide(second, { kind: 'partial', offset: 104 }, c);
    expect(decision.done.map((r) => r.offset)).toEqual([103]);
    expect(decision.discard).toEqual({
      records: records(104, 1),
      condition: 'RetryAttemptsExhausted',
      approximateInvokeCount: 2,
    });
  });

  it('an offset not in the batch fails the whole batch, as AWS retries it then', () => {
    const decision = decide(first(records(100, 3)), { kind: 'partial', offset: 7 }, controls({}));
    expect(decision.done).toEqual([]);
    expect(decision.retry).toEqual([{ records: records(100, 3), retries: 1 }]);
  });
});

describe('split batch on error', () => {
  it('"split the batch into two smaller batches and retry each separately", without spending a retry', () => {
    const c = controls({ bisectBatchOnFunctionError: true, maximumRetryAttempts: 0, hasOnFailureDestination: true });
    const decision = decide(first(records(0, 5)), { kind: 'function-error' }, c);
    expect(decision.discard).toBeUndefined();
    expect(decision.retry).toEqual([
      { records: records(0, 3), retries: 0 },
      { records: records(3, 2), retries: 0 },
    ]);
  });

  it('down to one record, which then spends its retries like any batch', () => {
    const c = controls({ bisectBatchOnFunctionError: true, maximumRetryAttempts: 0, hasOnFailureDestination: true });
    const decision = decide(first(records(4, 1)), { kind: 'function-error' }, c);
    expect(decision.discard?.records).toEqual(records(4, 1));
  });

  it('applies to function errors only: a partial response retries the named records whole', () => {
    const c = controls({ bisectBatchOnFunctionError: true });
    expect(decide(first(records(0, 4)), { kind: 'partial', offset: 1 }, c).retry).toEqual([
      { records: records(1, 3), retries: 1 },
    ]);
  });
});

describe('maximum record age', () => {
  it('"The default is -1 (infinite)": nothing is too old', () => {
    expect(cutByAge(records(0, 2, 0), T0, AWS_DEFAULT_CONTROLS)).toEqual({ expired: [], live: records(0, 2, 0) });
  });

  it('"The maximum age of a record that Lambda sends to your function": older records are not sent', () => {
    const c = controls({ maximumRecordAgeSeconds: 60 });
    const batch = [...records(0, 2, T0 - 61_000), ...records(2, 2, T0 - 59_000)];
    expect(cutByAge(batch, T0, c)).toEqual({ expired: batch.slice(0, 2), live: batch.slice(2) });
  });
});

describe('the invocation record sent to a destination', () => {
  const event = buildMskEvent(
    [0, 1, 2].map((i) => ({
      topic: 'navigation',
      partition: 3,
      offset: 40 + i,
      timestamp: T0 + i * 1000,
      key: Buffer.from(`k${i}`),
      value: Buffer.from([i]),
    })),
    {
      bootstrapServers: 'b-1.example:9098',
      clusterArn: 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/abc',
    },
  );
  const context = {
    functionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:pipeline-example-navigation-enricher',
    condition: 'RetryAttemptsExhausted' as const,
    approximateInvokeCount: 3,
    lastResponse: { functionError: 'Unhandled' },
    event,
    at: new Date(T0 + 5_000),
  };

  it('has the fields of "SNS and SQS example invocation record": offsets as strings, recordsInfo by "<topic>-<partition>"', () => {
    const record = invocationRecord(context, { withPayload: false });
    expect(record).toEqual({
      requestContext: {
        requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionArn: context.functionArn,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 3,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
      version: '1.0',
      timestamp: '2026-01-15T12:00:05.000Z',
      KafkaBatchInfo: {
        batchSize: 3,
        eventSourceArn: 'arn:aws:kafka:eu-west-1:111122223333:cluster/events/abc',
        bootstrapServers: 'b-1.example:9098',
        payloadSize: Buffer.byteLength(JSON.stringify(event)),
        recordsInfo: {
          'navigation-3': {
            firstRecordOffset: '40',
            lastRecordOffset: '42',
            firstRecordTimestamp: '2026-01-15T12:00:00.000Z',
            lastRecordTimestamp: '2026-01-15T12:00:02.000Z',
          },
        },
      },
    });
  });

  it('"For S3 destinations ... the payload field contains the original invocation record as an escaped JSON string"', () => {
    const record = invocationRecord(context, { withPayload: true });
    expect(typeof record.payload).toBe('string');
    expect(JSON.parse(record.payload as string)).toEqual(event);
  });

  it('has a null responseContext when no invocation answered for the records', () => {
    const { lastResponse: _, ...unanswered } = context;
    expect(
      invocationRecord({ ...unanswered, condition: 'RecordAgeExceeded' }, { withPayload: false }).responseContext,
    ).toBeNull();
  });

  it('is stored under "aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>", the partition as the shard', () => {
    expect(s3ObjectKey('f89f8514-cdd9-4602-9e1f-01a5b77d449b', 'navigation-3', new Date(T0 + 5_000))).toMatch(
      /^aws\/lambda\/f89f8514-cdd9-4602-9e1f-01a5b77d449b\/navigation-3\/2026\/01\/15\/2026-01-15T12\.00\.05-[0-9a-f-]{36}$/,
    );
  });
});
