import { afterEach, describe, expect, it, vi } from 'vitest';
import { BatchFailedError, ValidationError } from '../../../lib/runtime/errors';
import type { ProcessorDefinition } from '../../../lib/runtime/processor';
import { ScyllaStatementError, ScyllaUnavailableError } from '../../../lib/scylla/errors';
import { statement } from '../../../lib/scylla/statement';
import { type Click, clickRecord, fakeRunner, memorySink, mskEvent, processorUnderTest } from './factories';

/**
 * The runtime around every function (`createProcessor`) with its I/O faked (factories.ts): what AWS's Kafka
 * event-source mapping gets back on each path. With `FunctionResponseTypes: ["ReportBatchItemFailures"]` that is the
 * partial batch response AWS documents for Kafka event sources ("Configuring error handling controls for Kafka event
 * sources"): `{ batchItemFailures: [{ itemIdentifier: { partition: "<topic>-<partition>", offset } }] }`, the first
 * offset not processed per partition, which Lambda retries from; an empty list means the whole batch succeeded.
 */
const INSERT = statement('clicks.insert', 'INSERT INTO clicks (id, n) VALUES (?, ?)', { idempotent: true });
const clicks: ProcessorDefinition<Click> = {
  name: 'clicks',
  process(click) {
    if (click.n < 0) throw new ValidationError('n must not be negative');
    return [{ statement: INSERT, params: [click.id, click.n], orderKey: click.id }];
  },
};
const click = (n: number): Click => ({ id: `c${n}`, n });
const failure = (partition: string, offset: number) => ({ itemIdentifier: { partition, offset } });

afterEach(() => {
  vi.useRealTimers();
});

describe('createProcessor', () => {
  it('writes every record of every partition, each partition in offset order, and reports no failure', async () => {
    const runner = fakeRunner();
    const { handler } = processorUnderTest(clicks, { runner, maxInFlight: 1 });
    const records = [0, 1, 2].flatMap((offset) => [0, 1].map((p) => clickRecord(p, offset, click(10 * p + offset))));

    expect(await handler(mskEvent(records))).toEqual({ batchItemFailures: [] });
    const ns = runner.executed.map((e) => e.params[1] as number);
    expect(ns.filter((n) => n < 10)).toEqual([0, 1, 2]);
    expect(ns.filter((n) => n >= 10)).toEqual([10, 11, 12]);
  });

  it('dead-letters poison (undecodable, invalid, refused by its column) with its reason and writes the rest', async () => {
    const runner = fakeRunner(({ params }) =>
      params[1] === 4 ? Promise.reject(new ScyllaStatementError('Invalid value for column n')) : undefined,
    );
    const sink = memorySink();
    const { handler } = processorUnderTest(clicks, { runner, sink });
    const records = [
      clickRecord(0, 0, click(0)),
      clickRecord(0, 1, Buffer.from([0x09, 1, 2])),
      clickRecord(0, 2, { id: 'neg', n: -1 }),
      clickRecord(0, 3, click(3)),
      clickRecord(0, 4, click(4)),
      clickRecord(0, 5, null),
    ];

    expect(await handler(mskEvent(records))).toEqual({ batchItemFailures: [] });
    expect(sink.entries.map((e) => [e.offset, e.reason])).toEqual([
      [1, 'CODEC_UNKNOWN_MAGIC'],
      [2, 'RECORD_INVALID'],
      [4, 'SCYLLA_STATEMENT_FAILED'],
    ]);
    expect(sink.entries[0]).toMatchObject({ functionName: 'clicks', topic: 'clicks', partition: 0, key: 'azE=' });
    expect(runner.executed.map((e) => e.params[1])).toEqual([0, 3, 4]);
  });

  it('stops only the partition a transient failure hit: its first unprocessed offset is reported, its writes queued behind the failure never start', async () => {
    const runner = fakeRunner(({ params }) =>
      params[1] === 2 ? Promise.reject(new ScyllaUnavailableError('no host available')) : undefined,
    );
    const { handler, warnings } = processorUnderTest(clicks, { runner, maxInFlight: 1 });
    const records = [
      ...[0, 1, 2, 3, 4].map((offset) => clickRecord(0, offset, click(offset))),
      ...[0, 1, 2].map((offset) => clickRecord(1, offset, click(100 + offset))),
    ];

    expect(await handler(mskEvent(records))).toEqual({ batchItemFailures: [failure('clicks-0', 2)] });
    // The slot the failure frees is handed on only after the partition's abort: 3 and 4 were queued, never started.
    expect(runner.executed.map((e) => e.params[1])).not.toContain(3);
    expect(runner.executed.map((e) => e.params[1])).not.toContain(4);
    expect(runner.executed.map((e) => e.params[1])).toEqual(expect.arrayContaining([0, 1, 2, 100, 101, 102]));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.attributes).toMatchObject({ firstUnprocessed: { 'clicks-0': 2 } });
  });

  it('leaves a poison record after the first failure for the retry: only earlier dead letters are stored', async () => {
    const runner = fakeRunner(({ params }) =>
      params[1] === 1 ? Promise.reject(new ScyllaUnavailableError('timed out')) : undefined,
    );
    const sink = memorySink();
    const { handler } = processorUnderTest(clicks, { runner, sink });
    const records = [
      clickRecord(0, 0, Buffer.from([0x09])),
      clickRecord(0, 1, click(1)),
      clickRecord(0, 2, Buffer.from([0x09])),
    ];

    expect(await handler(mskEvent(records))).toEqual({ batchItemFailures: [failure('clicks-0', 1)] });
    expect(sink.entries.map((e) => e.offset)).toEqual([0]);
  });

  it('retries from the first poison record when the dead-letter sink refuses, so no poison is lost', async () => {
    const sink = memorySink({ fail: new Error('queue refused the message') });
    const { handler } = processorUnderTest(clicks, { sink });
    const records = [
      clickRecord(0, 10, click(10)),
      clickRecord(0, 11, Buffer.from([0x09])),
      clickRecord(0, 12, click(12)),
    ];

    expect(await handler(mskEvent(records))).toEqual({ batchItemFailures: [failure('clicks-0', 11)] });
  });

  it("retries the whole partition when its batch's lookups fail, writing none of it", async () => {
    const runner = fakeRunner();
    const { handler } = processorUnderTest(
      {
        ...clicks,
        async prepare() {
          throw new ScyllaUnavailableError('lookup failed');
        },
      },
      { runner },
    );

    expect(await handler(mskEvent([clickRecord(3, 40, click(1)), clickRecord(3, 41, click(2))]))).toEqual({
      batchItemFailures: [failure('clicks-3', 40)],
    });
    expect(runner.executed).toEqual([]);
  });

  it('stops starting records at the deadline and reports the first one not started', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2026, 0, 1));
    const runner = fakeRunner();
    // The batch's third record takes the invocation past its deadline (60 s left, a 1 s margin).
    const slow: ProcessorDefinition<Click> = {
      ...clicks,
      process(value, record, prepared) {
        if (value.n === 2) vi.setSystemTime(Date.now() + 60_000);
        return clicks.process(value, record, prepared);
      },
    };
    const { handler } = processorUnderTest(slow, { runner, deadlineMarginMs: 1_000 });
    const records = [0, 1, 2, 3, 4].map((offset) => clickRecord(0, offset, click(offset)));

    const response = await handler(mskEvent(records), { getRemainingTimeInMillis: () => 60_000 });
    expect(response).toEqual({ batchItemFailures: [failure('clicks-0', 3)] });
    expect(runner.executed.map((e) => e.params[1])).toEqual([0, 1, 2]);
  });

  it('throws instead of answering with failures when the mapping does not report batch item failures', async () => {
    const runner = fakeRunner(() => Promise.reject(new ScyllaUnavailableError('no host available')));
    const { handler } = processorUnderTest(clicks, { runner, reportBatchItemFailures: false });

    await expect(handler(mskEvent([clickRecord(0, 0, click(0))]))).rejects.toBeInstanceOf(BatchFailedError);
  });

  it('fails the invocation loudly when `process` throws anything but a ValidationError (a bug, not bad data)', async () => {
    const buggy: ProcessorDefinition<Click> = {
      name: 'buggy',
      process() {
        throw new TypeError('cannot read properties of undefined');
      },
    };
    const sink = memorySink();
    const { handler } = processorUnderTest(buggy, { sink });

    await expect(handler(mskEvent([clickRecord(0, 0, click(0))]))).rejects.toThrow(TypeError);
    expect(sink.entries).toEqual([]);
  });
});
