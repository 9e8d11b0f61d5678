import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CATALOG, catalogMigrations, FUNCTIONS, type FunctionName } from '../../functions/catalog';
import { privateBuild } from '../../infra/build';
import { ConfluentSchemaRegistry } from '../../lib/codec';
import { parseKafkaDeadLetterConfig } from '../../lib/runtime/kafka-dead-letters';
import { parseScyllaConfig } from '../../lib/scylla/config';
import { CredentialsSource } from '../../lib/scylla/credentials';
import { migrate } from '../../lib/scylla/migrations';
import { ScyllaSession } from '../../lib/scylla/session';
import { statement } from '../../lib/scylla/statement';
import { S3DestinationStore } from '../../ops/dlq/destination-store';
import { KafkaDeadLetterStore } from '../../ops/dlq/kafka-store';
import { replay } from '../../ops/dlq/replay';
import { SqsDeadLetterStore } from '../../ops/dlq/sqs-store';
import { type DeadLetterStore, MS_PER_DAY } from '../../ops/dlq/store';
import { TableDeadLetterStore } from '../../ops/dlq/table-store';
import { readTopic } from '../../ops/kafka/read-topic';
import { DEMO_SEGMENT_RULES, type DemoRecord, demoTopic, ensureTopics, topicEnds } from '../demo/stream';
import { WorkerContainers } from '../esm/containers';
import { S3FailureDestination } from '../esm/destinations';
import { LocalEventSourceMapping, type MappingSettings } from '../esm/runner';
import { FaultyProxy } from '../faults/http-proxy';
import { loadDashboard } from '../report/dashboard';
import { writeRunReport } from '../report/report';
import { localScyllaEnvironment } from '../stack/config';
import { dedicatedServer } from '../stack/dedicated';
import { type Accounting, account } from './accounting';
import type { Fault } from './faults';
import { ChaosStream } from './stream';

export interface ChaosOptions {
  navigation: number;
  identity: number;
  /** Seconds the stream is produced over. */
  seconds: number;
  faults: Fault[];
  deadLetterSink: 'scylla' | 'sqs' | 'kafka';
  /** Ports of its own servers: base + offset (dev/stack/dedicated.ts). */
  portOffset: number;
  /** The function timeout the local mapping enforces. */
  timeoutMs: number;
  /** After the stream and the faults: how long the functions may take to commit everything. */
  drainSeconds: number;
  seed: number;
  /**
   * The mappings' error-handling controls, and an S3 bucket for what they give up on (`s3`), which the run then
   * replays through the functions as `npm run dlq -- replay --destination` does. Default: AWS's (retry forever).
   */
  mapping?: { controls: MappingSettings['controls']; onFailure?: 's3' };
  /**
   * Where to write the run report (dev/report): the functions then remote-write to a Prometheus of the run's own, and
   * the report marks each fault over the dashboard's panels.
   */
  reportFile?: string;
  log(line: string): void;
}

export interface ChaosReport extends Accounting {
  faults: number;
  retried_invocations: number;
  seconds: number;
  /** Partitions not committed to their end when the run gave up waiting. */
  uncommitted: number;
  schedule: { name: string; at: number; tookSeconds: number; error?: string }[];
  mapping: Record<string, Record<string, number>>;
  /** Per function: what its mapping noted (consumers rebuilt, invocations abandoned), with the time. */
  events: Record<string, string[]>;
  /** The run report's path, when one was asked for. */
  report?: string;
  /** Records the mappings delivered to their on-failure destination. */
  diverted: number;
  /** Records the mappings gave up on and could not deliver anywhere (no destination, or it refused them). */
  dropped: number;
  /** Diverted records replayed from the destination through their function. */
  redriven: number;
  /** `lost` before the diverted records were replayed: what a destination nobody redrives costs. */
  lost_before_redrive: number;
}

const KEYSPACE = 'chaos';
/** How often the functions remote-write when a report is asked for. */
const REPORT_FLUSH_SECONDS = 1;
/** The dashboard's panels the report puts first, full width, under the faults. */
const REPORT_PANELS = [
  'Records per second by stage',
  'Record age per partition (now − Kafka timestamp)',
  'Dead letters by reason',
];
const TOPICS = { navigation: 'navigation', identity: 'identity' };
const PARTITIONS = 4;

/**
 * One chaos run on servers of its own (a CQL node, a Kafka broker, a schema registry behind a fault proxy, moto),
 * so nothing else running on the machine is disturbed: the demo stream produced at a steady pace, the three
 * functions' bundles through local event-source mappings, each invocation in a container (a worker thread) with
 * the function timeout enforced, the faults injected on their schedule, then every row, identity and dead letter
 * accounted for against the ledger of what was produced.
 */
export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { log } = options;
  const servers = {
    cql: dedicatedServer('cql', options.portOffset),
    kafka: dedicatedServer('kafka', options.portOffset),
    registry: dedicatedServer('schema-registry', options.portOffset),
    aws: dedicatedServer('aws', options.portOffset),
    ...(options.reportFile && { prometheus: dedicatedServer('prometheus', options.portOffset) }),
  };
  const started = Date.now();
  const cleanup: (() => Promise<unknown>)[] = [];
  try {
    log('starting its own servers (CQL, Kafka, schema registry, moto)');
    // All settled before a failure is thrown: the finally below must find every server that did start.
    const starting = await Promise.allSettled(Object.values(servers).map((s) => s.start()));
    for (const outcome of starting) if (outcome.status === 'rejected') throw outcome.reason;
    const cqlEndpoints = servers.cql.endpoints;
    const brokers = [servers.kafka.endpoints.kafkaBootstrap];
    // Its own moto: what the functions' SDK clients read from their environment, and the harness's clients.
    const aws = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_ENDPOINT_URL: servers.aws.endpoints.awsEndpoint,
    };
    const awsClient = {
      region: aws.AWS_REGION,
      endpoint: aws.AWS_ENDPOINT_URL,
      credentials: { accessKeyId: aws.AWS_ACCESS_KEY_ID, secretAccessKey: aws.AWS_SECRET_ACCESS_KEY },
    };
    const secrets = new SecretsManagerClient(awsClient);

    // The functions log in as their own role, its password in Secrets Manager; the harness as the superuser, with
    // one session for the schema and roles and one in the keyspace (the table sink's reads, the accounting).
    const local = localScyllaEnvironment(cqlEndpoints, KEYSPACE);
    const { SCYLLA_USERNAME: _user, SCYLLA_PASSWORD: _password, ...scyllaTarget } = local;
    const superuser = parseScyllaConfig(local);
    const admin = new ScyllaSession(superuser, new CredentialsSource(superuser.credentials), undefined, {
      useKeyspace: false,
    });
    const reader = new ScyllaSession(superuser, new CredentialsSource(superuser.credentials));
    cleanup.push(
      () => admin.shutdown(),
      () => reader.shutdown(),
    );
    await migrate(admin, {
      sets: catalogMigrations(),
      keyspace: KEYSPACE,
      replication: `{'class': 'NetworkTopologyStrategy', '${cqlEndpoints.cqlLocalDataCenter}': 1}`,
    });
    for (const [segment, pattern] of DEMO_SEGMENT_RULES)
      await admin.execute(
        statement(
          'rules',
          `INSERT INTO ${KEYSPACE}.segment_rules (segment_id, url_pattern, enabled) VALUES (?, ?, true)`,
          { idempotent: true },
        ),
        [segment, pattern],
      );
    let password = 'pipeline-0';
    const role = (cql: string) => admin.execute(statement('role', cql, { idempotent: true }), []);
    await role(`CREATE ROLE IF NOT EXISTS pipeline WITH PASSWORD = '${password}' AND LOGIN = true`);
    const secretId = 'chaos/scylla';
    await secrets.send(
      new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ username: 'pipeline', password }) }),
    );
    const rotatePassword = async () => {
      password = `pipeline-${Number(password.split('-')[1]) + 1}`;
      await role(`ALTER ROLE pipeline WITH PASSWORD = '${password}'`);
      await secrets.send(
        new PutSecretValueCommand({
          SecretId: secretId,
          SecretString: JSON.stringify({ username: 'pipeline', password }),
        }),
      );
    };

    // The registry the functions ask goes through a proxy the faults can take down; the producer asks it directly.
    const registryProxy = new FaultyProxy(servers.registry.endpoints.registryUrl);
    const proxyUrl = await registryProxy.start();
    cleanup.push(() => registryProxy.stop());

    const sink: Record<string, string> = { DEAD_LETTER_SINK: options.deadLetterSink };
    let store: DeadLetterStore;
    if (options.deadLetterSink === 'sqs') {
      const sqs = new SQSClient(awsClient);
      sink.DEAD_LETTER_QUEUE_URL = (await sqs.send(new CreateQueueCommand({ QueueName: 'chaos-dead-letters' })))
        .QueueUrl as string;
      store = new SqsDeadLetterStore(sqs, sink.DEAD_LETTER_QUEUE_URL);
    } else if (options.deadLetterSink === 'kafka') {
      Object.assign(sink, {
        DEAD_LETTER_TOPIC: 'dead-letters',
        DEAD_LETTER_KAFKA_BROKERS: brokers.join(','),
        DEAD_LETTER_KAFKA_TLS: 'off',
      });
      await ensureTopics(brokers, ['dead-letters'], 2);
      store = new KafkaDeadLetterStore(parseKafkaDeadLetterConfig(sink));
    } else {
      store = new TableDeadLetterStore(reader, KEYSPACE);
    }
    cleanup.push(() => store.close());

    const functionEnv = (name: FunctionName): Record<string, string> => ({
      ...aws,
      AWS_LAMBDA_FUNCTION_NAME: name,
      ...scyllaTarget,
      SCYLLA_CREDENTIALS_SECRET_ID: secretId,
      // Longer than the function timeout with its retries: a hung node makes invocations run past it.
      SCYLLA_REQUEST_TIMEOUT_MS: '5000',
      SCYLLA_RETRIES: '2',
      SCHEMA_REGISTRY_URLS: proxyUrl,
      SCHEMA_REGISTRY_TIMEOUT_MS: '2000',
      DEADLINE_MARGIN_MS: String(Math.round(options.timeoutMs / 5)),
      METRICS_EMF: 'off',
      ...(servers.prometheus && {
        METRICS_REMOTE_WRITE_URL: `${servers.prometheus.endpoints.prometheusUrl}/api/v1/write`,
        METRICS_FLUSH_INTERVAL_MS: String(REPORT_FLUSH_SECONDS * 1000),
      }),
      ...sink,
    });

    await ensureTopics(brokers, [TOPICS.navigation, TOPICS.identity], PARTITIONS);
    const registry = new ConfluentSchemaRegistry({ urls: [servers.registry.endpoints.registryUrl] });
    const stream = new ChaosStream(
      {
        navigation: options.navigation,
        identity: options.identity,
        poisonRate: 0.005,
        seed: options.seed,
        topics: TOPICS,
        partitions: PARTITIONS,
        seconds: options.seconds,
        // Event time (and Kafka timestamps) in the past: a broker refuses timestamps over an hour ahead of it.
        startTime: Date.now() - 3 * 3_600_000,
      },
      { bootstrapBrokers: brokers, registry },
    );

    const failedBatches = options.mapping?.onFailure === 's3' ? 'chaos-failed-batches' : undefined;
    const s3 = new S3Client({ ...awsClient, forcePathStyle: true });
    cleanup.push(async () => s3.destroy());
    if (failedBatches) await s3.send(new CreateBucketCommand({ Bucket: failedBatches }));

    const mappings: {
      name: FunctionName;
      topic: string;
      esm: LocalEventSourceMapping;
      containers: WorkerContainers;
    }[] = [];
    for (const { name, topic: demo } of CATALOG) {
      // Only what the chaos stream feeds: a function of another topic is left out, never given this one's records.
      const topic = demoTopic(TOPICS, demo);
      if (topic === undefined) continue;
      const { file } = await privateBuild(name);
      const containers = new WorkerContainers(file, functionEnv(name));
      cleanup.push(() => containers.close());
      const esm = new LocalEventSourceMapping({
        topic,
        groupId: name,
        bootstrapBrokers: brokers,
        invoker: containers,
        settings: {
          batchSize: 200,
          batchingWindowMs: 200,
          timeoutMs: options.timeoutMs,
          retryBackoffMs: 300,
          ...(options.mapping && { controls: options.mapping.controls }),
          functionArn: `arn:aws:lambda:eu-west-1:000000000000:function:chaos-${name}`,
          onFailure: failedBatches ? new S3FailureDestination(s3, failedBatches, `chaos-${name}`) : undefined,
        },
      });
      mappings.push({ name, topic, esm, containers });
    }
    await Promise.all(mappings.map((m) => m.esm.start()));
    cleanup.push(() => Promise.all(mappings.map((m) => m.esm.stop())));

    log(`stream: ${options.navigation} navigation + ${options.identity} identity events over ${options.seconds} s`);
    const streamStarted = Date.now();
    const producing = stream.run();
    const schedule: ChaosReport['schedule'] = [];
    const targets = {
      cql: servers.cql,
      kafka: servers.kafka,
      registry: registryProxy,
      stream,
      containers: mappings.map((m) => m.containers),
      rotatePassword,
    };
    for (const fault of [...options.faults].sort((a, b) => a.at - b.at)) {
      const wait = streamStarted + fault.at * 1000 - Date.now();
      if (wait > 0) await sleep(wait);
      const at = (Date.now() - streamStarted) / 1000;
      log(`t=${at.toFixed(0)} s: ${fault.name}`);
      try {
        await fault.inject(targets);
        schedule.push({ name: fault.name, at, tookSeconds: (Date.now() - streamStarted) / 1000 - at });
      } catch (error) {
        schedule.push({ name: fault.name, at, tookSeconds: 0, error: (error as Error).message });
        log(`  fault failed: ${(error as Error).message}`);
      }
    }
    await producing;
    log(`t=${((Date.now() - streamStarted) / 1000).toFixed(0)} s: stream produced (${stream.resends} sends repeated)`);

    const ends = await topicEnds(brokers, [TOPICS.navigation, TOPICS.identity], PARTITIONS);
    const drainDeadline = Date.now() + options.drainSeconds * 1000;
    while (!mappings.every((m) => m.esm.reached(ends)) && Date.now() < drainDeadline) await sleep(500);
    let uncommitted = 0;
    for (const m of mappings)
      for (const [id, end] of ends)
        if (id.startsWith(`${m.topic}-`) && (m.esm.stats.committed.get(id) ?? 0) < end) uncommitted++;
    log(
      `t=${((Date.now() - streamStarted) / 1000).toFixed(0)} s: ${uncommitted === 0 ? 'every partition committed to its end' : `${uncommitted} partitions not committed to their end`}`,
    );
    await Promise.all(mappings.map((m) => m.esm.stop()));

    const connection = { bootstrapBrokers: brokers };
    const [navigation, identity] = await Promise.all([
      readTopic(connection, TOPICS.navigation),
      readTopic(connection, TOPICS.identity),
    ]);
    // The ledger is in event-time order: its first and last records bound the days dead letters are filed under.
    const day = (record: DemoRecord | undefined) =>
      Math.floor((record?.event.eventTime ?? 0) / MS_PER_DAY) * MS_PER_DAY;
    const days = { functions: FUNCTIONS, firstDay: day(stream.ledger[0]), lastDay: day(stream.ledger.at(-1)) };
    const accountNow = async () =>
      account(
        stream.ledger,
        { navigation: navigation.messages, identity: identity.messages },
        reader,
        DEMO_SEGMENT_RULES.map(([segment, pattern]) => ({ segment, pattern: new RegExp(pattern) })),
        await store.select(days),
      );
    let diverted = 0;
    let dropped = 0;
    for (const m of mappings) {
      diverted += m.esm.stats.delivered;
      dropped += m.esm.stats.discarded - m.esm.stats.delivered;
    }
    let redriven = 0;
    let lostBeforeRedrive = 0;
    if (failedBatches && diverted > 0) {
      lostBeforeRedrive = (await accountNow()).lost;
      log(`${diverted} records in s3://${failedBatches}: ${lostBeforeRedrive} rows missing; replaying them`);
      const destination = new S3DestinationStore(s3, failedBatches, FUNCTIONS);
      const containers = new Map(mappings.map((m) => [m.name as string, m.containers]));
      const outcome = await replay(
        destination,
        await destination.select(days),
        async (name) => (event) =>
          (containers.get(name) as WorkerContainers).invoke('redrive', event, Date.now() + options.timeoutMs),
        { run: 'chaos-redrive' },
      );
      redriven = outcome.replayed;
      log(`redrive: ${outcome.replayed} replayed, ${outcome.retryLater} left for later`);
    }
    const accounting = await accountNow();
    const report =
      servers.prometheus &&
      options.reportFile &&
      (await writeChaosReport(options.reportFile, servers.prometheus.endpoints.prometheusUrl, {
        start: streamStarted,
        schedule,
        accounting,
      }));
    const mapping: ChaosReport['mapping'] = {};
    const events: ChaosReport['events'] = {};
    let retried = 0;
    for (const m of mappings) {
      events[m.name] = m.esm.events;
      const { committed: _, ...stats } = m.esm.stats;
      mapping[m.name] = { ...stats, ...m.containers.stats };
      retried += stats.failedInvocations + stats.partialResponses;
    }
    return {
      faults: schedule.filter((f) => !f.error).length,
      ...accounting,
      retried_invocations: retried,
      seconds: Math.round((Date.now() - started) / 1000),
      uncommitted,
      schedule,
      mapping,
      events,
      diverted,
      dropped,
      redriven,
      lost_before_redrive: lostBeforeRedrive,
      ...(report && { report }),
    };
  } finally {
    for (const close of cleanup.reverse()) await close().catch(() => {});
    await Promise.all(Object.values(servers).map((s) => s.stop().catch(() => {})));
  }
}

/** The run over the dashboard: records/s, record age and dead letters first, each fault marked where it hit. */
async function writeChaosReport(
  file: string,
  prometheusUrl: string,
  run: { start: number; schedule: ChaosReport['schedule']; accounting: Accounting },
): Promise<string> {
  const panels = loadDashboard();
  const { lost, unexpected, dead_letters_missing, dead_letters_extra } = run.accounting;
  const report = await writeRunReport({
    prometheusUrl,
    file,
    title: `npm run chaos: ${run.schedule.length} faults; lost ${lost}, unexpected ${unexpected}, dead letters missing ${dead_letters_missing}, extra ${dead_letters_extra}`,
    command: 'npm run chaos',
    functions: 'all',
    start: run.start - 5_000,
    end: Date.now(),
    scrapeIntervalSeconds: REPORT_FLUSH_SECONDS,
    marks: {
      // Numbered: the summary names each fault; a name on the chart would cover the next.
      events: run.schedule.map((f, i) => ({ label: `F${i + 1}`, at: run.start + f.at * 1000 })),
      // A fault that takes time (a server down, then back) is also a window: from its start to its end.
      windows: run.schedule.flatMap((f, i) =>
        f.tookSeconds >= 1
          ? [{ label: `F${i + 1}`, start: run.start + f.at * 1000, end: run.start + (f.at + f.tookSeconds) * 1000 }]
          : [],
      ),
    },
    charts: REPORT_PANELS.map((title) => panels.find((p) => p.title === title)).filter((p) => p !== undefined),
    summary: [
      ...run.schedule.map(
        (f, i) =>
          `F${i + 1} at t=${f.at.toFixed(0)} s (${f.tookSeconds.toFixed(0)} s): ${f.name}${f.error ? ` FAILED: ${f.error}` : ''}`,
      ),
      'Record age counts from the Kafka timestamp, which the chaos stream sets to the event time, 3 h in the past.',
    ],
  });
  return report.file;
}
