import { navigationEvents } from '../dev/demo/navigation-generator';
import { loadStackConfig, stackEndpoints } from '../dev/stack/config';
import { catalogMigrations } from '../functions/catalog';
import { NAVIGATION_V1, type Navigation } from '../functions/topics/navigation';
import { AvroEncoder, AvroReader, CodecError, ConfluentSchemaRegistry, SchemaCache, TOMBSTONE } from '../lib/codec';
import { MetricsPublisher, parseMetricsConfig } from '../lib/metrics';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { type ExecutorMetrics, WriteExecutor } from '../lib/scylla/executor';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { statement } from '../lib/scylla/statement';
import { writeTimestamp } from '../lib/scylla/write-time';
import { printTable } from './harness';

/**
 * `npm run bench:metrics`: what measuring costs. One batch of 5,000 Navigation records decoded and written to the
 * CQL server, with every instrument of the pipeline recorded and both exporters flushed (EMF to stdout, remote
 * write to the local Prometheus), against the same work with metrics off. Target: ≤ 5 % slower.
 */
const RECORDS = 5_000;
const local = stackEndpoints(loadStackConfig());
const registry = new ConfluentSchemaRegistry({ urls: [local.registryUrl] });
const encoder = await new AvroEncoder(registry).forSubject<Navigation>('navigation-value', NAVIGATION_V1);
const generator = navigationEvents({ seed: 9, cookies: 2_000, startTime: Date.UTC(2026, 10, 25) });
const records = Array.from({ length: RECORDS }, (_, offset) => ({
  value: encoder.encode(generator.next().value as Navigation).toString('base64'),
  offset,
  timestamp: Date.UTC(2026, 10, 25),
}));

const config = parseScyllaConfig({
  SCYLLA_CONTACT_POINTS: local.cqlContactPoint,
  SCYLLA_LOCAL_DC: local.cqlLocalDataCenter,
  SCYLLA_KEYSPACE: 'bench',
  SCYLLA_USERNAME: local.cqlCredentials.username,
  SCYLLA_PASSWORD: local.cqlCredentials.password,
  SCYLLA_CONSISTENCY: 'LOCAL_ONE',
});
const credentials = new CredentialsSource(config.credentials);
{
  const admin = new ScyllaSession(config, credentials, undefined, { useKeyspace: false });
  await migrate(admin, {
    sets: catalogMigrations(),
    keyspace: 'bench',
    replication: `{'class': 'NetworkTopologyStrategy', '${local.cqlLocalDataCenter}': 1}`,
  });
  await admin.shutdown();
}
const session = new ScyllaSession(config, credentials);
const INSERT = statement(
  'navigations.insert',
  'INSERT INTO navigations_by_user (owner_id, event_time, event_id, cookie_id, url, consent) VALUES (?, ?, ?, ?, ?, ?)',
  { idempotent: true },
);

function pipeline(metricsOn: boolean) {
  const publisher = metricsOn
    ? new MetricsPublisher(
        parseMetricsConfig({
          FUNCTION_NAME: 'bench-metrics',
          METRICS_REMOTE_WRITE_URL: `${local.prometheusUrl}/api/v1/write`,
        }),
      )
    : undefined;
  const m = publisher?.instruments;
  const executorMetrics: ExecutorMetrics | undefined = m?.executorMetrics();
  const writes = new WriteExecutor(session, 64, executorMetrics);
  const reader = new AvroReader<Navigation>(new SchemaCache(registry));
  return async () => {
    const batchStarted = process.hrtime.bigint();
    m?.records.inc({ stage: 'received', reason: '' }, records.length);
    const decodeStarted = process.hrtime.bigint();
    const decoded = await reader.decodeAll(records);
    m?.decodeSeconds.observe(Number(process.hrtime.bigint() - decodeStarted) / 1e9);
    const writesDone: Promise<unknown>[] = [];
    let written = 0;
    for (const [i, value] of decoded.entries()) {
      if (value === TOMBSTONE || value instanceof CodecError) continue;
      const record = records[i] as (typeof records)[number];
      writesDone.push(
        writes.execute(
          INSERT,
          [value.cookieId, new Date(value.eventTime), value.eventId, value.cookieId, value.url, value.consent],
          {
            timestamp: writeTimestamp(value.eventTime, record.offset),
          },
        ),
      );
      written++;
    }
    await Promise.all(writesDone);
    m?.inFlightStatements.set(writes.takePeakInFlight());
    m?.records.inc({ stage: 'decoded', reason: '' }, written);
    m?.records.inc({ stage: 'written', reason: '' }, written);
    m?.recordAgeSeconds.set(
      { topic: 'navigation', partition: '0' },
      (Date.now() - (records[0]?.timestamp ?? 0)) / 1000,
    );
    m?.batchSeconds.observe({ outcome: 'ok' }, Number(process.hrtime.bigint() - batchStarted) / 1e9);
    await publisher?.flush();
  };
}

// One process, the two variants alternating batch by batch: server drift (memtable flushes, compaction) and machine
// noise hit both alike. (Separate processes differed by ±7 % from one another, more than the effect measured.)
const ROUNDS = 80;
const off = pipeline(false);
const on = pipeline(true);
for (let i = 0; i < 5; i++) {
  await off();
  await on();
}
const times = { off: [] as number[], on: [] as number[] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of round % 2 === 0
    ? ([
        ['off', off],
        ['on', on],
      ] as const)
    : ([
        ['on', on],
        ['off', off],
      ] as const)) {
    const started = performance.now();
    await run();
    times[name].push(performance.now() - started);
  }
}
await session.shutdown();
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const results = [
  { name: 'metrics off', medianMs: median(times.off) },
  { name: 'metrics on (EMF + remote write)', medianMs: median(times.on) },
];
console.log(
  `\n${RECORDS} records per batch: decode + write, median of ${ROUNDS} batches each, Node ${process.version}\n`,
);
printTable(
  ['variant', 'ms/batch', 'µs/record'],
  results.map((r) => [r.name, r.medianMs.toFixed(1), ((r.medianMs * 1000) / RECORDS).toFixed(2)]),
);
const [offMs, onMs] = [median(times.off), median(times.on)];

// The same instrumentation alone (no decode, no I/O): its CPU cost per batch, a figure free of the I/O noise.
const alone = new MetricsPublisher(
  parseMetricsConfig({
    FUNCTION_NAME: 'bench-metrics-alone',
    METRICS_REMOTE_WRITE_URL: `${local.prometheusUrl}/api/v1/write`,
    METRICS_FLUSH_INTERVAL_MS: '0',
  }),
);
const reporting = alone.instruments.executorMetrics();
const cpu: number[] = [];
// EMF goes to stdout, which CloudWatch Logs bills by the byte: counted (and kept off the terminal) here.
const emfBytes: number[] = [];
const write = process.stdout.write.bind(process.stdout);
for (let round = 0; round < 25; round++) {
  const started = performance.now();
  const m = alone.instruments;
  m.records.inc({ stage: 'received', reason: '' }, RECORDS);
  for (let i = 0; i < RECORDS; i++) {
    const t = performance.now();
    reporting.succeeded('navigations.insert', (performance.now() - t) / 1000);
  }
  m.records.inc({ stage: 'decoded', reason: '' }, RECORDS);
  m.records.inc({ stage: 'written', reason: '' }, RECORDS);
  m.decodeSeconds.observe(0.01);
  m.batchSeconds.observe({ outcome: 'ok' }, 0.1);
  let bytes = 0;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    bytes += Buffer.byteLength(chunk);
    return true;
  }) as typeof process.stdout.write;
  try {
    await alone.flush({ force: round % 5 === 0 }); // a remote write every 5 batches, EMF every batch
  } finally {
    process.stdout.write = write;
  }
  emfBytes.push(bytes);
  cpu.push(performance.now() - started);
}
const cpuMs = median(cpu.slice(5));
const overhead = (onMs / offMs - 1) * 100;
console.log(
  `\nmetrics overhead, end to end: ${overhead.toFixed(1)} %; instrumentation CPU alone: ${cpuMs.toFixed(2)} ms per batch = ` +
    `${((cpuMs / offMs) * 100).toFixed(1)} % of a batch (target ≤ 5 %); EMF ${median(emfBytes.slice(5))} bytes per invocation`,
);
console.log(
  JSON.stringify({
    off_ms: +offMs.toFixed(2),
    on_ms: +onMs.toFixed(2),
    overhead_pct: +overhead.toFixed(2),
    instrumentation_ms: +cpuMs.toFixed(3),
    instrumentation_pct: +((cpuMs / offMs) * 100).toFixed(2),
    emf_bytes_per_invocation: median(emfBytes.slice(5)),
  }),
);
process.exit(0);
