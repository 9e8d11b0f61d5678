import { setTimeout as sleep } from 'node:timers/promises';
import { Producer } from '@platformatic/kafka';
import { navigationEvents } from '../dev/demo/navigation-generator';
import { ensureTopics } from '../dev/demo/stream';
import { type Invoker, LocalEventSourceMapping } from '../dev/esm/runner';
import { prepareLocalLambdaApp, startFunction } from '../dev/lambda/local-lambda';
import type { LambdaSandbox } from '../dev/lambda/sandbox';
import { processCpuSeconds } from '../dev/stack/process';
import { NAVIGATION_V2, type Navigation } from '../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../lib/codec';
import { statement } from '../lib/scylla/statement';
import { printTable } from './harness';
import { benchKeyspace, benchStack, GB_SECOND_USD, REQUEST_USD, startBenchSandbox } from './sandboxed';

/**
 * `npm run bench:partition`: what one partition sustains the way Lambda runs it. Lambda runs one batch per partition
 * at a time, so a topic's throughput is its partitions times this figure. navigation-enricher's bundle in the RIE
 * sandbox (Runtime API, aws-lambda-ric, Node 24) with the CPU and memory Lambda gives BENCH_MEMORY_MB (1,769: one
 * vCPU), fed one partition's batches back to back by the local event-source mapping from a real one-partition
 * topic, for BENCH_PARTITION_EVENTS (200,000) events after a warm-up of 20,000, at batch sizes 1,000, 5,000 and
 * 10,000. The same for the naive handler (bench/naive-handler.ts: BENCH_NAIVE_EVENTS, 20,000, it is slow) and the
 * ceiling (bench/ceiling-lambda.ts: the same statements straight through the driver) in the same sandbox.
 * Reported per run: events/s, the sandbox's CPU-s per 1,000 events (RIE and the runtime), the CQL server's, the
 * mapping's own (this process: AWS's pollers in production), and the billed duration. The model processor did
 * 10,000 events/s per partition (200K/s on 20 partitions): `x_seed` is ours ÷ 10,000.
 */
const MEMORY_MB = Number(process.env.BENCH_MEMORY_MB ?? 1_769);
const EVENTS = Number(process.env.BENCH_PARTITION_EVENTS ?? 200_000);
const NAIVE_EVENTS = Number(process.env.BENCH_NAIVE_EVENTS ?? 20_000);
const WARMUP = 20_000;
const BATCH_SIZES = [1_000, 5_000, 10_000];
const MODEL_EVENTS_PER_S = 10_000;
const t0 = Date.UTC(2026, 10, 25, 10);

const { config, endpoints, cqlPid } = await benchStack();

const run = Date.now().toString(36);
const keyspace = `bench_partition_${run}`;
const admin = await benchKeyspace(endpoints, keyspace);

// One partition holding the warm-up and the measured events, read by every run under a consumer group of its own.
const topic = `bench-partition-${run}`;
const bootstrapBrokers = [endpoints.kafkaBootstrap];
await ensureTopics(bootstrapBrokers, [topic], 1);
const encoder = await new AvroEncoder(
  new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }),
).forSubject<Navigation>(`${topic}-value`, NAVIGATION_V2);
const total = WARMUP + EVENTS;
const producer = new Producer({ clientId: 'bench-partition', bootstrapBrokers });
const generator = navigationEvents({ seed: 31, cookies: 50_000, startTime: t0 });
for (let sent = 0; sent < total; ) {
  const messages = [];
  for (let i = 0; i < 1_000 && sent < total; i++, sent++) {
    const n = generator.next().value as Navigation;
    messages.push({
      topic,
      partition: 0,
      key: Buffer.from(n.cookieId),
      value: encoder.encode(n),
      timestamp: BigInt(n.eventTime),
    });
  }
  await producer.send({ messages });
}
await producer.close();
console.log(`produced ${total.toLocaleString('en-US')} navigation events to ${topic} (one partition)`);

const app = await prepareLocalLambdaApp({
  endpoints,
  artifactsDir: config.artifactsDir,
  workDir: `${config.runDir}/partition-bench`,
  name: `bench-partition-${run}`,
  onStep: (step) => console.log(`• ${step}`),
});
const overrides = { SCYLLA_KEYSPACE: keyspace, METRICS_EMF: 'off' };
const enricher = app.functions.get('navigation-enricher');
if (!enricher) throw new Error('no navigation-enricher in the template');

interface Measured {
  contender: string;
  batch: number;
  events: number;
  eventsPerS: number;
  sandboxCpuPer1k: number;
  cqlCpuPer1k: number;
  pollerCpuPer1k: number;
  billedMsPerBatch: number;
  usdPerMillion: number;
}

/**
 * One contender at one batch size: a fresh sandbox, warmed on the first WARMUP events, measured from the first
 * commit past them to `end`.
 */
async function measure(contender: string, start: () => Promise<LambdaSandbox>, batch: number, end: number) {
  const sandbox = await start();
  const billed = { ms: 0, batches: 0, counting: false };
  const invoker: Invoker = {
    async invoke(_partition, event) {
      const r = await sandbox.invoke(event);
      if (r.error || r.timedOut) throw new Error(`${contender}: ${r.error?.errorMessage ?? 'timed out'}`);
      if (billed.counting) {
        billed.ms += r.billedDurationMs;
        billed.batches++;
      }
      return r.payload as { batchItemFailures: [] };
    },
    abandon() {},
  };
  const id = `${topic}-0`;
  const esm = new LocalEventSourceMapping({
    topic,
    groupId: `bench-partition-${contender}-${batch}-${run}`,
    bootstrapBrokers,
    invoker,
    settings: { batchSize: batch, batchingWindowMs: 100, timeoutMs: (enricher?.timeoutSeconds ?? 120) * 1000 + 1000 },
  });
  await esm.start();
  let from: { at: number; committed: number; sandbox: number; cql: number; poller: number } | undefined;
  while (!esm.reached([[id, end]])) {
    const committed = esm.stats.committed.get(id) ?? 0;
    if (!from && committed >= WARMUP) {
      billed.counting = true;
      const cpu = process.cpuUsage();
      from = {
        at: performance.now(),
        committed,
        sandbox: sandbox.cpuSeconds(),
        cql: processCpuSeconds(cqlPid),
        poller: (cpu.user + cpu.system) / 1e6,
      };
    }
    await sleep(5);
  }
  if (!from)
    throw new Error(
      `${contender}, batches of ${batch}: no commit between the warm-up and the end; give it more events (BENCH_PARTITION_EVENTS, BENCH_NAIVE_EVENTS)`,
    );
  const seconds = (performance.now() - from.at) / 1000;
  const cpu = process.cpuUsage();
  const events = end - from.committed;
  const per1k = (cpuSeconds: number) => (cpuSeconds / events) * 1000;
  await esm.stop();
  const gbSeconds = (billed.ms / 1000) * (MEMORY_MB / 1024);
  const measured: Measured = {
    contender,
    batch,
    events,
    eventsPerS: events / seconds,
    sandboxCpuPer1k: per1k(sandbox.cpuSeconds() - from.sandbox),
    cqlCpuPer1k: per1k(processCpuSeconds(cqlPid) - from.cql),
    pollerCpuPer1k: per1k((cpu.user + cpu.system) / 1e6 - from.poller),
    billedMsPerBatch: billed.ms / Math.max(1, billed.batches),
    usdPerMillion: ((gbSeconds * GB_SECOND_USD + billed.batches * REQUEST_USD) / events) * 1e6,
  };
  await sandbox.stop();
  console.log(
    `${contender}, batches of ${batch}: ${Math.round(measured.eventsPerS).toLocaleString('en-US')} events/s over ${events.toLocaleString('en-US')} events`,
  );
  return measured;
}

const contenders: [string, () => Promise<LambdaSandbox>, number][] = [
  [
    'ours',
    async () => (await startFunction(app, 'navigation-enricher', { overrides, memorySizeMb: MEMORY_MB })).sandbox,
    total,
  ],
  [
    'ceiling',
    () => startBenchSandbox(app, 'ceiling', 'bench/ceiling-lambda.ts', { overrides, memorySizeMb: MEMORY_MB }),
    total,
  ],
  [
    'naive',
    () => startBenchSandbox(app, 'naive', 'bench/naive-lambda.ts', { overrides, memorySizeMb: MEMORY_MB }),
    Math.min(total, WARMUP + NAIVE_EVENTS),
  ],
];
// The CQL server's JIT warms on the first run's statements (measured: 2.7 times its CPU per event in the first run
// after a start): one unrecorded pass of the ceiling over the warm-up events first, so no contender pays for it.
await measure('warm-up', contenders[1]?.[1] as () => Promise<LambdaSandbox>, 1_000, WARMUP * 2);
const results: Measured[] = [];
for (const batch of BATCH_SIZES)
  for (const [contender, start, end] of contenders) results.push(await measure(contender, start, batch, end));

await admin.execute(statement('bench.drop', `DROP KEYSPACE IF EXISTS ${keyspace}`, { idempotent: true }), []);
await admin.shutdown();

console.log(
  `\nOne partition, navigation-enricher's sandbox at ${MEMORY_MB} MB (template: ${enricher.memorySizeMb} MB), Node 24 under RIE\n`,
);
printTable(
  [
    'contender',
    'batch',
    'events',
    'events/s',
    'sandbox CPU-s /1k',
    'CQL CPU-s /1k',
    'mapping CPU-s /1k',
    'billed ms/batch',
    '$ per 1M',
    'partitions for 200K/s',
  ],
  results.map((r) => [
    r.contender,
    r.batch,
    r.events.toLocaleString('en-US'),
    Math.round(r.eventsPerS).toLocaleString('en-US'),
    r.sandboxCpuPer1k.toFixed(3),
    r.cqlCpuPer1k.toFixed(3),
    r.pollerCpuPer1k.toFixed(3),
    r.billedMsPerBatch.toFixed(0),
    `$${r.usdPerMillion.toFixed(3)}`,
    Math.ceil(200_000 / r.eventsPerS),
  ]),
);
const of = (contender: string, batch: number) =>
  results.find((r) => r.contender === contender && r.batch === batch) as Measured;
const best = results.filter((r) => r.contender === 'ours').reduce((a, r) => (r.eventsPerS > a.eventsPerS ? r : a));
console.log(
  JSON.stringify({
    memory_mb: MEMORY_MB,
    events_per_s: Object.fromEntries(BATCH_SIZES.map((b) => [b, Math.round(of('ours', b).eventsPerS)])),
    best_batch: best.batch,
    x_seed: Number((best.eventsPerS / MODEL_EVENTS_PER_S).toFixed(2)),
    x_ceiling: Number((best.eventsPerS / of('ceiling', best.batch).eventsPerS).toFixed(2)),
    x_naive: Number((best.eventsPerS / of('naive', best.batch).eventsPerS).toFixed(1)),
    sandbox_cpu_s_per_1k: Number(best.sandboxCpuPer1k.toFixed(3)),
    ceiling_sandbox_cpu_s_per_1k: Number(of('ceiling', best.batch).sandboxCpuPer1k.toFixed(3)),
    cql_cpu_s_per_1k: Number(best.cqlCpuPer1k.toFixed(3)),
    usd_per_million: Number(best.usdPerMillion.toFixed(3)),
  }),
);
process.exit(0);
