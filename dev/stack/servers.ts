import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Admin } from '@platformatic/kafka';
import { debianBinary, findJava, goBinary, mavenClasspath, pythonTools } from './artifacts';
import { type CqlNodeAddress, cqlNodes, cqlTlsDir, REPO_ROOT, type StackConfig, stackEndpoints } from './config';
import { nodeClient } from './cql-pin';
import { StackError } from './errors';
import { launchDetached } from './process';
import { cqlCertificates, keytoolPath } from './tls';

/** One server of the local stack: how to get it, start it, and tell that it serves. */
export interface ServerSpec {
  /** `cql` is the first (or only) CQL node; `cql-2`, `cql-3`... the others of a cluster (STACK_CQL_NODES). */
  name: 'kafka' | 'cql' | `cql-${number}` | 'schema-registry' | 'prometheus' | 'aws';
  title: string;
  address: string;
  /** The address it binds (127.0.0.1 unless a CQL node of a cluster). */
  bindHost: string;
  /** Every port it binds; each must be free on `bindHost` before it starts. */
  ports: number[];
  /** Its folder under the state dir: config, data, logs, pid file. */
  dir: string;
  logFile: string;
  pidFile: string;
  bootTimeoutMs: number;
  stopGraceMs: number;
  /** Fetch or build what it runs (cached); resolves to a short description of the artifact. */
  install(): Promise<string>;
  /** Write its config, prepare its storage and launch it in the background; returns the pid. */
  start(): Promise<number>;
  /** Resolves with a health detail when it serves clients; rejects otherwise. Bounded by a few seconds. */
  probe(): Promise<string>;
}

const CONF = path.join(REPO_ROOT, 'dev/stack/conf');
const MAVEN = path.join(REPO_ROOT, 'dev/stack/maven');

export const VERSIONS = {
  kafka: /<kafka\.version>([^<]+)</.exec(readFileSync(path.join(MAVEN, 'kafka/pom.xml'), 'utf8'))?.[1] ?? '?',
  cassandra:
    /<cassandra\.version>([^<]+)</.exec(readFileSync(path.join(MAVEN, 'cassandra/pom.xml'), 'utf8'))?.[1] ?? '?',
  schemaRegistry: 'v0.2.1',
  moto: '5.2.5',
};

/** Renders a template from dev/stack/conf, refusing to leave a placeholder unfilled. */
function render(template: string, values: Record<string, string | number>): string {
  const text = readFileSync(path.join(CONF, template), 'utf8').replace(/\{\{(\w+)\}\}/g, (match, key: string) => {
    if (!(key in values)) throw new StackError('STACK_CONFIG', `${template}: no value for ${match}`);
    return String(values[key]);
  });
  return text;
}

function paths(config: StackConfig, name: ServerSpec['name']) {
  const dir = path.join(config.runDir, name);
  return {
    dir,
    dataDir: path.join(dir, 'data'),
    logFile: path.join(dir, `${name}.log`),
    pidFile: path.join(dir, `${name}.pid`),
  };
}

async function httpProbe(url: string): Promise<Response> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response;
}

function kafka(config: StackConfig): ServerSpec {
  const p = paths(config, 'kafka');
  let jars = '';
  return {
    name: 'kafka',
    title: `Apache Kafka ${VERSIONS.kafka} (KRaft)`,
    address: stackEndpoints(config).kafkaBootstrap,
    bindHost: '127.0.0.1',
    ports: [config.kafka.port, config.kafka.controllerPort],
    ...p,
    bootTimeoutMs: 120_000,
    stopGraceMs: 30_000,
    async install() {
      jars = await mavenClasspath(path.join(MAVEN, 'kafka/pom.xml'), config.artifactsDir);
      return `${path.basename(jars)} (Maven Central)`;
    },
    async start() {
      const java = await findJava();
      mkdirSync(p.dataDir, { recursive: true });
      const properties = path.join(p.dir, 'server.properties');
      writeFileSync(properties, render('kafka.properties', { ...config.kafka, dataDir: p.dataDir }));
      const classpath = [
        '-cp',
        `${jars}/*`,
        `-Dlog4j2.configurationFile=${path.join(CONF, 'kafka-log4j2.xml')}`,
        `-Dkafka.logs.dir=${p.dir}`,
      ];
      if (!existsSync(path.join(p.dataDir, 'logs', 'meta.properties'))) {
        // KRaft storage is formatted once with a fresh cluster id (16 random bytes, base64url, as Kafka makes them).
        const clusterId = randomBytes(16).toString('base64url');
        try {
          // `--cluster-id=<id>`, one argument: a base64url id may start with '-', which the tool would read as a flag.
          execFileSync(
            java,
            [...classpath, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', properties],
            {
              stdio: 'pipe',
              timeout: 60_000,
            },
          );
        } catch (error) {
          const e = error as { stdout?: Buffer; stderr?: Buffer };
          throw new StackError(
            'STACK_BOOT_FAILED',
            `formatting Kafka storage failed: ${e.stderr ?? ''}${e.stdout ?? ''}`,
            {
              cause: error,
              logFile: p.logFile,
            },
          );
        }
      }
      return launchDetached({
        command: java,
        args: [
          '-Xms512m',
          '-Xmx512m',
          '-XX:+UseG1GC',
          '-Djava.awt.headless=true',
          ...classpath,
          'kafka.Kafka',
          properties,
        ],
        cwd: p.dir,
        logFile: p.logFile,
        pidFile: p.pidFile,
      });
    },
    async probe() {
      const admin = new Admin({
        clientId: 'stack-probe',
        bootstrapBrokers: [stackEndpoints(config).kafkaBootstrap],
        timeout: 2_000,
        retries: 0,
      });
      try {
        const metadata = await admin.metadata({ topics: [] });
        return `${metadata.brokers.size} broker, cluster ${metadata.id}`;
      } finally {
        await admin.close().catch(() => {});
      }
    },
  };
}

/** Cassandra 5.0's `jvm17-server.options`: the module openings it needs on Java 17. */
const CASSANDRA_JAVA17_FLAGS = [
  '-Djdk.attach.allowAttachSelf=true',
  ...[
    'java.base/jdk.internal.misc',
    'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.rmi/sun.rmi.registry',
    'java.rmi/sun.rmi.server',
    'java.sql/java.sql',
    'java.base/java.lang.ref',
    'jdk.unsupported/sun.misc',
    'jdk.compiler/com.sun.tools.javac.file',
    'jdk.attach/sun.tools.attach',
  ].map((m) => `--add-exports=${m}=ALL-UNNAMED`),
  ...[
    'java.base/java.lang.module',
    'java.base/jdk.internal.loader',
    'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect',
    'java.base/jdk.internal.math',
    'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar',
    'java.base/sun.nio.ch',
    'java.base/java.io',
    'java.base/java.lang.reflect',
    'java.base/java.lang',
    'java.base/java.util',
    'jdk.management/com.sun.management.internal',
    'jdk.compiler/com.sun.tools.javac',
  ].map((m) => `--add-opens=${m}=ALL-UNNAMED`),
  '-Dio.netty.tryReflectionSetAccessible=true',
];

/**
 * Node `node` of the CQL cluster (the only one by default). A cluster's nodes sit on consecutive loopback addresses
 * with the same ports, each with one evenly spaced token (Murmur3's range split in `nodes` parts) and no bootstrap
 * streaming: a new, empty cluster whose nodes may all start at once.
 */
function cqlNode(config: StackConfig, node: CqlNodeAddress): ServerSpec {
  const name = node.index === 1 ? 'cql' : (`cql-${node.index}` as const);
  const p = paths(config, name);
  const endpoints = stackEndpoints(config);
  const nodes = config.cql.nodes;
  // Every node a seed: a node that is not one first asks a seed for the ring, and fails when none is up yet (all start
  // at once here); a seed goes on alone.
  const seeds = cqlNodes(config)
    .map((n) => `${n.listenHost}:${config.cql.storagePort}`)
    .join(',');
  const token = BigInt.asIntN(64, BigInt(node.index - 1) * (2n ** 64n / BigInt(nodes)));
  const behindProxy = node.host !== node.listenHost;
  let jars = '';
  return {
    name,
    title: `CQL server: Apache Cassandra ${VERSIONS.cassandra} (stands in for ScyllaDB)${nodes > 1 ? `, node ${node.index} of ${nodes}` : ''}`,
    address: `${node.host}:${node.port}${behindProxy ? ` (listening on ${node.listenHost})` : ''}`,
    bindHost: node.listenHost,
    ports: [config.cql.port, config.cql.storagePort],
    ...p,
    bootTimeoutMs: 180_000,
    stopGraceMs: 30_000,
    async install() {
      jars = await mavenClasspath(path.join(MAVEN, 'cassandra/pom.xml'), config.artifactsDir);
      return `${path.basename(jars)} (Maven Central)`;
    },
    async start() {
      const java = await findJava();
      mkdirSync(p.dataDir, { recursive: true });
      const yaml = path.join(p.dir, 'cassandra.yaml');
      const commitlogSync =
        config.cql.commitlogSync === 'batch'
          ? 'commitlog_sync: batch'
          : 'commitlog_sync: periodic\ncommitlog_sync_period: 10000ms';
      let clientEncryption = '';
      if (config.cql.tls) {
        const tls = await cqlCertificates(cqlTlsDir(config), keytoolPath());
        // Every client connection encrypted (not `optional`); clients are not asked for certificates.
        clientEncryption = [
          'client_encryption_options:',
          '  enabled: true',
          '  optional: false',
          `  keystore: ${tls.keystore}`,
          `  keystore_password: ${tls.keystorePassword}`,
          '  store_type: PKCS12',
          '  require_client_auth: false',
        ].join('\n');
      }
      writeFileSync(
        yaml,
        render('cassandra.yaml', {
          host: node.host,
          listenHost: node.listenHost,
          seeds,
          port: config.cql.port,
          storagePort: config.cql.storagePort,
          commitlogSync,
          clientEncryption,
          dataDir: p.dataDir,
          // One node: 16 and 32 for its two cores. A cluster's nodes share the same two: 4 and 8 each.
          requestThreads: nodes > 1 ? 4 : 16,
          transportThreads: nodes > 1 ? 8 : 32,
        }),
      );
      const jamm = path.join(jars, 'jamm-0.4.0.jar');
      return launchDetached({
        command: java,
        args: [
          // 1 GB per node, a cluster's three included: 3.5 GB with Kafka's, of this machine's 24 GiB. CPU, not memory,
          // is what three nodes on two cores lack.
          '-Xms1g',
          '-Xmx1g',
          '-XX:+UseG1GC',
          // The collector's threads sized for the cores the node has, not the machine's.
          ...(nodes > 1 ? ['-XX:ParallelGCThreads=1', '-XX:ConcGCThreads=1'] : []),
          '-Xss256k',
          '-Djava.net.preferIPv4Stack=true',
          // Cassandra measures memtable sizes with jamm's agent, as its own launcher does.
          ...(existsSync(jamm) ? [`-javaagent:${jamm}`] : []),
          ...CASSANDRA_JAVA17_FLAGS,
          '-Dcassandra-foreground=yes',
          `-Dcassandra.config=file://${yaml}`,
          `-Dcassandra.storagedir=${p.dataDir}`,
          `-Dcassandra.logdir=${p.dir}`,
          `-Dlogback.configurationFile=${path.join(CONF, 'cassandra-logback.xml')}`,
          // A token of its own and no bootstrap (a new cluster has no data to stream), so no node waits for another
          // to settle; the ring forms as gossip reaches each node.
          `-Dcassandra.initial_token=${token}`,
          '-Dcassandra.skip_wait_for_gossip_to_settle=0',
          '-Dcassandra.ring_delay_ms=100',
          '-Dcassandra.superuser_setup_delay_ms=0',
          ...(nodes > 1 ? ['-Dcassandra.consistent.rangemovement=false'] : []),
          '-cp',
          `${jars}/*`,
          'org.apache.cassandra.service.CassandraDaemon',
        ],
        cwd: p.dir,
        logFile: p.logFile,
        pidFile: p.pidFile,
      });
    },
    async probe() {
      // This node alone (where it listens: its proxy, if any, is not up while the stack starts), and in a cluster
      // only once it sees every other node.
      const client = nodeClient(
        endpoints,
        { host: node.listenHost, port: node.port },
        { connectTimeout: 2_000, readTimeout: 2_000 },
      );
      try {
        const result = await client.execute('SELECT release_version FROM system.local');
        const release = `release ${result.first()?.get('release_version')}, auth on${endpoints.cqlTlsCaFile ? ', TLS' : ''}`;
        if (nodes === 1) return release;
        const peers = (await client.execute('SELECT peer FROM system.peers_v2')).rowLength;
        if (peers < nodes - 1) throw new Error(`sees ${peers} of the ${nodes - 1} other nodes`);
        return `${release}, ${peers + 1}-node ring`;
      } finally {
        await client.shutdown().catch(() => {});
      }
    },
  };
}

function schemaRegistry(config: StackConfig): ServerSpec {
  const p = paths(config, 'schema-registry');
  const url = stackEndpoints(config).registryUrl;
  let binary = '';
  return {
    name: 'schema-registry',
    title: `AxonOps Schema Registry ${VERSIONS.schemaRegistry} (Confluent API, in-memory)`,
    address: url,
    bindHost: '127.0.0.1',
    ports: [config.registry.port],
    ...p,
    bootTimeoutMs: 30_000,
    stopGraceMs: 10_000,
    async install() {
      binary = await goBinary(
        'github.com/axonops/axonops-schema-registry',
        VERSIONS.schemaRegistry,
        './cmd/schema-registry',
        config.artifactsDir,
      );
      return `${path.relative(config.artifactsDir, binary)} (Go module proxy)`;
    },
    async start() {
      mkdirSync(p.dir, { recursive: true });
      const file = path.join(p.dir, 'config.yaml');
      writeFileSync(file, render('schema-registry.yaml', config.registry));
      return launchDetached({
        command: binary,
        args: ['--config', file],
        cwd: p.dir,
        logFile: p.logFile,
        pidFile: p.pidFile,
      });
    },
    async probe() {
      // This registry answers `null` rather than `[]` while it holds no subject.
      const subjects = (await (await httpProbe(`${url}/subjects`)).json()) as unknown[] | null;
      return `${subjects?.length ?? 0} subjects`;
    },
  };
}

function prometheus(config: StackConfig): ServerSpec {
  const p = paths(config, 'prometheus');
  const url = stackEndpoints(config).prometheusUrl;
  let binary = '';
  return {
    name: 'prometheus',
    title: 'Prometheus (Debian package, remote-write receiver on)',
    address: url,
    bindHost: '127.0.0.1',
    ports: [config.prometheus.port],
    ...p,
    bootTimeoutMs: 30_000,
    stopGraceMs: 15_000,
    async install() {
      binary = await debianBinary('prometheus', 'prometheus');
      return binary;
    },
    async start() {
      mkdirSync(p.dataDir, { recursive: true });
      const file = path.join(p.dir, 'prometheus.yml');
      writeFileSync(file, render('prometheus.yml', config.prometheus));
      return launchDetached({
        command: binary,
        args: [
          `--config.file=${file}`,
          `--storage.tsdb.path=${p.dataDir}`,
          '--storage.tsdb.retention.time=2d',
          `--web.listen-address=127.0.0.1:${config.prometheus.port}`,
          '--web.enable-remote-write-receiver',
        ],
        cwd: p.dir,
        logFile: p.logFile,
        pidFile: p.pidFile,
      });
    },
    async probe() {
      await httpProbe(`${url}/-/ready`);
      return 'ready';
    },
  };
}

function aws(config: StackConfig): ServerSpec {
  const p = paths(config, 'aws');
  const url = stackEndpoints(config).awsEndpoint;
  let bin = '';
  return {
    name: 'aws',
    title: `AWS API emulator: moto server ${VERSIONS.moto} (Secrets Manager, Glue Schema Registry)`,
    address: url,
    bindHost: '127.0.0.1',
    ports: [config.aws.port],
    ...p,
    bootTimeoutMs: 60_000,
    stopGraceMs: 10_000,
    async install() {
      bin = await pythonTools('moto', [`moto[server]==${VERSIONS.moto}`], config.artifactsDir);
      return `${path.relative(config.artifactsDir, bin)} (PyPI)`;
    },
    async start() {
      mkdirSync(p.dir, { recursive: true });
      return launchDetached({
        command: path.join(bin, 'moto_server'),
        args: ['-H', '127.0.0.1', '-p', String(config.aws.port)],
        cwd: p.dir,
        logFile: p.logFile,
        pidFile: p.pidFile,
      });
    },
    async probe() {
      await httpProbe(`${url}/moto-api/data.json`);
      return 'ready';
    },
  };
}

/** The servers, in start order (the slowest first, so the others boot while it does). */
export function stackServers(config: StackConfig): ServerSpec[] {
  const cql = cqlNodes(config).map((node) => cqlNode(config, node));
  return [...cql, kafka(config), schemaRegistry(config), prometheus(config), aws(config)];
}
