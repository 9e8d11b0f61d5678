/**
 * `npm run test:shifted-clock`: the tests again with the test process's clock set back a week, then a year
 * (libfaketime), against the local stack on the real clock. A test that reads a literal day, or stamps data with
 * the clock and then looks for it under a fixed day, passes on the day it was written and fails here: the guard
 * for the bug of issue 12 (a dead-letter day written into a test failed on every later day).
 *
 * Not ahead: Kafka refuses record timestamps more than an hour past the broker's clock.
 * New test files are in by default; the exclusions below say why each cannot share a clock with its servers.
 */
import { spawn } from 'node:child_process';
import { debianBinary } from './stack/artifacts';
import { REPO_ROOT } from './stack/config';

/** `npm run test:shifted-clock -- -30d` runs that shift alone; CI runs the year (a week found nothing more). */
const SHIFTS = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['-7d', '-365d'];
for (const shift of SHIFTS)
  if (!/^-\d+[dhm]$/.test(shift)) throw new Error(`${shift}: a shift back like -7d, -12h or -365d`);

const EXCLUDED: Record<string, string> = {
  // Prometheus judges a sample by its own clock: one stamped a week or a year behind it is refused, correctly
  // ("400 out of bounds"), as any exporter whose clock is that wrong would be.
  'test/integration/metrics/**': 'remote write: Prometheus refuses samples stamped behind its clock',
  'test/integration/stack/smoke.test.ts': 'pushes a sample stamped now to Prometheus (as above)',
  // The longest test (about 2.5 min of CI's 20): its expectations come from the ledger of what it produced, its
  // records carry their own event times, and its servers are its own; no calendar is read.
  'test/integration/chaos/**': 'the CI time budget (2.5 min); every expectation comes from its own ledger',
  // Starts a 3-node cluster of its own (about 45 s); its write times are literal numbers, it reads no calendar.
  'test/integration/scylla/hedging.test.ts': 'the CI time budget (a 3-node cluster, 45 s); no calendar is read',
  // The two CQL restart tests (about 100 s together, mostly six CQL server boots): their writes carry fixed
  // times (events of 2026-11-25, literal keys), they read every row and dead letter back with no day in the query.
  'test/integration/runtime/cql-outage.test.ts': 'the CI time budget (60 s); fixed event times, reads no calendar',
  'test/integration/scylla/restart.test.ts': 'the CI time budget (40 s); restarts a server, stores nothing by date',
  // `cdk synth` of fixed configurations, the CLI's with the functions bundled, and cfn-lint over the templates it
  // writes: neither the tests nor the templates hold a date.
  'test/unit/infra/pipeline-stack.test.ts': 'synthesizes templates from fixed configs; no date in them',
  'test/unit/infra/cdk-cli.test.ts': 'the CI time budget (the CLI bundles three functions); lints dateless templates',
  // A clone, `npm run new`, the new function's own vitest run and a synth, all child processes (about 20 s); the
  // scaffolded test's events carry literal times.
  'test/integration/stack/scaffold.test.ts': 'the CI time budget (20 s of child processes); literal event times',
  // The functions run in sandboxes whose environment is Lambda's, not the test process's: they keep the real clock.
  'test/integration/lambda/**': 'the functions run under RIE on the real clock; the shift would reach only the test',
};

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const faketime = await debianBinary('faketime', 'faketime');
const exclusions = Object.keys(EXCLUDED).flatMap((glob) => ['--exclude', glob]);
for (const [glob, why] of Object.entries(EXCLUDED)) console.log(`not under a shifted clock: ${glob} (${why})`);
for (const shift of SHIFTS) {
  console.log(`\n=== the tests with the clock ${shift}`);
  // Timers and timeouts run on the monotonic clock: only the calendar moves. The Java tools the tests run (keytool,
  // Maven) keep the real clock, as the servers do (dev/stack/process.ts): under libfaketime each JVM ran several
  // times slower (the TLS and stack-fault tests took 91 s instead of 32), and what they make holds no test's date.
  const code = await run(faketime, ['-f', shift, 'vitest', 'run', ...exclusions], {
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    FAKETIME_SKIP_CMDS: 'java,keytool',
  });
  if (code !== 0) {
    console.error(`tests failed with the clock ${shift}`);
    process.exit(code);
  }
}
