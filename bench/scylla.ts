import cassandra from 'cassandra-driver';
import { navigationEvents } from '../dev/demo/navigation-generator';
import { loadStackConfig, stackEndpoints } from '../dev/stack/config';
import { catalogMigrations } from '../functions/catalog';
import { INSERT, navigationRow } from '../functions/navigation-enricher/definition';
import type { Navigation } from '../functions/topics/navigation';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { WriteExecutor } from '../lib/scylla/executor';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { writeTimestamp } from '../lib/scylla/write-time';
import { printTable } from './harness';

/**
 * `npm run bench:scylla`: N inserts of a navigation row (the navigation-enricher's own statement and row) into the local
 * stack's CQL server, (a) awaited one after another, (b) through the write executor, (c) with cassandra-driver's
 * own `executeConcurrent` at each concurrency level, reporting its best. Latency is per statement, successes only.
 */

const N = Number(process.env.BENCH_ROWS ?? 50_000);
const LEVELS = [16, 32, 64, 128, 256];
const KEYSPACE = 'bench';
const local = stackEndpoints(loadStackConfig());

const config = parseScyllaConfig({
  SCYLLA_CONTACT_POINTS: local.cqlContactPoint,
  SCYLLA_LOCAL_DC: local.cqlLocalDataCenter,
  SCYLLA_KEYSPACE: KEYSPACE,
  SCYLLA_USERNAME: local.cqlCredentials.username,
  SCYLLA_PASSWORD: local.cqlCredentials.password,
  SCYLLA_CONSISTENCY: 'LOCAL_ONE',
  SCYLLA_REQUEST_TIMEOUT_MS: '10000',
});
const credentials = new CredentialsSource(config.credentials);
const admin = new ScyllaSession(config, credentials, undefined, { useKeyspace: false });
await migrate(admin, {
  sets: catalogMigrations(),
  keyspace: KEYSPACE,
  replication: `{'class': 'NetworkTopologyStrategy', '${local.cqlLocalDataCenter}': 1}`,
});
await admin.shutdown();

const generator = navigationEvents({ seed: 5, cookies: 5_000, startTime: Date.UTC(2026, 10, 25) });
const rows = Array.from({ length: N }, (_, offset) => {
  const n = generator.next().value as Navigation;
  return {
    params: navigationRow(n, n.userId, 7_776_000),
    timestamp: writeTimestamp(n.eventTime, offset),
  };
});

const session = new ScyllaSession(config, credentials);
const client = await session.connected();
const truncate = () => client.execute(`TRUNCATE ${KEYSPACE}.navigations_by_user`);

interface Run {
  name: string;
  seconds: number;
  latencies: number[];
}
const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

async function naive(): Promise<Run> {
  await truncate();
  const latencies: number[] = [];
  const started = performance.now();
  for (const row of rows) {
    const t = performance.now();
    await session.execute(INSERT, row.params, { timestamp: row.timestamp });
    latencies.push(performance.now() - t);
  }
  return { name: 'naive: one await after another', seconds: (performance.now() - started) / 1000, latencies };
}

async function executor(maxInFlight: number): Promise<Run> {
  await truncate();
  const latencies: number[] = [];
  const writes = new WriteExecutor(session, maxInFlight, {
    succeeded: (_, seconds) => latencies.push(seconds * 1000),
    failed: () => {},
  });
  const started = performance.now();
  await Promise.all(rows.map((row) => writes.execute(INSERT, row.params, { timestamp: row.timestamp })));
  return { name: `write executor, ${maxInFlight} in flight`, seconds: (performance.now() - started) / 1000, latencies };
}

// The driver's own helper, on a client of its own with a request tracker for per-statement latency.
const latencies: number[] = [];
// The driver checks `instanceof` its own (untyped) base class.
const TrackerBase = (cassandra.tracker as unknown as { RequestTracker: new () => object }).RequestTracker;
class LatencyTracker extends TrackerBase implements cassandra.tracker.RequestTracker {
  onSuccess(...args: unknown[]): void {
    const latency = args[6] as [number, number];
    latencies.push(latency[0] * 1000 + latency[1] / 1e6);
  }
  onError(): void {}
  shutdown(): void {}
}
const driverClient = new cassandra.Client({
  contactPoints: config.contactPoints,
  localDataCenter: config.localDataCenter,
  keyspace: KEYSPACE,
  authProvider: new cassandra.auth.PlainTextAuthProvider(local.cqlCredentials.username, local.cqlCredentials.password),
  queryOptions: { consistency: cassandra.types.consistencies.localOne, prepare: true },
  requestTracker: new LatencyTracker(),
});
await driverClient.connect();

async function driver(concurrencyLevel: number): Promise<Run> {
  await truncate();
  latencies.length = 0;
  const started = performance.now();
  const result = await cassandra.concurrent.executeConcurrent(
    driverClient,
    rows.map((row) => ({ query: INSERT.cql, params: row.params })),
    { concurrencyLevel, executionProfile: undefined, raiseOnFirstError: true },
  );
  if (result.errors.length > 0) throw result.errors[0];
  return {
    name: `driver executeConcurrent, ${concurrencyLevel}`,
    seconds: (performance.now() - started) / 1000,
    latencies: [...latencies],
  };
}

// Warm-up: prepare statements and let the JVM compile its write path.
await executor(64);

const runs: Run[] = [];
runs.push(await naive());
// Interleaved, so neither side always runs on a warmer (or more compacted) server.
for (const level of LEVELS) {
  runs.push(await executor(level));
  runs.push(await driver(level));
}
runs.sort((a, b) =>
  a.name.startsWith('naive')
    ? -1
    : b.name.startsWith('naive')
      ? 1
      : a.name.localeCompare(b.name, 'en', { numeric: true }),
);
await driverClient.shutdown();
await session.shutdown();

const rps = (run: Run) => N / run.seconds;
const best = (prefix: string) =>
  runs.filter((r) => r.name.startsWith(prefix)).reduce((a, b) => (rps(a) >= rps(b) ? a : b));
console.log(
  `\n${N.toLocaleString('en-US')} inserts of a 14-column navigation row, CQL server ${local.cqlContactPoint}, Node ${process.version}\n`,
);
printTable(
  ['approach', 'rows/s', 'P50 ms', 'P95 ms', 'P99 ms'],
  runs.map((run) => {
    const sorted = [...run.latencies].sort((a, b) => a - b);
    return [
      run.name,
      Math.round(rps(run)).toLocaleString('en-US'),
      ...[50, 95, 99].map((p) => percentile(sorted, p).toFixed(2)),
    ];
  }),
);
const figures = {
  naive_rps: Math.round(rps(runs[0] as Run)),
  executor_rps: Math.round(rps(best('write executor'))),
  driver_best_rps: Math.round(rps(best('driver'))),
};
console.log(
  `\nbest executor: ${best('write executor').name}; best driver: ${best('driver').name}\n` +
    `targets: executor ≥ 0.9× driver best: ${(figures.executor_rps / figures.driver_best_rps).toFixed(2)}×; ` +
    `executor ≥ 5× naive: ${(figures.executor_rps / figures.naive_rps).toFixed(1)}×`,
);
console.log(JSON.stringify(figures));
process.exit(0);
