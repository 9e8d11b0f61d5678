import { describe, expect, it } from 'vitest';
import { failures, LONG_OUTAGE_SLICE, outageSettings, SLICE, verdict } from '../../../dev/chaos/cli';
import { runChaos } from '../../../dev/chaos/run';

/**
 * The CI slice of `npm run chaos`: 10,000 events while each fault of a production day hits once (the CQL password
 * rotated then the CQL server SIGKILLed, the Kafka broker restarted and SIGKILLed, the schema registry unreachable
 * while an uncached schema id arrives, the CQL server hung past the function timeout, a container thrown away
 * mid-batch). Every count of the accounting must be zero: nothing lost, nothing unexpected, the newest identity
 * everywhere, exactly the poison dead-lettered, every partition committed.
 */
describe('npm run chaos (the CI slice)', () => {
  it('loses nothing, writes nothing unexpected, and dead-letters exactly the poison under every fault', async () => {
    const lines: string[] = [];
    const report = await runChaos({ ...SLICE, deadLetterSink: 'scylla', log: (line) => lines.push(line) });
    console.log(`${lines.join('\n')}\n${verdict(report)}`);
    expect(report.schedule.filter((f) => f.error)).toEqual([]);
    expect(report.faults).toBe(SLICE.faults.length);
    expect(failures(report), report.examples.join('\n')).toEqual([]);
    // The faults did what they say: the broker failures rebuilt consumers, the hung node timed invocations out,
    // a container was lost mid-batch, and the functions retried.
    const stats = Object.values(report.mapping);
    expect(stats.reduce((n, s) => n + (s.consumerRestarts ?? 0), 0)).toBeGreaterThan(0);
    expect(stats.reduce((n, s) => n + (s.timedOut ?? 0), 0)).toBeGreaterThan(0);
    expect(stats.reduce((n, s) => n + (s.crashed ?? 0), 0)).toBe(1);
    expect(report.retried_invocations).toBeGreaterThan(0);
  }, 600_000);
});

/**
 * The CI slice of `npm run chaos -- --scenario long-outage --settings budget`: the CQL server down for 30 s while
 * the mappings allow 2 retries and then send the batch to S3 ("Configuring error handling controls for Kafka event
 * sources", "Capturing discarded batches for an Amazon MSK event source"). The outage's records leave the pipeline
 * (rows missing before the redrive), and replaying the bucket through the functions brings every one back.
 */
describe('npm run chaos -- --scenario long-outage (the CI slice, with a retry budget)', () => {
  it('diverts the outage to the S3 destination, and the redrive from it loses nothing', async () => {
    const lines: string[] = [];
    const report = await runChaos({
      ...LONG_OUTAGE_SLICE,
      mapping: outageSettings('budget'),
      deadLetterSink: 'scylla',
      log: (line) => lines.push(line),
    });
    console.log(`${lines.slice(-20).join('\n')}\n${verdict(report)}`);
    expect(report.schedule.filter((f) => f.error)).toEqual([]);
    expect(report.diverted).toBeGreaterThan(0);
    expect(report.lost_before_redrive).toBeGreaterThan(0);
    expect(report.redriven).toBe(report.diverted);
    expect(failures(report), report.examples.join('\n')).toEqual([]);
  }, 600_000);
});
