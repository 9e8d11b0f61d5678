import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Listr } from 'listr2';
import { FUNCTIONS, isFunctionName } from '../../functions/catalog';
import { privateBuild } from '../../infra/build';
import {
  AvroReader,
  CodecError,
  ConfluentSchemaRegistry,
  parseConfluentRegistryConfig,
  parseFrame,
  SchemaCache,
  TOMBSTONE,
} from '../../lib/codec';
import { oneOf, requireString } from '../../lib/config';
import { ConfigError } from '../../lib/errors';
import { lazy } from '../../lib/lazy';
import { kafkaConnectionOptions, parseKafkaDeadLetterConfig } from '../../lib/runtime/kafka-dead-letters';
import { parseScyllaConfig } from '../../lib/scylla/config';
import { CredentialsSource } from '../../lib/scylla/credentials';
import { ScyllaSession } from '../../lib/scylla/session';
import { opsTarget } from '../target';
import { kafkaDestinationEntry, S3DestinationStore, sqsDestinationEntries } from './destination-store';
import { KafkaDeadLetterStore } from './kafka-store';
import { type Handler, type ReplayOutcome, replay, reproduce } from './replay';
import { SqsDeadLetterStore } from './sqs-store';
import { type DeadLetterEntry, type DeadLetterFilter, type DeadLetterStore, MS_PER_DAY } from './store';
import { TableDeadLetterStore } from './table-store';

/**
 * `npm run dlq -- list | show <id> | replay`: the dead letters, for the people on call, from whichever sink the
 * functions write them to (`--sink`, else DEAD_LETTER_SINK: scylla, the `dead_letters` table; sqs,
 * DEAD_LETTER_QUEUE_URL; kafka, DEAD_LETTER_TOPIC and the DEAD_LETTER_KAFKA_* settings).
 *
 * - `list`: counts by function, day and reason (and how many were replayed); filters `--function`, `--reason`,
 *   `--since`, `--until` (UTC days of the records, YYYY-MM-DD; the last 7 days by default).
 * - `show <id>`: one entry (its id as `list --ids` and `replay` print it), its value decoded as far as it goes.
 * - `replay` (same filters): after a fix (a schema registered late, a rule corrected), runs the entries not yet
 *   replayed through the function's own bundle, as MSK events in offset order per original partition. An entry
 *   that processes is marked with this run (a queue deletes it); one that fails again is dead-lettered again by the
 *   function, with its new reason, and stays. Replaying twice changes nothing (marked entries are skipped, and the
 *   functions write with event-time timestamps).
 * - `replay --to-topic [--bootstrap host:port,...]`: produces them to their topic and partition instead, for every
 *   consumer to read again.
 * - `--destination s3://<bucket> | <SQS queue URL> | kafka://<topic>`: the same commands on what the event-source
 *   mappings sent to their on-failure destination instead (destination-store.ts: every record of each failed
 *   batch, its reason the mapping's condition, e.g. RetryAttemptsExhausted). An SNS destination is read through a
 *   queue subscribed to it. SQS and SNS hold only the offsets: the records are read back from the cluster of the
 *   DEAD_LETTER_KAFKA_* settings (the source cluster in this project). A replay writes them through the function as
 *   above; the function's own dead letters stay in its sink.
 *
 * Target: the SCYLLA_*, SCHEMA_REGISTRY_* and DEAD_LETTER_* settings the functions take, or `--local` for the
 * local stack (keyspace `pipeline`, its moto for SQS and S3, its Kafka); neither is an error (ops/target.ts).
 */

function dayRange(since: string | undefined, until: string | undefined, now = Date.now()) {
  const parse = (day: string, flag: string) => {
    const ms = Date.parse(`${day}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(ms)) throw new Error(`${flag} ${day}: expected YYYY-MM-DD`);
    return ms;
  };
  const lastDay = until ? parse(until, '--until') : Math.floor(now / MS_PER_DAY) * MS_PER_DAY;
  const firstDay = since ? parse(since, '--since') : lastDay - 6 * MS_PER_DAY;
  if (firstDay > lastDay) throw new Error('--since is after --until');
  if ((lastDay - firstDay) / MS_PER_DAY > 366) throw new Error('at most 367 days at a time');
  return { firstDay, lastDay };
}

/** What the bytes of a dead letter hold, as far as they can be read. */
async function describeValue(value: Buffer | null, registry: ConfluentSchemaRegistry): Promise<string[]> {
  if (value === null) return ['value: (none: a tombstone)'];
  const lines = [
    `value: ${value.length} bytes, ${value.subarray(0, 24).toString('hex')}${value.length > 24 ? '…' : ''}`,
  ];
  try {
    const frame = parseFrame(value);
    lines.push(
      `frame: ${frame.format}, schema ${frame.schemaId >= 0 ? `id ${frame.schemaId}` : frame.schemaUuid}, body at byte ${frame.bodyStart}`,
    );
  } catch (error) {
    lines.push(`frame: ${(error as Error).message}`);
    return lines;
  }
  const reader = new AvroReader(new SchemaCache(registry));
  const [decoded] = await reader.decodeAll([{ value: value.toString('base64') }]);
  if (decoded instanceof CodecError) lines.push(`decoded: no, ${decoded.code}: ${decoded.message}`);
  else if (decoded === TOMBSTONE) lines.push('decoded: a tombstone');
  else
    lines.push(
      `decoded: ${JSON.stringify(decoded, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2).replaceAll('\n', '\n  ')}`,
    );
  return lines;
}

/**
 * The mapping's on-failure destination named by `--destination`, or the sink named by `--sink` or DEAD_LETTER_SINK,
 * and what closes the clients it needed.
 */
async function openStore(
  env: Record<string, string>,
  destination: string | undefined,
): Promise<{ store: DeadLetterStore; close(): Promise<void> }> {
  if (destination !== undefined) {
    const store = await destinationStore(env, destination);
    return { store, close: () => store.close() };
  }
  switch (oneOf(env, 'DEAD_LETTER_SINK', ['scylla', 'sqs', 'kafka'], 'scylla')) {
    case 'sqs': {
      const { SQSClient } = await import('@aws-sdk/client-sqs');
      const store = new SqsDeadLetterStore(new SQSClient({}), requireString(env, 'DEAD_LETTER_QUEUE_URL'));
      return { store, close: () => store.close() };
    }
    case 'kafka': {
      const secrets = lazy(async () => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient({}));
      const store = new KafkaDeadLetterStore(parseKafkaDeadLetterConfig(env, secrets));
      return { store, close: () => store.close() };
    }
    default: {
      const config = parseScyllaConfig(env);
      const session = new ScyllaSession(config, new CredentialsSource(config.credentials));
      const store = new TableDeadLetterStore(session, config.keyspace);
      return { store, close: () => session.shutdown() };
    }
  }
}

/** The mapping's on-failure destination named by `--destination`, read as dead letters (destination-store.ts). */
async function destinationStore(env: Record<string, string>, destination: string): Promise<DeadLetterStore> {
  const bucket = /^s3:\/\/([a-z0-9.-]{3,63})\/?$/.exec(destination)?.[1];
  if (bucket) {
    const { S3Client } = await import('@aws-sdk/client-s3');
    // A custom endpoint (the local stack's moto) serves buckets by path, not by host name.
    return new S3DestinationStore(new S3Client({ forcePathStyle: !!env.AWS_ENDPOINT_URL_S3 }), bucket, FUNCTIONS);
  }
  const secrets = lazy(async () => new (await import('@aws-sdk/client-secrets-manager')).SecretsManagerClient({}));
  const topic = /^kafka:\/\/([A-Za-z0-9._-]{1,249})$/.exec(destination)?.[1];
  const cluster = parseKafkaDeadLetterConfig({ ...env, DEAD_LETTER_TOPIC: topic ?? 'unused' }, secrets);
  if (topic)
    return new KafkaDeadLetterStore(cluster, {
      entryOf: (t, m) => kafkaDestinationEntry(t, m, FUNCTIONS),
      fromMapping: true,
    });
  if (/^https?:\/\//.test(destination)) {
    const { SQSClient } = await import('@aws-sdk/client-sqs');
    const connection = await kafkaConnectionOptions(cluster);
    return new SqsDeadLetterStore(new SQSClient({}), destination, {
      entriesOf: (message) => sqsDestinationEntries(message, connection, FUNCTIONS),
      fromMapping: true,
    });
  }
  throw new Error(`--destination ${destination}: expected s3://<bucket>, an SQS queue URL, or kafka://<topic>`);
}

/** Each function's bundle, built once into a directory of this run's own and imported: its `handler`. */
function bundleLoader(): (name: string) => Promise<Handler> {
  const handlers = new Map<string, Promise<Handler>>();
  return (name) => {
    let handler = handlers.get(name);
    if (!handler) {
      if (!isFunctionName(name)) throw new Error(`no function ${name} in functions/catalog.ts`);
      handler = privateBuild(name).then(
        async ({ file }) => ((await import(pathToFileURL(file).href)) as { handler: Handler }).handler,
      );
      handlers.set(name, handler);
    }
    return handler;
  };
}

async function runReplay(store: DeadLetterStore, entries: DeadLetterEntry[]): Promise<number> {
  const run = `replay-${new Date().toISOString()}-${randomUUID().slice(0, 8)}`;
  let outcome: ReplayOutcome | undefined;
  const started = Date.now();
  await new Listr([
    {
      title: `replaying ${entries.filter((e) => !e.replayedAt).length} dead letters from ${store.description} (run ${run})`,
      task: async (_, task) => {
        outcome = await replay(store, entries, bundleLoader(), {
          run,
          progress: (done, total) => {
            const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
            task.output = `${done}/${total} records, ${rate.toFixed(0)}/s`;
          },
        });
      },
      rendererOptions: { persistentOutput: true },
    },
  ]).run();
  const o = outcome as ReplayOutcome;
  console.log(
    `replayed ${o.replayed}, failed again ${o.failedAgain.length}, left for a later replay ${o.retryLater}, already replayed ${o.skipped}`,
  );
  for (const f of o.failedAgain) console.log(`  failed again: ${f.id} ${f.reason}`);
  for (const id of o.withoutValue) console.log(`  not replayable, its value was too large for the sink: ${id}`);
  return o.failedAgain.length > 0 || o.retryLater > 0 || o.withoutValue.length > 0 ? 1 : 0;
}

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      sink: { type: 'string' },
      'queue-url': { type: 'string' },
      topic: { type: 'string' },
      function: { type: 'string' },
      reason: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      ids: { type: 'boolean' },
      'to-topic': { type: 'boolean' },
      bootstrap: { type: 'string' },
      destination: { type: 'string' },
      local: { type: 'boolean' },
    },
  });
  const [command, id] = positionals;
  const env = await opsTarget(process.env, {
    local: values.local,
    requires: 'SCYLLA_CONTACT_POINTS',
    command: 'npm run dlq',
  });
  env.METRICS_EMF ??= 'off';
  // The options name the same sink the functions write to: replayed bundles dead-letter into it again.
  if (values.sink) env.DEAD_LETTER_SINK = values.sink;
  if (values['queue-url']) env.DEAD_LETTER_QUEUE_URL = values['queue-url'];
  if (values.topic) env.DEAD_LETTER_TOPIC = values.topic;
  // The AWS SDK clients here, and the bundles a replay imports (at import, as in Lambda), read the process's.
  Object.assign(process.env, env);
  const functions = values.function ? [values.function] : [...FUNCTIONS];
  if (!functions.every(isFunctionName)) throw new Error(`--function: one of ${FUNCTIONS.join(', ')}`);
  const filter: DeadLetterFilter = { functions, reason: values.reason, ...dayRange(values.since, values.until) };
  const { store, close } = await openStore(env, values.destination);
  try {
    switch (command) {
      case 'list': {
        const entries = await store.select(filter);
        const counts = new Map<string, { total: number; replayed: number }>();
        for (const e of entries) {
          const key = `${e.functionName}\t${e.day}\t${e.reason}`;
          const c = counts.get(key) ?? { total: 0, replayed: 0 };
          c.total++;
          if (e.replayedAt) c.replayed++;
          counts.set(key, c);
        }
        console.log(`dead letters in ${store.description}`);
        console.log('function\tday\treason\tentries\treplayed');
        for (const [key, c] of [...counts].sort()) console.log(`${key}\t${c.total}\t${c.replayed}`);
        if (values.ids) for (const e of entries) console.log(`${e.id}\t${e.reason}${e.replayedAt ? '\treplayed' : ''}`);
        console.log(`${entries.length} dead letters`);
        return 0;
      }
      case 'show': {
        if (!id) throw new Error('show <id> (as `list --ids` and `replay` print them)');
        const entry = await store.find(id);
        if (!entry) {
          console.log(`no dead letter ${id} in ${store.description}`);
          return 1;
        }
        console.log(
          `${entry.id}\nfunction: ${entry.functionName}, record ${entry.topic}/${entry.partition}/${entry.offset}`,
        );
        console.log(`reason: ${entry.reason}\nmessage: ${entry.message}`);
        console.log(`record timestamp: ${entry.recordTimestamp.toISOString()}`);
        console.log(
          `replayed: ${entry.replayedAt ? `${entry.replayedAt.toISOString()} by ${entry.replayedBy}` : 'no'}`,
        );
        console.log(`key: ${entry.key === null ? '(none)' : JSON.stringify(entry.key.toString('utf8'))}`);
        if (entry.valueLeftOut) {
          console.log('value: left out by the sink (too large); the record is in Kafka at its offset');
          return 0;
        }
        const registry = parseConfluentRegistryConfig(env);
        if (!registry) throw new ConfigError('SCHEMA_REGISTRY_URLS', 'is required to decode the value');
        for (const line of await describeValue(entry.value, new ConfluentSchemaRegistry(registry))) console.log(line);
        return 0;
      }
      case 'replay': {
        const entries = await store.select(filter);
        if (values['to-topic']) {
          const bootstrap = values.bootstrap ?? env.DEAD_LETTER_KAFKA_BROKERS;
          if (!bootstrap) throw new ConfigError('DEAD_LETTER_KAFKA_BROKERS', '--to-topic needs --bootstrap or this');
          const brokers = bootstrap.split(',');
          const outcome = await reproduce(store, entries, brokers, `to-topic-${new Date().toISOString()}`);
          console.log(`re-produced ${outcome.produced} to their topics, already replayed ${outcome.skipped}`);
          return 0;
        }
        return await runReplay(store, entries);
      }
      default:
        console.error('usage: npm run dlq -- list [--ids] | show <id> | replay [--to-topic] (see ops/dlq/cli.ts)');
        return 2;
    }
  } finally {
    await close();
  }
}

// Exits explicitly: a replayed function's bundle keeps its warm clients (the Scylla session, as in a Lambda
// container), which nothing here may shut down, and they would keep the process alive.
if (import.meta.url === `file://${process.argv[1]}`) process.exit(await main());
