import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Handler } from '../dev/esm/runner';
import { localEnvironment } from '../dev/lambda/local-environment';
import { type LocalLambdaApp, prepareLocalLambdaApp, startFunction } from '../dev/lambda/local-lambda';
import { fullPayloadEvent, type PayloadShape, partitionBatches } from '../dev/lambda/payloads';
import { processCpuSeconds } from '../dev/stack/process';
import { FUNCTIONS, type FunctionName } from '../functions/catalog';
import { IDENTITY_LINK_V1, type IdentityLink } from '../functions/topics/identity';
import { NAVIGATION_V2, type Navigation } from '../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../lib/codec';
import type { MskEvent } from '../lib/runtime/msk-event';
import { statement } from '../lib/scylla/statement';
import { printTable } from './harness';
import { benchKeyspace, benchStack, GB_SECOND_USD, REQUEST_USD, startBenchSandbox } from './sandboxed';

/**
 * `npm run bench:lambda`: the functions as `cdk deploy` would create them (the synthesized template) under AWS's
 * Runtime Interface Emulator with aws-lambda-ric on Node 24, memory capped and CPU given by MemorySize through cgroups
 * as in Lambda (one vCPU at 1,769 MB, in proportion below). Four parts:
 * 1. memory: the largest event Lambda delivers (6 MB of small records; of large records) at growing MemorySize
 *    settings: the smallest that processes it, with Lambda's "Max Memory Used" at each;
 * 2. cost: billed duration (RIE's REPORT lines) at the template's MemorySize for batches of 100, 500 and 10,000
 *    records, one partition per batch, as GB-s and $ per million events with the arm64 price, for each function and
 *    for the naive handler (bench/naive-handler.ts) under the same conditions;
 * 3. overhead: the same batches through the Runtime API and invoked in this process, directly;
 * 4. MemorySize: each function's cost and batch duration at 256 to 1,769 MB (batches of 500), to choose the default.
 * Prices: Lambda arm64 us-east-1, $0.0000133334 per GB-s (first tier) and $0.20 per million requests.
 * Durations come from this x86_64 machine's cores (under the quota), shared with the CQL server.
 * BENCH_LAMBDA_EVENTS (20,000): events per function and batch size in part 2.
 */
const MEMORY_SIZES = [128, 160, 192, 256, 384, 512, 1024];
const BATCH_SIZES = [100, 500, 10_000];
const EVENTS = Number(process.env.BENCH_LAMBDA_EVENTS ?? 20_000);
const t0 = Date.UTC(2026, 10, 25, 10);

const { config, endpoints, cqlPid } = await benchStack();

const keyspace = `bench_lambda_${Date.now().toString(36)}`;
const admin = await benchKeyspace(endpoints, keyspace);

const encoder = new AvroEncoder(new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }));
const navigation = await encoder.forSubject<Navigation>('bench-lambda-navigation-value', NAVIGATION_V2);
const identity = await encoder.forSubject<IdentityLink>('bench-lambda-identity-value', IDENTITY_LINK_V1);
/** The record each function consumes, from a navigation event: itself, or the identity link it implies. */
const encodeFor = (name: FunctionName | 'naive') =>
  name === 'identity-linker'
    ? (n: Navigation) =>
        identity.encode({
          cookieId: n.cookieId,
          userId: n.userId ?? `u-${n.cookieId}`,
          emailSha256: null,
          source: 'LOGIN',
          consent: n.consent,
          eventTime: n.eventTime,
        })
    : (n: Navigation) => navigation.encode(n);

const workDir = path.join(config.runDir, 'lambda-bench');
const app: LocalLambdaApp = await prepareLocalLambdaApp({
  endpoints,
  artifactsDir: config.artifactsDir,
  workDir,
  name: `bench-lambda-${Date.now().toString(36)}`,
  onStep: (step) => console.log(`• ${step}`),
});
const overrides = { SCYLLA_KEYSPACE: keyspace };
const enricher = app.functions.get('navigation-enricher');
if (!enricher) throw new Error('no navigation-enricher in the template');

/** The naive handler built as a function of its own, run with navigation-enricher's settings. */
const startNaive = () => startBenchSandbox(app, 'naive', 'bench/naive-lambda.ts', { overrides });

// 1. Memory.
console.log(
  '\n1. the largest event Lambda delivers, at growing MemorySize (memory and CPU limited by cgroups as in Lambda)\n',
);
const memoryRows: (string | number)[][] = [];
const smallest: Record<string, number> = {};
for (const name of FUNCTIONS) {
  const shapes: PayloadShape[] = name === 'identity-linker' ? ['small'] : ['small', 'large'];
  for (const shape of shapes) {
    const full = fullPayloadEvent(shape, {
      encode: encodeFor(name),
      topic: 'bench',
      partitions: 4,
      startTime: t0,
      seed: 9,
    });
    for (const memorySizeMb of MEMORY_SIZES) {
      const { sandbox } = await startFunction(app, name, { overrides, memorySizeMb });
      const r = await sandbox.invoke(full.event);
      const ok =
        !r.error && !r.timedOut && (r.payload as { batchItemFailures?: unknown[] })?.batchItemFailures?.length === 0;
      memoryRows.push([
        `${name}, ${full.records} ${shape} records (${(full.bytes / 1024 / 1024).toFixed(2)} MiB)`,
        memorySizeMb,
        ok ? 'processed' : r.error ? `${r.error.errorType}` : r.timedOut ? 'timed out' : 'partial',
        sandbox.maxMemoryUsedMb(),
        sandbox.oomKills(),
        r.durationMs.toFixed(0),
      ]);
      await sandbox.stop();
      if (ok) {
        smallest[`${name}/${shape}`] = memorySizeMb;
        break;
      }
    }
  }
}
printTable(['event', 'MemorySize MB', 'outcome', 'Max Memory Used MB', 'OOM kills', 'duration ms'], memoryRows);

// 2. Cost, and 3. the Runtime API's overhead.
function batches(name: FunctionName | 'naive', size: number, count: number, seed: number): Generator<MskEvent> {
  return partitionBatches({
    encode: encodeFor(name),
    topic: 'bench',
    size,
    events: size * count,
    seed,
    cookies: 5_000,
    startTime: t0,
    bootstrapServers: endpoints.kafkaBootstrap,
  });
}

console.log(
  `\n2. billed duration per batch at the template's MemorySize, ${EVENTS.toLocaleString('en-US')} events per row (at least 2 batches)\n`,
);
const costRows: (string | number)[][] = [];
const usdPerMillion: Record<string, number> = {};
for (const name of [...FUNCTIONS, 'naive'] as const) {
  for (const size of BATCH_SIZES) {
    const sandbox = name === 'naive' ? await startNaive() : (await startFunction(app, name, { overrides })).sandbox;
    const memoryGb = sandbox.memorySizeMb / 1024;
    await sandbox.invoke([...batches(name, Math.min(size, 100), 1, 1)][0]); // the cold start, not billed here
    const count = Math.max(2, Math.ceil(EVENTS / size));
    let billedMs = 0;
    const [cpu0, cql0, started] = [sandbox.cpuSeconds(), processCpuSeconds(cqlPid), performance.now()];
    for (const event of batches(name, size, count, 2 + size)) {
      const r = await sandbox.invoke(event);
      if (r.error || r.timedOut) throw new Error(`${name}: ${r.error?.errorMessage ?? 'timed out'}`);
      billedMs += r.billedDurationMs;
    }
    const seconds = (performance.now() - started) / 1000;
    const events = count * size;
    const gbSeconds = (billedMs / 1000) * memoryGb * (1e6 / events);
    const usd = gbSeconds * GB_SECOND_USD + (count * 1e6 * REQUEST_USD) / events;
    usdPerMillion[`${name}/${size}`] = Number(usd.toFixed(4));
    costRows.push([
      name,
      size,
      sandbox.memorySizeMb,
      (billedMs / count).toFixed(0),
      Math.round(events / seconds).toLocaleString('en-US'),
      gbSeconds.toFixed(1),
      `$${usd.toFixed(4)}`,
      (sandbox.cpuSeconds() - cpu0).toFixed(1),
      (processCpuSeconds(cqlPid) - cql0).toFixed(1),
      sandbox.maxMemoryUsedMb(),
    ]);
    await sandbox.stop();
  }
}
printTable(
  [
    'function',
    'batch',
    'MB',
    'billed ms/batch',
    'events/s',
    'GB-s per 1M',
    '$ per 1M',
    'function CPU s',
    'CQL CPU s',
    'Max Memory MB',
  ],
  costRows,
);

console.log(
  '\n3. the Runtime API: navigation-enricher, batches of 500, the same bundle invoked in this process vs through RIE\n',
);
const overheadBatches = [...batches('navigation-enricher', 500, 21, 77)];
// EMF off in both: the direct run would print it among this report.
const quiet = { ...overrides, METRICS_EMF: 'off' };
const { environment } = localEnvironment(enricher, endpoints, app.resources, quiet);
Object.assign(process.env, environment); // the bundle reads its configuration at import, as in Lambda
const { handler } = (await import(pathToFileURL(path.join(enricher.assetDir, 'index.mjs')).href)) as {
  handler: Handler;
};
const context = { getRemainingTimeInMillis: () => enricher.timeoutSeconds * 1000 };
const direct: number[] = [];
for (const event of overheadBatches) {
  const started = performance.now();
  await handler(event, context);
  direct.push(performance.now() - started);
}
// 1,769 MB: a full vCPU, as this process has.
const { sandbox: rie } = await startFunction(app, 'navigation-enricher', { overrides: quiet, memorySizeMb: 1_769 });
const roundTrip: number[] = [];
const reported: number[] = [];
for (const event of overheadBatches) {
  const started = performance.now();
  const r = await rie.invoke(event);
  roundTrip.push(performance.now() - started);
  reported.push(r.durationMs);
}
await rie.stop();
// The first batch of each is a cold start (module init, connections): left out.
const median = (xs: number[]) => [...xs.slice(1)].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] as number;
printTable(
  ['invocation', 'median ms per batch of 500'],
  [
    ['direct, in this process', median(direct).toFixed(1)],
    ['through RIE: REPORT Duration', median(reported).toFixed(1)],
    ['through RIE: round trip seen by the caller', median(roundTrip).toFixed(1)],
  ],
);
const overheadMs = median(roundTrip) - median(direct);

console.log('\n4. MemorySize: batches of 500, 10,000 events per row\n');
const sizeRows: (string | number)[][] = [];
const bestMemory: Record<string, number> = {};
for (const name of FUNCTIONS) {
  let best = { usd: Number.POSITIVE_INFINITY, memory: 0 };
  for (const memorySizeMb of [256, 512, 1_024, 1_769]) {
    const { sandbox } = await startFunction(app, name, { overrides, memorySizeMb });
    await sandbox.invoke([...batches(name, 100, 1, 3)][0]);
    let billedMs = 0;
    const durations: number[] = [];
    for (const event of batches(name, 500, 20, 4)) {
      const r = await sandbox.invoke(event);
      billedMs += r.billedDurationMs;
      durations.push(r.durationMs);
    }
    const gbSeconds = (billedMs / 1000) * (memorySizeMb / 1024) * (1e6 / 10_000);
    const usd = gbSeconds * GB_SECOND_USD + (20 * 1e6 * REQUEST_USD) / 10_000;
    if (usd < best.usd) best = { usd, memory: memorySizeMb };
    durations.sort((a, b) => a - b);
    sizeRows.push([
      name,
      memorySizeMb,
      sandbox.vcpus?.toFixed(2) ?? '-',
      (durations[10] as number).toFixed(0),
      (durations[18] as number).toFixed(0),
      gbSeconds.toFixed(1),
      `$${usd.toFixed(4)}`,
      sandbox.maxMemoryUsedMb(),
    ]);
    await sandbox.stop();
  }
  bestMemory[name] = best.memory;
}
printTable(
  ['function', 'MB', 'vCPU', 'batch P50 ms', 'batch P95 ms', 'GB-s per 1M', '$ per 1M', 'Max Memory MB'],
  sizeRows,
);

await admin.execute(statement('bench.drop', `DROP KEYSPACE IF EXISTS ${keyspace}`, { idempotent: true }), []);
await admin.shutdown();
console.log(
  JSON.stringify({
    min_memory_mb: smallest,
    usd_per_million: usdPerMillion,
    cheapest_memory_mb_at_500: bestMemory,
    rie_overhead_ms_per_batch: Number(overheadMs.toFixed(1)),
  }),
);
process.exit(0);
