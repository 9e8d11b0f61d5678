import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Murmur3Tokenizer } from 'cassandra-driver/lib/tokenizer.js';
import { NODE24 } from '../dev/lambda/artifacts';
import { localEnvironment } from '../dev/lambda/local-environment';
import { prepareLocalLambdaApp } from '../dev/lambda/local-lambda';
import { partitionBatches } from '../dev/lambda/payloads';
import { processCpuSeconds } from '../dev/stack/process';
import { NAVIGATION_V2, type Navigation } from '../functions/topics/navigation';
import { AvroEncoder, ConfluentSchemaRegistry } from '../lib/codec';
import type { MskEvent } from '../lib/runtime/msk-event';
import { murmur3Token } from '../lib/scylla/routing';
import { printTable, quantile } from './harness';
import { benchKeyspace, benchStack, buildBenchHandler } from './sandboxed';

/**
 * `npm run bench:cpu`: what one event costs the function's CPU, with nothing else in the process. navigation-enricher's
 * bundle invoked directly, as the Runtime API would call it (no RIE, no Kafka, no mapping), under Node 24 as Lambda's
 * nodejs24.x, with one partition's batches of BENCH_BATCH (5,000) records, BENCH_CPU_EVENTS (100,000) per pass, against
 * the stack's CQL server, which gets core 0 to itself while the passes run on the others (taskset). Each pass runs in
 * a Node process of its own (a warm-up pass, then the measured one: a warm container), and the contenders' passes
 * alternate pair by pair, because this machine's speed drifts between runs by more than most changes are worth. Ours
 * is compared with:
 * - the ceiling (bench/ceiling-lambda.ts: the same decode, then the same statements straight through the driver);
 * - or BENCH_COMPARE=<another build's index.mjs>: a copy of the bundle made before a change
 *   (`cp -r <the path this bench prints> /tmp/before`), to keep the change only if it wins;
 * - or BENCH_NODE_OPTIONS=<options>: ours again with those Node options (as the function's NODE_OPTIONS would set).
 * Per pass: the handler's process's CPU µs per event and the CQL server's, and seconds; then medians, and in how many
 * pairs ours cost less. BENCH_PASSES (6) pairs. To see where the time goes: BENCH_PROFILE=cpu (or allocation) writes
 * each measured pass's profile next to the batches (for Chrome's DevTools), and BENCH_OURS=functions/navigation-
 * enricher/handler.ts measures the sources through tsx instead of the minified bundle, so the profile names them.
 * First, it times the routing token of each event's key (lib/scylla/routing.ts against the driver's tokenizer).
 */
const BATCH = Number(process.env.BENCH_BATCH ?? 5_000);
const EVENTS = Number(process.env.BENCH_CPU_EVENTS ?? 100_000);
const PASSES = Number(process.env.BENCH_PASSES ?? 6);
const t0 = Date.UTC(2026, 10, 25, 10);
const CHILD = 'BENCH_CPU_CHILD';

type Handler = (event: MskEvent, context: unknown) => Promise<unknown>;

interface Contender {
  name: string;
  module: string;
  nodeOptions: string[];
  environment: Record<string, string>;
}

interface Pass {
  clientUs: number;
  serverUs: number;
  seconds: number;
  /** With BENCH_PROFILE=allocation: bytes allocated per event (the sampled estimate; most of it garbage). */
  allocatedBytes?: number;
}

type ProfileKind = 'cpu' | 'allocation';

/**
 * A profile of the measured pass alone, through the inspector: `cpu` (V8's sampling CPU profiler), or `allocation`
 * (the sampling heap profiler keeping the samples of objects the GC has since collected: the garbage, not only what
 * is left alive, which is all that node's own --heap-prof keeps).
 */
async function startProfile(kind: ProfileKind): Promise<{ stop(file: string): Promise<number | undefined> }> {
  const session = new Session();
  session.connect();
  if (kind === 'cpu') {
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  } else {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 32_768,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  return {
    async stop(file) {
      const result =
        kind === 'cpu'
          ? (await session.post('Profiler.stop')).profile
          : (await session.post('HeapProfiler.stopSampling')).profile;
      writeFileSync(file, JSON.stringify(result));
      session.disconnect();
      if (kind === 'cpu') return undefined;
      type Node = { selfSize: number; children: Node[] };
      const bytes = (node: Node): number => node.children.reduce((sum, child) => sum + bytes(child), node.selfSize);
      return bytes((result as { head: Node }).head);
    },
  };
}

/** In a child: imports the contender's module, runs the batches twice, prints the second pass. */
async function runChild(spec: {
  contender: Contender;
  batchesFile: string;
  cqlPid: number;
  timeoutMs: number;
  profile?: { kind: ProfileKind; file: string };
}) {
  Object.assign(process.env, spec.contender.environment);
  const { handler } = (await import(pathToFileURL(path.resolve(spec.contender.module)).href)) as { handler: Handler };
  const batches = JSON.parse(readFileSync(spec.batchesFile, 'utf8')) as MskEvent[];
  const context = { getRemainingTimeInMillis: () => spec.timeoutMs };
  const selfCpu = () => {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1e6;
  };
  const run = async () => {
    for (const batch of batches) {
      const response = (await handler(batch, context)) as { batchItemFailures?: unknown[] };
      if (response.batchItemFailures?.length) throw new Error(`${response.batchItemFailures.length} records failed`);
    }
  };
  await run(); // the warm-up: module init, connections, the JIT
  const profiler = spec.profile ? await startProfile(spec.profile.kind) : undefined;
  const [c0, s0, w0] = [selfCpu(), processCpuSeconds(spec.cqlPid), performance.now()];
  await run();
  const [c1, s1, w1] = [selfCpu(), processCpuSeconds(spec.cqlPid), performance.now()];
  const allocated = profiler && spec.profile ? await profiler.stop(spec.profile.file) : undefined;
  const measured: Pass = {
    clientUs: ((c1 - c0) / EVENTS) * 1e6,
    serverUs: ((s1 - s0) / EVENTS) * 1e6,
    seconds: (w1 - w0) / 1000,
    allocatedBytes: allocated === undefined ? undefined : allocated / EVENTS,
  };
  console.log(JSON.stringify(measured));
  process.exit(0);
}

const child = process.env[CHILD];
if (child) await runChild(JSON.parse(child));

/**
 * The routing token per statement, lib/scylla/routing.ts against the driver's tokenizer, on this bench's own partition
 * keys: alternating rounds, CPU µs per key of each (the median round), in this process.
 */
function routingTokenCost(keys: Buffer[]): { driverUs: number; oursUs: number } {
  const driver = new Murmur3Tokenizer();
  const rounds: Record<'driver' | 'ours', number[]> = { driver: [], ours: [] };
  for (let round = 0; round < 6; round++) {
    for (const [name, hash] of [
      ['driver', (key: Buffer) => driver.hash(key)],
      ['ours', murmur3Token],
    ] as const) {
      const started = process.cpuUsage();
      for (const key of keys) hash(key);
      const used = process.cpuUsage(started);
      rounds[name].push((used.user + used.system) / keys.length);
    }
  }
  return { driverUs: quantile(rounds.driver, 0.5), oursUs: quantile(rounds.ours, 0.5) };
}

const { config, endpoints, cqlPid } = await benchStack();
const keyspace = `bench_cpu_${Date.now().toString(36)}`;
const admin = await benchKeyspace(endpoints, keyspace);
await admin.shutdown();

const workDir = path.join(config.runDir, 'cpu-bench');
const app = await prepareLocalLambdaApp({
  endpoints,
  artifactsDir: config.artifactsDir,
  workDir,
  name: `bench-cpu-${Date.now().toString(36)}`,
  onStep: (step) => console.log(`• ${step}`),
});
const enricher = app.functions.get('navigation-enricher');
if (!enricher) throw new Error('no navigation-enricher in the template');
const overrides = { SCYLLA_KEYSPACE: keyspace, METRICS_EMF: 'off' };
const timeoutMs = enricher.timeoutSeconds * 1000;

const encoder = await new AvroEncoder(
  new ConfluentSchemaRegistry({ urls: [endpoints.registryUrl] }),
).forSubject<Navigation>('bench-cpu-navigation-value', NAVIGATION_V2);
const batches = [
  ...partitionBatches({
    encode: (n) => encoder.encode(n),
    topic: 'bench-cpu',
    size: BATCH,
    events: EVENTS,
    seed: 17,
    cookies: 50_000,
    startTime: t0,
    bootstrapServers: endpoints.kafkaBootstrap,
  }),
];
const token = routingTokenCost(
  batches.flatMap((batch) => Object.values(batch.records).flat()).map((r) => Buffer.from(r.key ?? '', 'base64')),
);
console.log(
  `routing token per key (${process.version}): the driver's tokenizer ${token.driverUs.toFixed(2)} µs, ` +
    `lib/scylla/routing.ts ${token.oursUs.toFixed(2)} µs`,
);
const scratch = mkdtempSync(path.join(workDir, 'batches-'));
const batchesFile = path.join(scratch, 'batches.json');
writeFileSync(batchesFile, JSON.stringify(batches));

// Ours with the function's own environment (credentials from the secret); the ceiling with plain settings.
const ours: Contender = {
  name: 'ours',
  module: process.env.BENCH_OURS ?? path.join(enricher.assetDir, 'index.mjs'),
  nodeOptions: [],
  environment: localEnvironment(enricher, endpoints, app.resources, overrides).environment,
};
let other: Contender;
if (process.env.BENCH_COMPARE) other = { ...ours, name: 'BENCH_COMPARE', module: process.env.BENCH_COMPARE };
else if (process.env.BENCH_NODE_OPTIONS) {
  const nodeOptions = process.env.BENCH_NODE_OPTIONS.split(/\s+/).filter(Boolean);
  other = { ...ours, name: `ours ${nodeOptions.join(' ')}`, nodeOptions };
} else {
  const ceiling = await buildBenchHandler(app, 'ceiling', 'bench/ceiling-lambda.ts', overrides);
  const { SCYLLA_CREDENTIALS_SECRET_ID: _secret, ...environment } = ceiling.environment;
  other = {
    name: 'ceiling',
    module: path.join(ceiling.definition.assetDir, 'index.mjs'),
    nodeOptions: [],
    environment,
  };
}
// The CQL server on core 0, the passes on the others, as in production, where Lambda and Scylla never share a CPU:
// sharing one, a pass's CPU per event followed how much the server took from it more than its own code.
const cores = availableParallelism();
const pin = (pid: number, cpus: string) => execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)]);
if (cores >= 2) {
  pin(cqlPid, '0');
  pin(process.pid, `1-${cores - 1}`); // the passes' processes inherit it
  // The server outlives this process: give it every core back however this ends.
  process.on('exit', () => pin(cqlPid, `0-${cores - 1}`));
}

console.log(
  `ours: ${ours.module}\n${other.name}: ${other.module}\n` +
    `Node 24 (${NODE24}), ${EVENTS.toLocaleString('en-US')} events per pass in batches of ${BATCH.toLocaleString('en-US')}` +
    (cores >= 2 ? `, the CQL server pinned to core 0 and the passes to cores 1-${cores - 1}` : ''),
);

const profileKind = process.env.BENCH_PROFILE as ProfileKind | undefined;
if (profileKind && profileKind !== 'cpu' && profileKind !== 'allocation')
  throw new Error(`BENCH_PROFILE: cpu or allocation, got ${profileKind}`);
async function pass(contender: Contender, round: number): Promise<Pass> {
  const file = path.join(
    scratch,
    `${contender.name.replace(/\W+/g, '-')}-${round}.${profileKind === 'cpu' ? 'cpuprofile' : 'heapprofile'}`,
  );
  const spec = { contender, batchesFile, cqlPid, timeoutMs, profile: profileKind && { kind: profileKind, file } };
  if (profileKind) console.log(`profile: ${file}`);
  const { stdout } = await promisify(execFile)(
    NODE24,
    [...contender.nodeOptions, '--import', 'tsx', path.relative(process.cwd(), import.meta.filename)],
    { env: { ...process.env, NODE_OPTIONS: '', [CHILD]: JSON.stringify(spec) }, maxBuffer: 1 << 20 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Pass;
}

const passes = new Map<string, Pass[]>([
  [ours.name, []],
  [other.name, []],
]);
for (let round = 1; round <= PASSES; round++) {
  // Who goes first alternates too: a pass can leave the CQL server compacting for the next.
  for (const contender of round % 2 ? [ours, other] : [other, ours]) {
    const measured = await pass(contender, round);
    console.log(
      `pair ${round}, ${contender.name}: ${measured.seconds.toFixed(2)} s, ` +
        `client ${measured.clientUs.toFixed(1)} µs/event, CQL server ${measured.serverUs.toFixed(1)} µs/event` +
        (measured.allocatedBytes === undefined
          ? ''
          : `, ${Math.round(measured.allocatedBytes).toLocaleString('en-US')} bytes allocated/event`),
    );
    passes.get(contender.name)?.push(measured);
  }
}

const oursPasses = passes.get(ours.name) as Pass[];
const otherPasses = passes.get(other.name) as Pass[];
const median = (xs: Pass[], key: keyof Pass) =>
  quantile(
    xs.map((x) => x[key] ?? 0),
    0.5,
  );
const lower = oursPasses.filter((p, i) => p.clientUs < (otherPasses[i] as Pass).clientUs).length;
const allocation = profileKind === 'allocation';
console.log();
printTable(
  [
    'contender',
    'client µs/event',
    'CQL server µs/event',
    'seconds',
    'events/s',
    ...(allocation ? ['bytes allocated/event'] : []),
  ],
  [oursPasses, otherPasses].map((xs, i) => [
    i === 0 ? ours.name : other.name,
    median(xs, 'clientUs').toFixed(1),
    median(xs, 'serverUs').toFixed(1),
    median(xs, 'seconds').toFixed(2),
    Math.round(EVENTS / median(xs, 'seconds')).toLocaleString('en-US'),
    ...(allocation ? [Math.round(median(xs, 'allocatedBytes')).toLocaleString('en-US')] : []),
  ]),
);
console.log(`\n${ours.name} cost less client CPU than ${other.name} in ${lower} of ${oursPasses.length} pairs`);
console.log(
  JSON.stringify({
    client_us_per_event: Number(median(oursPasses, 'clientUs').toFixed(1)),
    other: other.name,
    other_client_us_per_event: Number(median(otherPasses, 'clientUs').toFixed(1)),
    lower_in: `${lower}/${oursPasses.length}`,
    ...(allocation && {
      bytes_per_event: Math.round(median(oursPasses, 'allocatedBytes')),
      other_bytes_per_event: Math.round(median(otherPasses, 'allocatedBytes')),
    }),
  }),
);
process.exit(0);
