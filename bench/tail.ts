import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import cassandra from 'cassandra-driver';
import { SeededRandom } from '../dev/demo/seeded-random';
import { ensureTopics, produceDemoStream } from '../dev/demo/stream';
import { type Handler, LocalEventSourceMapping } from '../dev/esm/runner';
import { startProxiedCluster } from '../dev/faults/proxied-cluster';
import { writeRunReport } from '../dev/report/report';
import { loadStackConfig, localScyllaEnvironment, stackEndpoints } from '../dev/stack/config';
import { ownedPid, processCpuSeconds } from '../dev/stack/process';
import { promql } from '../dev/stack/prometheus';
import { stackServers } from '../dev/stack/servers';
import { catalogMigrations } from '../functions/catalog';
import { INSERT, LOOKUP } from '../functions/navigation-enricher/definition';
import { buildFunction } from '../infra/build';
import { ConfluentSchemaRegistry } from '../lib/codec';
import { LATENCY_BUCKETS } from '../lib/metrics/instruments';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { printTable, quantile } from './harness';

/**
 * `npm run bench:tail`: the model's incident, measured. navigation-enricher's bundle through the local event-source
 * mapping on a 3-node CQL cluster (RF 3, LOCAL_QUORUM), each node behind a fault proxy (dev/faults), the same
 * stream produced at a steady rate for each condition:
 *   a        baseline;
 *   b        a share of every node's responses delayed (BENCH_TAIL_FRACTION, 10 %) by enough that the statement P95
 *            the processor records is well past ×16 the baseline's (20 × its P95, at least 100 ms; BENCH_TAIL_DELAY_MS);
 *   c        the same injection, hedged requests on: BENCH_HEDGE_MAX (2) hedges after BENCH_HEDGE_DELAY_MS (the
 *            baseline's statement P99, as docs/tuning.md advises; BENCH_HEDGE_AT=p95 for its P95);
 *   b+stall  b, and one node stalled (accepts, never answers) for 10 s from the run's first third;
 *   c+stall  c, and the same stall.
 * Statement and batch latency come from the processor's own histograms (remote write to the stack's Prometheus, the
 * buckets' increase over the condition, quantiles interpolated within a bucket as Prometheus's histogram_quantile
 * does); record age is measured when the function answers (commit follows it) from the record's Kafka timestamp
 * (the time it was produced). Each condition runs in a fresh module instance of the bundle (a cold container) that
 * is first warmed on a small stream of its own, which no figure counts; before the first condition the new nodes'
 * JIT is warmed (`warmJit`, BENCH_WARMUP_STATEMENTS).
 * BENCH_EVENTS (5,000) per condition at BENCH_RATE (250 events/s) on BENCH_PARTITIONS (4), BENCH_BATCH (100, the
 * MSK mapping's default batch size), batching window 500 ms; SCYLLA_MAX_IN_FLIGHT (the function's default). Three
 * Cassandra JVMs share this machine's two cores with Kafka and the client: at 500 events/s and batches of 500 the
 * baseline's statement P95 was already 190 ms (requests queued behind each batch's burst on the servers' CPU), and
 * ×16 of that is past the 2 s request timeout, where a slowdown turns into timeouts and retries; these defaults keep
 * the baseline's P95 near 50 ms.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 5_000);
const RATE = Number(process.env.BENCH_RATE ?? 250);
const PARTITIONS = Number(process.env.BENCH_PARTITIONS ?? 4);
const BATCH = Number(process.env.BENCH_BATCH ?? 100);
const FRACTION = Number(process.env.BENCH_TAIL_FRACTION ?? 0.1);
/**
 * Hedging in c: at most BENCH_HEDGE_MAX (2) hedges, after BENCH_HEDGE_DELAY_MS, else the baseline's statement
 * quantile BENCH_HEDGE_AT (p99, or p95: more hedges, sooner).
 */
const HEDGE = {
  max: Number(process.env.BENCH_HEDGE_MAX ?? 2),
  delayMs: Number(process.env.BENCH_HEDGE_DELAY_MS ?? 0),
  at: process.env.BENCH_HEDGE_AT === 'p95' ? ('p95' as const) : ('p99' as const),
};
const STALL_MS = 10_000;
const localQuorum = cassandra.types.consistencies.localQuorum;
const runId = Date.now().toString(36);

const stackConfig = loadStackConfig();
const local = stackEndpoints(stackConfig);
const bootstrapBrokers = [local.kafkaBootstrap];
const kafkaServer = stackServers(stackConfig).find((s) => s.name === 'kafka');
const kafkaPid = kafkaServer && ownedPid(kafkaServer.pidFile, stackConfig.home);
if (!kafkaPid) throw new Error('the local Kafka broker is not running: npm run stack -- up');

const { file } = await buildFunction('navigation-enricher');
console.log('starting a 3-node CQL cluster behind fault proxies...');
const random = new SeededRandom(13);
const cluster = await startProxiedCluster({ nodes: 3, offset: 8, random: () => random.next() });
const nodePids = cluster.cluster.pids();
const keyspace = 'bench_tail';
const scyllaEnv = {
  ...localScyllaEnvironment(cluster.cluster.endpoints, keyspace),
  SCYLLA_CONSISTENCY: 'LOCAL_QUORUM',
};
const scyllaConfig = parseScyllaConfig(scyllaEnv);
const admin = new ScyllaSession(scyllaConfig, new CredentialsSource(scyllaConfig.credentials), undefined, {
  useKeyspace: false,
});
try {
  await migrate(admin, {
    sets: catalogMigrations(),
    keyspace,
    replication: `{'class': 'NetworkTopologyStrategy', '${cluster.cluster.endpoints.cqlLocalDataCenter}': 3}`,
  });
} catch (error) {
  await cluster.stop();
  throw error;
}
const registry = new ConfluentSchemaRegistry({ urls: [local.registryUrl] });

interface Condition {
  key: 'a' | 'b' | 'c' | 'b+stall' | 'c+stall';
  inject: boolean;
  hedge: boolean;
  stall: boolean;
}
const CONDITIONS: Condition[] = [
  { key: 'a', inject: false, hedge: false, stall: false },
  { key: 'b', inject: true, hedge: false, stall: false },
  { key: 'c', inject: true, hedge: true, stall: false },
  { key: 'b+stall', inject: true, hedge: false, stall: true },
  { key: 'c+stall', inject: true, hedge: true, stall: true },
];

interface Result {
  condition: Condition;
  /** The measured stream's span (epoch ms): the condition's window in the report. */
  window: { start: number; end: number };
  /** When the stalled node stopped answering, if it did. */
  stalledAt?: number;
  stmt: Quantiles;
  /** `count`: the condition's batches; its P95 is the 5 % slowest of them. */
  batch: Quantiles & { count: number };
  ageP95Ms: number;
  eventsPerSecond: number;
  hedgesSent: number;
  hedgesWon: number;
  statements: number;
  clientCpu: number;
  cqlCpu: number;
  kafkaCpu: number;
  failedInvocations: number;
}
interface Quantiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Cumulative bucket counts (by upper bound, +Inf last) of a histogram summed over its other labels. */
async function buckets(metric: string, fn: string): Promise<Map<string, number>> {
  const series = await promql(local.prometheusUrl, `sum by (le) (${metric}_bucket{function="${fn}"})`);
  return new Map(series.map((s) => [s.metric.le ?? '', Number(s.value[1])]));
}

async function counter(metric: string, fn: string): Promise<number> {
  return Number((await promql(local.prometheusUrl, `sum(${metric}{function="${fn}"})`))[0]?.value[1] ?? 0);
}

/** Quantiles of what was observed between two readings, interpolated within a bucket as histogram_quantile does. */
function quantiles(before: Map<string, number>, after: Map<string, number>): Quantiles & { count: number } {
  const bounds = [...LATENCY_BUCKETS];
  const cumulative = bounds.map((b) => (after.get(String(b)) ?? 0) - (before.get(String(b)) ?? 0));
  const count = (after.get('+Inf') ?? 0) - (before.get('+Inf') ?? 0);
  const at = (q: number) => {
    const rank = q * count;
    for (let i = 0; i < bounds.length; i++) {
      const upTo = cumulative[i] as number;
      if (upTo >= rank) {
        const lower = i === 0 ? 0 : (bounds[i - 1] as number);
        const below = i === 0 ? 0 : (cumulative[i - 1] as number);
        const inBucket = upTo - below;
        return 1000 * (lower + ((bounds[i] as number) - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1));
      }
    }
    return 1000 * (bounds[bounds.length - 1] as number);
  };
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), count };
}

const cqlCpu = () => nodePids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
const selfCpu = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** A paced stream of `events` to a topic of its own through the local mapping, to the end; returns the ages. */
async function drive(
  handler: Handler,
  topic: string,
  events: number,
  options: { rate?: number; during?: () => void } = {},
): Promise<{
  seconds: number;
  ages: number[];
  failedInvocations: number;
}> {
  const ages: number[] = [];
  const measured: Handler = async (event, context) => {
    const response = await handler(event, context);
    const now = Date.now();
    for (const [id, records] of Object.entries(event.records)) {
      const failedFrom = response?.batchItemFailures?.find((f) => f.itemIdentifier.partition === id)?.itemIdentifier
        .offset;
      for (const r of records) if (failedFrom === undefined || r.offset < failedFrom) ages.push(now - r.timestamp);
    }
    return response;
  };
  const topics = { navigation: topic, identity: `${topic}-identity` };
  await ensureTopics(bootstrapBrokers, [topics.navigation, topics.identity], PARTITIONS);
  const esm = new LocalEventSourceMapping({
    topic,
    groupId: `${topic}-group`,
    bootstrapBrokers,
    handler: measured,
    settings: { batchSize: BATCH, batchingWindowMs: 500 },
  });
  await esm.start();
  const started = performance.now();
  options.during?.();
  const produced = await produceDemoStream(
    { navigation: events, identity: 0, poisonRate: 0.005, seed: 42, topics, partitions: PARTITIONS },
    { bootstrapBrokers, registry, recordsPerSecond: options.rate },
  );
  while (!esm.reached(produced.ends)) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  await esm.stop();
  return { seconds, ages, failedInvocations: esm.stats.failedInvocations };
}

/**
 * New Cassandra JVMs spend 4× the CPU per statement until their JIT has compiled the request path (bench:tail's
 * first runs: 1.9 ms per LOCAL_QUORUM write over the first 20,000, 0.46 ms after 60,000), which would slow the
 * first condition alone. The function's own statements, at full concurrency, until the server's CPU per
 * statement stops falling.
 */
async function warmJit(statements: number): Promise<void> {
  const session = new ScyllaSession(scyllaConfig, new CredentialsSource(scyllaConfig.credentials));
  const client = await session.connected();
  const cookies = Array.from({ length: 1_000 }, (_, i) => `warm-${i}`);
  for (let done = 0, round = 1; done < statements; round++) {
    const n = Math.min(20_000, statements - done);
    const c0 = cqlCpu();
    const t0 = performance.now();
    const { errors } = await cassandra.concurrent.executeConcurrent(
      client,
      Array.from({ length: n }, (_, i) =>
        i % 4 === 0
          ? { query: LOOKUP.cql, params: [cookies[i % cookies.length]] }
          : {
              query: INSERT.cql,
              params: [
                cookies[i % cookies.length],
                new Date(1_700_000_000_000 + i),
                cassandra.types.Uuid.random(),
                cookies[i % cookies.length],
                null,
                'https://example.com/warm',
                null,
                'warm-up',
                '127.0.0.1',
                'FR',
                'Paris',
                ['warm'],
                { round: String(round) },
                'GRANTED',
                3_600,
              ],
            },
      ),
      // A node that has not yet learned the new schema fails a few early reads: counted, not fatal to the run.
      {
        concurrencyLevel: 64,
        executionProfile: undefined,
        prepare: true,
        consistency: localQuorum,
        raiseOnFirstError: false,
      } as never,
    );
    done += n;
    const seconds = (performance.now() - t0) / 1000;
    if (done >= statements) await session.shutdown();
    console.log(
      `JIT warm-up ${done.toLocaleString('en-US')}: ${(n / seconds).toFixed(0)} statements/s, ${(((cqlCpu() - c0) / n) * 1000).toFixed(2)} ms server CPU per statement${errors.length ? `, ${errors.length} failed (first: ${errors[0]?.message})` : ''}`,
    );
  }
}

/** A fresh module instance of the bundle (the query string): a new container reading this environment at cold start. */
async function coldStart(fn: string, hedge: boolean): Promise<Handler> {
  Object.assign(process.env, {
    ...scyllaEnv,
    SCHEMA_REGISTRY_URLS: local.registryUrl,
    FUNCTION_NAME: fn,
    METRICS_EMF: 'off',
    METRICS_REMOTE_WRITE_URL: `${local.prometheusUrl}/api/v1/write`,
    METRICS_FLUSH_INTERVAL_MS: '0',
    SCYLLA_SPECULATIVE_MAX: hedge ? String(HEDGE.max) : '0',
  });
  if (hedge) process.env.SCYLLA_SPECULATIVE_DELAY_MS = String(HEDGE.delayMs);
  else delete process.env.SCYLLA_SPECULATIVE_DELAY_MS;
  return ((await import(`${pathToFileURL(file).href}?${fn}`)) as { handler: Handler }).handler;
}

async function run(condition: Condition, injectedMs: number): Promise<Result> {
  const fn = `bench-tail-${runId}-${condition.key.replace('+', '-')}`;
  const handler = await coldStart(fn, condition.hedge);
  await drive(handler, `bench-tail-${runId}-${fn}-warmup`, 2_000);
  await sleep(1_500); // the last remote write lands
  const [stmt0, batch0, sent0, won0] = await Promise.all([
    buckets('processor_statement_seconds', fn),
    buckets('processor_batch_seconds', fn),
    counter('processor_speculative_executions_total', fn),
    counter('processor_speculative_wins_total', fn),
  ]);
  for (const proxy of cluster.proxies) proxy.setDelay(condition.inject ? FRACTION : 0, injectedMs);
  const stalled = cluster.proxies[1];
  const timers: NodeJS.Timeout[] = [];
  const [c0, k0, n0] = [cqlCpu(), processCpuSeconds(kafkaPid as number), selfCpu()];
  const windowStart = Date.now();
  let stalledAt: number | undefined;
  const driven = await drive(handler, `bench-tail-${runId}-${fn}`, EVENTS, {
    rate: RATE,
    during: () => {
      if (!condition.stall) return;
      const at = ((EVENTS / RATE) * 1000) / 3;
      timers.push(
        setTimeout(() => {
          stalledAt = Date.now();
          stalled?.stall(true);
        }, at),
      );
      timers.push(setTimeout(() => stalled?.stall(false), at + STALL_MS));
    },
  });
  const cpu = {
    clientCpu: selfCpu() - n0,
    cqlCpu: cqlCpu() - c0,
    kafkaCpu: processCpuSeconds(kafkaPid as number) - k0,
  };
  for (const timer of timers) clearTimeout(timer);
  stalled?.stall(false);
  for (const proxy of cluster.proxies) proxy.setDelay(0, 0);
  await sleep(1_500);
  const [stmt1, batch1, sent1, won1] = await Promise.all([
    buckets('processor_statement_seconds', fn),
    buckets('processor_batch_seconds', fn),
    counter('processor_speculative_executions_total', fn),
    counter('processor_speculative_wins_total', fn),
  ]);
  const stmt = quantiles(stmt0, stmt1);
  return {
    condition,
    window: { start: windowStart, end: windowStart + driven.seconds * 1000 },
    stalledAt,
    stmt,
    batch: quantiles(batch0, batch1),
    ageP95Ms: quantile(driven.ages, 0.95),
    eventsPerSecond: EVENTS / driven.seconds,
    hedgesSent: sent1 - sent0,
    hedgesWon: won1 - won0,
    statements: stmt.count,
    failedInvocations: driven.failedInvocations,
    ...cpu,
  };
}

const results: Result[] = [];
const said: string[] = [];
let injectedMs = Number(process.env.BENCH_TAIL_DELAY_MS ?? 0);
try {
  await warmJit(Number(process.env.BENCH_WARMUP_STATEMENTS ?? 80_000));
  for (const condition of CONDITIONS) {
    const result = await run(condition, injectedMs);
    results.push(result);
    if (condition.key === 'a') {
      // Sized from the baseline's own histogram, as docs/tuning.md tells users to size the hedge delay.
      if (!injectedMs) injectedMs = Math.max(100, Math.ceil(20 * result.stmt.p95));
      if (!HEDGE.delayMs) HEDGE.delayMs = Math.max(1, Math.ceil(result.stmt[HEDGE.at]));
    }
    said.push(
      `${condition.key}: ${result.eventsPerSecond.toFixed(0)} events/s, statement P95 ${result.stmt.p95.toFixed(1)} ms, batch P95 ${result.batch.p95.toFixed(0)} ms` +
        (condition.key === 'a'
          ? ` (next: ${injectedMs} ms injected into ${FRACTION * 100} % of responses; hedges after ${HEDGE.delayMs} ms)`
          : ''),
    );
    console.log(said.at(-1));
  }
} finally {
  await admin.shutdown();
  await cluster.stop();
}

const ms = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const setting = `${EVENTS.toLocaleString('en-US')} navigation events per condition at ${RATE.toLocaleString('en-US')}/s, ${PARTITIONS} partitions, batches ≤ ${BATCH}, 3 nodes RF 3 LOCAL_QUORUM; injected: ${FRACTION * 100} % of every node's responses +${injectedMs} ms; hedging: ${HEDGE.max} after ${HEDGE.delayMs} ms (${process.env.BENCH_HEDGE_DELAY_MS ? 'set' : `the baseline statement ${HEDGE.at.toUpperCase()}`}); stall: one node, 10 s; Node ${process.version}`;
console.log(`\n${setting}\n`);
printTable(
  [
    'condition',
    'stmt P50',
    'stmt P95',
    'stmt P99',
    'batch P50',
    'batch P95',
    'batch P99',
    'batches',
    'age P95',
    'events/s',
    'hedges sent/won',
    'statements',
    'client CPU s',
    'CQL CPU s',
    'Kafka CPU s',
  ],
  results.map((r) => [
    r.condition.key,
    ms(r.stmt.p50),
    ms(r.stmt.p95),
    ms(r.stmt.p99),
    ms(r.batch.p50),
    ms(r.batch.p95),
    ms(r.batch.p99),
    r.batch.count,
    ms(r.ageP95Ms),
    r.eventsPerSecond.toFixed(0),
    `${r.hedgesSent}/${r.hedgesWon}`,
    r.statements,
    r.clientCpu.toFixed(1),
    r.cqlCpu.toFixed(1),
    r.kafkaCpu.toFixed(1),
  ]),
);
console.log(
  '(milliseconds; failed invocations:',
  results.map((r) => `${r.condition.key} ${r.failedInvocations}`).join(', '),
  ')',
);
const by = (key: Condition['key']) => results.find((r) => r.condition.key === key) as Result;
const ratio = (x: number, y: number) => Number((x / y).toFixed(2));
const [a, b, c] = [by('a'), by('b'), by('c')];
console.log(
  `stall: batch P95 ×${ratio(by('b+stall').batch.p95, a.batch.p95)} plain, ×${ratio(by('c+stall').batch.p95, a.batch.p95)} hedged; batch P99 ×${ratio(by('b+stall').batch.p99, a.batch.p99)} plain, ×${ratio(by('c+stall').batch.p99, a.batch.p99)} hedged`,
);
const figures = {
  stmt_p95_x: ratio(b.stmt.p95, a.stmt.p95),
  batch_p95_x_plain: ratio(b.batch.p95, a.batch.p95),
  batch_p95_x_hedged: ratio(c.batch.p95, a.batch.p95),
  events_per_s_x_hedged: ratio(c.eventsPerSecond, a.eventsPerSecond),
};

// The incident as a picture: statement and batch P95 on one time axis, each condition's window shaded.
const WINDOW_LABELS: Record<Condition['key'], string> = {
  a: 'a: baseline',
  b: 'b: delayed',
  c: 'c: delayed, hedged',
  'b+stall': 'b + one node stalled 10 s',
  'c+stall': 'c + one node stalled 10 s',
};
const p95 = (metric: string) =>
  `histogram_quantile(0.95, sum by (le) (rate(${metric}_bucket{function=~"$function"}[$__rate_interval])))`;
const report = await writeRunReport({
  prometheusUrl: local.prometheusUrl,
  file: path.join(stackConfig.runDir, 'reports', `bench-tail-${runId}.html`),
  title: `bench:tail: statement P95 ×${figures.stmt_p95_x}, batch P95 ×${figures.batch_p95_x_plain} plain, ×${figures.batch_p95_x_hedged} hedged`,
  command: 'npm run bench:tail',
  functions: results.map((r) => `bench-tail-${runId}-${r.condition.key.replace('+', '-')}`),
  // From the first condition's warm-up stream (the JIT warm-up before it writes no processor metric).
  start: (results[0]?.window.start ?? Date.now()) - 20_000,
  end: Date.now(),
  // The bundle flushes after every invocation (METRICS_FLUSH_INTERVAL_MS=0): a batching window apart at most.
  scrapeIntervalSeconds: 1,
  marks: {
    windows: results.map((r) => ({ label: WINDOW_LABELS[r.condition.key], ...r.window })),
    events: results.flatMap((r) => (r.stalledAt === undefined ? [] : [{ label: 'stall', at: r.stalledAt }])),
  },
  charts: [
    {
      title: 'The incident: statement P95 and batch P95 (one time axis, log scale)',
      description: 'the processor’s own histograms, P95 over Grafana’s $__rate_interval',
      unit: 's',
      logScale: true,
      targets: [
        { expr: p95('processor_statement_seconds'), legendFormat: 'statement P95' },
        { expr: p95('processor_batch_seconds'), legendFormat: 'batch P95' },
      ],
    },
  ],
  summary: [setting, ...said],
});
console.log(`report: ${report.file}`);
console.log(JSON.stringify(figures));
process.exit(0);
