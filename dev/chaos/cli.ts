import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadPipelineConfig } from '../../infra/config';
import { loadStackConfig } from '../stack/config';
import { CI_SCHEDULE, cqlKilled, FULL_SCHEDULE } from './faults';
import { type ChaosOptions, type ChaosReport, runChaos } from './run';

/**
 * `npm run chaos [-- --sink scylla|sqs|kafka] [--slice]`: the three functions on a stream produced while every
 * fault of a production day hits (dev/chaos/faults.ts, printed at the start), then exact accounting. Servers of
 * its own: the local stack and the tests are not disturbed. `--slice` is the CI-sized run (each fault once, 10,000
 * events). The last line is the verdict as JSON; the exit code is 1 when any count that must be zero is not.
 *
 * `--scenario long-outage [--settings example|budget]`: one fault, the CQL server down for 10 minutes (`--slice`:
 * 30 s), with the mappings configured as the example environment deploys them (retry forever, no destination:
 * nothing may leave the pipeline, `diverted` 0) or with a budget (`retryAttempts: 2`, an S3 destination: the
 * outage's records are diverted, then replayed from the bucket, and `lost` counts what is still missing after).
 */
const FULL: Omit<ChaosOptions, 'deadLetterSink' | 'log'> = {
  navigation: 100_000,
  identity: 20_000,
  seconds: 150,
  faults: FULL_SCHEDULE,
  portOffset: 20,
  timeoutMs: 10_000,
  drainSeconds: 300,
  seed: 2026,
};

export const SLICE: Omit<ChaosOptions, 'deadLetterSink' | 'log'> = {
  navigation: 8_000,
  identity: 2_000,
  seconds: 60,
  faults: CI_SCHEDULE,
  portOffset: 20,
  timeoutMs: 8_000,
  drainSeconds: 180,
  seed: 7,
};

/** One stream while the CQL server is down longer than any retry budget lasts. */
const LONG_OUTAGE: Omit<ChaosOptions, 'deadLetterSink' | 'log'> = {
  ...FULL,
  navigation: 20_000,
  identity: 4_000,
  seconds: 60,
  faults: [cqlKilled(10, 600)],
  drainSeconds: 300,
};

export const LONG_OUTAGE_SLICE: Omit<ChaosOptions, 'deadLetterSink' | 'log'> = {
  ...SLICE,
  navigation: 3_000,
  identity: 1_000,
  seconds: 20,
  faults: [cqlKilled(5, 30)],
};

/**
 * The mappings' controls: as the example environment deploys each function (`infra/environments/example.json`), or
 * the budget the issue compares it with (2 retries, then S3).
 */
export function outageSettings(settings: 'example' | 'budget'): NonNullable<ChaosOptions['mapping']> {
  if (settings === 'budget')
    return {
      controls: { maximumRetryAttempts: 2, maximumRecordAgeSeconds: -1, bisectBatchOnFunctionError: false },
      onFailure: 's3',
    };
  const example = loadPipelineConfig('example');
  const controls = Object.values(example.functions).map((f) => ({
    maximumRetryAttempts: f.retryAttempts,
    maximumRecordAgeSeconds: f.maxRecordAgeSeconds,
    bisectBatchOnFunctionError: f.bisectBatchOnError,
  }));
  // One set for the three mappings: the example gives them the same, and a difference must not go unnoticed.
  if (new Set(controls.map((c) => JSON.stringify(c))).size !== 1)
    throw new Error('the example environment gives its functions different error-handling controls');
  if (example.esmFailureDestination !== 'none')
    throw new Error('the example environment has an on-failure destination');
  return { controls: controls[0] as NonNullable<ChaosOptions['mapping']>['controls'] };
}

/** The counts that must be zero (the table sink: exactly once; the others may dead-letter a record twice). */
export function failures(report: ChaosReport): string[] {
  const zero = [
    'lost',
    'unexpected',
    'stale_newest',
    'dead_letters_missing',
    'dead_letters_extra',
    'transient_dead_lettered',
    'uncommitted',
    'dropped',
  ] as const;
  return zero.filter((k) => report[k] !== 0).map((k) => `${k}: ${report[k]}`);
}

export function verdict(report: ChaosReport): string {
  const { faults, lost, unexpected, stale_newest, dead_letters_missing, dead_letters_extra, transient_dead_lettered } =
    report;
  return JSON.stringify({
    faults,
    lost,
    unexpected,
    stale_newest,
    dead_letters_missing,
    dead_letters_extra,
    transient_dead_lettered,
    retried_invocations: report.retried_invocations,
    diverted: report.diverted,
    dropped: report.dropped,
    redriven: report.redriven,
    lost_before_redrive: report.lost_before_redrive,
    seconds: report.seconds,
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      sink: { type: 'string' },
      slice: { type: 'boolean' },
      scenario: { type: 'string' },
      settings: { type: 'string' },
    },
  });
  const sink = (values.sink ?? 'scylla') as ChaosOptions['deadLetterSink'];
  if (!['scylla', 'sqs', 'kafka'].includes(sink)) throw new Error('--sink scylla | sqs | kafka');
  const scenario = values.scenario ?? 'production-day';
  if (!['production-day', 'long-outage'].includes(scenario)) throw new Error('--scenario production-day | long-outage');
  const settings = values.settings ?? 'example';
  if (!['example', 'budget'].includes(settings)) throw new Error('--settings example | budget');
  const base =
    scenario === 'long-outage'
      ? {
          ...(values.slice ? LONG_OUTAGE_SLICE : LONG_OUTAGE),
          mapping: outageSettings(settings as 'example' | 'budget'),
        }
      : values.slice
        ? SLICE
        : FULL;
  const started = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  console.log(`fault schedule (seconds after the stream starts; the function timeout is ${base.timeoutMs / 1000} s):`);
  for (const f of base.faults) console.log(`  t=${f.at}: ${f.name}`);
  const reportFile = path.join(loadStackConfig().runDir, 'reports', `chaos-${scenario}-${started.toString(36)}.html`);
  const report = await runChaos({ ...base, deadLetterSink: sink, log, reportFile });
  for (const f of report.schedule)
    console.log(
      `fault at t=${f.at.toFixed(0)} s, ${f.tookSeconds.toFixed(0)} s: ${f.name}${f.error ? ` FAILED: ${f.error}` : ''}`,
    );
  for (const [name, stats] of Object.entries(report.mapping)) {
    console.log(`${name}: ${JSON.stringify(stats)}`);
    for (const event of report.events[name] ?? []) console.log(`  ${event}`);
  }
  console.log(
    `also: ${report.reowned} events stored under a second owner (a retry after their cookie was linked), ` +
      `${report.producedTwice} records produced twice, ${report.deadLettersTwice} records dead-lettered twice, ` +
      `${report.uncommitted} partitions not committed`,
  );
  for (const line of report.examples) console.log(`  ${line}`);
  if (report.report) console.log(`report: ${report.report}`);
  console.log(verdict(report));
  return failures(report).length === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
