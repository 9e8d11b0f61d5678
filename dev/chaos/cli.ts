import { parseArgs } from 'node:util';
import { CI_SCHEDULE, FULL_SCHEDULE } from './faults';
import { type ChaosOptions, type ChaosReport, runChaos } from './run';

/**
 * `npm run chaos [-- --sink scylla|sqs|kafka] [--slice]`: the three functions on a stream produced while every
 * fault of a production day hits (dev/chaos/faults.ts, printed at the start), then exact accounting. Servers of
 * its own: the local stack and the tests are not disturbed. `--slice` is the CI-sized run (each fault once, 10,000
 * events). The last line is the verdict as JSON; the exit code is 1 when any count that must be zero is not.
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
    seconds: report.seconds,
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { sink: { type: 'string' }, slice: { type: 'boolean' } } });
  const sink = (values.sink ?? 'scylla') as ChaosOptions['deadLetterSink'];
  if (!['scylla', 'sqs', 'kafka'].includes(sink)) throw new Error('--sink scylla | sqs | kafka');
  const base = values.slice ? SLICE : FULL;
  const started = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  console.log(`fault schedule (seconds after the stream starts; the function timeout is ${base.timeoutMs / 1000} s):`);
  for (const f of base.faults) console.log(`  t=${f.at}: ${f.name}`);
  const report = await runChaos({ ...base, deadLetterSink: sink, log });
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
  console.log(verdict(report));
  return failures(report).length === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
