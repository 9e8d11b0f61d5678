import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { CATALOG, catalogMigrations, type FunctionName } from '../functions/catalog';
import { type BundleName, buildFunction, TABLE_SINK } from '../infra/build';
import { ConfluentSchemaRegistry, SchemaCache } from '../lib/codec';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { statement } from '../lib/scylla/statement';
import { DEMO_SINK } from './demo/sink';
import { DEMO_SEGMENT_RULES, DEMO_TOPICS, demoTopic, produceDemoStream } from './demo/stream';
import { type Handler, LocalEventSourceMapping } from './esm/runner';
import { RieInvoker } from './lambda/invoker';
import { createLocalFailureDestination } from './lambda/local-environment';
import { prepareLocalLambdaApp } from './lambda/local-lambda';
import { writeRunReport } from './report/report';
import { loadStackConfig, localScyllaEnvironment, REPO_ROOT, stackEndpoints } from './stack/config';
import { StackError } from './stack/errors';
import { promql } from './stack/prometheus';
import { up } from './stack/stack';

/**
 * `npm start`: the whole pipeline on this machine. Brings the local stack up (unless DEMO_KAFKA_BOOTSTRAP,
 * SCYLLA_CONTACT_POINTS and SCHEMA_REGISTRY_URLS point at existing servers), migrates, registers the schemas,
 * produces the demo stream (DEMO_NAVIGATION 100,000 navigation + DEMO_IDENTITY 20,000 identity events, three
 * schema versions, ~0.5 % poison), runs the catalog's functions and the demo's table sink (dev/demo/sink.ts) through
 * local event-source mappings until
 * every partition is consumed, and prints a summary.
 */
const count = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
/** This run's label on every series it exports: the summary reads this run's figures, not earlier runs'. */
const RUN = `demo-${Date.now().toString(36)}`;
const INVOKE_MODES = ['direct', 'rie'] as const;

async function main() {
  const invokeMode = (process.env.ESM_INVOKE ?? 'direct') as (typeof INVOKE_MODES)[number];
  if (!INVOKE_MODES.includes(invokeMode)) throw new Error(`ESM_INVOKE must be one of ${INVOKE_MODES.join(', ')}`);
  const external = Boolean(
    process.env.DEMO_KAFKA_BOOTSTRAP && process.env.SCYLLA_CONTACT_POINTS && process.env.SCHEMA_REGISTRY_URLS,
  );
  const stackConfig = loadStackConfig();
  const stack = stackEndpoints(stackConfig);
  if (!external) await up(stackConfig);
  const kafka = (process.env.DEMO_KAFKA_BOOTSTRAP ?? stack.kafkaBootstrap).split(',');
  const registryUrls = process.env.SCHEMA_REGISTRY_URLS ?? stack.registryUrl;
  const env: Record<string, string> = {
    ...localScyllaEnvironment(stack, 'pipeline'),
    SCHEMA_REGISTRY_URLS: registryUrls,
    METRICS_EMF: 'off', // a terminal is no CloudWatch: the summary and Prometheus show the figures
    METRICS_REMOTE_WRITE_URL: `${stack.prometheusUrl}/api/v1/write`,
    METRICS_FLUSH_INTERVAL_MS: '1000',
    METRICS_LABELS: `run=${RUN}`,
    ...(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SCYLLA_'))) as Record<
      string,
      string
    >),
  };
  Object.assign(process.env, env); // the bundles read their configuration at import, as in Lambda

  const scylla = parseScyllaConfig(env);
  const admin = new ScyllaSession(scylla, new CredentialsSource(scylla.credentials), undefined, { useKeyspace: false });
  const replication =
    process.env.SCYLLA_REPLICATION ?? `{'class': 'NetworkTopologyStrategy', '${scylla.localDataCenter}': 1}`;
  const applied = await migrate(admin, { sets: catalogMigrations(), keyspace: scylla.keyspace, replication });
  const rule = statement(
    'segment_rules.seed',
    `INSERT INTO ${scylla.keyspace}.segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, true)`,
    {
      idempotent: true,
    },
  );
  for (const [segment, pattern] of DEMO_SEGMENT_RULES) {
    await admin.execute(rule, [segment, pattern]);
  }
  await admin.execute(
    statement('identity_links.create', DEMO_SINK.table.replaceAll('{ks}', scylla.keyspace), { idempotent: true }),
    [],
  );
  await admin.shutdown();
  console.log(
    `schema: keyspace ${scylla.keyspace} ${applied.length ? `migrated (${applied.join(', ')})` : 'up to date'}, segment rules seeded`,
  );

  const plan = {
    navigation: count('DEMO_NAVIGATION', 100_000),
    identity: count('DEMO_IDENTITY', 20_000),
    poisonRate: 0.005,
    seed: Date.now() % 1_000_000,
    topics: DEMO_TOPICS,
    partitions: 4,
  };
  const registry = new ConfluentSchemaRegistry({ urls: registryUrls.split(',') });
  let lastShown = 0;
  const produced = await produceDemoStream(plan, {
    bootstrapBrokers: kafka,
    registry,
    onProgress: (sent, total) => {
      if (Date.now() - lastShown > 1000 || sent === total) {
        lastShown = Date.now();
        console.log(`producing: ${sent.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
      }
    },
  });
  console.log(
    `produced ${produced.counts.navigation.toLocaleString('en-US')} navigation and ${produced.counts.identity.toLocaleString('en-US')} identity events ` +
      `(${produced.counts.poison} poison, ${produced.counts.tombstones} tombstones) in ${((produced.finished - produced.started) / 1000).toFixed(1)} s`,
  );

  const functions: { name: string; bundle: BundleName; topic: string }[] = CATALOG.flatMap(({ name, topic }) => {
    const runTopic = demoTopic(plan.topics, topic);
    if (runTopic === undefined) console.log(`${name} reads ${topic}, which the demo stream does not produce: not run`);
    return runTopic === undefined ? [] : [{ name, bundle: name, topic: runTopic }];
  });
  // The demo's table sink runs in this process only: ESM_INVOKE=rie reads the functions from the example's template,
  // which declares no sink.
  const sinkTopic = demoTopic(plan.topics, DEMO_SINK.topic);
  if (invokeMode === 'direct' && sinkTopic)
    functions.push({ name: DEMO_SINK.name, bundle: TABLE_SINK, topic: sinkTopic });
  // ESM_INVOKE=rie: every batch through the Lambda Runtime API, each function as the synthesized template defines
  // it (dev/lambda/); by default the bundles' handlers are invoked in this process.
  const rie =
    invokeMode === 'rie'
      ? await prepareLocalLambdaApp({
          endpoints: stack,
          artifactsDir: stackConfig.artifactsDir,
          workDir: path.join(stackConfig.runDir, 'lambda'),
          name: RUN,
          onStep: (step) => console.log(`lambda: ${step}`),
        })
      : undefined;
  const mappings: { name: string; topic: string; esm: LocalEventSourceMapping; flush(): Promise<void> }[] = [];
  for (const fn of functions) {
    const empty = { eventSource: 'SelfManagedKafka' as const, bootstrapServers: kafka.join(','), records: {} };
    const mapping = { topic: fn.topic, groupId: fn.name, bootstrapBrokers: kafka };
    if (rie) {
      const definition = rie.functions.get(fn.name as FunctionName);
      const invoker = new RieInvoker(rie, fn.name as FunctionName, {
        overrides: {
          SCYLLA_KEYSPACE: scylla.keyspace,
          METRICS_LABELS: `run=${RUN}`,
          METRICS_FLUSH_INTERVAL_MS: '1000',
        },
      });
      if (!definition) throw new Error(`the template has no ${fn.name}`);
      // The mapping as the template deploys it: batch size and window, retries, record age, split, destination.
      const { batchSize, batchingWindowMs, controls, onFailure: kind, eventRecordFormat } = definition.mapping;
      const onFailure = kind ? await createLocalFailureDestination(kind, stack, `${RUN}-${fn.name}`) : undefined;
      console.log(
        `${fn.name}: under the Runtime Interface Emulator, consuming ${fn.topic} as group ${fn.name}; retries ${controls.maximumRetryAttempts}, on failure ${onFailure?.destination.destination ?? 'none'}`,
      );
      mappings.push({
        ...fn,
        // The mapping's own timeout is a backstop one second past the function's, which the emulator enforces.
        esm: new LocalEventSourceMapping({
          ...mapping,
          invoker,
          settings: {
            batchSize,
            batchingWindowMs,
            controls,
            onFailure: onFailure?.destination,
            timeoutMs: (definition.timeoutSeconds + 1) * 1000,
            // The mapping's own schema registry, when the template configures one: the local registry stands in.
            schemaRegistry: eventRecordFormat && {
              eventRecordFormat,
              schemas: new SchemaCache(registry),
            },
          },
        }),
        flush: async () => {
          await invoker.invokeEach(empty);
          await invoker.close();
          await onFailure?.close();
        },
      });
      continue;
    }
    const { file, bytes } = await buildFunction(fn.bundle);
    // A sink's bundle reads its name and mapping at import, as in Lambda.
    if (fn.bundle === TABLE_SINK)
      Object.assign(process.env, { SINK_NAME: fn.name, SINK_CONFIG: JSON.stringify(DEMO_SINK.mapping) });
    const { handler } = (await import(pathToFileURL(file).href)) as { handler: Handler };
    console.log(`${fn.name}: bundle ${(bytes / 1000).toFixed(0)} KB, consuming ${fn.topic} as group ${fn.name}`);
    mappings.push({
      ...fn,
      esm: new LocalEventSourceMapping({ ...mapping, handler, settings: { batchSize: 500 } }),
      flush: async () => void (await handler(empty, { getRemainingTimeInMillis: () => 60_000 })),
    });
  }
  const started = Date.now();
  await Promise.all(mappings.map((m) => m.esm.start()));
  const reached = (m: (typeof mappings)[number]) => m.esm.reached(produced.ends);
  const finished = new Map<string, number>();
  while (!mappings.every(reached)) {
    await sleep(1_000);
    for (const m of mappings)
      if (!finished.has(m.name) && reached(m)) finished.set(m.name, (Date.now() - started) / 1000);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `running ${seconds.toFixed(0)} s: ${mappings.map((m) => `${m.name} ${m.esm.stats.recordsDone.toLocaleString('en-US')} (${Math.round(m.esm.stats.recordsDone / seconds).toLocaleString('en-US')}/s)`).join(' · ')}`,
    );
  }
  const elapsed = (Date.now() - started) / 1000;
  for (const m of mappings) if (!finished.has(m.name)) finished.set(m.name, elapsed);
  // One more (empty) invocation after the flush interval, so each function exports its last figures.
  await sleep(1_100);
  await Promise.all(mappings.map((m) => m.esm.stop()));
  for (const m of mappings) await m.flush();
  const lines = await summary(
    mappings.map((m) => ({ name: m.name, stats: m.esm.stats, seconds: finished.get(m.name) as number })),
    elapsed,
    stack.prometheusUrl,
  );
  // The dashboard's `$function` as Grafana would list it for this run: the functions that reported (the template's
  // names under ESM_INVOKE=rie).
  const reported = await promql(
    stack.prometheusUrl,
    `count by (function) (last_over_time(processor_records_total{run="${RUN}"}[${Math.ceil(elapsed + 60)}s]))`,
  );
  const report = await writeRunReport({
    prometheusUrl: stack.prometheusUrl,
    file: path.join(stackConfig.runDir, 'reports', `${RUN}.html`),
    title: `npm start: ${functions.map((f) => f.name).join(', ')}`,
    command: `DEMO_NAVIGATION=${plan.navigation} DEMO_IDENTITY=${plan.identity} ESM_INVOKE=${invokeMode} npm start`,
    functions: reported.map((r) => r.metric.function as string).sort(),
    start: started - 5_000,
    end: Date.now(),
    scrapeIntervalSeconds: Number(env.METRICS_FLUSH_INTERVAL_MS) / 1000,
    summary: lines,
  });
  console.log(
    `\nReport: ${report.file} (every panel of dashboards/processors.json over this run${report.empty.length ? `; no data in this run: ${report.empty.join(', ')}` : ''})`,
  );
}

async function summary(
  runs: { name: string; stats: LocalEventSourceMapping['stats']; seconds: number }[],
  elapsed: number,
  prometheus: string,
): Promise<string[]> {
  const lines: string[] = [];
  const say = (line: string) => {
    lines.push(line);
    console.log(line);
  };
  // Series are new for this run (new containers): their last values are this run's totals.
  const window = `${Math.ceil(elapsed + 60)}s`;
  console.log(`\nSummary (${elapsed.toFixed(1)} s of processing)\n`);
  for (const run of runs) {
    // The template names functions `<environment>-<processor>` (ESM_INVOKE=rie); the direct run, `<processor>`.
    const f = `function=~"(.+-)?${run.name}", run="${RUN}"`;
    const q = async (expr: string) => Number((await promql(prometheus, expr))[0]?.value[1] ?? Number.NaN);
    const pct = async (metric: string, p: number, extra = '') =>
      (await q(`histogram_quantile(${p}, sum by (le) (max_over_time(${metric}_bucket{${f}${extra}}[${window}])))`)) *
      1000;
    say(
      `${run.name}: ${run.stats.recordsDone.toLocaleString('en-US')} records, ${Math.round(run.stats.recordsDone / run.seconds).toLocaleString('en-US')} events/s (done in ${run.seconds.toFixed(0)} s), ${run.stats.invocations} invocations (${run.stats.partialResponses} partial, ${run.stats.failedInvocations} failed)`,
    );
    const stages = await promql(
      prometheus,
      `sum by (stage, reason) (max_over_time(processor_records_total{${f}}[${window}]))`,
    );
    say(
      `  records: ${stages
        .map(
          (s) => `${s.metric.stage}${s.metric.reason ? `[${s.metric.reason}]` : ''} ${Math.round(Number(s.value[1]))}`,
        )
        .sort()
        .join(', ')}`,
    );
    const batch = await Promise.all([0.5, 0.95, 0.99].map((p) => pct('processor_batch_seconds', p)));
    const decode = await Promise.all([0.5, 0.95, 0.99].map((p) => pct('processor_decode_seconds', p)));
    say(
      `  batch P50/P95/P99 ${batch.map((v) => v.toFixed(1)).join(' / ')} ms · decode (per partition batch) ${decode.map((v) => v.toFixed(2)).join(' / ')} ms`,
    );
    const kinds = await promql(
      prometheus,
      `sum by (kind) (max_over_time(processor_statement_seconds_count{${f}}[${window}]))`,
    );
    for (const kind of kinds.map((k) => k.metric.kind as string).sort()) {
      const lat = await Promise.all(
        [0.5, 0.95, 0.99].map((p) => pct('processor_statement_seconds', p, `, kind="${kind}"`)),
      );
      say(`  ${kind} P50/P95/P99 ${lat.map((v) => v.toFixed(2)).join(' / ')} ms`);
    }
  }
  console.log(
    `\nMetrics: ${prometheus} (query processor_*), dashboard: ${REPO_ROOT}/dashboards/processors.json (docker compose up grafana)`,
  );
  console.log(
    'Rows: keyspace pipeline (identities, navigations_by_user, user_segments, identity_links (the sink), dead_letters). Stop the stack: npm run stack -- down',
  );
  return lines;
}

main()
  .then(() => process.exit(0))
  .catch((error: unknown) => {
    console.error(error instanceof StackError ? `\nstack: ${error.message}` : error);
    process.exit(1);
  });
