import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { SchemaRegistry as KafkajsSchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { Consumer } from '@platformatic/kafka';
import cassandra from 'cassandra-driver';
import { buildFunction } from '../dev/build';
import { produceDemoStream } from '../dev/demo/stream';
import { type Handler, LocalEventSourceMapping } from '../dev/esm/runner';
import { loadStackConfig, stackEndpoints } from '../dev/stack/config';
import {
  INSERT as INSERT_STATEMENT,
  LOOKUP,
  type NavigationView,
  navigationRow,
  READER_SCHEMA,
} from '../functions/navigation-enricher/definition';
import { AvroReader, CodecError, ConfluentSchemaRegistry, SchemaCache, TOMBSTONE } from '../lib/codec';
import type { MskEvent } from '../lib/runtime/msk-event';
import { parseScyllaConfig } from '../lib/scylla/config';
import { CredentialsSource } from '../lib/scylla/credentials';
import { migrate } from '../lib/scylla/migrations';
import { ScyllaSession } from '../lib/scylla/session';
import { printTable } from './harness';

/**
 * `npm run bench:e2e`: one stream of 100,000 navigation events (BENCH_EVENTS) through navigation-enricher:
 * - ours: the function's bundle through the local event-source mapping (real Kafka, batches of 500);
 * - naive: a handler decoding each record with @kafkajs/confluent-schema-registry and awaiting its SELECT and INSERT
 *   one after another, through the same mapping;
 * - ceiling: the same CQL work our run did (a SELECT per distinct anonymous cookie per batch, an INSERT per stored
 *   event, the same rows) sent straight with cassandra-driver's executeConcurrent at its best concurrency: no Kafka,
 *   no decode — what the database allows on this machine.
 */
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000);
const BATCH = 500;
const local = stackEndpoints(loadStackConfig());
const bootstrapBrokers = [local.kafkaBootstrap];
const keyspace = 'bench_e2e';
const env = {
  SCYLLA_CONTACT_POINTS: local.cqlContactPoint,
  SCYLLA_LOCAL_DC: local.cqlLocalDataCenter,
  SCYLLA_KEYSPACE: keyspace,
  SCYLLA_USERNAME: local.cqlCredentials.username,
  SCYLLA_PASSWORD: local.cqlCredentials.password,
  SCYLLA_CONSISTENCY: 'LOCAL_ONE',
  SCHEMA_REGISTRY_URLS: local.registryUrl,
  METRICS_EMF: 'off',
  METRICS_REMOTE_WRITE_URL: `${local.prometheusUrl}/api/v1/write`,
};
Object.assign(process.env, env);
const scylla = parseScyllaConfig(env);
const admin = new ScyllaSession(scylla, new CredentialsSource(scylla.credentials), undefined, { useKeyspace: false });
await migrate(admin, {
  keyspace,
  replication: `{'class': 'NetworkTopologyStrategy', '${local.cqlLocalDataCenter}': 1}`,
});
await admin.shutdown();

const topic = `bench-navigation-${Date.now().toString(36)}`;
const registry = new ConfluentSchemaRegistry({ urls: [local.registryUrl] });
const produced = await produceDemoStream(
  {
    navigation: EVENTS,
    identity: 0,
    poisonRate: 0.005,
    seed: 42,
    topics: { navigation: topic, identity: `${topic}-identity` },
    partitions: 4,
  },
  { bootstrapBrokers, registry },
);
console.log(`produced ${EVENTS.toLocaleString('en-US')} events to ${topic} (${produced.counts.poison} poison)`);

async function runThrough(handler: Handler, group: string): Promise<number> {
  const esm = new LocalEventSourceMapping({
    topic,
    groupId: group,
    bootstrapBrokers,
    handler,
    settings: { batchSize: BATCH },
  });
  const started = performance.now();
  await esm.start();
  const ends = [...produced.ends].filter(([id]) => id.startsWith(`${topic}-`));
  while (!ends.every(([id, end]) => (esm.stats.committed.get(id) ?? 0) >= end)) await sleep(50);
  const seconds = (performance.now() - started) / 1000;
  await esm.stop();
  return seconds;
}

// Ours: the bundle CDK deploys.
const { file } = await buildFunction('navigation-enricher');
const { handler: ours } = (await import(pathToFileURL(file).href)) as { handler: Handler };
const oursSeconds = await runThrough(ours, `bench-ours-${topic}`);
console.log(`ours: ${oursSeconds.toFixed(1)} s`);

// Naive: decode per record (async registry lookup each time), then await each statement in turn.
const client = new cassandra.Client({
  contactPoints: [local.cqlContactPoint],
  localDataCenter: local.cqlLocalDataCenter,
  keyspace,
  authProvider: new cassandra.auth.PlainTextAuthProvider(local.cqlCredentials.username, local.cqlCredentials.password),
  queryOptions: { consistency: cassandra.types.consistencies.localOne, prepare: true },
});
await client.connect();
const SELECT = LOOKUP.cql;
const INSERT = INSERT_STATEMENT.cql;
const insertParams = (n: NavigationView, userId: string | null) => navigationRow(n, userId, 7_776_000);
const kafkajs = new KafkajsSchemaRegistry({ host: local.registryUrl });
const naive: Handler = async (event: MskEvent) => {
  for (const records of Object.values(event.records)) {
    for (const record of records) {
      let n: NavigationView;
      try {
        n = (await kafkajs.decode(Buffer.from(record.value ?? '', 'base64'))) as NavigationView;
      } catch {
        continue; // poison: skipped (the naive handler has no dead-letter path)
      }
      if (n.consent === 'DENIED') continue;
      const userId =
        n.userId ??
        ((await client.execute(SELECT, [n.cookieId], { prepare: true })).first()?.get('user_id') as string | null) ??
        null;
      await client.execute(INSERT, insertParams(n, userId), { prepare: true });
    }
  }
  return { batchItemFailures: [] };
};
const naiveSeconds = await runThrough(naive, `bench-naive-${topic}`);
console.log(`naive: ${naiveSeconds.toFixed(1)} s`);

// Ceiling: the CQL our run issued, rebuilt from the same records in the same batches, sent by the driver alone.
const reader = new AvroReader<NavigationView>(new SchemaCache(registry), READER_SCHEMA);
const consumer = new Consumer({ clientId: 'bench-ceiling', groupId: `bench-ceiling-${topic}`, bootstrapBrokers });
const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 200 });
const byPartition = new Map<number, string[]>();
let seen = 0;
for await (const message of stream) {
  const list = byPartition.get(message.partition as number) ?? [];
  list.push((message.value as Buffer).toString('base64'));
  byPartition.set(message.partition as number, list);
  if (++seen >= EVENTS) break;
}
await stream.close();
await consumer.close();
const selects: { query: string; params: unknown[] }[] = [];
const inserts: { query: string; params: unknown[] }[] = [];
for (const values of byPartition.values()) {
  for (let i = 0; i < values.length; i += BATCH) {
    const decoded = await reader.decodeAll(values.slice(i, i + BATCH).map((value) => ({ value })));
    const cookies = new Set<string>();
    for (const d of decoded) {
      if (d === TOMBSTONE || d instanceof CodecError || d.consent === 'DENIED') continue;
      if (d.userId === null) cookies.add(d.cookieId);
      inserts.push({ query: INSERT, params: insertParams(d, d.userId) });
    }
    for (const cookie of cookies) selects.push({ query: SELECT, params: [cookie] });
  }
}
let ceilingSeconds = Number.POSITIVE_INFINITY;
let bestLevel = 0;
for (const concurrencyLevel of [64, 128, 256, 512]) {
  const started = performance.now();
  await cassandra.concurrent.executeConcurrent(client, selects, { concurrencyLevel });
  await cassandra.concurrent.executeConcurrent(client, inserts, { concurrencyLevel });
  const seconds = (performance.now() - started) / 1000;
  if (seconds < ceilingSeconds) {
    ceilingSeconds = seconds;
    bestLevel = concurrencyLevel;
  }
}
await client.shutdown();

const eps = (seconds: number) => Math.round(EVENTS / seconds);
console.log(
  `\n${EVENTS.toLocaleString('en-US')} navigation events through navigation-enricher (batches of ${BATCH}), Node ${process.version}\n`,
);
printTable(
  ['run', 'seconds', 'events/s', 'CQL statements'],
  [
    [
      'ours: bundle via the local ESM',
      oursSeconds.toFixed(1),
      eps(oursSeconds).toLocaleString('en-US'),
      `${selects.length + inserts.length}`,
    ],
    [
      'naive: decode per record, sequential awaits',
      naiveSeconds.toFixed(1),
      eps(naiveSeconds).toLocaleString('en-US'),
      '—',
    ],
    [
      `ceiling: driver executeConcurrent ${bestLevel}`,
      ceilingSeconds.toFixed(1),
      eps(ceilingSeconds).toLocaleString('en-US'),
      `${selects.length} SELECT + ${inserts.length} INSERT`,
    ],
  ],
);
const figures = { ours_eps: eps(oursSeconds), naive_eps: eps(naiveSeconds), ceiling_eps: eps(ceilingSeconds) };
console.log(
  `\ntargets: ours ≥ 0.8× ceiling: ${(figures.ours_eps / figures.ceiling_eps).toFixed(2)}×; ours ≥ 3× naive: ${(figures.ours_eps / figures.naive_eps).toFixed(1)}×`,
);
console.log(JSON.stringify(figures));
process.exit(0);
